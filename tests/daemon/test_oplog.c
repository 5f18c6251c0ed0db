/*
 * test_oplog.c - what errseqd tells operators, at its default log level:
 *   - creates and deletes, with the client's uid and pid;
 *   - refusals (the per-connection handle limit, a full daemon, a delete
 *     by someone else) at info, with uid and pid, and what to do;
 *   - the warning at 90 % of --slots;
 *   - stray signals (SIGUSR1, SIGUSR2, SIGALRM) neither kill the daemon
 *     nor remove its socket.
 * The daemon's stderr is the harness's log file (d.log).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/protocol.h"
#include "tests/support/daemon_util.h"

/* Does d's log contain @needle (eventually: the daemon logs as it goes)? */
static int log_has(const struct esdt_daemon *d, const char *needle)
{
	for (int i = 0; i < WAIT_MS / 50; i++) {
		size_t len;
		char *text = slurp(d->log, &len);
		int found = text && strstr(text, needle) != NULL;

		free(text);
		if (found)
			return 1;
		sleep_ms(50);
	}
	return 0;
}

START_TEST(creates_deletes_and_refusals_are_logged)
{
	struct esdt_daemon d;
	const char *const extra[] = { "--max-open", "2", NULL };
	struct esrc c;
	char who[64];

	start_daemon(&d, 1024, extra);
	conn(&c, &d);
	snprintf(who, sizeof(who), "(pid %d uid %u)", (int)getpid(),
		 (unsigned)getuid());
	open_ok(&c, "one", ESP_OPEN_CREATE);
	open_ok(&c, "two", ESP_OPEN_CREATE);
	ck_assert(log_has(&d, "info: client"));
	ck_assert(log_has(&d, "created slot 'one'"));
	ck_assert(log_has(&d, who));
	/* the third handle is refused: said, with the way out */
	CK_CODE(esrc_open(&c, NAME("three"), ESP_OPEN_CREATE, NULL), -EMFILE);
	ck_assert(log_has(&d, "refused (Too many open files): too many "
			  "handles open on this connection (see errseqd "
			  "--max-open)"));
	CK_CODE(esrc_unlink(&c, NAME("one")), 0);
	ck_assert(log_has(&d, "deleted slot 'one'"));
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(full_daemon_warns_at_90_percent_and_refuses_at_100)
{
	struct esdt_daemon d;
	struct esrc c;
	char name[32];
	int i;

	start_daemon(&d, 1024, NULL);
	conn(&c, &d);
	for (i = 0; i < 921; i++) {	/* 921 / 1024 < 90 % */
		snprintf(name, sizeof(name), "s%d", i);
		CK_CODE(esrc_open(&c, name, strlen(name), ESP_OPEN_CREATE,
				  NULL), 0);
	}
	{
		size_t len;
		char *text = slurp(d.log, &len);

		ck_assert_ptr_null(strstr(text, "(90 %)"));
		free(text);
	}
	snprintf(name, sizeof(name), "s%d", i++);
	CK_CODE(esrc_open(&c, name, strlen(name), ESP_OPEN_CREATE, NULL), 0);
	ck_assert(log_has(&d, "warn: 922 of 1024 slots are in use (90 %)"));
	for (; i < 1024; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		CK_CODE(esrc_open(&c, name, strlen(name), ESP_OPEN_CREATE,
				  NULL), 0);
	}
	CK_CODE(esrc_open(&c, NAME("over"), ESP_OPEN_CREATE, NULL), -ENOSPC);
	ck_assert(log_has(&d, "errseqd is at its maximum of slots (see "
			  "errseqd --slots); delete unused slots"));
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(stray_signals_do_not_kill)
{
	struct esdt_daemon d;
	const int sigs[] = { SIGUSR1, SIGUSR2, SIGALRM };
	struct stat sb;
	struct esrc c;
	int st;

	start_daemon(&d, 1024, NULL);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		ck_assert_int_eq(kill(d.pid, sigs[i]), 0);
	sleep_ms(200);
	ck_assert_int_eq(waitpid(d.pid, &st, WNOHANG), 0);	/* alive */
	ck_assert_int_eq(stat(d.sock, &sb), 0);
	conn(&c, &d);
	status_ok(&c);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oplog");
	TCase *tc = tcase_create("oplog");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, creates_deletes_and_refusals_are_logged);
	tcase_add_test(tc, full_daemon_warns_at_90_percent_and_refuses_at_100);
	tcase_add_test(tc, stray_signals_do_not_kill);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
