/*
 * rel_sockfuzz.c - reliability figure 5b: hostile input over the socket.
 *
 * Fuzzer processes open many connections to a live daemon and send random
 * and mutated messages: valid messages of every op with random fields,
 * valid messages with flipped bytes, truncations, extensions, random bytes
 * of random lengths up to beyond ESP_MAX_MSG, unknown ops, wrong versions,
 * wrong magics, empty packets, packets carrying file descriptors
 * (SCM_RIGHTS), and floods of requests whose replies are never read.
 * Meanwhile a well-behaved library client keeps doing round trips (open,
 * stat, status, close) and data-path calls.
 *
 * Asserted: every one of the well-behaved client's calls succeeds; the
 * daemon is alive at the end, answers, and once the fuzzers are gone it is
 * back to one client and to its fd count from before (no fd passed to it
 * was kept); LIST agrees with STATUS on the number of live slots; and it
 * exits 0 on SIGTERM.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "common/protocol.h"
#include "tests/support/harness.h"
#include "tests/support/rawclient.h"
#include "tests/reliability/rel.h"

#define MAX_FUZZERS	16

enum kind {
	K_VALID,	/* a valid message of a random op, random fields */
	K_FLIP,		/* valid, then 1..8 bit flips */
	K_TRUNC,	/* valid, truncated */
	K_EXTEND,	/* valid, with bytes appended */
	K_RANDOM,	/* random bytes, random length up to > ESP_MAX_MSG */
	K_BADOP,	/* a header with an unknown op */
	K_BADVER,	/* a valid message with a wrong version */
	K_BADMAGIC,	/* a valid message with a wrong magic */
	K_EMPTY,	/* a zero-length packet */
	K_WITHFD,	/* a valid message carrying an fd (SCM_RIGHTS) */
	K_FLOOD,	/* 300 STATUS requests, replies never read */
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	"valid", "flipped", "truncated", "extended", "random", "unknown_op",
	"wrong_version", "wrong_magic", "empty", "with_fd", "flood",
};

struct fz_fuzzer {
	uint64_t sent[K_COUNT];
	uint64_t connections, replies, closed_by_daemon;
};

struct fz_shared {
	int stop_good;
	int good_ready;
	uint64_t good_rt, good_fail, good_data;
	int32_t good_first_fail;
	int32_t good_fail_call;
	struct fz_fuzzer f[MAX_FUZZERS];
};

struct fz_run {
	const struct esdt_daemon *d;
	struct fz_shared *sh;
	long conns_per_fuzzer;
};

static uint8_t msgbuf[ESP_MAX_MSG + 8192];

static void rand_name(char *name, uint32_t *len)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz0123456789._:/@-";
	uint32_t n = 1 + rel_rand_below(ESD_NAME_MAX);

	if (rel_rand_below(8) == 0)
		n = rel_rand_below(3) ? 0 : ESD_NAME_MAX + rel_rand_below(100);
	*len = n;
	memcpy(name, "fz.", 3);
	for (uint32_t i = 3; i < ESD_NAME_MAX; i++)
		name[i] = rel_rand_below(32) == 0 ? (char)rel_rand() :
						     ok[rel_rand_below(
							     sizeof(ok) - 1)];
}

static void fill_hdr(struct esp_hdr *h, uint16_t op)
{
	h->magic = ESP_MAGIC;
	h->version = ESP_VERSION;
	h->op = op;
	h->seq = (uint32_t)rel_rand();
	h->status = rel_rand_below(32) == 0 ? (int32_t)rel_rand() : 0;
}

/* A valid-looking message of a random op into msgbuf; returns its size. */
static size_t make_valid(void)
{
	uint16_t op = (uint16_t)(1 + rel_rand_below(ESP_OP_MAX_ - 1));

	memset(msgbuf, 0, 512);
	switch (op) {
	case ESP_OP_HELLO: {
		struct esp_hello_req *q = (void *)msgbuf;

		fill_hdr(&q->hdr, op);
		q->min_version = rel_rand_below(4) ? ESP_VERSION :
						     (uint32_t)rel_rand();
		q->max_version = rel_rand_below(4) ? ESP_VERSION :
						     (uint32_t)rel_rand();
		return sizeof(*q);
	}
	case ESP_OP_OPEN:
	case ESP_OP_UNLINK:
	case ESP_OP_STAT: {
		struct esp_name_req *q = (void *)msgbuf;

		fill_hdr(&q->hdr, op);
		q->flags = op == ESP_OP_OPEN ? rel_rand_below(4) : 0;
		if (rel_rand_below(16) == 0)
			q->flags = (uint32_t)rel_rand();
		rand_name(q->name, &q->name_len);
		return sizeof(*q);
	}
	case ESP_OP_CLOSE: {
		struct esp_slot_req *q = (void *)msgbuf;

		fill_hdr(&q->hdr, op);
		q->index = rel_rand_below(2) ? rel_rand_below(1100) :
					       (uint32_t)rel_rand();
		q->gen = rel_rand_below(2) ? rel_rand_below(8) :
					     (uint32_t)rel_rand();
		return sizeof(*q);
	}
	case ESP_OP_LIST: {
		struct esp_list_req *q = (void *)msgbuf;

		fill_hdr(&q->hdr, op);
		q->start = rel_rand_below(2) ? rel_rand_below(1100) :
					       (uint32_t)rel_rand();
		q->max = (uint32_t)rel_rand();
		return sizeof(*q);
	}
	case ESP_OP_REATTACH: {
		struct esp_reattach_req *q = (void *)msgbuf;

		fill_hdr(&q->hdr, op);
		q->index = rel_rand_below(1100);
		q->gen = rel_rand_below(8);
		rand_name(q->name, &q->name_len);
		return sizeof(*q);
	}
	default: {
		struct esp_hdr *h = (void *)msgbuf;

		fill_hdr(h, ESP_OP_STATUS);
		return sizeof(*h);
	}
	}
}

static size_t make_message(enum kind k)
{
	size_t n;

	switch (k) {
	case K_FLIP:
		n = make_valid();
		for (int i = 1 + (int)rel_rand_below(8); i > 0; i--)
			msgbuf[rel_rand_below((uint32_t)n)] ^=
				(uint8_t)(1u << rel_rand_below(8));
		return n;
	case K_TRUNC:
		n = make_valid();
		return rel_rand_below((uint32_t)n);
	case K_EXTEND:
		n = make_valid();
		for (int i = 1 + (int)rel_rand_below(64); i > 0; i--)
			msgbuf[n++] = (uint8_t)rel_rand();
		return n;
	case K_RANDOM:
		n = rel_rand_below(4) == 0 ?
			    rel_rand_below(ESP_MAX_MSG + 4096) :
			    rel_rand_below(256);
		for (size_t i = 0; i < n; i++)
			msgbuf[i] = (uint8_t)rel_rand();
		if (n >= 4 && rel_rand_below(2))	/* get past the magic */
			memcpy(msgbuf, &(uint32_t){ ESP_MAGIC }, 4);
		return n;
	case K_BADOP: {
		struct esp_hdr *h = (void *)msgbuf;

		fill_hdr(h, 0);
		h->op = (uint16_t)(rel_rand_below(2) ? 0 :
				   ESP_OP_MAX_ + rel_rand_below(65000));
		return sizeof(*h) + (rel_rand_below(2) ? 0 :
					 rel_rand_below(200));
	}
	case K_BADVER:
		n = make_valid();
		((struct esp_hdr *)msgbuf)->version =
			(uint16_t)(rel_rand_below(2) ? 0 : 2 + rel_rand_below(
								   65000));
		return n;
	case K_BADMAGIC:
		n = make_valid();
		((struct esp_hdr *)msgbuf)->magic ^= 1u << rel_rand_below(32);
		return n;
	case K_EMPTY:
		return 0;
	default:
		return make_valid();
	}
}

static int send_with_fd(int fd, const void *buf, size_t len, int pass)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	memset(ctl.buf, 0, sizeof(ctl.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass, sizeof(int));
	return sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

/* Read whatever replies are there; returns -1 once the daemon closed. */
static int drain(int fd, struct fz_fuzzer *me, int timeout_ms)
{
	static uint8_t rep[ESP_MAX_MSG + 16];

	for (;;) {
		ssize_t n = esrc_recv(fd, rep, sizeof(rep), NULL, timeout_ms);

		if (n == -ETIMEDOUT)
			return 0;
		if (n <= 0 && n != -EMSGSIZE) {
			me->closed_by_daemon++;
			return -1;
		}
		me->replies++;
		timeout_ms = 0;
	}
}

static int fuzzer_main(void *arg, int idx)
{
	struct fz_run *r = arg;
	struct fz_fuzzer *me = &r->sh->f[idx];
	int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

	rel_rand_seed(0x9000 + (uint64_t)idx * 7 + (uint64_t)getpid());
	for (long c = 0; c < r->conns_per_fuzzer; c++) {
		int fd = esrc_connect(r->d->sock);
		int msgs = 1 + (int)rel_rand_below(16);

		if (fd < 0)
			return 2;
		me->connections++;
		if (rel_rand_below(2)) {	/* a proper HELLO first */
			struct esp_hello_req h = {
				.min_version = ESP_VERSION,
				.max_version = ESP_VERSION,
			};

			fill_hdr(&h.hdr, ESP_OP_HELLO);
			h.hdr.status = 0;
			if (esrc_send(fd, &h, sizeof(h), 1000) == 0)
				drain(fd, me, 200);
		}
		for (int m = 0; m < msgs; m++) {
			enum kind k = (enum kind)rel_rand_below(K_COUNT);
			size_t n;
			int rc = 0;

			if (k == K_FLOOD && rel_rand_below(4) != 0)
				k = K_VALID;	/* floods are slow: fewer */
			me->sent[k]++;
			if (k == K_FLOOD) {
				struct esp_hdr h;

				fill_hdr(&h, ESP_OP_STATUS);
				h.status = 0;
				for (int i = 0; i < 300 && rc == 0; i++)
					rc = esrc_send(fd, &h, sizeof(h), 50);
				break;	/* never read: the daemon may drop us */
			}
			n = make_message(k);
			if (k == K_WITHFD)
				rc = send_with_fd(fd, msgbuf, n, devnull);
			else
				rc = esrc_send(fd, msgbuf, n, 200);
			if (rc < 0)
				break;	/* the daemon closed on us */
			if (rel_rand_below(10) < 8 && drain(fd, me, 20) < 0)
				break;
		}
		if (rel_rand_below(4) == 0)
			shutdown(fd, SHUT_WR);
		close(fd);
	}
	close(devnull);
	return 0;
}

static void good_fail(struct fz_shared *sh, int call, int rc)
{
	if (!sh->good_fail) {
		sh->good_first_fail = rc;
		sh->good_fail_call = call;
	}
	sh->good_fail++;
}

static int good_main(void *arg, int idx)
{
	struct fz_run *r = arg;
	struct fz_shared *sh = r->sh;
	struct errseq_client *c;
	struct errseq_slot_info info;
	struct errseq_daemon_status st;

	(void)idx;
	if (errseq_client_open(r->d->sock, &c) < 0)
		return 2;
	__atomic_store_n(&sh->good_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&sh->stop_good, __ATOMIC_ACQUIRE)) {
		struct errseq_slot *s;
		struct errseq_cursor *cur;
		int rc = errseq_slot_open(c, "good.slot", 0, &s);

		sh->good_rt++;
		if (rc < 0) {
			good_fail(sh, 1, rc);
			continue;
		}
		if ((rc = errseq_slot_set(s, -EIO)) != 0)
			good_fail(sh, 2, rc);
		if ((rc = errseq_cursor_new(s, &cur)) != 0) {
			good_fail(sh, 3, rc);
		} else {
			if ((rc = errseq_cursor_check(cur)) > 0 ||
			    rc < -ERRSEQ_MAX_ERRNO)
				good_fail(sh, 4, rc);
			errseq_cursor_free(cur);
		}
		sh->good_data += 3;
		sh->good_rt++;
		if ((rc = errseq_stat(c, "good.slot", &info)) != 0)
			good_fail(sh, 5, rc);
		sh->good_rt++;
		if ((rc = errseq_status(c, &st)) != 0)
			good_fail(sh, 6, rc);
		errseq_slot_close(s);
		rel_sleep_us(200);
	}
	errseq_client_close(c);
	return 0;
}

struct settle {
	struct errseq_client *c;
	pid_t daemon;
	int fds_want, fds;
	uint32_t chunks0;	/* chunks of slot memory before fuzzing */
	struct errseq_daemon_status st;
};

/* One client left, and the daemon's fds as before plus one memfd for
 * every chunk the fuzzers' creates added (a create with a writer group
 * is a new writer domain, so a new chunk: memory, not a leak). */
static bool settled(void *arg)
{
	struct settle *w = arg;

	if (errseq_status(w->c, &w->st) < 0 || w->st.clients != 1)
		return false;
	w->fds = esdt_count_fds(w->daemon);
	return w->fds == w->fds_want + (int)(w->st.chunks - w->chunks0);
}

START_TEST(sockfuzz_daemon_serves_throughout)
{
	static const char *const extra[] = { "--max-open", "64", NULL };
	struct esdt_daemon d;
	struct fz_run r = { .d = &d };
	struct errseq_client *c;
	struct errseq_slot *good;
	struct errseq_slot_info info;
	int fuzzers = (int)rel_pick(4, 8, 2);
	pid_t pids[MAX_FUZZERS], goodpid;
	uint64_t sent[K_COUNT] = { 0 }, conns = 0, replies = 0, dropped = 0;
	uint64_t total = 0;
	uint32_t pos = 0, listed = 0;
	int fds0, st;
	struct settle w;

	r.conns_per_fuzzer = rel_pick(2000, 50000, 200);
	esdt_sweep();
	rel_start(&d, 1024, extra);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "good.slot", ERRSEQ_CREATE,
					  &good), 0);
	fds0 = esdt_count_fds(d.pid);
	ck_assert_int_eq(errseq_status(c, &w.st), 0);
	w.chunks0 = w.st.chunks;
	r.sh = rel_shared_alloc(sizeof(*r.sh));
	goodpid = rel_fork(good_main, &r, 0);
	while (!__atomic_load_n(&r.sh->good_ready, __ATOMIC_ACQUIRE)) {
		ck_assert(rel_alive(goodpid));
		rel_sleep_us(1000);
	}
	for (int i = 0; i < fuzzers; i++)
		pids[i] = rel_fork(fuzzer_main, &r, i);
	for (int i = 0; i < fuzzers; i++) {
		st = rel_reap(pids[i]);
		ck_assert_msg(st == 0, "fuzzer %d exited with %d", i, st);
	}
	__atomic_store_n(&r.sh->stop_good, 1, __ATOMIC_RELEASE);
	st = rel_reap(goodpid);
	ck_assert_msg(st == 0, "good client exited with %d", st);

	ck_assert_msg(rel_alive(d.pid), "the daemon died");
	for (int i = 0; i < fuzzers; i++) {
		for (int k = 0; k < K_COUNT; k++) {
			sent[k] += r.sh->f[i].sent[k];
			total += r.sh->f[i].sent[k];
		}
		conns += r.sh->f[i].connections;
		replies += r.sh->f[i].replies;
		dropped += r.sh->f[i].closed_by_daemon;
	}
	w = (struct settle){ .c = c, .daemon = d.pid, .fds_want = fds0,
			     .chunks0 = w.chunks0 };
	ck_assert_msg(rel_wait_until(settled, &w, 60000, 50),
		      "after fuzzing: %u clients (want 1), %d fds (before %d, "
		      "chunks %u, before %u)", w.st.clients, w.fds, fds0,
		      w.st.chunks, w.chunks0);
	ck_assert_int_eq(errseq_stat(c, "good.slot", &info), 0);
	ck_assert_uint_eq(info.holders, 1);
	for (;;) {	/* LIST agrees with STATUS */
		struct errseq_slot_info page[64];
		int n = errseq_list(c, &pos, page, 64);

		ck_assert_int_ge(n, 0);
		listed += (uint32_t)n;
		if (pos == ERRSEQ_LIST_END)
			break;
	}
	ck_assert_uint_eq(listed, w.st.slots_used);

	rel_figure("sockfuzz.fuzzers", "%d", fuzzers);
	rel_figure("sockfuzz.connections", "%llu", (unsigned long long)conns);
	rel_figure("sockfuzz.messages", "%llu", (unsigned long long)total);
	for (int k = 0; k < K_COUNT; k++) {
		char fig[64];

		snprintf(fig, sizeof(fig), "sockfuzz.sent_%s", kind_names[k]);
		rel_figure(fig, "%llu", (unsigned long long)sent[k]);
	}
	rel_figure("sockfuzz.replies", "%llu", (unsigned long long)replies);
	rel_figure("sockfuzz.closed_by_daemon", "%llu",
		   (unsigned long long)dropped);
	rel_figure("sockfuzz.good_round_trips", "%llu",
		   (unsigned long long)r.sh->good_rt);
	rel_figure("sockfuzz.good_failures", "%llu",
		   (unsigned long long)r.sh->good_fail);
	rel_figure("sockfuzz.daemon_alive", "1");
	rel_figure("sockfuzz.daemon_fds_before", "%d", fds0);
	rel_figure("sockfuzz.daemon_fds_after", "%d", w.fds);
	rel_figure("sockfuzz.slots_after", "%u", w.st.slots_used);
	ck_assert_msg(r.sh->good_fail == 0,
		      "the good client failed %llu times, first in call %d "
		      "with %d (%s)",
		      (unsigned long long)r.sh->good_fail,
		      r.sh->good_fail_call, r.sh->good_first_fail,
		      errseq_strerror(r.sh->good_first_fail));
	ck_assert_uint_gt(r.sh->good_rt, 0);
	for (int k = 0; k < K_COUNT; k++)
		ck_assert_uint_gt(sent[k], 0);

	errseq_slot_close(good);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
	rel_shared_free(r.sh, sizeof(*r.sh));
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("sockfuzz", &tc);
	tcase_add_test(tc, sockfuzz_daemon_serves_throughout);
	return rel_run(s);
}
