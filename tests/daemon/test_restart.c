/*
 * test_restart.c - errseqd integration tests: restart on the state its
 * keeper held, a squatted keeper path, --recreate, a second daemon,
 * signals.
 *
 * Layout 2 keeps its state in memfds that the keeper process
 * (errseqd-keeper, on the socket path + ".keeper") holds across a kill -9
 * or a stop; nothing is left in /dev/shm for a test (or a user) to
 * corrupt.  Where protocol 1's tests corrupted the segment files, these
 * test what replaced them: a scribbled slot word is restored from the
 * private record at restart (never taken as a delete), a keeper path
 * squatted by something that is not this daemon's keeper never stops the
 * daemon from starting, --recreate makes the keeper drop the old state.
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

START_TEST(daemon_restart_keeps_state)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b, o;
	struct esp_slot_info ia, ib, ia2, ib2;
	struct esd_slot *slot;
	struct stat st0, st1;
	uint64_t inc;
	uint32_t scribble;
	pid_t old_pid;
	char log[8192];
	void *base;
	int st;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	a = open_ok(&c, "adopt-a", ESP_OPEN_CREATE);
	b = open_ok(&c, "adopt-b", ESP_OPEN_CREATE);
	open_ok(&c, "gone", ESP_OPEN_CREATE);
	CK_CODE(esrc_unlink(&c, NAME("gone")), 0);
	base = map_chunk(&c, a.index, PROT_READ | PROT_WRITE);
	ck_assert_int_eq(fstat(esrc_chunk_fd(&c, a.index), &st0), 0);
	/* Values set directly in the mapped chunk, as producers do. */
	slot = chunk_slot(base, a.index);
	__atomic_store_n(&slot->word, ESD_WORD(a.gen, 0x2000 | 0x1000 | 5),
			 __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->sets_total, 7, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_pid, 4242, __ATOMIC_RELAXED);
	ia = stat_ok(&c, "adopt-a");
	ib = stat_ok(&c, "adopt-b");
	/* A writer scribbles adopt-b's word as a delete would leave it
	 * (generation + 1, value complemented) and raises its waiters: in
	 * layout 1 the repair pass took that as an interrupted delete. */
	scribble = ~ESD_WORD_VAL(ib.word);
	__atomic_store_n(&chunk_slot(base, b.index)->word,
			 ESD_WORD(b.gen + 1, scribble), __ATOMIC_SEQ_CST);
	__atomic_store_n(&chunk_slot(base, b.index)->waiters, 3,
			 __ATOMIC_SEQ_CST);

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
	/* adopt-b is alive: its word was restored to the generation of
	 * record (keeping its errseq value), its waiters reset, and the
	 * restore was logged. */
	ck_assert_uint_eq(ib2.index, ib.index);
	ck_assert_uint_eq(ib2.gen, ib.gen);
	ck_assert_uint_eq(ib2.word, ESD_WORD(b.gen, scribble));
	ck_assert_uint_eq(slot_word(base, b.index), ESD_WORD(b.gen, scribble));
	ck_assert_uint_eq(__atomic_load_n(&chunk_slot(base, b.index)->waiters,
					  __ATOMIC_SEQ_CST), 0);
	esdt_read_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, "restoring") != NULL,
		      "the restore of adopt-b's word was not logged: %s", log);
	CK_CODE(esrc_stat(&c2, NAME("gone"), NULL), -ENOENT);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 2);
	ck_assert_uint_eq(slot_word(base, a.index),
			  ESD_WORD(a.gen, 0x2000 | 0x1000 | 5));

	/* The kept chunk is the very memory we still map: the new daemon's
	 * fd is the same memfd. */
	o = open_ok(&c2, "adopt-a", 0);
	ck_assert_uint_eq(o.index, a.index);
	ck_assert_uint_eq(o.gen, a.gen);
	ck_assert_int_eq(fstat(esrc_chunk_fd(&c2, a.index), &st1), 0);
	ck_assert_uint_eq(st1.st_dev, st0.st_dev);
	ck_assert_uint_eq(st1.st_ino, st0.st_ino);
	CK_CODE(esrc_reattach(&c2, b.index, b.gen, NAME("adopt-b"), &o), 0);
	ck_assert_uint_eq(o.index, b.index);
	unmap_chunk(base);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * The keeper's path (socket + ".keeper") is taken by something that is not
 * this daemon's keeper (_i): 0, a regular file (what a squatter who can
 * write the directory could leave); 1, a dead socket of ours (a keeper
 * that died).  Layout 1 refused foreign segments and needed --recreate;
 * now the daemon always starts: without persistence for 0 (the file is
 * not its to remove, and it says so), with a new keeper for 1.  The
 * case of a socket owned by another uid needs root and is in
 * tests/daemon/test_permissions.c.
 */
START_TEST(daemon_squatted_keeper_path)
{
	struct esdt_daemon d;
	struct esrc c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char kpath[160], log[8192];
	struct stat sb;
	uint64_t inc;
	int st, fd;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "keep", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	/* Removing its socket file makes the keeper drop the state and
	 * exit; then squat the path. */
	snprintf(kpath, sizeof(kpath), "%s.keeper", d.sock);
	ck_assert_int_eq(unlink(kpath), 0);
	if (_i == 0) {
		fd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "junk", 4), 4);
		close(fd);
	} else {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(fd, 0);
		memcpy(sa.sun_path, kpath, strlen(kpath) + 1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
		close(fd);	/* bound, never listened: a dead socket */
	}

	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_ne(c.hello.incarnation, inc);
	CK_CODE(esrc_stat(&c, NAME("keep"), NULL), -ENOENT);
	open_ok(&c, "new", ESP_OPEN_CREATE);
	inc = c.hello.incarnation;
	esrc_fini(&c);
	esdt_read_log(&d, log, sizeof(log));
	ck_assert_int_eq(lstat(kpath, &sb), 0);
	if (_i == 0) {
		ck_assert_msg(strstr(log, "without persistence") != NULL,
			      "no warning about the squatted keeper: %s", log);
		ck_assert_msg(S_ISREG(sb.st_mode), "the squat was replaced");
	} else {
		ck_assert_msg(S_ISSOCK(sb.st_mode), "no keeper socket");
	}

	/* A kill -9 and restart: the state is kept only with a keeper. */
	st = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(st), "status %d", st);
	restart_daemon(&d, NULL);
	conn(&c, &d);
	if (_i == 0) {
		ck_assert_uint_ne(c.hello.incarnation, inc);
		CK_CODE(esrc_stat(&c, NAME("new"), NULL), -ENOENT);
	} else {
		ck_assert_uint_eq(c.hello.incarnation, inc);
		stat_ok(&c, "new");
	}
	esrc_fini(&c);
	if (_i == 0)
		unlink(kpath);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * --recreate discards the kept state: a new incarnation, no slots, and
 * the maximum given by --slots (a plain restart keeps the kept state's
 * maximum; layout 1 refused another --slots).  Stale marking writes
 * nothing shared (layout 1 retired the old segment by writing into it):
 * the old chunk, which clients may still map, is left as it was, and
 * clients learn of the new state from the incarnation in HELLO.
 */
START_TEST(daemon_recreate_discards_kept_state)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b, n;
	struct stat st0, st1;
	char path[128];
	uint64_t inc;
	void *old;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	b = open_ok(&c, "b", ESP_OPEN_CREATE);
	old = map_chunk(&c, a.index, PROT_READ);
	ck_assert_int_eq(fstat(esrc_chunk_fd(&c, a.index), &st0), 0);
	CK_CODE(esrc_close_slot(&c, b.index, b.gen), 0);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);

	/* Another --slots without --recreate: the kept maximum stays. */
	d.slots = 2048;
	restart_daemon(&d, NULL);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	ck_assert_uint_eq(c2.hello.max_slots, esd_index_capacity(4));
	stat_ok(&c2, "a");
	esrc_fini(&c2);
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);

	restart_daemon(&d, recreate);
	/* Nothing shared was written: the old slots look as they were. */
	ck_assert_uint_eq(slot_word(old, a.index), ESD_WORD(a.gen, 0));
	ck_assert_uint_eq(slot_word(old, b.index), ESD_WORD(b.gen, 0));

	conn(&c2, &d);
	ck_assert_uint_ne(c2.hello.incarnation, inc);
	ck_assert_uint_eq(c2.hello.max_slots, esd_index_capacity(2048));
	CK_CODE(esrc_stat(&c2, NAME("a"), NULL), -ENOENT);
	CK_CODE(esrc_reattach(&c2, a.index, a.gen, NAME("a"), NULL), -ESTALE);
	ck_assert_uint_eq(status_ok(&c2).slots_used, 0);
	ck_assert_uint_eq(status_ok(&c2).slot_count, 2048);
	/* Still nothing in /dev/shm. */
	snprintf(path, sizeof(path), "/dev/shm%s", d.shm);
	ck_assert_int_eq(access(path, F_OK), -1);
	inc = c2.hello.incarnation;
	n = open_ok(&c2, "new", ESP_OPEN_CREATE);
	/* New memory, not the old chunk. */
	ck_assert_int_eq(fstat(esrc_chunk_fd(&c2, n.index), &st1), 0);
	ck_assert_msg(st1.st_ino != st0.st_ino || st1.st_dev != st0.st_dev,
		      "--recreate handed out the old chunk");
	esrc_fini(&c2);

	/* The new state is kept by a plain restart. */
	r = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "status %d", r);
	restart_daemon(&d, NULL);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	stat_ok(&c2, "new");
	CK_CODE(esrc_stat(&c2, NAME("a"), NULL), -ENOENT);
	esrc_fini(&c2);
	unmap_chunk(old);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * Layout 1 tested --recreate over a corrupt segment file.  There is no
 * file now; what remains to test is that --recreate after a kill -9 makes
 * the keeper drop the old state for good: a later kill -9 and plain
 * restart comes back on the new state, never the old one.
 */
START_TEST(daemon_recreate_after_kill_resets_keeper)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct esdt_daemon d;
	struct esrc c;
	uint64_t inc, inc2;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "a", ESP_OPEN_CREATE);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(r), "status %d", r);
	restart_daemon(&d, recreate);
	conn(&c, &d);
	inc2 = c.hello.incarnation;
	ck_assert_uint_ne(inc2, inc);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	open_ok(&c, "b", ESP_OPEN_CREATE);
	esrc_fini(&c);
	r = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(r), "status %d", r);
	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.incarnation, inc2);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	stat_ok(&c, "b");
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
	uint64_t inc;
	void *base;
	int r;

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	o = open_ok(&c, "live", ESP_OPEN_CREATE);
	base = map_chunk(&c, o.index, PROT_READ);
	/* Same socket, even with --recreate: refused before the state is
	 * touched, and the first daemon's socket stays. */
	r = esdt_daemon_run_to_exit(&d, recreate, err, sizeof(err), 20000);
	ck_assert_msg(r == 1, "exit %d, want 1; stderr: %s", r, err);
	ck_assert_msg(strstr(err, d.sock) != NULL,
		      "message does not name the socket: %s", err);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, 0));
	ck_assert_int_eq(access(d.sock, F_OK), 0);
	stat_ok(&c, "live");
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, c.hello.incarnation);
	esrc_fini(&c2);
	esrc_fini(&c);
	/* The keeper did not drop the state either (layout 1 checked the
	 * segment's retired flag): a kill -9 and restart finds it. */
	r = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(r), "status %d", r);
	restart_daemon(&d, NULL);
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, inc);
	stat_ok(&c2, "live");
	unmap_chunk(base);
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
	char path[160], msgs[4096];
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
	/* The state stays with its keeper (layout 1: the /dev/shm pair
	 * stayed), whose socket is still there. */
	snprintf(path, sizeof(path), "%s.keeper", d.sock);
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
	tcase_add_test(tc, daemon_restart_keeps_state);
	tcase_add_loop_test(tc, daemon_squatted_keeper_path, 0, 2);
	tcase_add_test(tc, daemon_recreate_discards_kept_state);
	tcase_add_test(tc, daemon_recreate_after_kill_resets_keeper);
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
