/*
 * test_reconnect.c - liberrseq-client's tests: the daemon goes away:
 * ENOTCONN, restart, a new incarnation, a removed segment.
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

/* ------------------------------------------ the daemon goes away */

START_TEST(client_enotconn_while_down)
{
	struct errseq_daemon_status st;
	struct errseq_slot_info info;
	struct errseq_cursor *cur;
	struct errseq_slot *s, *x, *y;
	uint32_t pos = 0;

	up(64, NULL);
	s = must_open("kept", ERRSEQ_CREATE);
	y = must_open("closed-while-down", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(s, &cur), 0);
	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);

	ck_assert_int_eq(errseq_status(C, &st), -ENOTCONN);
	ck_assert_int_eq(errseq_slot_open(C, "new", ERRSEQ_CREATE, &x),
			 -ENOTCONN);
	ck_assert_int_eq(errseq_slot_unlink(C, "kept"), -ENOTCONN);
	ck_assert_int_eq(errseq_stat(C, "kept", &info), -ENOTCONN);
	ck_assert_int_eq(errseq_list(C, &pos, &info, 1), -ENOTCONN);
	/* arguments are still checked first */
	ck_assert_int_eq(errseq_slot_open(C, "bad name", 0, &x), -EINVAL);
	errseq_slot_close(y);	/* frees the handle, daemon or not */

	/* the data path does not need the daemon */
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -EIO);
	ck_assert_int_eq(errseq_cursor_check(cur), 0);

	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);
	/* the open handle was registered again; the closed one not */
	await_holders("kept", 1);
	await_holders("closed-while-down", 0);
	ck_assert_int_eq(errseq_slot_set(s, -ENOSPC), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), -ENOSPC);
	ck_assert_int_eq(errseq_stat(C, "kept", &info), 0);
	ck_assert_uint_eq(info.sets_total, 2);
	errseq_slot_close(s);
	await_holders("kept", 0);
}
END_TEST

/*
 * Ping-pong pairs through a daemon SIGKILL and restart.  A producer sets
 * an error on ping-P and waits for the watcher's ack on pong-P before the
 * next one, so the watcher must see every error, in order, exactly once.
 */
#define PAIRS	2

#define PP_END	(-4095)

struct pp_done {
	int pair;
	int role;	/* 0: producer, 1: watcher */
	int rounds;
};

struct pp {
	int pair;
	int stop[2];	/* boss -> producers: one byte each: finish */
	int done[2];	/* kids -> boss: producers write their round count */
	int quit[2];	/* boss -> kids: one byte each: exit */
};

static int pp_val(int i)
{
	return -(i % 100 + 1);
}

static int pp_producer(void *arg)
{
	struct pp *pp = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *ping, *pong;
	struct errseq_cursor *ack;
	char name[32];
	int rounds = 0;
	bool stopping = false;

	snprintf(name, sizeof(name), "ping-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &ping), 0);
	snprintf(name, sizeof(name), "pong-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &pong), 0);
	KID_EQ(errseq_cursor_new(pong, &ack), 0);
	while (!stopping) {
		stopping = get_byte(pp->stop[0], 0) == 0;
		rounds++;
		KID_EQ(errseq_slot_set(ping, stopping ? PP_END :
				       pp_val(rounds)), 0);
		KID_EQ(errseq_cursor_wait(ack, LONG_MS), -EPERM);
	}
	{
		struct pp_done d = { pp->pair, 0, rounds };

		KID_REQUIRE(write(pp->done[1], &d, sizeof(d)) == sizeof(d));
	}
	KID_EQ(get_byte(pp->quit[0], LONG_MS), 0);
	errseq_client_close(c);
	return 0;
}

static int pp_watcher(void *arg)
{
	struct pp *pp = arg;
	struct errseq_client *c = kid_client();
	struct errseq_slot *ping, *pong;
	struct errseq_cursor *cur;
	char name[32];
	int r, i = 0;

	snprintf(name, sizeof(name), "ping-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &ping), 0);
	snprintf(name, sizeof(name), "pong-%d", pp->pair);
	KID_EQ(errseq_slot_open(c, name, 0, &pong), 0);
	KID_EQ(errseq_cursor_new(ping, &cur), 0);
	for (;;) {
		r = errseq_cursor_wait(cur, LONG_MS);
		i++;
		if (r == PP_END) {
			KID_EQ(errseq_slot_set(pong, -EPERM), 0);
			break;
		}
		KID_EQ(r, pp_val(i));	/* every one, in order, once */
		KID_EQ(errseq_cursor_check(cur), 0);
		KID_EQ(errseq_slot_set(pong, -EPERM), 0);
	}
	{
		struct pp_done d = { pp->pair, 1, i };

		KID_REQUIRE(write(pp->done[1], &d, sizeof(d)) == sizeof(d));
	}
	KID_EQ(get_byte(pp->quit[0], LONG_MS), 0);
	errseq_client_close(c);
	return 0;
}

static uint64_t sets_of(uint32_t index)
{
	return __atomic_load_n(&seg_slot(index)->sets_total, __ATOMIC_RELAXED);
}

static void await_sets(uint32_t index, uint64_t n)
{
	int64_t end = mono_ms() + LONG_MS;

	while (sets_of(index) < n && mono_ms() < end)
		nap_ms(5);
	ck_assert_uint_ge(sets_of(index), n);
}

START_TEST(client_daemon_restart_loses_nothing)
{
	struct pp pp[PAIRS];
	struct errseq_slot_info info;
	struct errseq_daemon_status st;
	struct errseq_slot *s;
	uint32_t ping_index[PAIRS];
	uint64_t before, inc;
	pid_t pids[2 * PAIRS];
	int stop[2], done[2], quit[2], rounds[PAIRS][2];
	char name[32];

	up(64, NULL);
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(done), 0);
	ck_assert_int_eq(pipe(quit), 0);
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		s = must_open(name, ERRSEQ_CREATE);
		ping_index[p] = slot_index(s);
		errseq_slot_close(s);
		snprintf(name, sizeof(name), "pong-%d", p);
		s = must_open(name, ERRSEQ_CREATE);
		errseq_slot_close(s);
	}
	ck_assert_int_eq(errseq_status(C, &st), 0);
	inc = st.incarnation;
	seg_slot(0);
	for (int p = 0; p < PAIRS; p++) {
		pp[p] = (struct pp){ .pair = p, .stop = { stop[0], stop[1] },
				     .done = { done[0], done[1] },
				     .quit = { quit[0], quit[1] } };
		pids[2 * p] = kid(pp_producer, &pp[p]);
		pids[2 * p + 1] = kid(pp_watcher, &pp[p]);
	}
	for (int p = 0; p < PAIRS; p++)
		await_sets(ping_index[p], 50);

	/* kill -9 the daemon under the running pairs */
	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	ck_assert_int_eq(errseq_status(C, &st), -ENOTCONN);
	/* they go on without it */
	for (int p = 0; p < PAIRS; p++) {
		before = sets_of(ping_index[p]);
		await_sets(ping_index[p], before + 50);
	}
	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_eq(st.incarnation, inc);	/* adopted, not replaced */
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		await_holders(name, 2);	/* both kids registered again */
		snprintf(name, sizeof(name), "pong-%d", p);
		await_holders(name, 2);
		before = sets_of(ping_index[p]);
		await_sets(ping_index[p], before + 50);
	}

	for (int p = 0; p < PAIRS; p++)
		put_byte(stop[1]);
	memset(rounds, 0, sizeof(rounds));
	for (int k = 0; k < 2 * PAIRS; k++) {
		struct pollfd pf = { done[0], POLLIN, 0 };
		struct pp_done d;

		ck_assert_int_eq(poll(&pf, 1, LONG_MS), 1);
		ck_assert_int_eq(read(done[0], &d, sizeof(d)), sizeof(d));
		ck_assert(d.pair >= 0 && d.pair < PAIRS);
		ck_assert(d.role == 0 || d.role == 1);
		ck_assert_int_eq(rounds[d.pair][d.role], 0);
		rounds[d.pair][d.role] = d.rounds;
	}
	for (int k = 0; k < 2 * PAIRS; k++)
		put_byte(quit[1]);
	for (int k = 0; k < 2 * PAIRS; k++)
		ck_assert_int_eq(reap(pids[k]), 0);

	/* every round was set once, seen once and acknowledged once */
	for (int p = 0; p < PAIRS; p++) {
		uint64_t pings, pongs;

		ck_assert_int_eq(rounds[p][0], rounds[p][1]);

		snprintf(name, sizeof(name), "ping-%d", p);
		ck_assert_int_eq(errseq_stat(C, name, &info), 0);
		pings = info.sets_total;
		snprintf(name, sizeof(name), "pong-%d", p);
		ck_assert_int_eq(errseq_stat(C, name, &info), 0);
		pongs = info.sets_total;
		ck_assert_uint_eq(pings, (uint64_t)rounds[p][0]);
		ck_assert_uint_eq(pongs, (uint64_t)rounds[p][0]);
		ck_assert_uint_ge(pings, 150);
	}
	for (int p = 0; p < PAIRS; p++) {
		snprintf(name, sizeof(name), "ping-%d", p);
		await_holders(name, 0);
	}
	for (int i = 0; i < 2; i++) {
		close(stop[i]);
		close(done[i]);
		close(quit[i]);
	}
}
END_TEST

START_TEST(client_incarnation_change_stales_handles)
{
	static const char *const recreate[] = { "--recreate", NULL };
	struct errseq_daemon_status st;
	struct errseq_cursor *cur;
	struct errseq_slot *old, *fresh, *x;
	struct sleeper w = { 0 };
	uint64_t inc;

	up(64, NULL);
	old = must_open("inc", ERRSEQ_CREATE);
	ck_assert_int_eq(errseq_cursor_new(old, &cur), 0);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), 0);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	inc = st.incarnation;

	w.s = old;
	w.since = errseq_slot_peek(old);
	sleeper_start(&w);
	ck_assert(await_waiter(slot_index(old), LONG_MS));

	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	ck_assert_int_eq(esdt_daemon_restart(&D, recreate), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_status(C, &st), 0);
	ck_assert_uint_ne(st.incarnation, inc);

	/* the sleeper woke with ERRSEQ_ESTALE */
	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	ck_assert_uint_eq(errseq_slot_sample(old), 0);
	ck_assert_uint_eq(errseq_slot_peek(old), 0);
	ck_assert_int_eq(errseq_cursor_check(cur), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_wait(old, 0, -1), ERRSEQ_ESTALE);

	/* the new segment is empty; a new handle works */
	ck_assert_int_eq(errseq_slot_open(C, "inc", 0, &x), -ENOENT);
	fresh = must_open("inc", ERRSEQ_CREATE);
	ck_assert_uint_eq(errseq_slot_peek(fresh), 0);
	ck_assert_int_eq(errseq_slot_set(fresh, -ENOSPC), 0);
	ck_assert_int_eq(errseq_slot_check(fresh, 0), -ENOSPC);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	await_holders("inc", 1);	/* the old handle holds nothing */
	errseq_slot_close(old);		/* unmaps the old segment */
	errseq_slot_close(fresh);
}
END_TEST

/*
 * The state was lost behind the daemon's back (layout 1: the segment pair
 * was removed; layout 2: the keeper is gone, here because its socket file
 * was removed while the daemon was dead) and a new daemon made a new one:
 * the library itself must turn the old handles stale and wake its own
 * sleepers.  Nobody writes the old memory: layout 1 checked that the
 * library took its sleeper out of the old segment's waiters; in layout 2
 * waiters is the daemon's alone (a dead daemon leaves it as it was), and
 * what matters is that stale marking writes nothing shared.
 */
START_TEST(client_segment_removed_stales_handles)
{
	struct errseq_slot *old;
	struct sleeper w = { 0 };
	struct errseq_slot_info info;
	char kpath[160];
	uint32_t index;

	up(64, NULL);
	old = must_open("lost", ERRSEQ_CREATE);
	index = slot_index(old);
	ck_assert_int_eq(errseq_stat(C, "lost", &info), 0);
	w.s = old;
	w.since = errseq_slot_peek(old);
	sleeper_start(&w);
	ck_assert(await_waiter(index, LONG_MS));	/* maps the old one */

	ck_assert_int_gt(esdt_daemon_stop(&D, SIGKILL), 0);
	snprintf(kpath, sizeof(kpath), "%s.keeper", D.sock);
	ck_assert_int_eq(unlink(kpath), 0);
	ck_assert_int_eq(esdt_daemon_restart(&D, NULL), 0);
	await_reconnect(C);
	ck_assert_int_eq(errseq_stat(C, "lost", &info),
			 -ENOENT);

	ck_assert_int_eq(sleeper_join(&w), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_set(old, -EIO), ERRSEQ_ESTALE);
	ck_assert_int_eq(errseq_slot_check(old, 0), ERRSEQ_ESTALE);
	/* the old chunk (still mapped by seg_slot since await_waiter) is as
	 * it was: nothing wrote a stale mark into shared memory */
	ck_assert_uint_eq(__atomic_load_n(&seg_slot(index)->word,
					  __ATOMIC_ACQUIRE), info.value |
			  ((uint64_t)info.generation << 32));
	errseq_slot_close(old);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *client_reconnect_suite(void)
{
	Suite *s = suite_create("client_reconnect");
	TCase *tc;

	tc = tcase_create("reconnect");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, client_enotconn_while_down);
	tcase_add_test(tc, client_daemon_restart_loses_nothing);
	tcase_add_test(tc, client_incarnation_change_stales_handles);
	tcase_add_test(tc, client_segment_removed_stales_handles);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(client_reconnect_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
