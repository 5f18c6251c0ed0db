/*
 * rel_segment.c - reliability figure 6b: the kept state.
 *
 * errseqd keeps its slots in memfds (layout 2, doc/shm-layout.md) held
 * across restarts by its keeper process.  Checked here:
 *   - kill -9 and a restart keep every name, value, creator and writer
 *     group, and a client's open handle carries on;
 *   - a kept registry that does not match this build (magic, layout
 *     version, entry size, geometry, chunk count, incarnation) is refused:
 *     the start exits 1 with a message naming --recreate, and the kept
 *     registry is byte-for-byte what it was (never adopted, never
 *     repaired).  After each case the original bytes are restored and the
 *     state is adopted again with the slot and its value intact.  The
 *     corruptions are made the only way there is: the test runs as the
 *     daemon's user, asks the keeper for the fds while no daemon holds it
 *     (the keeper's own protocol, daemon/store.c), and edits the registry
 *     header in place;
 *   - --recreate discards a corrupted state: the slot is gone and the
 *     client's old handle turns ERRSEQ_ESTALE.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "common/shm_layout.h"
#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

#define SLOTS	4096
#define WGROUP	65530u

/* The keeper's protocol (daemon/store.c): one 16-byte message per packet,
 * fds by SCM_RIGHTS. */
#define KEEP_MAGIC	0x5045454bu
#define KEEP_GET	1u
#define KEEP_ITEM	2u
#define KEEP_END	3u
#define KEEP_KIND_REG	1u

struct keep_msg {
	uint32_t magic, op, kind, id;
};

/* Ask the keeper of @d for its fds; return the registry's (others
 * closed), or fail the test. */
static int kept_registry(const struct esdt_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct keep_msg m = { KEEP_MAGIC, KEEP_GET, 0, 0 };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	int reg = -1;

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s.keeper", d->sock);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect to the keeper at %s: %s", sa.sun_path,
		      strerror(errno));
	ck_assert_int_eq(send(fd, &m, sizeof(m), MSG_NOSIGNAL), sizeof(m));
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr a;
		} ctl;
		struct iovec iov = { &m, sizeof(m) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
		};
		struct pollfd pf = { fd, POLLIN, 0 };
		struct cmsghdr *cm;
		int got = -1;

		ck_assert_msg(poll(&pf, 1, 30000) == 1, "the keeper is mute");
		ck_assert_int_eq(recvmsg(fd, &mh, MSG_CMSG_CLOEXEC), sizeof(m));
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&got, CMSG_DATA(cm), sizeof(int));
		if (m.op == KEEP_END)
			break;
		ck_assert_uint_eq(m.op, KEEP_ITEM);
		if (m.kind == KEEP_KIND_REG && reg < 0)
			reg = got;
		else if (got >= 0)
			close(got);
	}
	close(fd);
	ck_assert_msg(reg >= 0, "the keeper holds no registry");
	return reg;
}

struct corruption {
	const char *label;
	size_t offset;
	int kind;		/* 0: xor, 1: set */
	uint64_t value;
	int width;		/* 4 or 8 bytes */
};

static const struct corruption cases[] = {
	{ "reg_bad_magic", 0, 0, 0x01, 8 },
	{ "reg_bad_layout_version", 8, 0, 0x01000000, 4 },
	{ "reg_bad_entry_size", 12, 1, 128, 4 },
	{ "reg_bad_slot_count", 16, 1, SLOTS * 2, 4 },
	{ "reg_slot_count_not_chunks", 16, 1, SLOTS + 1, 4 },
	{ "reg_too_many_chunks", 20, 1, SLOTS / ESD_CHUNK_SLOTS + 1, 4 },
	{ "reg_zero_incarnation", 24, 1, 0, 8 },
};

static void corrupt(unsigned char *hdr, const struct corruption *c)
{
	if (c->width == 8) {
		uint64_t v;

		memcpy(&v, hdr + c->offset, 8);
		v = c->kind == 0 ? v ^ c->value : c->value;
		memcpy(hdr + c->offset, &v, 8);
	} else {
		uint32_t v;

		memcpy(&v, hdr + c->offset, 4);
		v = c->kind == 0 ? v ^ (uint32_t)c->value : (uint32_t)c->value;
		memcpy(hdr + c->offset, &v, 4);
	}
}

static int stat_one(const struct esdt_daemon *d, const char *name,
		    struct errseq_slot_info *info)
{
	struct errseq_client *c;
	int rc = errseq_client_open(d->sock, &c);

	if (rc < 0)
		return rc;
	rc = errseq_stat(c, name, info);
	errseq_client_close(c);
	return rc;
}

/* Wait until @c is connected to the state of incarnation != @old (or ==
 * @old if @same).  Returns the last errseq_status code. */
static int settle(struct errseq_client *c, uint64_t old, bool same)
{
	struct errseq_daemon_status st;
	int rc = -1;

	for (int i = 0; i < 400; i++) {
		rc = errseq_status(c, &st);
		if (rc == 0 && (st.incarnation == old) == same)
			break;
		rel_sleep_us(25000);
	}
	return rc;
}

START_TEST(segment_kept_state)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct errseq_slot_attr attr = { ERRSEQ_ATTR_WRITERS_GROUP, WGROUP };
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *a, *g;
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	errseq_t va, vg;
	unsigned char orig[ESD_PAGE], *hdr;
	char err[2048], keeper[160];
	int refused = 0, unchanged = 0, adopted = 0, kept = 0, rc, reg;

	esdt_sweep();
	rel_start(&d, SLOTS, NULL);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "seg.a", ERRSEQ_CREATE, &a), 0);
	ck_assert_int_eq(errseq_slot_open_attr(c, "seg.g", ERRSEQ_CREATE,
					       &attr, &g), 0);
	ck_assert_int_eq(errseq_slot_set(a, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_set(g, -EIO), 0);
	va = errseq_slot_peek(a);
	vg = errseq_slot_peek(g);
	ck_assert_int_eq(errseq_status(c, &st), 0);

	/* kill -9: every name, value, creator and writer group is kept */
	ck_assert_int_eq(WTERMSIG(esdt_daemon_stop(&d, SIGKILL)), SIGKILL);
	rel_restart(&d, NULL);
	ck_assert_int_eq(stat_one(&d, "seg.a", &info), 0);
	ck_assert_uint_eq(info.value, va);
	ck_assert_uint_eq(info.creator_uid, getuid());
	ck_assert_uint_eq(info.writers_gid, ERRSEQ_NO_GROUP);
	kept++;
	ck_assert_int_eq(stat_one(&d, "seg.g", &info), 0);
	ck_assert_uint_eq(info.value, vg);
	ck_assert_uint_eq(info.writers_gid, WGROUP);
	kept++;
	/* the client carries on: same state, its handles held again */
	ck_assert_int_eq(settle(c, st.incarnation, true), 0);
	ck_assert_int_eq(errseq_slot_check(a, va), 0);
	ck_assert_int_eq(errseq_slot_set(a, -EROFS), 0);
	ck_assert_int_eq(errseq_slot_check(a, va), -EROFS);
	va = errseq_slot_peek(a);
	rel_stop_clean(&d);

	reg = kept_registry(&d);
	hdr = mmap(NULL, ESD_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, reg, 0);
	ck_assert_ptr_ne(hdr, MAP_FAILED);
	close(reg);
	memcpy(orig, hdr, sizeof(orig));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct corruption *k = &cases[i];
		unsigned char bad[ESD_PAGE];

		corrupt(hdr, k);
		memcpy(bad, hdr, sizeof(bad));
		rc = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err),
					     getenv("ERRSEQD_WRAPPER") ?
						     180000 : 30000);
		ck_assert_msg(rc == 1, "%s: the daemon exited with %d, want 1 "
			      "(a refusal): %s", k->label, rc, err);
		ck_assert_msg(strstr(err, "--recreate") != NULL,
			      "%s: the refusal does not name --recreate: %s",
			      k->label, err);
		refused++;
		ck_assert_msg(memcmp(hdr, bad, sizeof(bad)) == 0,
			      "%s: the refused registry was modified",
			      k->label);
		unchanged++;
		printf("%s: refused: %s", k->label, err);

		/* restored, it is adopted with its slot and value */
		memcpy(hdr, orig, sizeof(orig));
		rel_restart(&d, NULL);
		ck_assert_int_eq(stat_one(&d, "seg.a", &info), 0);
		ck_assert_uint_eq(info.value, va);
		adopted++;
		rel_stop_clean(&d);
	}

	/* --recreate replaces a corrupted state: the slot is gone and the
	 * client's handle turns stale */
	corrupt(hdr, &cases[0]);
	rel_restart(&d, recreate);
	ck_assert_int_eq(settle(c, st.incarnation, false), 0);
	ck_assert_int_eq(errseq_slot_check(a, va), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(g, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(stat_one(&d, "seg.a", &info), -ENOENT);
	errseq_client_close(c);
	rel_stop_clean(&d);

	rel_figure("segment.kept_after_kill9", "%d", kept);
	rel_figure("segment.corruptions_tried", "%d", refused);
	rel_figure("segment.refused_naming_recreate", "%d", refused);
	rel_figure("segment.left_unchanged", "%d", unchanged);
	rel_figure("segment.adopted_after_restore", "%d", adopted);
	rel_figure("segment.recreate_stale_handles", "%d", 2);
	munmap(hdr, ESD_PAGE);
	snprintf(keeper, sizeof(keeper), "%s.keeper", d.sock);
	unlink(keeper);		/* the keeper exits with its socket */
	esdt_daemon_cleanup(&d);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("segment", &tc);
	tcase_add_test(tc, segment_kept_state);
	return rel_run(s);
}
