/*
 * test_robustness.c - errseqd integration tests: malformed requests and
 * hostile or stuck peers.
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

/* ---- malformed and hostile requests ----------------------------------- */

START_TEST(daemon_bad_requests_get_error_replies)
{
	static const struct {
		uint16_t op;
		size_t len;
	} bad_size[] = {
		{ ESP_OP_OPEN, 16 }, { ESP_OP_OPEN, 151 }, { ESP_OP_OPEN, 153 },
		{ ESP_OP_CLOSE, 16 }, { ESP_OP_CLOSE, 23 }, { ESP_OP_CLOSE, 25 },
		{ ESP_OP_UNLINK, 151 }, { ESP_OP_UNLINK, 153 },
		{ ESP_OP_STAT, 16 }, { ESP_OP_STAT, 252 },
		{ ESP_OP_LIST, 16 }, { ESP_OP_LIST, 23 }, { ESP_OP_LIST, 25 },
		{ ESP_OP_STATUS, 17 }, { ESP_OP_STATUS, 24 },
		{ ESP_OP_STATUS, ESP_MAX_MSG },
		{ ESP_OP_REATTACH, 16 }, { ESP_OP_REATTACH, 159 },
		{ ESP_OP_REATTACH, 161 },
	};
	/* 10 is ESP_OP_ARM in protocol 2: 12 replaces it. */
	static const uint16_t bad_op[] = { 0, ESP_OP_MAX_, 12, 0x7fff, 0xffff };
	static char buf[ESP_MAX_MSG];
	struct esdt_daemon d;
	struct esrc c, f;
	struct esp_name_req req;
	uint32_t seq = 1000;

	start_daemon(&d, 4, NULL);

	/* HELLO of the wrong size, before any HELLO. */
	ck_assert_int_eq(esrc_init(&f, d.sock), 0);
	memset(buf, 0, sizeof(buf));
	for (size_t len = 16; len <= 32; len += 4) {
		if (len == sizeof(struct esp_hello_req))
			continue;
		esrc_hdr((struct esp_hdr *)buf, ESP_OP_HELLO, seq++);
		((struct esp_hello_req *)buf)->min_version = 1;
		((struct esp_hello_req *)buf)->max_version = 1;
		CK_CODE(raw_call(&f, buf, len), -EBADMSG);
	}
	CK_CODE(esrc_hello(&f), 0);
	esrc_fini(&f);

	conn(&c, &d);
	for (size_t k = 0; k < sizeof(bad_size) / sizeof(bad_size[0]); k++) {
		int r;

		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, bad_size[k].op, seq++);
		r = raw_call(&c, buf, bad_size[k].len);
		ck_assert_msg(r == -EBADMSG, "op %u, %zu bytes: %d (%s)",
			      bad_size[k].op, bad_size[k].len, r,
			      esrc_strerror(r));
	}
	/* A request with a non-zero status. */
	memset(buf, 0, sizeof(buf));
	esrc_hdr((struct esp_hdr *)buf, ESP_OP_STATUS, seq++);
	((struct esp_hdr *)buf)->status = -5;
	CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EBADMSG);
	((struct esp_hdr *)buf)->status = 1;
	CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EBADMSG);
	memset(&req, 0, sizeof(req));
	esrc_hdr(&req.hdr, ESP_OP_OPEN, seq++);
	req.hdr.status = -1;
	req.flags = ESP_OPEN_CREATE;
	req.name_len = 1;
	req.name[0] = 'z';
	CK_CODE(raw_call(&c, &req, sizeof(req)), -EBADMSG);
	CK_CODE(esrc_stat(&c, NAME("z"), NULL), -ENOENT);

	/* Unknown ops, of header size and larger. */
	for (size_t k = 0; k < sizeof(bad_op) / sizeof(bad_op[0]); k++) {
		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, bad_op[k], seq++);
		CK_CODE(raw_call(&c, buf, sizeof(struct esp_hdr)), -EOPNOTSUPP);
		esrc_hdr((struct esp_hdr *)buf, bad_op[k], seq++);
		CK_CODE(raw_call(&c, buf, 200), -EOPNOTSUPP);
	}
	/* The connection is still served normally. */
	ck_assert_uint_eq(status_ok(&c).slots_used, 0);
	open_ok(&c, "fine", ESP_OPEN_CREATE);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Hostile packets that make the daemon close the connection; _i picks one,
 * sent before HELLO (even _i) or after (odd _i). */
START_TEST(daemon_closes_hostile_peer)
{
	static char buf[ESP_MAX_MSG + 64];
	struct esdt_daemon d;
	struct esrc good, h, fresh;
	int kind = _i / 2, after_hello = _i % 2;
	unsigned seed = 12345u + (unsigned)_i;
	size_t len = 0;

	start_daemon(&d, 4, NULL);
	conn(&good, &d);
	for (int round = 0; round < (kind == 4 ? 16 : 1); round++) {
		ck_assert_int_eq(esrc_init(&h, d.sock), 0);
		if (after_hello)
			CK_CODE(esrc_hello(&h), 0);
		memset(buf, 0, sizeof(buf));
		esrc_hdr((struct esp_hdr *)buf, ESP_OP_STATUS, 1);
		switch (kind) {
		case 0:		/* empty packet */
			len = 0;
			break;
		case 1:		/* a truncated header */
			len = 8;
			break;
		case 2:
			len = sizeof(struct esp_hdr) - 1;
			break;
		case 3:		/* bad magic */
			((struct esp_hdr *)buf)->magic = ESP_MAGIC ^ 0x100;
			len = sizeof(struct esp_hdr);
			break;
		case 4:		/* random bytes, any length */
			len = 1 + (size_t)rand_r(&seed) % 3000;
			for (size_t i = 0; i < len; i++)
				buf[i] = (char)rand_r(&seed);
			if (len >= 4 && ((struct esp_hdr *)buf)->magic ==
					ESP_MAGIC)
				buf[0] ^= 1;
			break;
		case 5:		/* larger than ESP_MAX_MSG */
			len = ESP_MAX_MSG + 1;
			break;
		}
		CK_CODE(esrc_send(h.fd, buf, len, WAIT_MS), 0);
		ck_assert_msg(esrc_wait_closed(h.fd, WAIT_MS) == 0,
			      "kind %d (%zu bytes, hello %d): still open",
			      kind, len, after_hello);
		esrc_fini(&h);
		/* A well-behaved client is still served. */
		status_ok(&good);
		conn(&fresh, &d);
		open_ok(&fresh, "ok", ESP_OPEN_CREATE);
		esrc_fini(&fresh);
	}
	ck_assert_uint_eq(wait_clients(&good, 1), 1);
	esrc_fini(&good);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Send @req (@len bytes) with @n fds attached by SCM_RIGHTS. */
static void send_with_fds(int sock, const void *req, size_t len,
			  const int *fds, int n)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(8 * sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)req, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)),
	};
	struct cmsghdr *cm;

	memset(&ctl, 0, sizeof(ctl));
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, (size_t)n * sizeof(int));
	ck_assert_int_eq(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

START_TEST(daemon_leaks_no_fds)
{
	struct esdt_daemon d;
	struct esrc c, x;
	struct esp_hdr req;
	struct esp_status_rep rep;
	struct esp_open_rep o;
	int base, p[2], fds[3];

	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	/* A slot first, so that its chunk exists and we hold its fd. */
	o = open_ok(&c, "fdsrc", ESP_OPEN_CREATE);
	base = esdt_count_fds(d.pid);
	ck_assert_int_gt(base, 0);

	/* Fds a peer passes are closed unread (even the daemon's own chunk). */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = esrc_chunk_fd(&c, o.index);
	ck_assert_int_ge(fds[2], 0);
	for (uint32_t i = 0; i < 10; i++) {
		esrc_hdr(&req, ESP_OP_STATUS, 900 + i);
		send_with_fds(c.fd, &req, sizeof(req), fds, 3);
		ck_assert_int_eq(esrc_recv(c.fd, &rep, sizeof(rep), NULL,
					   WAIT_MS), (ssize_t)sizeof(rep));
		ck_assert_int_eq(rep.hdr.status, 0);
		ck_assert_uint_eq(rep.hdr.seq, 900 + i);
	}
	close(p[0]);
	close(p[1]);
	ck_assert_int_eq(esdt_count_fds(d.pid), base);

	/* Connections that come and go, cleanly or closed by the daemon. */
	for (int i = 0; i < 100; i++) {
		conn(&x, &d);
		open_ok(&x, "leak", ESP_OPEN_CREATE);
		esrc_fini(&x);
	}
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(esrc_init(&x, d.sock), 0);
		CK_CODE(esrc_send(x.fd, "junk", 4, WAIT_MS), 0);
		ck_assert_int_eq(esrc_wait_closed(x.fd, WAIT_MS), 0);
		esrc_fini(&x);
	}
	ck_assert_uint_eq(wait_clients(&c, 1), 1);
	ck_assert_int_eq(esdt_count_fds(d.pid), base);
	ck_assert_uint_eq(stat_ok(&c, "leak").holders, 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_closes_peer_not_reading)
{
	struct esdt_daemon d;
	struct esrc c, good;
	struct esp_hdr req;
	int r = 0;
	long sent = 0;

	start_daemon(&d, 4, NULL);
	conn(&good, &d);
	conn(&c, &d);
	/* Requests, never reading a reply, until the daemon gives up. */
	for (sent = 0; sent < 1000000; sent++) {
		esrc_hdr(&req, ESP_OP_STATUS, (uint32_t)sent);
		r = esrc_send(c.fd, &req, sizeof(req), 2000);
		if (r < 0)
			break;
	}
	ck_assert_msg(r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT,
		      "after %ld requests: send %d (%s)", sent, r,
		      esrc_strerror(r));
	ck_assert_msg(esrc_wait_closed(c.fd, WAIT_MS) == 0,
		      "daemon kept a peer that does not read (%ld sent, %s)",
		      sent, esrc_strerror(r));
	esrc_fini(&c);
	status_ok(&good);
	ck_assert_uint_eq(wait_clients(&good, 1), 1);
	esrc_fini(&good);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_robustness_suite(void)
{
	Suite *s = suite_create("daemon_robustness");
	TCase *tc;

	tc = tcase(s, "robustness");
	tcase_add_test(tc, daemon_bad_requests_get_error_replies);
	tcase_add_loop_test(tc, daemon_closes_hostile_peer, 0, 12);
	tcase_add_test(tc, daemon_closes_peer_not_reading);
	tcase_add_test(tc, daemon_leaks_no_fds);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_robustness_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
