/*
 * test_status_page.c - errseq-exporter's status page (GET /) in a real
 * browser: headless Chromium (Debian package chromium) loads it, runs its
 * script (including one auto-refresh from the JSON resources, which
 * rebuilds the table with textContent) and dumps the DOM.  Checked: a
 * pending slot shows as pending, a name with every punctuation character
 * a name may hold shows as text, markup given through the URL's query
 * string (which fills the filter box) stays text and creates no element,
 * and the filter hides what does not match.  A screenshot of the page is
 * written to tests/status-page.png in the build directory (the README's
 * picture, doc/status-page.png, is a copy of one).
 *
 * Exit 77 (skip) with a message when chromium is missing; .ci/run installs
 * it.  Chromium gets a fresh --user-data-dir in a temporary directory that
 * the unchecked teardown removes.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/harness.h"
#include "tests/opsutil.h"

#define PUNCT_NAME "a.b_c:d/e@f-g"	/* every allowed punctuation */

static char tmp[64];
static char chromium[4096];
static struct esdt_daemon d;
static struct errseq_client *cl;
static struct ops_exporter X;
static struct ops_run R;

static void tmp_make(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/errseq-page-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(99);
	}
}

static void tmp_remove(void)
{
	const char *argv[] = { "/bin/rm", "-rf", tmp, NULL };
	struct ops_run r;

	if (tmp[0] && ops_run(argv, NULL, NULL, 60000, &r) == 0)
		free(r.out);
	esdt_sweep();
}

static void make_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, ERRSEQ_CREATE, &s), 0);
	if (err)
		ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

static void setup(void)
{
	struct errseq_slot *s;
	errseq_t since = 0;

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(esdt_daemon_start(&d, 256, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
	make_slot("disk0", -EIO);		/* pending */
	make_slot("disk1", 0);			/* never set */
	make_slot("net0", -ENOSPC);		/* seen, below */
	make_slot(PUNCT_NAME, -EROFS);		/* pending */
	ck_assert_int_eq(errseq_slot_open(cl, "net0", 0, &s), 0);
	ck_assert_int_eq(errseq_slot_check_and_advance(s, &since), -ENOSPC);
	errseq_slot_close(s);
	ck_assert_int_eq(ops_exporter_start(&X, d.sock, NULL), 0);
}

static void teardown(void)
{
	ops_exporter_stop(&X);
	errseq_client_close(cl);
	esdt_daemon_cleanup(&d);
	free(R.out);
	R.out = NULL;
}

/* Run headless Chromium on http://127.0.0.1:PORT@path with @mode
 * ("--dump-dom" or "--screenshot=FILE"); output in R. */
static void browse(const char *path, const char *mode)
{
	char url[1024], udd[128];
	const char *argv[] = {
		chromium, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run",
		"--disable-background-networking",
		"--disable-component-update", "--disable-sync", udd,
		/* long enough for the page's 5 s auto-refresh to run once;
		 * virtual time, so the run does not take that long */
		"--virtual-time-budget=7000", "--window-size=1100,520",
		mode, url, NULL };
	static unsigned n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", X.port, path);
	snprintf(udd, sizeof(udd), "--user-data-dir=%s/profile%u", tmp, n++);
	free(R.out);
	ck_assert_int_eq(ops_run(argv, NULL, NULL, 300000, &R), 0);
	ck_assert_msg(R.status == 0, "chromium exited %d: %s", R.status, R.err);
}

/* The <tr ...>...</tr> of the DOM whose data-name is @name (static). */
static const char *row_of(const char *dom, const char *name)
{
	static char row[4096];
	char key[256];
	const char *p, *start, *end;

	snprintf(key, sizeof(key), "data-name=\"%s\"", name);
	p = strstr(dom, key);
	ck_assert_msg(p != NULL, "no row for %s in:\n%.4000s", name, dom);
	for (start = p; start > dom && strncmp(start, "<tr", 3); start--)
		;
	end = strstr(p, "</tr>");
	ck_assert_ptr_nonnull(end);
	snprintf(row, sizeof(row), "%.*s", (int)(end - start), start);
	return row;
}

START_TEST(page_shows_pending_and_names_as_text)
{
	const char *row;

	browse("/", "--dump-dom");
	/* the script ran and refreshed from the JSON at least once */
	ck_assert_msg(strstr(R.out, "id=\"updated\" class=\"note\">updated "),
		      "%.4000s", R.out);
	ck_assert_ptr_nonnull(strstr(R.out, "4 of 4 slots shown"));
	ck_assert_ptr_nonnull(strstr(R.out, "id=\"d-up\" class=\"up\">up<"));

	row = row_of(R.out, "disk0");
	ck_assert_msg(strstr(row, "class=\"pending\""), "%s", row);
	ck_assert_msg(strstr(row, "<td class=\"state\">pending</td>"), "%s", row);
	ck_assert_ptr_nonnull(strstr(row, "<td>EIO</td>"));
	row = row_of(R.out, "net0");
	ck_assert_ptr_null(strstr(row, "pending"));
	ck_assert_ptr_nonnull(strstr(row, "<td class=\"state\">seen</td>"));
	row = row_of(R.out, "disk1");
	ck_assert_ptr_nonnull(strstr(row, "<td class=\"state\">never set</td>"));
	row = row_of(R.out, PUNCT_NAME);
	ck_assert_msg(strstr(row, "<td class=\"name\">" PUNCT_NAME "</td>"),
		      "%s", row);
	ck_assert_ptr_nonnull(strstr(row, "class=\"pending\""));
	/* "last set ... ago" */
	ck_assert_msg(strstr(row, " ago</td>") || strstr(row, "just now</td>"),
		      "%s", row);
	/* one self-contained page: nothing loaded from elsewhere */
	ck_assert_ptr_null(strstr(R.out, "src=\"http"));
	ck_assert_ptr_null(strstr(R.out, "href=\"http"));
	ck_assert_ptr_null(strstr(R.out, "<link"));
}
END_TEST

START_TEST(query_string_markup_stays_text)
{
	/* ?q=<img src=x onerror=alert(1)><b>bold</b>"' */
	browse("/?q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%3Cb%3Ebold%3C%2Fb%3E%22%27",
	       "--dump-dom");
	ck_assert_msg(strstr(R.out, "id=\"updated\" class=\"note\">updated "),
		      "%.4000s", R.out);
	ck_assert_ptr_null(strstr(R.out, "<img"));
	ck_assert_ptr_null(strstr(R.out, "<b>bold"));
	ck_assert_uint_eq(ops_count(R.out, "<b>"), 0);
	/* the markup is the filter box's value, as text */
	ck_assert_msg(strstr(R.out, "value=\"&lt;img src=x onerror=alert(1)&gt;"
			     "&lt;b&gt;bold&lt;/b&gt;&quot;'\""), "%.4000s",
		      R.out);
	/* and it filters: no slot name contains it */
	ck_assert_ptr_nonnull(strstr(R.out, "0 of 0 slots shown"));
}
END_TEST

START_TEST(filter_hides_what_does_not_match)
{
	const char *row;

	browse("/?q=disk", "--dump-dom");
	ck_assert_msg(strstr(R.out, "id=\"updated\" class=\"note\">updated "),
		      "%.4000s", R.out);
	ck_assert_ptr_nonnull(strstr(R.out, "2 of 2 slots shown"));
	row = row_of(R.out, "disk0");
	ck_assert_ptr_null(strstr(row, "hidden"));
	row = row_of(R.out, "disk1");
	ck_assert_ptr_null(strstr(row, "hidden"));
	ck_assert_ptr_null(strstr(R.out, "data-name=\"net0\""));

	/* the same filter applied in the page to server-rendered rows: the
	 * first paint, before any refresh, comes from the server; then the
	 * script's own filter keeps only matches */
	browse("/?q=e", "--dump-dom");
	ck_assert_ptr_nonnull(strstr(R.out, "2 of 2 slots shown"));
	ck_assert_ptr_nonnull(strstr(R.out, "data-name=\"net0\""));
	ck_assert_ptr_nonnull(strstr(R.out, "data-name=\"" PUNCT_NAME "\""));
	ck_assert_ptr_null(strstr(R.out, "data-name=\"disk0\""));
}
END_TEST

START_TEST(screenshot)
{
	char path[4200], arg[4300], head[8] = "";
	const char *top = ops_bin("ERRSEQ_TOP_BUILDDIR", ".");
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/status-page.png", top);
	unlink(path);
	snprintf(arg, sizeof(arg), "--screenshot=%s", path);
	browse("/", arg);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "no screenshot at %s: %s", path, R.err);
	ck_assert_uint_eq(fread(head, 1, 8, f), 8);
	fclose(f);
	ck_assert_int_eq(memcmp(head, "\x89PNG\r\n\x1a\n", 8), 0);
}
END_TEST

static Suite *page_suite(void)
{
	Suite *s = suite_create("status_page");
	TCase *tc = tcase_create("chromium");

	tcase_add_unchecked_fixture(tc, tmp_make, tmp_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, page_shows_pending_and_names_as_text);
	tcase_add_test(tc, query_string_markup_stays_text);
	tcase_add_test(tc, filter_hides_what_does_not_match);
	tcase_add_test(tc, screenshot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	const char *p;
	int failed;

	if (!(p = ops_which("chromium"))) {
		puts("SKIP: chromium not found (Debian package chromium)");
		return 77;
	}
	snprintf(chromium, sizeof(chromium), "%s", p);
	sr = srunner_create(page_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
