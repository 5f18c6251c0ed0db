/*
 * test_api.c - liberrseq-client's tests: the control path (status, open,
 * unlink, list, stat) and the data path (set, check, statistics, stale
 * handles).
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
#include <sched.h>
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

/* -------------------------------------------------- control path */

START_TEST(client_status_reports_daemon)
{
	struct errseq_daemon_status st;

	up(64, NULL);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_int_eq(st.pid, D.pid);
	/* --slots is the live maximum, and memory grows by chunks as
	 * slots are created (layout 1: a fixed segment of the given
	 * size). */
	ck_assert_uint_eq(st.capacity, 64);
	ck_assert_uint_eq(st.chunk_slots, ESD_CHUNK_SLOTS);
	ck_assert_uint_eq(st.slots_used, 0);
	ck_assert_uint_eq(st.slots_held, 0);
	ck_assert_uint_ge(st.clients, 1);
	ck_assert_uint_ne(st.incarnation, 0);
	ck_assert_uint_eq(st.chunks, 0);
	ck_assert_uint_eq(st.segment_bytes, 0);
	ck_assert_uint_eq(st.uid_slots, 0);
	ck_assert_uint_eq(st.uid_clients, 1);
	ck_assert_uint_eq(st.max_uid_slots, 64 / 4);
	ck_assert_uint_eq(st.max_uid_clients, 256);
	ck_assert_uint_eq(st.max_uid_holds, 65536);
	{
		struct errseq_slot *s = must_open("status", ERRSEQ_CREATE);

		ck_assert_int_eq(errseq_status(C, &st), 0);
		ck_assert_uint_eq(st.chunks, 1);
		ck_assert_uint_eq(st.segment_bytes, ESD_CHUNK_BYTES);
		ck_assert_uint_eq(st.uid_slots, 1);
		ck_assert_uint_eq(st.uid_holds, 1);
		errseq_slot_close(s);
	}
	ck_assert_uint_gt(st.start_ns, 0);
	ck_assert_uint_gt(strlen(st.version), 0);
	ck_assert_int_eq(errseq_status(C, NULL), -EINVAL);
	ck_assert_int_eq(errseq_status(NULL, &st), -EINVAL);
}
END_TEST

START_TEST(client_open_errors)
{
	static const char *const bad[] = {
		"", "a b", "tab\t", "é", "semi;colon", "star*", "back\\slash",
	};
	char name[ERRSEQ_NAME_MAX + 2];
	struct errseq_slot *s = NULL, *s2 = NULL;
	struct errseq_daemon_status st;

	up(64, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(errseq_slot_open(C, bad[i], ERRSEQ_CREATE, &s),
				 -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, NULL, ERRSEQ_CREATE, &s),
			 -EINVAL);
	memset(name, 'n', sizeof(name));
	name[ERRSEQ_NAME_MAX + 1] = '\0';	/* 129 bytes */
	ck_assert_int_eq(errseq_slot_open(C, name, ERRSEQ_CREATE, &s), -EINVAL);
	name[ERRSEQ_NAME_MAX] = '\0';		/* 128 bytes: fine */
	s = must_open(name, ERRSEQ_CREATE);
	ck_assert_str_eq(errseq_slot_name(s), name);
	errseq_slot_close(s);

	/* every allowed character */
	s = must_open("Az09._:/@-", ERRSEQ_CREATE);
	errseq_slot_close(s);

	ck_assert_int_eq(errseq_slot_open(C, "ok", ERRSEQ_EXCL, &s), -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "ok", 0x4, &s), -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "ok", ERRSEQ_CREATE, NULL),
			 -EINVAL);
	ck_assert_int_eq(errseq_slot_open(C, "missing", 0, &s), -ENOENT);

	s = must_open("dup", ERRSEQ_CREATE | ERRSEQ_EXCL);
	ck_assert_int_eq(errseq_slot_open(C, "dup", ERRSEQ_CREATE |
					  ERRSEQ_EXCL, &s2), -EEXIST);
	s2 = must_open("dup", ERRSEQ_CREATE);	/* exists: just opens */
	errseq_slot_set(s2, -EIO);
	ck_assert_uint_eq(errseq_slot_peek(s), errseq_slot_peek(s2));
	ck_assert_uint_ne(errseq_slot_peek(s), 0);
	errseq_slot_close(s2);
	s2 = must_open("dup", 0);
	ck_assert_int_eq(errseq_slot_check(s2, 0), -EIO);
	errseq_slot_close(s2);
	errseq_slot_close(s);
	errseq_slot_close(NULL);	/* a no-op */

	/* none of the refusals created anything */
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_eq(st.slots_used, 3);	/* name, Az09..., dup */
}
END_TEST

START_TEST(client_open_enospc)
{
	/* --slots 4: the live maximum is 4.  Root is exempt from the
	 * per-uid quota, so the global maximum is what refuses. */
	enum { N = 4 };
	static struct errseq_slot *s[N + 1];
	char name[16];

	up(4, NULL);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		s[i] = must_open(name, ERRSEQ_CREATE);
	}
	ck_assert_int_eq(errseq_slot_open(C, "s-over", ERRSEQ_CREATE, &s[N]),
			 -ENOSPC);
	for (int i = 0; i < N; i++)
		errseq_slot_close(s[i]);
}
END_TEST

START_TEST(client_open_emfile)
{
	static const char *const extra[] = { "--max-open", "2", NULL };
	struct errseq_slot *a, *b, *x;

	up(16, extra);
	a = must_open("a", ERRSEQ_CREATE);
	b = must_open("b", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_open(C, "c", ERRSEQ_CREATE, &x), -EMFILE);
	errseq_slot_close(b);
	b = must_open("c", ERRSEQ_CREATE);	/* room again */
	errseq_slot_close(a);
	errseq_slot_close(b);
}
END_TEST

START_TEST(client_open_eusers)
{
	static const char *const extra[] = { "--max-clients", "1", NULL };
	struct errseq_client *c2 = NULL;
	int64_t end;
	int r;

	up(16, extra);
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), -EUSERS);
	ck_assert_ptr_null(c2);
	/* room again once C has gone (the daemon notices asynchronously) */
	errseq_client_close(C);
	C = NULL;
	end = mono_ms() + LONG_MS;
	while ((r = errseq_client_open(D.sock, &C)) == -EUSERS &&
	       mono_ms() < end)
		nap_ms(10);
	ck_assert_int_eq(r, 0);
}
END_TEST

START_TEST(client_unlink_errors)
{
	struct errseq_slot *s;
	char name[ERRSEQ_NAME_MAX + 2];

	up(64, NULL);
	ck_assert_int_eq(errseq_slot_unlink(C, "nope"), -ENOENT);
	ck_assert_int_eq(errseq_slot_unlink(C, "bad name"), -EINVAL);
	ck_assert_int_eq(errseq_slot_unlink(C, ""), -EINVAL);
	ck_assert_int_eq(errseq_slot_unlink(C, NULL), -EINVAL);
	memset(name, 'x', sizeof(name));
	name[ERRSEQ_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(errseq_slot_unlink(C, name), -EINVAL);

	s = must_open("gone", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_slot_unlink(C, "gone"), 0);
	ck_assert_int_eq(errseq_slot_unlink(C, "gone"), -ENOENT);
	errseq_slot_close(s);
	ck_assert_int_eq(errseq_slot_open(C, "gone", 0, &s), -ENOENT);
}
END_TEST

START_TEST(client_list_pages)
{
	struct errseq_slot_info info[3];
	struct errseq_slot *s[7];
	char name[16];
	uint32_t pos = 0, prev = 0;
	int seen = 0, r, pages = 0;
	bool found[7] = { false };

	up(64, NULL);
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "list-%d", i);
		s[i] = must_open(name, ERRSEQ_CREATE);
		errseq_slot_set(s[i], -(i + 1));
	}
	ck_assert_int_eq(errseq_slot_unlink(C, "list-3"), 0);

	ck_assert_int_eq(errseq_list(C, &pos, info, 0), -EINVAL);
	ck_assert_int_eq(errseq_list(C, NULL, info, 3), -EINVAL);
	while (pos != ERRSEQ_LIST_END) {
		r = errseq_list(C, &pos, info, 3);
		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 3);
		pages++;
		ck_assert_int_lt(pages, 20);
		for (int k = 0; k < r; k++) {
			int i;

			ck_assert_int_eq(sscanf(info[k].name, "list-%d", &i), 1);
			ck_assert(i >= 0 && i < 7 && i != 3 && !found[i]);
			found[i] = true;
			ck_assert_uint_ge(info[k].index, prev);	/* index order */
			prev = info[k].index;
			ck_assert_uint_eq(info[k].value & ERRSEQ_MAX_ERRNO,
					  (unsigned)(i + 1));
			ck_assert_uint_eq(info[k].sets_total, 1);
			ck_assert_int_eq(info[k].last_pid, getpid());
			ck_assert_uint_eq(info[k].holders, 1);
			ck_assert(ESD_GEN_LIVE(info[k].generation));
			seen++;
		}
	}
	ck_assert_int_eq(seen, 6);
	ck_assert_int_ge(pages, 2);
	/* done: further calls return 0 */
	ck_assert_int_eq(errseq_list(C, &pos, info, 3), 0);
	ck_assert_uint_eq(pos, ERRSEQ_LIST_END);
	/* listing never consumed anything */
	ck_assert_int_eq(errseq_slot_check(s[0], 0), -1);
	ck_assert_uint_eq(errseq_slot_sample(s[0]), 0);
	for (int i = 0; i < 7; i++)
		errseq_slot_close(s[i]);
}
END_TEST

START_TEST(client_stat_holders)
{
	struct errseq_slot_info info;
	struct errseq_slot *a, *b;
	struct errseq_client *c2;

	up(64, NULL);
	a = must_open("held", ERRSEQ_CREATE);
	b = must_open("held", 0);
	ck_assert_int_eq(errseq_stat(C, "held", &info), 0);
	ck_assert_str_eq(info.name, "held");
	ck_assert_uint_eq(info.holders, 2);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	ck_assert_uint_gt(info.created_ns, 0);
	ck_assert_uint_eq(info.value, 0);
	ck_assert_uint_eq(info.sets_total, 0);
	ck_assert_uint_eq(info.last_set_ns, 0);
	ck_assert_int_eq(info.last_pid, 0);
	errseq_slot_close(b);
	await_holders("held", 1);

	/* another client's handles count too, and go with its connection */
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	ck_assert_int_eq(errseq_slot_open(c2, "held", 0, &b), 0);
	await_holders("held", 2);
	errseq_client_close(c2);	/* closes b */
	await_holders("held", 1);

	ck_assert_int_eq(errseq_stat(C, "nope", &info), -ENOENT);
	ck_assert_int_eq(errseq_stat(C, "bad name", &info), -EINVAL);
	errseq_slot_close(a);
	await_holders("held", 0);
}
END_TEST

/* ------------------------------------------------------ data path */

START_TEST(client_set_semantics)
{
	struct errseq_slot *s;
	errseq_t since, boss, v;

	up(64, NULL);
	s = must_open("sem", ERRSEQ_CREATE);

	ck_assert_uint_eq(errseq_slot_peek(s), 0);
	ck_assert_uint_eq(errseq_slot_sample(s), 0);
	ck_assert_int_eq(errseq_slot_check(s, 0), 0);
	since = 0;
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);
	ck_assert_uint_eq(since, 0);

	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_uint_eq(errseq_slot_peek(s), EIO);
	/* unconsumed: a new watcher still gets it */
	ck_assert_uint_eq(errseq_slot_sample(s), 0);
	boss = errseq_slot_sample(s);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO);
	ck_assert_int_eq(errseq_slot_check(s, boss), -EIO); /* no consume */
	ck_assert_uint_eq(errseq_slot_peek(s), EIO);

	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -EIO);
	ck_assert_uint_eq(since, EIO | ERRSEQ_SEEN);
	ck_assert_uint_eq(errseq_slot_peek(s), EIO | ERRSEQ_SEEN);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);
	ck_assert_uint_eq(errseq_slot_sample(s), EIO | ERRSEQ_SEEN);

	/* after SEEN, the same errno again bumps the counter */
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	v = errseq_slot_peek(s);
	ck_assert_uint_eq(v, ERRSEQ_CTR_INC | EIO);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);	/* unconsumed repeat */
	ck_assert_uint_eq(errseq_slot_peek(s), v);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0); /* no bump */
	ck_assert_uint_eq(errseq_slot_peek(s), ERRSEQ_CTR_INC | ENOSPC);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -ENOSPC);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), 0);

	/* bad errors: nothing stored, -EINVAL */
	v = errseq_slot_peek(s);
	ck_assert_int_eq(errseq_slot_set(s, 0), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, 5), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, -4096), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, INT_MIN), -EINVAL);
	ck_assert_int_eq(errseq_slot_set(s, INT_MAX), -EINVAL);
	ck_assert_uint_eq(errseq_slot_peek(s), v);
	ck_assert_int_eq(errseq_slot_set(s, -4095), 0);	/* the edge */
	ck_assert_uint_eq(errseq_slot_peek(s) & ERRSEQ_MAX_ERRNO, 4095);
	errseq_slot_close(s);
}
END_TEST

START_TEST(client_stats_exact)
{
	struct errseq_slot_info info;
	struct errseq_slot *s;
	struct timespec now;

	up(64, NULL);
	s = must_open("stats", ERRSEQ_CREATE);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(errseq_slot_set(s, -EIO), 0); /* 2 no-ops */
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_set(s, 0), -EINVAL);  /* not counted */
	ck_assert_int_eq(errseq_slot_set(s, -5000), -EINVAL);
	ck_assert_int_eq(errseq_stat(C, "stats", &info), 0);
	ck_assert_uint_eq(info.sets_total, 4);
	ck_assert_int_eq(info.last_pid, getpid());
	clock_gettime(CLOCK_REALTIME, &now);
	ck_assert_uint_gt(info.last_set_ns, 0);
	ck_assert_uint_le(info.last_set_ns,
			  (uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec);
	ck_assert_uint_eq(info.value, ENOSPC);
	ck_assert_uint_eq(info.value, errseq_slot_peek(s));
	for (int i = 0; i < 1000; i++)
		errseq_slot_set(s, -(i % 4095 + 1));
	ck_assert_int_eq(errseq_stat(C, "stats", &info), 0);
	ck_assert_uint_eq(info.sets_total, 1004);
	errseq_slot_close(s);
}
END_TEST

/*
 * sets_total stays exact under contention, whichever way each setter
 * counts: half the setters are this program re-executed with
 * ERRSEQ_SET_CAS16=0 (the portable 8-byte CAS + fetch_add), half use the
 * 16-byte CAS where the CPU has it, all on one slot, while a watcher
 * consumes (its SEEN CAS changes the word under them).
 */
#define CONTEND_KIDS	4
#define CONTEND_SETS	20000

/* The re-executed setter: argv = self --contend-kid SOCKET. */
static int contend_kid_main(const char *sock)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	int i, r;

	r = errseq_client_open(sock, &c);
	if (r == 0)
		r = errseq_slot_open(c, "contend", 0, &s);
	for (i = 0; r == 0 && i < CONTEND_SETS; i++)
		r = errseq_slot_set(s, (i & 1) ? -EIO : -ENOSPC);
	if (r != 0) {
		fprintf(stderr, "contend kid: %s\n", errseq_strerror(r));
		return 1;
	}
	errseq_client_close(c);
	return 0;
}

static int contend_kid(void *arg)
{
	char *const argv[] = { "test_api", "--contend-kid", D.sock, NULL };

	if (arg)
		setenv("ERRSEQ_SET_CAS16", "0", 1);
	else
		unsetenv("ERRSEQ_SET_CAS16");
	execv("/proc/self/exe", argv);
	_exit(127);
}

START_TEST(client_stats_exact_contended)
{
	struct errseq_slot_info info;
	struct errseq_cursor *cur;
	struct errseq_slot *s;
	pid_t p[CONTEND_KIDS];
	int i, alive, reports = 0;

	up(64, NULL);
	s = must_open("contend", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	for (i = 0; i < CONTEND_KIDS; i++)
		p[i] = kid(contend_kid, (i & 1) ? (void *)1 : NULL);
	do {
		int r = errseq_cursor_check(cur);

		ck_assert(r == 0 || r == -EIO || r == -ENOSPC);
		reports += r != 0;
		alive = 0;
		for (i = 0; i < CONTEND_KIDS; i++) {
			siginfo_t si = { 0 };

			/* WNOWAIT: reap() below collects the status */
			ck_assert_int_eq(waitid(P_PID, (id_t)p[i], &si, WEXITED |
						WNOHANG | WNOWAIT), 0);
			alive += si.si_pid == 0;
		}
		sched_yield();
	} while (alive);
	for (i = 0; i < CONTEND_KIDS; i++)
		ck_assert_int_eq(reap(p[i]), 0);
	ck_assert_int_eq(errseq_stat(C, "contend", &info), 0);
	ck_assert_uint_eq(info.sets_total, CONTEND_KIDS * CONTEND_SETS);
	ck_assert_int_gt(reports, 0);
	errseq_slot_close(s);
}
END_TEST

START_TEST(client_stale_after_unlink)
{
	struct errseq_slot *old, *fresh, *x;
	struct errseq_cursor *cur, *cur2;
	errseq_t since = 0;

	up(64, NULL);
	old = must_open("phoenix", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur), 0);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), 0);
	ck_assert_int_eq(errseq_slot_unlink(C, "phoenix"), 0);

	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, 0), -EINVAL);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check_and_advance(old, &since),
			 ERRSEQ_ESTALE);
	ck_assert_uint_eq(since, 0);
	ck_assert_uint_eq(errseq_slot_sample(old), 0);
	ck_assert_uint_eq(errseq_slot_peek(old), 0);
	ck_assert_int_eq(errseq_slot_wait(old, 0, 10), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_wait(cur, 10), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur2), ERRSEQ_ESTALE);

	/* re-created under the same name: a new slot, the old handle stays
	 * stale forever, even when the index is reused */
	fresh = must_open("phoenix", ERRSEQ_CREATE | ERRSEQ_EXCL);
	ck_assert_uint_eq(errseq_slot_peek(fresh), 0);
	ck_assert_int_eq(errseq_slot_set(fresh, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_check(fresh, 0), -ENOSPC);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_uint_eq(errseq_slot_peek(fresh), ENOSPC);

	/* churn so that the old index is taken again by someone */
	for (int i = 0; i < 70; i++) {
		char name[16];

		snprintf(name, sizeof(name), "churn%d", i);
		if (errseq_slot_open(C, name, ERRSEQ_CREATE, &x) != 0)
			break;
		errseq_slot_set(x, -EIO);
		errseq_slot_close(x);
		ck_assert_int_eq(errseq_slot_unlink(C, name), 0);
	}
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);

	errseq_cursor_free(cur);
	errseq_slot_close(old);
	errseq_slot_close(fresh);
}
END_TEST

/* ------------------------------------------------------ lifetimes */

START_TEST(client_close_frees_everything)
{
	struct errseq_cursor *cur[3];
	struct errseq_slot *s[3];
	struct errseq_client *c2;
	char name[8];

	up(64, NULL);
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ck_assert_int_eq(errseq_slot_open(c2, name, ERRSEQ_CREATE,
						  &s[i]), 0);
		ck_assert_int_eq(errseq_cursor_new(s[i], &cur[i]), 0);
	}
	errseq_cursor_free(cur[0]);
	errseq_slot_close(s[1]);	/* and cur[1] */
	errseq_client_close(c2);	/* s[0], s[2], cur[2] */
	await_holders("f0", 0);
	await_holders("f2", 0);
	/* our fd count is back where it was (no leaked socket or segment) */
	ck_assert_int_eq(errseq_client_open(D.sock, &c2), 0);
	{
		int before = esdt_count_fds(getpid());

		errseq_client_close(c2);
		ck_assert_int_eq(esdt_count_fds(getpid()), before - 2);
	}
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_api_suite(void)
{
	Suite *s = suite_create("client_api");
	TCase *tc;

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, client_status_reports_daemon);
	tcase_add_test(tc, client_open_errors);
	tcase_add_test(tc, client_open_enospc);
	tcase_add_test(tc, client_open_emfile);
	tcase_add_test(tc, client_open_eusers);
	tcase_add_test(tc, client_unlink_errors);
	tcase_add_test(tc, client_list_pages);
	tcase_add_test(tc, client_stat_holders);
	tcase_add_test(tc, client_set_semantics);
	tcase_add_test(tc, client_stats_exact);
	tcase_add_test(tc, client_stats_exact_contended);
	tcase_add_test(tc, client_stale_after_unlink);
	tcase_add_test(tc, client_close_frees_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc == 3 && strcmp(argv[1], "--contend-kid") == 0)
		return contend_kid_main(argv[2]);
	sr = srunner_create(client_api_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
