/*
 * test_policy.c - Check suite for the decisions of liberrseq-preload.so
 * (preload/policy.c): which errnos are recorded, slot names, the
 * path-prefix map, and the one-error table, including real processes
 * racing to claim one error in a shared table.
 */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "preload/preload.h"

START_TEST(storage_errnos)
{
	static const int yes[] = { EIO, ENOSPC, EDQUOT, EROFS, EFBIG, EUCLEAN,
				   ENXIO, ENODEV, ESTALE, EREMOTEIO };
	static const int no[] = { 0, EINTR, EAGAIN, EBADF, EINVAL, EPIPE,
				  EPERM, EACCES, ENOENT, EOPNOTSUPP, ENOMEM };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_int_eq(esp_is_storage_errno(yes[i]), 1);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_int_eq(esp_is_storage_errno(no[i]), 0);
}
END_TEST

START_TEST(slot_names)
{
	char name[ERRSEQ_NAME_MAX + 2];

	ck_assert_int_eq(esp_valid_slot_name("dev/8:1"), 1);
	ck_assert_int_eq(esp_valid_slot_name("a.b_c-d@e:f/g"), 1);
	ck_assert_int_eq(esp_valid_slot_name(""), 0);
	ck_assert_int_eq(esp_valid_slot_name(NULL), 0);
	ck_assert_int_eq(esp_valid_slot_name("a b"), 0);
	ck_assert_int_eq(esp_valid_slot_name("a=b"), 0);
	ck_assert_int_eq(esp_valid_slot_name("a;b"), 0);
	ck_assert_int_eq(esp_valid_slot_name("caf\xc3\xa9"), 0);
	memset(name, 'x', ERRSEQ_NAME_MAX);
	name[ERRSEQ_NAME_MAX] = '\0';
	ck_assert_int_eq(esp_valid_slot_name(name), 1);
	name[ERRSEQ_NAME_MAX] = 'x';
	name[ERRSEQ_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(esp_valid_slot_name(name), 0);
}
END_TEST

START_TEST(dev_slot)
{
	char out[ERRSEQ_NAME_MAX + 1];

	esp_dev_slot(makedev(8, 1), out, sizeof(out));
	ck_assert_str_eq(out, "dev/8:1");
	esp_dev_slot(makedev(259, 65536), out, sizeof(out));
	ck_assert_str_eq(out, "dev/259:65536");
	ck_assert_int_eq(esp_valid_slot_name(out), 1);
}
END_TEST

START_TEST(map_env)
{
	const char *map = "/srv/db=db/main; /srv=srv ;/var/log/=logs;"
			  "/bad=not a slot;/x=;=y;#/srv/db/z=comment";
	char slot[ERRSEQ_NAME_MAX + 1];

	ck_assert_int_eq(esp_map_lookup(map, NULL, "/srv/db/x", slot), 1);
	ck_assert_str_eq(slot, "db/main");
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/srv/db", slot), 1);
	ck_assert_str_eq(slot, "db/main");
	/* Whole components: /srv/dbx is under /srv, not /srv/db. */
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/srv/dbx", slot), 1);
	ck_assert_str_eq(slot, "srv");
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/var/log/syslog", slot),
			 1);
	ck_assert_str_eq(slot, "logs");
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/var/logs", slot), 0);
	ck_assert_str_eq(slot, "");
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/bad/f", slot), 0);
	ck_assert_int_eq(esp_map_lookup(map, NULL, "/x/f", slot), 0);
	ck_assert_int_eq(esp_map_lookup(map, NULL, "relative", slot), 0);
	ck_assert_int_eq(esp_map_lookup(NULL, NULL, "/srv/db", slot), 0);
	/* A prefix holding '=': split at the last one. */
	ck_assert_int_eq(esp_map_lookup("/a=b=s", NULL, "/a=b/f", slot), 1);
	ck_assert_str_eq(slot, "s");
}
END_TEST

START_TEST(map_file)
{
	char path[] = "/tmp/esq-map-XXXXXX";
	char slot[ERRSEQ_NAME_MAX + 1];
	static const char text[] =
		"# the operators' map\n"
		"\n"
		"/data=data\n"
		"  /data/pg = db/pg  \r\n"
		"/srv/db=from-file\n";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
			 (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(esp_map_lookup(NULL, path, "/data/pg/base/1", slot),
			 1);
	ck_assert_str_eq(slot, "db/pg");
	ck_assert_int_eq(esp_map_lookup(NULL, path, "/data/x", slot), 1);
	ck_assert_str_eq(slot, "data");
	/* The longest prefix wins across both; on a tie, the environment. */
	ck_assert_int_eq(esp_map_lookup("/data/pg/base=env", path,
					"/data/pg/base/1", slot), 1);
	ck_assert_str_eq(slot, "env");
	ck_assert_int_eq(esp_map_lookup("/srv/db=from-env", path,
					"/srv/db/f", slot), 1);
	ck_assert_str_eq(slot, "from-env");
	ck_assert_int_eq(esp_map_lookup("/srv=short", path, "/srv/db/f",
					slot), 1);
	ck_assert_str_eq(slot, "from-file");
	unlink(path);
	/* An unreadable file is no map. */
	ck_assert_int_eq(esp_map_lookup(NULL, path, "/data/x", slot), 0);
}
END_TEST

START_TEST(keys)
{
	uint32_t k = esp_key("/s", "dev/7:0", EIO);

	ck_assert_uint_eq(k, esp_key("/s", "dev/7:0", EIO));
	ck_assert_uint_ne(k, esp_key("/t", "dev/7:0", EIO));
	ck_assert_uint_ne(k, esp_key("/s", "dev/7:1", EIO));
	ck_assert_uint_ne(k, esp_key("/s", "dev/7:0", ENOSPC));
	/* The boundary between socket and slot is part of the key. */
	ck_assert_uint_ne(esp_key("/sa", "b", EIO), esp_key("/s", "ab", EIO));
}
END_TEST

START_TEST(claim_window)
{
	static uint64_t table[ESP_DEDUP_ENTRIES];
	uint64_t claimed, prev, c2, p2;

	memset(table, 0, sizeof(table));
	ck_assert_int_eq(esp_dedup_claim(table, 42, 1000, 5000, &claimed,
					 &prev), 1);
	ck_assert_uint_eq(prev, 0);
	/* Within the window: the same error. */
	ck_assert_int_eq(esp_dedup_claim(table, 42, 1000, 5000, &c2, &p2), 0);
	ck_assert_int_eq(esp_dedup_claim(table, 42, 5999, 5000, &c2, &p2), 0);
	/* Another key: another error. */
	ck_assert_int_eq(esp_dedup_claim(table, 43, 1000, 5000, &c2, &p2), 1);
	/* The window is fixed from the first claim, not extended. */
	ck_assert_int_eq(esp_dedup_claim(table, 42, 6000, 5000, &c2, &p2), 1);
	ck_assert_uint_eq(p2, claimed);
	/* Clock wrap: 2^32 - 10 then 100 is 110 ms later. */
	ck_assert_int_eq(esp_dedup_claim(table, 7, UINT32_MAX - 9, 5000,
					 &claimed, &prev), 1);
	ck_assert_int_eq(esp_dedup_claim(table, 7, 100, 5000, &c2, &p2), 0);
	/* Window 0: never the same. */
	ck_assert_int_eq(esp_dedup_claim(table, 9, 5, 0, &claimed, &prev), 1);
	ck_assert_int_eq(esp_dedup_claim(table, 9, 5, 0, &c2, &p2), 1);
}
END_TEST

START_TEST(claim_release)
{
	static uint64_t table[ESP_DEDUP_ENTRIES];
	uint64_t claimed, prev, c2, p2;

	memset(table, 0, sizeof(table));
	ck_assert_int_eq(esp_dedup_claim(table, 5, 10, 5000, &claimed, &prev),
			 1);
	/* The recording failed: release, and the next one may record. */
	esp_dedup_release(table, 5, claimed, prev);
	ck_assert_int_eq(esp_dedup_claim(table, 5, 11, 5000, &claimed, &prev),
			 1);
	/* A release after someone else's claim leaves theirs alone. */
	ck_assert_int_eq(esp_dedup_claim(table, 5 + ESP_DEDUP_ENTRIES, 12,
					 5000, &c2, &p2), 1);
	esp_dedup_release(table, 5, claimed, prev);
	ck_assert_int_eq(esp_dedup_claim(table, 5 + ESP_DEDUP_ENTRIES, 13,
					 5000, &c2, &p2), 0);
}
END_TEST

/* 16 processes claim the same error in one shared table at once: one
 * wins.  Repeated with fresh keys so that the race is really run. */
START_TEST(claim_race)
{
	enum { PROCS = 16, ROUNDS = 200 };
	uint64_t *table = mmap(NULL, ESP_DEDUP_BYTES + 4096,
			       PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *wins, *go;
	pid_t pids[PROCS];

	ck_assert_ptr_ne(table, MAP_FAILED);
	wins = (int *)(table + ESP_DEDUP_ENTRIES);
	go = wins + ROUNDS;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ck_assert_int_ge(pids[p], 0);
		if (pids[p] == 0) {
			while (!__atomic_load_n(go, __ATOMIC_ACQUIRE))
				;
			for (int r = 0; r < ROUNDS; r++) {
				uint64_t c, pv;

				if (esp_dedup_claim(table, 1000u + (unsigned)r,
						    77, 5000, &c, &pv))
					__atomic_fetch_add(&wins[r], 1,
							   __ATOMIC_RELAXED);
			}
			_exit(0);
		}
	}
	__atomic_store_n(go, 1, __ATOMIC_RELEASE);
	for (int p = 0; p < PROCS; p++) {
		int st;

		ck_assert_int_eq(waitpid(pids[p], &st, 0), pids[p]);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	for (int r = 0; r < ROUNDS; r++)
		ck_assert_int_eq(wins[r], 1);
	munmap(table, ESP_DEDUP_BYTES + 4096);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("preload policy");
	TCase *tc = tcase_create("policy");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, storage_errnos);
	tcase_add_test(tc, slot_names);
	tcase_add_test(tc, dev_slot);
	tcase_add_test(tc, map_env);
	tcase_add_test(tc, map_file);
	tcase_add_test(tc, keys);
	tcase_add_test(tc, claim_window);
	tcase_add_test(tc, claim_release);
	tcase_add_test(tc, claim_race);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
