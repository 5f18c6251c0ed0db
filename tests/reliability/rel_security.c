/*
 * rel_security.c - reliability figure 6: who may do what.
 *
 * The daemon runs as root; clients run as other uids (forked, then
 * setgroups/setgid/setuid to nobody, 65534, or to 65533).  Checked:
 *   - deleting a slot someone else created gives -EPERM (the slot and its
 *     value survive); the creator and root may delete;
 *   - setting a slot someone else created gives -EPERM and stores nothing
 *     (the handle is read-only: its memory is mapped PROT_READ);
 *   - with --mode 0600 a uid without access to the socket cannot connect:
 *     -EACCES; with --mode 0660 --group daemon, a member of that group can
 *     and a non-member cannot;
 *   - the socket's mode and group are what --mode and --group say, and the
 *     daemon has no file under /dev/shm (its memory is memfds, layout 2).
 * Needs root: exits 77 (skipped) otherwise.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

#define NOBODY		65534
#define OTHER_UID	65533

enum op { OP_CONNECT, OP_UNLINK, OP_CREATE, OP_OPEN_SET };

struct as_user {
	uid_t uid;
	gid_t gid;
	const char *sock;
	enum op op;
	const char *name;
};

static int *result;		/* shared with the child */

static int as_user_main(void *arg, int idx)
{
	struct as_user *a = arg;
	struct errseq_client *c;
	struct errseq_slot *s;
	int rc;

	(void)idx;
	if (setgroups(0, NULL) < 0 || setgid(a->gid) < 0 ||
	    setuid(a->uid) < 0 || getuid() != a->uid)
		return 3;
	rc = errseq_client_open(a->sock, &c);
	if (rc < 0 || a->op == OP_CONNECT) {
		*result = rc;
		if (rc == 0)
			errseq_client_close(c);
		return 0;
	}
	switch (a->op) {
	case OP_UNLINK:
		rc = errseq_slot_unlink(c, a->name);
		break;
	case OP_CREATE:
		rc = errseq_slot_open(c, a->name, ERRSEQ_CREATE | ERRSEQ_EXCL,
				      &s);
		if (rc == 0)
			errseq_slot_close(s);
		break;
	default:
		rc = errseq_slot_open(c, a->name, 0, &s);
		if (rc == 0) {
			rc = errseq_slot_set(s, -EROFS);
			errseq_slot_close(s);
		}
		break;
	}
	*result = rc;
	errseq_client_close(c);
	return 0;
}

/* Run one client call as another uid in a child; returns its code. */
static int run_as(const char *sock, uid_t uid, gid_t gid, enum op op,
		  const char *name)
{
	struct as_user a = { uid, gid, sock, op, name };
	int st;

	*result = 12345;
	st = rel_reap(rel_fork(as_user_main, &a, 0));
	ck_assert_msg(st == 0, "child as uid %u exited with %d", uid, st);
	return *result;
}

static gid_t daemon_gid(void)
{
	struct group *g = getgrnam("daemon");

	return g ? g->gr_gid : 1;
}

static void setup(void)
{
	result = rel_shared_alloc(sizeof(*result));
	esdt_sweep();
}

static void teardown(void)
{
	rel_shared_free(result, sizeof(*result));
}

START_TEST(security_unlink_foreign_slot_eperm)
{
	static const char *const extra[] = { "--mode", "0666", NULL };
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *s;
	struct errseq_slot_info info;
	errseq_t before;
	int rc;

	rel_start(&d, 4096, extra);	/* a chunk per writer domain */
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "sec.root", ERRSEQ_CREATE, &s),
			 0);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	before = errseq_slot_peek(s);

	/* nobody may not delete root's slot */
	rc = run_as(d.sock, NOBODY, NOBODY, OP_UNLINK, "sec.root");
	rel_figure("security.unlink_roots_slot_as_nobody", "%d", rc);
	ck_assert_int_eq(rc, -EPERM);
	ck_assert_int_eq(errseq_stat(c, "sec.root", &info), 0);
	ck_assert_uint_eq(info.creator_uid, 0);
	ck_assert_uint_eq(info.value, before);
	ck_assert_int_eq(errseq_slot_check(s, before), 0);

	/* nobody may watch root's slot, not write it */
	rc = run_as(d.sock, NOBODY, NOBODY, OP_OPEN_SET, "sec.root");
	rel_figure("security.set_roots_slot_as_nobody", "%d", rc);
	ck_assert_int_eq(rc, -EPERM);
	ck_assert_int_eq(errseq_slot_check(s, before), 0);
	ck_assert_uint_eq(errseq_slot_peek(s), before);
	ck_assert_int_eq(errseq_stat(c, "sec.root", &info), 0);
	ck_assert_uint_eq(info.value, before);
	ck_assert_uint_eq(info.sets_total, 1);

	/* nobody's own slot: another uid may not delete it, nobody may */
	ck_assert_int_eq(run_as(d.sock, NOBODY, NOBODY, OP_CREATE,
				"sec.nobody"), 0);
	ck_assert_int_eq(errseq_stat(c, "sec.nobody", &info), 0);
	ck_assert_uint_eq(info.creator_uid, NOBODY);
	rc = run_as(d.sock, OTHER_UID, OTHER_UID, OP_UNLINK, "sec.nobody");
	rel_figure("security.unlink_nobodys_slot_as_65533", "%d", rc);
	ck_assert_int_eq(rc, -EPERM);
	ck_assert_int_eq(errseq_stat(c, "sec.nobody", &info), 0);
	ck_assert_int_eq(run_as(d.sock, NOBODY, NOBODY, OP_UNLINK,
				"sec.nobody"), 0);
	ck_assert_int_eq(errseq_stat(c, "sec.nobody", &info), -ENOENT);

	/* root may delete anybody's slot */
	ck_assert_int_eq(run_as(d.sock, NOBODY, NOBODY, OP_CREATE,
				"sec.nobody2"), 0);
	ck_assert_int_eq(errseq_slot_unlink(c, "sec.nobody2"), 0);

	errseq_slot_close(s);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(security_socket_mode_refuses_others)
{
	static const char *const only_root[] = { "--mode", "0600", NULL };
	static const char *const group[] = { "--mode", "0660", "--group",
					     "daemon", NULL };
	struct esdt_daemon d;
	struct errseq_client *c;
	int rc;

	rel_start(&d, 16, only_root);
	rc = run_as(d.sock, NOBODY, NOBODY, OP_CONNECT, NULL);
	rel_figure("security.connect_mode_0600_as_nobody", "%d", rc);
	ck_assert_int_eq(rc, -EACCES);
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);

	rel_start(&d, 16, group);
	rc = run_as(d.sock, NOBODY, daemon_gid(), OP_CONNECT, NULL);
	rel_figure("security.connect_mode_0660_group_member", "%d", rc);
	ck_assert_int_eq(rc, 0);
	rc = run_as(d.sock, NOBODY, NOBODY, OP_CONNECT, NULL);
	rel_figure("security.connect_mode_0660_non_member", "%d", rc);
	ck_assert_int_eq(rc, -EACCES);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
}
END_TEST

static void check_file(const char *path, mode_t mode, gid_t gid)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path,
		      strerror(errno));
	ck_assert_msg((st.st_mode & 07777) == mode, "%s: mode %04o, want %04o",
		      path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
	ck_assert_msg(st.st_gid == gid, "%s: gid %u, want %u", path,
		      (unsigned)st.st_gid, (unsigned)gid);
}

/* Files under /dev/shm named after @shm (the --shm the harness passes,
 * now ignored) or the old defaults that did not exist @before. */
static int shm_files(const char *shm, const bool before[2])
{
	static const char *const defaults[] = { "errseqd", "errseqd.reg" };
	DIR *dp = opendir("/dev/shm");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, shm + 1, strlen(shm + 1)) == 0)
			n++;
		for (int i = 0; i < 2; i++)
			if (!before[i] && strcmp(de->d_name, defaults[i]) == 0)
				n++;
	}
	closedir(dp);
	return n;
}

START_TEST(security_socket_mode_and_no_shm_files)
{
	static const char *const extra[] = { "--mode", "0640", "--group",
					     "daemon", NULL };
	struct esdt_daemon d;
	struct errseq_client *c;
	struct errseq_slot *s;
	bool before[2];
	int files;

	before[0] = access("/dev/shm/errseqd", F_OK) == 0;
	before[1] = access("/dev/shm/errseqd.reg", F_OK) == 0;
	rel_start(&d, 16, extra);
	check_file(d.sock, 0640, daemon_gid());
	rel_figure("security.socket_mode_with_0640_daemon", "0%o:%u", 0640,
		   (unsigned)daemon_gid());
	/* slots in use, and still nothing under /dev/shm */
	ck_assert_int_eq(errseq_client_open(d.sock, &c), 0);
	ck_assert_int_eq(errseq_slot_open(c, "sec.shm", ERRSEQ_CREATE, &s), 0);
	ck_assert_int_eq(errseq_slot_set(s, -EIO), 0);
	files = shm_files(d.shm, before);
	rel_figure("security.shm_files_of_daemon", "%d", files);
	ck_assert_int_eq(files, 0);
	errseq_client_close(c);
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);

	rel_start(&d, 16, NULL);
	check_file(d.sock, 0660, getgid());
	rel_stop_clean(&d);
	esdt_daemon_cleanup(&d);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	if (geteuid() != 0) {
		printf("rel_security: needs root (daemon as root, clients as "
		       "nobody): skipped\n");
		return 77;
	}
	s = rel_suite("security", &tc);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, security_unlink_foreign_slot_eperm);
	tcase_add_test(tc, security_socket_mode_refuses_others);
	tcase_add_test(tc, security_socket_mode_and_no_shm_files);
	return rel_run(s);
}
