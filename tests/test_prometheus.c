/*
 * test_prometheus.c - errseqd's Prometheus output against the real thing
 * (Debian package prometheus): `promtool check metrics` finds nothing to
 * say about errseqctl --prometheus list (bug 3 of issue 10) or about the
 * exporter's /metrics; `promtool check rules` accepts the example alerting
 * rules; and a real Prometheus server on loopback scrapes the exporter:
 * after a set, its HTTP API returns the slot's series with the right value
 * and the example alert fires.
 *
 * Exit 77 (skip) with a message when promtool or prometheus is missing;
 * .ci/run installs the package.  Temporary files live in one directory
 * made by the unchecked setup and removed by the unchecked teardown, which
 * run in the parent process even when a case fails.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <errseq/client.h>

#include "tests/support/harness.h"
#include "tests/opsutil.h"

static char tmp[64];		/* the test run's temporary directory */
static char promtool[4096], prometheus[4096];
static struct esdt_daemon d;
static struct errseq_client *cl;
static struct ops_exporter X;

static const char *srcdir(void)
{
	return ops_bin("ERRSEQ_TOP_SRCDIR", "..");
}

static void tmp_make(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/errseq-prom-XXXXXX");
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

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(esdt_daemon_start(&d, 256, NULL), 0);
	ck_assert_int_eq(errseq_client_open(d.sock, &cl), 0);
	X.pid = 0;
	X.err_fd = -1;
}

static void teardown(void)
{
	ops_exporter_stop(&X);
	errseq_client_close(cl);
	esdt_daemon_cleanup(&d);
}

static void make_slot(const char *name, int err)
{
	struct errseq_slot *s;

	ck_assert_int_eq(errseq_slot_open(cl, name, ERRSEQ_CREATE, &s), 0);
	if (err)
		ck_assert_int_eq(errseq_slot_set(s, err), 0);
	errseq_slot_close(s);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* promtool check metrics < @path: must exit 0 and print nothing. */
static void promtool_metrics(const char *path)
{
	const char *argv[] = { "/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"",
			       promtool, path, NULL };
	struct ops_run r;

	ck_assert_int_eq(ops_run(argv, NULL, NULL, 60000, &r), 0);
	ck_assert_msg(r.status == 0 && r.out_len == 0 && r.err[0] == '\0',
		      "promtool check metrics: status %d\n%s%s", r.status,
		      r.out, r.err);
	free(r.out);
}

/* Bug 3: no "metric name should not include type 'counter'". */
START_TEST(promtool_accepts_errseqctl_prometheus_list)
{
	const char *argv[] = { ops_bin("ERRSEQCTL_BIN", "ctl/errseqctl"),
			       "--prometheus", "list", NULL };
	char path[128];
	struct ops_run r;

	make_slot("disk0", -EIO);
	make_slot("disk1", 0);
	make_slot("a.b_c:d/e@f-g", -ENOSPC);
	snprintf(path, sizeof(path), "%s/errseqctl.prom", tmp);
	ck_assert_int_eq(ops_run(argv, d.sock, path, 60000, &r), 0);
	ck_assert_int_eq(r.status, 0);
	free(r.out);
	promtool_metrics(path);
}
END_TEST

START_TEST(promtool_accepts_exporter_metrics)
{
	char path[128], *body;
	int code;

	make_slot("disk0", -EIO);
	make_slot("a.b_c:d/e@f-g", 0);
	make_slot("x", -4000);	/* an errno with no name */
	ck_assert_int_eq(ops_exporter_start(&X, d.sock, NULL), 0);
	code = ops_http_get(X.port, "/metrics", 30000, &body, NULL);
	ck_assert_int_eq(code, 200);
	snprintf(path, sizeof(path), "%s/exporter.prom", tmp);
	write_file(path, body);
	free(body);
	promtool_metrics(path);

	/* and while the daemon is down */
	errseq_client_close(cl);
	cl = NULL;
	ck_assert_int_ge(esdt_daemon_stop(&d, SIGTERM), 0);
	code = ops_http_get(X.port, "/metrics", 30000, &body, NULL);
	ck_assert_int_eq(code, 200);
	ck_assert_ptr_nonnull(strstr(body, "\nerrseqd_up 0\n"));
	write_file(path, body);
	free(body);
	promtool_metrics(path);
}
END_TEST

START_TEST(promtool_accepts_example_rules)
{
	char rules[4096];
	const char *argv[] = { promtool, "check", "rules", rules, NULL };
	struct ops_run r;

	snprintf(rules, sizeof(rules), "%s/examples/errseqd-alerts.yml",
		 srcdir());
	ck_assert_int_eq(ops_run(argv, NULL, NULL, 60000, &r), 0);
	ck_assert_msg(r.status == 0, "promtool check rules: %s%s", r.out, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "SUCCESS: 3 rules found"));
	free(r.out);
}
END_TEST

/* A TCP port free on loopback right now. */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static pid_t start_prometheus(int port, const char *config)
{
	char cfg[512], data[256], listen[64], log[256];
	pid_t parent = getpid(), pid;

	snprintf(cfg, sizeof(cfg), "--config.file=%s", config);
	snprintf(data, sizeof(data), "--storage.tsdb.path=%s/data", tmp);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d",
		 port);
	snprintf(log, sizeof(log), "%s/prometheus.log", tmp);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd < 0)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(prometheus, prometheus, cfg, data, listen,
		      "--log.level=warn", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Query Prometheus until the answer contains @want (bounded). */
static char *query_until(int port, const char *path, const char *want)
{
	char *body = NULL;

	for (int i = 0; i < 1200; i++) {
		int code = ops_http_get(port, path, 10000, &body, NULL);

		if (code == 200 && strstr(body, want))
			return body;
		free(body);
		body = NULL;
		usleep(100000);
	}
	ck_abort_msg("Prometheus never answered %s with %s", path, want);
	return NULL;
}

START_TEST(prometheus_scrapes_exporter)
{
	char config[256], text[8192], rules[4096];
	char *body;
	int pport, status;
	pid_t prom;

	make_slot("disk0", 0);
	ck_assert_int_eq(ops_exporter_start(&X, d.sock, NULL), 0);
	snprintf(rules, sizeof(rules), "%s/examples/errseqd-alerts.yml",
		 srcdir());
	snprintf(config, sizeof(config), "%s/prometheus.yml", tmp);
	snprintf(text, sizeof(text),
		 "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
		 "rule_files:\n  - '%s'\n"
		 "scrape_configs:\n  - job_name: errseqd\n"
		 "    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
		 rules, X.port);
	write_file(config, text);
	pport = free_port();
	prom = start_prometheus(pport, config);

	body = query_until(pport, "/-/ready", "Ready");
	free(body);
	/* the slot is scraped before the error: increase() needs a before */
	body = query_until(pport, "/api/v1/query?query=errseq_slot_sets_total%7Bslot%3D%22disk0%22%7D",
			   "\"value\":[");
	ck_assert_msg(strstr(body, "\"0\"]"), "%s", body);
	free(body);

	{
		const char *argv[] = { ops_bin("ERRSEQCTL_BIN", "ctl/errseqctl"),
				       "set", "disk0", "EIO", NULL };
		struct ops_run r;

		ck_assert_int_eq(ops_run(argv, d.sock, NULL, 60000, &r), 0);
		ck_assert_int_eq(r.status, 0);
		free(r.out);
	}
	body = query_until(pport, "/api/v1/query?query=errseq_slot_sets_total%7Bslot%3D%22disk0%22%7D",
			   "\"1\"]");
	ck_assert_ptr_nonnull(strstr(body, "\"job\":\"errseqd\""));
	free(body);
	body = query_until(pport, "/api/v1/query?query=errseq_slot_errno%7Bslot%3D%22disk0%22%7D",
			   "\"5\"]");
	ck_assert_msg(strstr(body, "\"errno\":\"EIO\""), "%s", body);
	free(body);
	body = query_until(pport, "/api/v1/query?query=errseq_slot_pending%7Bslot%3D%22disk0%22%7D",
			   "\"1\"]");
	free(body);
	body = query_until(pport, "/api/v1/query?query=errseqd_up", "\"1\"]");
	free(body);
	/* the example rule sees the new error */
	body = query_until(pport, "/api/v1/alerts", "\"ErrseqSlotNewError\"");
	ck_assert_msg(strstr(body, "\"slot\":\"disk0\""), "%s", body);
	free(body);

	kill(prom, SIGTERM);
	ck_assert_int_eq(waitpid(prom, &status, 0), prom);
}
END_TEST

static Suite *prometheus_suite(void)
{
	Suite *s = suite_create("prometheus");
	TCase *tc = tcase_create("promtool");
	TCase *srv = tcase_create("server");

	tcase_add_unchecked_fixture(tc, tmp_make, tmp_remove);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, promtool_accepts_errseqctl_prometheus_list);
	tcase_add_test(tc, promtool_accepts_exporter_metrics);
	tcase_add_test(tc, promtool_accepts_example_rules);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(srv, tmp_make, tmp_remove);
	tcase_add_checked_fixture(srv, setup, teardown);
	tcase_set_timeout(srv, 600);
	tcase_add_test(srv, prometheus_scrapes_exporter);
	suite_add_tcase(s, srv);
	return s;
}

int main(void)
{
	SRunner *sr;
	const char *p;
	int failed;

	if (!(p = ops_which("promtool"))) {
		puts("SKIP: promtool not found (Debian package prometheus)");
		return 77;
	}
	snprintf(promtool, sizeof(promtool), "%s", p);
	if (!(p = ops_which("prometheus"))) {
		puts("SKIP: prometheus not found (Debian package prometheus)");
		return 77;
	}
	snprintf(prometheus, sizeof(prometheus), "%s", p);
	sr = srunner_create(prometheus_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
