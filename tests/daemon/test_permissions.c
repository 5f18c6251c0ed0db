/*
 * test_permissions.c - errseqd integration tests: who may delete a slot
 * and who gets which chunk fd (clients of other users), per-uid limits,
 * and a keeper path squatted by another user.
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 *
 * Needs root (a client switches to nobody): the program exits 77 (SKIP)
 * otherwise.
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

START_TEST(daemon_unlink_permissions)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct esdt_daemon d;
	struct esrc c;
	struct {
		int hello, unlink_root, create_a, create_b, unlink_own;
		int open_root, open_flags, accmode, mmap_w, mmap_r;
	} res;
	int p[2], status;
	pid_t pid;

	/* main() skips the program unless root */
	ck_assert_msg(geteuid() == 0, "needs root");
	/* Two writer domains (root's, nobody's) need two chunks: layout 1
	 * ran this with --slots 8. */
	start_daemon(&d, 2 * ESD_CHUNK_SLOTS, extra);
	conn(&c, &d);
	open_ok(&c, "root-slot", ESP_OPEN_CREATE);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct esrc cc;

		close(p[0]);
		memset(&res, 0x7f, sizeof(res));
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(90);
		res.hello = esrc_connect_hello(&cc, d.sock);
		res.unlink_root = esrc_unlink(&cc, NAME("root-slot"));
		res.create_a = esrc_open(&cc, NAME("nobody-a"),
					 ESP_OPEN_CREATE, NULL);
		res.create_b = esrc_open(&cc, NAME("nobody-b"),
					 ESP_OPEN_CREATE, NULL);
		res.unlink_own = esrc_unlink(&cc, NAME("nobody-a"));
		/* root's slot: nobody watches it through a read-only fd that
		 * cannot be mapped for writing (layout 1 passed everyone the
		 * whole segment read-write). */
		{
			struct esp_open_rep o = { .flags = 0xff };
			void *m;
			int fd;

			res.open_root = esrc_open(&cc, NAME("root-slot"), 0, &o);
			res.open_flags = (int)o.flags;
			fd = esrc_chunk_fd(&cc, o.index);
			res.accmode = fd < 0 ? -1 : fcntl(fd, F_GETFL) & O_ACCMODE;
			m = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ | PROT_WRITE,
				 MAP_SHARED, fd, 0);
			res.mmap_w = m == MAP_FAILED ? -errno : 0;
			m = mmap(NULL, ESD_CHUNK_BYTES, PROT_READ, MAP_SHARED,
				 fd, 0);
			res.mmap_r = m == MAP_FAILED ? -errno : 0;
		}
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &res, sizeof(res)), (ssize_t)sizeof(res));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
	CK_CODE(res.hello, 0);
	CK_CODE(res.unlink_root, -EPERM);
	CK_CODE(res.create_a, 0);
	CK_CODE(res.create_b, 0);
	CK_CODE(res.unlink_own, 0);
	CK_CODE(res.open_root, 0);
	ck_assert_int_eq(res.open_flags, ESP_OPEN_FD);
	ck_assert_int_eq(res.accmode, O_RDONLY);
	CK_CODE(res.mmap_w, -EACCES);
	CK_CODE(res.mmap_r, 0);
	stat_ok(&c, "root-slot");
	CK_CODE(esrc_stat(&c, NAME("nobody-a"), NULL), -ENOENT);
	ck_assert_uint_eq(stat_ok(&c, "nobody-b").creator_uid, 65534);
	/* Root may delete anyone's slot. */
	CK_CODE(esrc_unlink(&c, NAME("nobody-b")), 0);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* Run @fn as nobody in a child; its int results come back in @res. */
static void as_nobody(void (*fn)(const struct esdt_daemon *, int *),
		      const struct esdt_daemon *d, int *res, size_t n)
{
	int p[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < n; i++)
			res[i] = 0x7f7f7f7f;
		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 ||
		    setuid(65534) < 0)
			_exit(90);
		fn(d, res);
		if (write(p[1], res, n * sizeof(int)) !=
		    (ssize_t)(n * sizeof(int)))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], res, n * sizeof(int)),
			 (ssize_t)(n * sizeof(int)));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %d", status);
}

/* As nobody: 3 connections (the third refused at accept), 3 creates (the
 * third over quota), holds up to the per-uid limit over 2 connections. */
static void limits_kid(const struct esdt_daemon *d, int *res)
{
	struct esrc a, b;
	struct esp_err_rep er;
	struct esp_status_rep st;
	int fd;

	res[0] = esrc_connect_hello(&a, d->sock);
	res[1] = esrc_connect_hello(&b, d->sock);
	fd = esrc_connect(d->sock);
	if (fd >= 0) {
		ssize_t n = esrc_recv(fd, &er, sizeof(er), NULL, WAIT_MS);

		res[2] = n == (ssize_t)sizeof(er) ? er.hdr.status : -1000;
		close(fd);
	}
	res[3] = esrc_open(&a, NAME("q1"), ESP_OPEN_CREATE, NULL);
	res[4] = esrc_open(&a, NAME("q2"), ESP_OPEN_CREATE, NULL);
	res[5] = esrc_open(&a, NAME("q3"), ESP_OPEN_CREATE, NULL);
	/* holds: a has 2; the limit is 3 over all the uid's connections */
	res[6] = esrc_open(&b, NAME("q1"), 0, NULL);
	res[7] = esrc_open(&b, NAME("q2"), 0, NULL);
	res[8] = esrc_open(&a, NAME("root-x"), 0, NULL);
	res[9] = esrc_status(&b, &st);
	res[10] = (int)st.uid_slots;
	res[11] = (int)st.uid_clients;
	res[12] = (int)st.uid_holds;
	esrc_fini(&a);
	esrc_fini(&b);
}

START_TEST(daemon_per_uid_limits)
{
	static const char *const extra[] = {
		"--mode", "0666", "--max-clients-per-uid", "2",
		"--max-slots-per-uid", "2", "--max-open-per-uid", "3", NULL
	};
	struct esdt_daemon d;
	struct esrc c[3];
	int res[13];

	ck_assert_msg(geteuid() == 0, "needs root");
	start_daemon(&d, 2 * ESD_CHUNK_SLOTS, extra);
	/* Root is exempt from all three. */
	for (int i = 0; i < 3; i++)
		conn(&c[i], &d);
	open_ok(&c[0], "root-x", ESP_OPEN_CREATE);
	open_ok(&c[0], "root-y", ESP_OPEN_CREATE);
	open_ok(&c[0], "root-z", ESP_OPEN_CREATE);
	open_ok(&c[1], "root-x", 0);
	open_ok(&c[1], "root-y", 0);

	as_nobody(limits_kid, &d, res, 13);
	CK_CODE(res[0], 0);
	CK_CODE(res[1], 0);
	CK_CODE(res[2], -EUSERS);
	CK_CODE(res[3], 0);
	CK_CODE(res[4], 0);
	CK_CODE(res[5], -EDQUOT);
	CK_CODE(res[6], 0);
	CK_CODE(res[7], -EMFILE);
	CK_CODE(res[8], -EMFILE);
	CK_CODE(res[9], 0);
	ck_assert_int_eq(res[10], 2);
	ck_assert_int_eq(res[11], 2);
	ck_assert_int_eq(res[12], 3);
	CK_CODE(esrc_stat(&c[0], NAME("q3"), NULL), -ENOENT);
	ck_assert_uint_eq(stat_ok(&c[0], "q1").creator_uid, 65534);
	for (int i = 0; i < 3; i++)
		esrc_fini(&c[i]);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * The keeper's path is a socket owned by another user (a squatter who
 * could write the directory).  Layout 1 adopted a segment pair another
 * user created; now the daemon never trusts it: it starts, without
 * persistence, leaves the squat alone, and says so.
 */
START_TEST(daemon_keeper_path_of_another_user)
{
	struct esdt_daemon d;
	struct esrc c;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char kpath[160], log[8192];
	struct stat sb;
	uint64_t inc;
	int fd, st;

	ck_assert_msg(geteuid() == 0, "needs root");
	start_daemon(&d, 4, NULL);
	conn(&c, &d);
	inc = c.hello.incarnation;
	open_ok(&c, "keep", ESP_OPEN_CREATE);
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGTERM);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	snprintf(kpath, sizeof(kpath), "%s.keeper", d.sock);
	ck_assert_int_eq(unlink(kpath), 0);	/* the keeper exits */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	memcpy(sa.sun_path, kpath, strlen(kpath) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(chown(kpath, 65534, 65534), 0);

	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_ne(c.hello.incarnation, inc);
	CK_CODE(esrc_stat(&c, NAME("keep"), NULL), -ENOENT);
	open_ok(&c, "new", ESP_OPEN_CREATE);
	esrc_fini(&c);
	esdt_read_log(&d, log, sizeof(log));
	ck_assert_msg(strstr(log, "without persistence") != NULL,
		      "no warning about the foreign keeper socket: %s", log);
	ck_assert_int_eq(lstat(kpath, &sb), 0);
	ck_assert_uint_eq(sb.st_uid, 65534);
	close(fd);
	unlink(kpath);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_permissions_suite(void)
{
	Suite *s = suite_create("daemon_permissions");
	TCase *tc;

	tc = tcase(s, "permissions");
	tcase_add_test(tc, daemon_unlink_permissions);
	tcase_add_test(tc, daemon_per_uid_limits);
	tcase_add_test(tc, daemon_keeper_path_of_another_user);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0) {
		printf("test_permissions: needs root (the daemon runs as "
		       "root, a client as nobody): SKIP\n");
		return 77;
	}
	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_permissions_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
