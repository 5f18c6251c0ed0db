/*
 * rel.c - helpers shared by the reliability suite's programs.
 * See rel.h for the contracts.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

enum rel_scale rel_scale(void)
{
	const char *s = getenv("ESDR_SCALE");
	const char *w = getenv("ERRSEQD_WRAPPER");

	if (w && *w)
		return REL_SCALE_VALGRIND;
	if (s && !strcmp(s, "full"))
		return REL_SCALE_FULL;
	return REL_SCALE_CI;
}

long rel_pick(long ci, long full, long valgrind)
{
	switch (rel_scale()) {
	case REL_SCALE_FULL:
		return full;
	case REL_SCALE_VALGRIND:
		return valgrind;
	default:
		return ci;
	}
}

bool rel_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

uint64_t rel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void rel_sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
			       .tv_nsec = (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void rel_figure(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("FIGURE %s ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void *rel_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_msg(p != MAP_FAILED, "mmap %zu shared bytes: %s", size,
		      strerror(errno));
	return p;
}

void rel_shared_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

pid_t rel_fork(int (*fn)(void *arg, int idx), void *arg, int idx)
{
	pid_t parent = getpid();
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(126);
		_exit(fn(arg, idx));
	}
	return pid;
}

int rel_reap(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

bool rel_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms,
		    int step_ms)
{
	uint64_t deadline = rel_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	bool ok;

	while (!(ok = pred(arg)) && rel_now_ns() < deadline)
		rel_sleep_us(step_ms * 1000L);
	return ok;
}

static __thread uint64_t rand_state = 0x9e3779b97f4a7c15ull;

void rel_rand_seed(uint64_t seed)
{
	rand_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t rel_rand(void)
{
	uint64_t x = rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rand_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint32_t rel_rand_below(uint32_t n)
{
	return (uint32_t)((rel_rand() >> 32) % n);
}

long rel_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6)) {
			kib = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

long rel_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if ((rlim_t)want > rl.rlim_max) {
		struct rlimit up = { (rlim_t)want, (rlim_t)want };

		/* root (CAP_SYS_RESOURCE) may raise the hard limit too */
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return want;
		want = (long)rl.rlim_max;
	}
	if (rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = (rlim_t)want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return (long)rl.rlim_cur;
}

bool rel_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;
	bool alive = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL &&
	    p[1] == ' ')
		alive = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

static void dump_log(const struct esdt_daemon *d)
{
	static char log[65536];

	esdt_read_log(d, log, sizeof(log));
	fprintf(stderr, "---- errseqd's stderr (%s) ----\n%s\n----\n",
		d->log, log);
}

void rel_start(struct esdt_daemon *d, unsigned slots,
	       const char *const *extra)
{
	int rc = esdt_daemon_start(d, slots, extra);

	if (rc != 0) {
		dump_log(d);
		ck_abort_msg("errseqd did not start: %d (%s)", rc,
			     strerror(-rc));
	}
}

void rel_restart(struct esdt_daemon *d, const char *const *extra)
{
	int rc = esdt_daemon_restart(d, extra);

	if (rc != 0) {
		dump_log(d);
		ck_abort_msg("errseqd did not restart: %d (%s)", rc,
			     strerror(-rc));
	}
}

void rel_stop_clean(struct esdt_daemon *d)
{
	int st = esdt_daemon_stop(d, SIGTERM);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		dump_log(d);
		ck_abort_msg("daemon wait status 0x%x after SIGTERM (want exit "
			     "0; 99 is valgrind's error exit)", st);
	}
}

struct Suite *rel_suite(const char *name, struct TCase **tc)
{
	/* suite_create keeps the pointer, not a copy: the name must outlive
	 * the suite (each program builds one suite, so static storage). */
	static char sname[64];
	Suite *s;

	snprintf(sname, sizeof(sname), "reliability_%s", name);
	s = suite_create(sname);
	*tc = tcase_create(name);
	/* full scale runs for minutes; CI scale for seconds */
	tcase_set_timeout(*tc, 3600);
	suite_add_tcase(s, *tc);
	return s;
}

int rel_run(struct Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
