/*
 * test_local.c - liberrseq-client's tests: what needs no daemon:
 * errseq_strerror, the default socket, client_open's refusals, and a fake
 * daemon that breaks the protocol.
 *
 * The fixture (a private errseqd per case, forked "kids") and the helpers
 * are in tests/support/client_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/shm_layout.h"
#include "errseq/client.h"
#include "tests/support/client_util.h"

/* ------------------------------------------------- no daemon needed */

START_TEST(client_strerror_codes)
{
	ck_assert_str_eq(errseq_strerror(ERRSEQ_ESTALE),
			 "stale slot: it was deleted or the daemon's state replaced; "
			 "reopen it by name");
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EUNSAFE),
				     "untrusted"));
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EFORKED),
				     "fork"));
	ck_assert_ptr_nonnull(strstr(errseq_strerror(ERRSEQ_EPROTO),
				     "protocol"));
	ck_assert_str_eq(errseq_strerror(-EIO), "Input/output error");
	ck_assert_str_eq(errseq_strerror(EIO), "Input/output error");
	ck_assert_str_eq(errseq_strerror(-ENOSPC), "No space left on device");
	ck_assert_str_eq(errseq_strerror(0), "success");
	ck_assert_str_eq(errseq_strerror(-4000), "unknown error");
	ck_assert_str_eq(errseq_strerror(INT_MIN), "unknown error");
	ck_assert_str_eq(errseq_strerror(INT_MAX), "unknown error");
	ck_assert_str_eq(errseq_strerror(-4096), "unknown error");
}
END_TEST

START_TEST(client_default_socket_env)
{
	char buf[128];

	setenv("ERRSEQD_SOCKET", "/tmp/some/where.sock", 1);
	ck_assert_int_eq(errseq_default_socket(buf, sizeof(buf)),
			 (int)strlen("/tmp/some/where.sock"));
	ck_assert_str_eq(buf, "/tmp/some/where.sock");
	ck_assert_int_eq(errseq_default_socket(buf, 5), -ENAMETOOLONG);
	unsetenv("ERRSEQD_SOCKET");
	ck_assert_int_gt(errseq_default_socket(buf, sizeof(buf)), 0);
	ck_assert_int_eq(buf[0], '/');
}
END_TEST

START_TEST(client_open_refusals)
{
	char dir[] = "/tmp/esdt-cl-XXXXXX", path[108], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct errseq_client *c = (void *)1;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	ck_assert_int_eq(errseq_client_open(path, &c), -ENOENT);
	ck_assert_ptr_eq(c, (void *)1);	/* untouched on failure */

	/* a socket file nobody listens on */
	snprintf(path, sizeof(path), "%s/dead.sock", dir);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(errseq_client_open(path, &c), -ECONNREFUSED);
	close(fd);
	unlink(path);
	rmdir(dir);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	ck_assert_int_eq(errseq_client_open(longp, &c), -ENAMETOOLONG);
	ck_assert_int_eq(errseq_client_open("", &c), -EINVAL);
	ck_assert_int_eq(errseq_client_open(path, NULL), -EINVAL);
	errseq_client_close(NULL);	/* a no-op */
}
END_TEST

/*
 * A fake daemon: one thread, one connection, answering HELLO (and then one
 * OPEN) as the scenario says, to see the library refuse a broken peer.
 * Protocol 2: HELLO passes no fd and announces the geometry (layout 1's
 * segment header checks are now checks of the HELLO reply); the chunk
 * comes with the OPEN reply, and its checks (announced fd present, size,
 * access mode) replace layout 1's checks of the segment passed at HELLO.
 */
enum fake_mode {
	FAKE_BAD_MAGIC, FAKE_BAD_SEQ, FAKE_BAD_OP, FAKE_VERSION3,
	FAKE_BAD_LAYOUT, FAKE_BAD_MAX_SLOTS, FAKE_BAD_CHUNK_SLOTS,
	FAKE_BAD_STRIDE, FAKE_ZERO_INCARNATION, FAKE_ERR_REPLY,
	FAKE_SHORT_REPLY,
	FAKE_OPEN_BAD_INDEX, FAKE_OPEN_EVEN_GEN, FAKE_OPEN_NO_FD,
	FAKE_OPEN_FD_UNANNOUNCED, FAKE_OPEN_SHORT_CHUNK,
	FAKE_OPEN_RO_FOR_WRITER, FAKE_OK,
};

struct fake {
	enum fake_mode mode;
	int lfd;
	char path[108];
	char dir[32];
};

/* A chunk as the daemon makes it (a memfd of ESD_CHUNK_BYTES), or a
 * short one, or a read-only fd of one, as @mode says. */
static int fake_chunk(enum fake_mode mode)
{
	int fd = memfd_create("fake-chunk", MFD_CLOEXEC);
	char path[64];
	int ro;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, mode == FAKE_OPEN_SHORT_CHUNK ? ESD_PAGE :
		      (off_t)ESD_CHUNK_BYTES) < 0) {
		close(fd);
		return -1;
	}
	if (mode != FAKE_OPEN_RO_FOR_WRITER)
		return fd;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	return ro;
}

/* Send @len bytes of @buf, with @pass (if >= 0) as SCM_RIGHTS. */
static void fake_send(int fd, const void *buf, size_t len, int pass)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cb;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = sizeof(cb.b);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &pass, sizeof(int));
	}
	(void)!sendmsg(fd, &mh, MSG_NOSIGNAL);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	unsigned char buf[512];
	struct esp_hdr *req = (struct esp_hdr *)buf;
	struct esp_hello_rep rep = {
		.version = ESP_VERSION,
		.layout_version = ESD_LAYOUT_VERSION,
		.max_slots = ESD_CHUNK_SLOTS,
		.chunk_slots = ESD_CHUNK_SLOTS,
		.slot_stride = sizeof(struct esd_slot),
		.daemon_pid = 1,
		.daemon_uid = (uint32_t)geteuid(),
		.incarnation = 0x1234,
	};
	struct esp_err_rep err = { .msg_len = 3, .msg = "no" };
	const void *out = &rep;
	size_t out_len = sizeof(rep);
	int fd, chunk = -1;

	fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	/* one connection only: the library's reconnects find nobody */
	close(f->lfd);
	if (fd < 0 || recv(fd, buf, sizeof(buf), 0) < (ssize_t)sizeof(*req))
		goto out;
	rep.hdr = *req;
	if (f->mode == FAKE_BAD_MAGIC)
		rep.hdr.magic++;
	if (f->mode == FAKE_BAD_SEQ)
		rep.hdr.seq++;
	if (f->mode == FAKE_BAD_OP)
		rep.hdr.op = ESP_OP_OPEN;
	if (f->mode == FAKE_VERSION3)
		rep.version = 3;
	if (f->mode == FAKE_BAD_LAYOUT)
		rep.layout_version++;
	if (f->mode == FAKE_BAD_MAX_SLOTS)
		rep.max_slots = ESD_CHUNK_SLOTS + 8;
	if (f->mode == FAKE_BAD_CHUNK_SLOTS)
		rep.chunk_slots = 512;
	if (f->mode == FAKE_BAD_STRIDE)
		rep.slot_stride = 32;
	if (f->mode == FAKE_ZERO_INCARNATION)
		rep.incarnation = 0;
	if (f->mode == FAKE_SHORT_REPLY)
		out_len = sizeof(rep) - 8;
	if (f->mode == FAKE_ERR_REPLY) {
		err.hdr = *req;
		err.hdr.status = -EMFILE;
		out = &err;
		out_len = sizeof(err);
	}
	fake_send(fd, out, out_len, -1);

	/* A second request (OPEN) for the scenarios that get that far. */
	if (recv(fd, buf, sizeof(buf), 0) >= (ssize_t)sizeof(*req)) {
		struct esp_open_rep orep = {
			.hdr = *req, .index = 1, .gen = 1, .created = 1,
			.flags = ESP_RIGHT_WRITE | ESP_OPEN_FD,
		};

		if (f->mode == FAKE_OPEN_BAD_INDEX)
			orep.index = ESD_CHUNK_SLOTS;
		if (f->mode == FAKE_OPEN_EVEN_GEN)
			orep.gen = 2;
		if (f->mode == FAKE_OPEN_FD_UNANNOUNCED)
			orep.flags = ESP_RIGHT_WRITE;
		if (f->mode != FAKE_OPEN_NO_FD)
			chunk = fake_chunk(f->mode);
		fake_send(fd, &orep, sizeof(orep), chunk);
		/* answer CLOSE until the client hangs up */
		while (recv(fd, buf, sizeof(buf), 0) >= (ssize_t)sizeof(*req))
			(void)!send(fd, req, sizeof(*req), MSG_NOSIGNAL);
	}
out:
	if (chunk >= 0)
		close(chunk);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int fake_run(enum fake_mode mode, struct errseq_slot **slot_out,
		    int *open_r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f = { .mode = mode };
	struct errseq_client *c = NULL;
	pthread_t t;
	int r;

	snprintf(f.dir, sizeof(f.dir), "/tmp/esdt-fake-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/s", f.dir);
	f.lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.path);
	ck_assert_int_eq(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f.lfd, 4), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fake_main, &f), 0);

	r = errseq_client_open(f.path, &c);
	if (r == 0) {
		*open_r = errseq_slot_open(c, "x", ERRSEQ_CREATE, slot_out);
		if (*open_r == 0)
			errseq_slot_close(*slot_out);
		errseq_client_close(c);
	}
	pthread_join(t, NULL);
	unlink(f.path);
	rmdir(f.dir);
	return r;
}

START_TEST(client_protocol_violations)
{
	static const struct {
		enum fake_mode mode;
		int open_r;	/* errseq_client_open's result */
	} cases[] = {
		{ FAKE_BAD_MAGIC, ERRSEQ_EPROTO },
		{ FAKE_BAD_SEQ, ERRSEQ_EPROTO },
		{ FAKE_BAD_OP, ERRSEQ_EPROTO },
		{ FAKE_VERSION3, -EPROTONOSUPPORT },
		{ FAKE_BAD_LAYOUT, ERRSEQ_EPROTO },
		{ FAKE_BAD_MAX_SLOTS, ERRSEQ_EPROTO },
		{ FAKE_BAD_CHUNK_SLOTS, ERRSEQ_EPROTO },
		{ FAKE_BAD_STRIDE, ERRSEQ_EPROTO },
		{ FAKE_ZERO_INCARNATION, ERRSEQ_EPROTO },
		{ FAKE_ERR_REPLY, -EMFILE },
		{ FAKE_SHORT_REPLY, ERRSEQ_EPROTO },
	};
	struct errseq_slot *s;
	int open_r = 1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = fake_run(cases[i].mode, &s, &open_r);

		ck_assert_msg(r == cases[i].open_r,
			      "fake mode %d: client_open %d, expected %d",
			      (int)cases[i].mode, r, cases[i].open_r);
	}

	/* a good handshake, then broken OPEN replies */
	ck_assert_int_eq(fake_run(FAKE_OPEN_BAD_INDEX, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OPEN_EVEN_GEN, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OPEN_NO_FD, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OPEN_FD_UNANNOUNCED, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	/* a chunk shorter than ESD_CHUNK_BYTES would SIGBUS the client */
	ck_assert_int_eq(fake_run(FAKE_OPEN_SHORT_CHUNK, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OPEN_RO_FOR_WRITER, &s, &open_r), 0);
	ck_assert_int_eq(open_r, ERRSEQ_EPROTO);
	ck_assert_int_eq(fake_run(FAKE_OK, &s, &open_r), 0);
	ck_assert_int_eq(open_r, 0);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_local_suite(void)
{
	Suite *s = suite_create("client_local");
	TCase *tc;

	tc = tcase_create("local");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, client_strerror_codes);
	tcase_add_test(tc, client_default_socket_env);
	tcase_add_test(tc, client_open_refusals);
	tcase_add_test(tc, client_protocol_violations);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(client_local_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
