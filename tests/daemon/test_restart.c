/*
 * test_restart.c - errseqd integration tests: restart with adoption of the
 * segments, refusal of foreign segments, --recreate, a second daemon,
 * signals.
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "tests/support/daemon_util.h"

/* ---- restart, adoption, refusal, --recreate --------------------------- */

START_TEST(daemon_restart_adopts_segments)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b, o;
	struct esp_slot_info ia, ib, ia2, ib2;
	struct esd_slot *slot;
	uint64_t inc;
	pid_t old_pid;
	void *base;
	int st;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	inc = c.hello.incarnation;
	a = open_ok(&c, "adopt-a", ESP_OPEN_CREATE);
	b = open_ok(&c, "adopt-b", ESP_OPEN_CREATE);
	open_ok(&c, "gone", ESP_OPEN_CREATE);
	CK_CODE(esrc_unlink(&c, NAME("gone")), 0);
	/* Values set directly in the mapped segment, as producers do. */
	slot = esd_seg_slot(base, a.index);
	__atomic_store_n(&slot->word, ESD_WORD(a.gen, 0x2000 | 0x1000 | 5),
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->sets_total, 7, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_pid, 4242, __ATOMIC_RELAXED);
	ia = stat_ok(&c, "adopt-a");
	ib = stat_ok(&c, "adopt-b");

	old_pid = d.pid;
	st = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(st), "status %d", st);
	ck_assert_int_eq(esrc_wait_closed(c.fd, WAIT_MS), 0);
	esrc_fini(&c);

	restart_daemon(&d, NULL);	/* the stale socket file is still there */
	ck_assert_int_ne(d.pid, old_pid);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	ck_assert_int_eq((pid_t)c2.hello.daemon_pid, d.pid);
	ck_assert_int_eq(__atomic_load_n(&((struct esd_seg_header *)base)
					  ->daemon_pid, __ATOMIC_ACQUIRE),
			 d.pid);
	ia2 = stat_ok(&c2, "adopt-a");
	ib2 = stat_ok(&c2, "adopt-b");
	ck_assert_uint_eq(ia2.index, ia.index);
	ck_assert_uint_eq(ia2.gen, ia.gen);
	ck_assert_uint_eq(ia2.creator_uid, ia.creator_uid);
	ck_assert_uint_eq(ia2.created_ns, ia.created_ns);
	ck_assert_uint_eq(ia2.word, ESD_WORD(a.gen, 0x2000 | 0x1000 | 5));
	ck_assert_uint_eq(ia2.sets_total, 7);
	ck_assert_int_eq(ia2.last_pid, 4242);
	ck_assert_uint_eq(ia2.holders, 0);	/* the old connection's holds died */
	ck_assert_uint_eq(ib2.index, ib.index);
	ck_assert_uint_eq(ib2.gen, ib.gen);
	ck_assert_uint_eq(ib2.word, ib.word);
	CK_CODE(esrc_stat(&c2, NAME("gone"), NULL), -ENOENT);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 2);
	ck_assert_uint_eq(slot_word(base, a.index),
			  ESD_WORD(a.gen, 0x2000 | 0x1000 | 5));

	o = open_ok(&c2, "adopt-a", 0);
	ck_assert_uint_eq(o.index, a.index);
	ck_assert_uint_eq(o.gen, a.gen);
	CK_CODE(esrc_reattach(&c2, b.index, b.gen, NAME("adopt-b"), &o), 0);
	ck_assert_uint_eq(o.index, b.index);
	munmap(base, esd_seg_size(8));
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Write @len bytes of @buf as the whole content of @path. */
static void put_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t used = 0;

	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	while (used < len) {
		ssize_t n = write(fd, buf + used, len - used);

		ck_assert_int_gt(n, 0);
		used += (size_t)n;
	}
	close(fd);
}

/*
 * A stopped daemon's pair is made foreign in one way (_i); errseqd must
 * refuse it (exit 1, a message naming --recreate), leave both segments
 * byte for byte as they were, and adopt them again once repaired.
 */
START_TEST(daemon_refuses_foreign_segment)
{
	static const char *const what[] = {
		"data magic", "data layout version", "data slot_count",
		"registry magic", "registry layout version",
		"registry incarnation", "registry missing", "data missing",
		"data truncated", "other --slots",
	};
	struct esdt_daemon d;
	struct esrc c;
	char seg_path[128], reg_path[128], err[4096];
	char *seg0, *reg0, *seg1, *reg1, *seg2, *reg2;
	size_t seg0_len, reg0_len, seg1_len, reg1_len, seg2_len, reg2_len;
	uint64_t inc;
	int r, st;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "keep", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	shm_path(seg_path, sizeof(seg_path), d.shm, "");
	shm_path(reg_path, sizeof(reg_path), d.shm, ESD_REG_SUFFIX);
	seg0 = slurp(seg_path, &seg0_len);
	reg0 = slurp(reg_path, &reg0_len);
	ck_assert_ptr_nonnull(seg0);
	ck_assert_ptr_nonnull(reg0);

	/* Corrupt a copy and write it back. */
	seg1 = malloc(seg0_len);
	reg1 = malloc(reg0_len);
	memcpy(seg1, seg0, seg0_len);
	memcpy(reg1, reg0, reg0_len);
	seg1_len = seg0_len;
	reg1_len = reg0_len;
	switch (_i) {
	case 0:
		((struct esd_seg_header *)seg1)->magic ^= 1;
		break;
	case 1:
		((struct esd_seg_header *)seg1)->layout_version ^= 1u << 24;
		break;
	case 2:
		((struct esd_seg_header *)seg1)->slot_count = 5;
		break;
	case 3:
		((struct esd_reg_header *)reg1)->magic ^= 1;
		break;
	case 4:
		((struct esd_reg_header *)reg1)->layout_version ^= 1u << 24;
		break;
	case 5:
		((struct esd_reg_header *)reg1)->incarnation ^= 0x10;
		break;
	case 6:
		ck_assert_int_eq(unlink(reg_path), 0);
		reg1_len = 0;
		break;
	case 7:
		ck_assert_int_eq(unlink(seg_path), 0);
		seg1_len = 0;
		break;
	case 8:
		seg1_len = ESD_PAGE + 64;
		break;
	case 9:
		d.slots = 8;
		break;
	}
	if (seg1_len)
		put_file(seg_path, seg1, seg1_len);
	if (reg1_len)
		put_file(reg_path, reg1, reg1_len);

	r = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "%s: exit %d, want 1; stderr: %s", what[_i], r,
		      err);
	ck_assert_msg(strstr(err, "--recreate") != NULL,
		      "%s: message does not name --recreate: %s", what[_i], err);
	ck_assert_msg(access(d.sock, F_OK) < 0 && errno == ENOENT,
		      "%s: refusing daemon left its socket", what[_i]);

	/* Untouched, byte for byte (or still absent). */
	seg2 = slurp(seg_path, &seg2_len);
	reg2 = slurp(reg_path, &reg2_len);
	ck_assert_msg(seg2_len == seg1_len &&
		      (!seg1_len || !memcmp(seg1, seg2, seg1_len)),
		      "%s: data segment changed", what[_i]);
	ck_assert_msg(reg2_len == reg1_len &&
		      (!reg1_len || !memcmp(reg1, reg2, reg1_len)),
		      "%s: registry changed", what[_i]);
	if (!seg1_len)
		ck_assert_ptr_null(seg2);
	if (!reg1_len)
		ck_assert_ptr_null(reg2);

	/* Repaired, it is adopted as it was. */
	put_file(seg_path, seg0, seg0_len);
	put_file(reg_path, reg0, reg0_len);
	d.slots = 4;
	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.incarnation, inc);
	stat_ok(&c, "keep");
	esrc_fini(&c);
	free(seg0);
	free(reg0);
	free(seg1);
	free(reg1);
	free(seg2);
	free(reg2);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_recreate_retires_old_segment)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b;
	struct esd_seg_header *oh;
	char path[128], err[4096];
	struct stat st;
	uint64_t inc;
	void *old;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	old = map_hello(&c);
	inc = c.hello.incarnation;
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	b = open_ok(&c, "b", ESP_OPEN_CREATE);
	CK_CODE(esrc_close_slot(&c, b.index, b.gen), 0);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);

	/* Another geometry is refused, then --recreate replaces the pair. */
	d.slots = 8;
	r = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "exit %d; stderr: %s", r, err);
	restart_daemon(&d, recreate);

	/* The old segment is retired: marked, its live slots stale. */
	oh = old;
	ck_assert_uint_eq(__atomic_load_n(&oh->retired, __ATOMIC_ACQUIRE), 1);
	ck_assert_uint_eq(ESD_WORD_GEN(slot_word(old, a.index)), a.gen + 1);
	ck_assert_uint_eq(ESD_WORD_GEN(slot_word(old, b.index)), b.gen + 1);

	conn(&c2, &d);
	ck_assert_uint_ne(c2.hello.incarnation, inc);
	ck_assert_uint_eq(c2.hello.slot_count, 8);
	ck_assert_uint_eq(c2.hello.seg_size, esd_seg_size(8));
	CK_CODE(esrc_stat(&c2, NAME("a"), NULL), -ENOENT);
	CK_CODE(esrc_reattach(&c2, a.index, a.gen, NAME("a"), NULL), -ESTALE);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 0);
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_seg_size(8));
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, esd_reg_size(8));
	inc = c2.hello.incarnation;
	open_ok(&c2, "new", ESP_OPEN_CREATE);
	esrc_fini(&c2);

	/* The new pair is adopted by a plain restart. */
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);
	restart_daemon(&d, NULL);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	stat_ok(&c2, "new");
	esrc_fini(&c2);
	munmap(old, esd_seg_size(4));
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_recreate_replaces_corrupt_segment)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c;
	struct esd_seg_header *h;
	uint64_t inc;
	size_t len;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "a", ESP_OPEN_CREATE);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(r), "status %d", r);
	h = map_shm(d.shm, &len);
	h->magic = 0x0123456789abcdefull;
	munmap(h, len);
	restart_daemon(&d, recreate);
	conn(&c, &d);
	ck_assert_uint_ne(c.hello.incarnation, inc);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	open_ok(&c, "b", ESP_OPEN_CREATE);
	h = map_hello(&c);
	ck_assert_uint_eq(h->magic, ESD_SEG_MAGIC);
	ck_assert_uint_eq(h->retired, 0);
	munmap(h, c.hello.seg_size);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_second_daemon_refused)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep o;
	char err[4096];
	void *base;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	base = map_hello(&c);
	o = open_ok(&c, "live", ESP_OPEN_CREATE);
	/* Same socket and segment, even with --recreate: refused before the
	 * segment is touched, and the first daemon's socket stays. */
	r = esdt_daemon_run_to_exit(&d, recreate, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "exit %d, want 1; stderr: %s", r, err);
	ck_assert_msg(strstr(err, d.sock) != NULL,
		      "message does not name the socket: %s", err);
	ck_assert_uint_eq(__atomic_load_n(&((struct esd_seg_header *)base)
					  ->retired, __ATOMIC_ACQUIRE), 0);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, 0));
	ck_assert_int_eq(access(d.sock, F_OK), 0);
	stat_ok(&c, "live");
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, c.hello.incarnation);
	munmap(base, c.hello.seg_size);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- signals, sd_notify, command line, environment -------------------- */

/* _i: 0 SIGTERM, 1 SIGINT, 2 SIGHUP. */
START_TEST(daemon_signal_exits_cleanly)
{
	struct esdt_daemon d;
	struct esrc c;
	char path[128], msgs[4096];
	size_t used = 0;
	uint64_t inc;
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	int sig = sigs[_i], st;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "a", ESP_OPEN_CREATE);
	st = esdt_daemon_stop(&d, sig);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "status %#x after signal %d", st, sig);
	ck_assert_int_eq(esrc_wait_closed(c.fd, WAIT_MS), 0);
	esrc_fini(&c);
	ck_assert_msg(access(d.sock, F_OK) < 0 && errno == ENOENT,
		      "socket file left behind");
	shm_path(path, sizeof(path), d.shm, "");
	ck_assert_int_eq(access(path, F_OK), 0);
	shm_path(path, sizeof(path), d.shm, ESD_REG_SUFFIX);
	ck_assert_int_eq(access(path, F_OK), 0);

	/* It told the service manager it was stopping. */
	for (;;) {
		ssize_t n = recv(d.notify_fd, msgs + used,
				 sizeof(msgs) - 1 - used, MSG_DONTWAIT);

		if (n <= 0)
			break;
		used += (size_t)n;
		msgs[used++] = '\n';
		if (used >= sizeof(msgs) - 2)
			break;
	}
	msgs[used] = '\0';
	ck_assert_msg(strstr(msgs, "STOPPING=1") != NULL,
		      "no STOPPING=1 among: %s", msgs);

	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.incarnation, inc);
	ck_assert_uint_eq(stat_ok(&c, "a").holders, 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_restart_suite(void)
{
	Suite *s = suite_create("daemon_restart");
	TCase *tc;

	tc = tcase(s, "restart");
	tcase_add_test(tc, daemon_restart_adopts_segments);
	tcase_add_loop_test(tc, daemon_refuses_foreign_segment, 0, 10);
	tcase_add_test(tc, daemon_recreate_retires_old_segment);
	tcase_add_test(tc, daemon_recreate_replaces_corrupt_segment);
	tcase_add_test(tc, daemon_second_daemon_refused);
	tcase_add_loop_test(tc, daemon_signal_exits_cleanly, 0, 3);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_restart_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
