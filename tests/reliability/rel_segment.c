/*
 * rel_segment.c - reliability figure 6b: corrupted segments are refused.
 *
 * A daemon creates its pair of segments (data and registry), records a
 * value in a slot and stops.  Then, one corruption at a time, a header
 * field of either segment is changed on disk (/dev/shm/NAME): a bad magic,
 * a wrong layout version, a wrong geometry (header size, stride, slot
 * count, entry size, file size), mismatched incarnations; and once the
 * segment is left intact but the daemon is started with another --slots.
 * Each start must fail with exit code 1 and a message naming --recreate,
 * and must not adopt: both segments are byte-for-byte what they were
 * before the attempt.  After each case the original bytes are restored and
 * the daemon must adopt them again with the slot and its value intact;
 * at the end --recreate must replace a corrupted pair.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <errseq/client.h>

#include "common/shm_layout.h"
#include "tests/support/harness.h"
#include "tests/reliability/rel.h"

#define SLOTS	16

enum target { DATA, REG };

struct corruption {
	const char *label;
	enum target t;
	int offset;		/* -1: no field change */
	int kind;		/* 0: xor, 1: set, 2: truncate by value */
	uint32_t value;
	unsigned slots;		/* --slots for the attempt (0: SLOTS) */
};

static const struct corruption cases[] = {
	{ "data_bad_magic", DATA, 0, 0, 0x01, 0 },
	{ "data_bad_layout_version", DATA, 8, 0, 0x00010000, 0 },
	{ "data_bad_header_size", DATA, 12, 1, 8192, 0 },
	{ "data_bad_slot_count", DATA, 16, 1, SLOTS + 1, 0 },
	{ "data_bad_slot_stride", DATA, 20, 1, 128, 0 },
	{ "data_bad_incarnation", DATA, 24, 0, 0x5a5a, 0 },
	{ "data_truncated", DATA, -1, 2, 64, 0 },
	{ "reg_bad_magic", REG, 0, 0, 0x0100, 0 },
	{ "reg_bad_layout_version", REG, 8, 0, 0x00000100, 0 },
	{ "reg_bad_entry_size", REG, 12, 1, 128, 0 },
	{ "reg_bad_slot_count", REG, 16, 1, SLOTS * 2, 0 },
	{ "reg_bad_incarnation", REG, 24, 0, 0xa5a5, 0 },
	{ "reg_truncated", REG, -1, 2, 192, 0 },
	{ "other_slots_option", DATA, -1, 0, 0, SLOTS * 2 },
};

struct image {
	char path[128];
	size_t len;
	unsigned char *bytes;
};

static void load(struct image *im)
{
	int fd = open(im->path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	ck_assert_msg(fd >= 0, "open %s: %s", im->path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	im->len = (size_t)st.st_size;
	im->bytes = malloc(im->len + 1);
	ck_assert_ptr_nonnull(im->bytes);
	ck_assert_int_eq(pread(fd, im->bytes, im->len, 0), (ssize_t)im->len);
	close(fd);
}

static void store(const struct image *im)
{
	int fd = open(im->path, O_RDWR | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", im->path, strerror(errno));
	ck_assert_int_eq(ftruncate(fd, (off_t)im->len), 0);
	ck_assert_int_eq(pwrite(fd, im->bytes, im->len, 0), (ssize_t)im->len);
	close(fd);
}

static bool same(const struct image *a, const struct image *b)
{
	return a->len == b->len && !memcmp(a->bytes, b->bytes, a->len);
}

static void corrupt(const struct image *orig, const struct corruption *c,
		    struct image *out)
{
	*out = *orig;
	out->bytes = malloc(orig->len + 1);
	ck_assert_ptr_nonnull(out->bytes);
	memcpy(out->bytes, orig->bytes, orig->len);
	if (c->kind == 2) {
		out->len -= c->value;
	} else if (c->offset >= 0) {
		uint32_t v;

		memcpy(&v, out->bytes + c->offset, 4);
		v = c->kind == 0 ? v ^ c->value : c->value;
		memcpy(out->bytes + c->offset, &v, 4);
	}
}

static int start_and_set(struct esdt_daemon *d, errseq_t *value)
{
	struct errseq_client *c;
	struct errseq_slot *s;
	int rc;

	if ((rc = errseq_client_open(d->sock, &c)) < 0)
		return rc;
	rc = errseq_slot_open(c, "seg.a", ERRSEQ_CREATE, &s);
	if (rc == 0) {
		rc = errseq_slot_set(s, -ENOSPC);
		*value = errseq_slot_peek(s);
		errseq_slot_close(s);
	}
	errseq_client_close(c);
	return rc;
}

static int stat_value(struct esdt_daemon *d, errseq_t *value)
{
	struct errseq_client *c;
	struct errseq_slot_info info;
	int rc;

	if ((rc = errseq_client_open(d->sock, &c)) < 0)
		return rc;
	rc = errseq_stat(c, "seg.a", &info);
	if (rc == 0)
		*value = info.value;
	errseq_client_close(c);
	return rc;
}

START_TEST(segment_corruption_refused_not_adopted)
{
	struct esdt_daemon d;
	struct image orig[2], bad, after[2];
	errseq_t value = 0, again = 0;
	char err[2048];
	int refused = 0, unchanged = 0, rc;
	static const char *const recreate[] = { "--recreate", NULL };

	esdt_sweep();
	rel_start(&d, SLOTS, NULL);
	ck_assert_int_eq(start_and_set(&d, &value), 0);
	ck_assert_uint_ne(value, 0);
	rel_stop_clean(&d);
	snprintf(orig[DATA].path, sizeof(orig[DATA].path), "/dev/shm%s",
		 d.shm);
	snprintf(orig[REG].path, sizeof(orig[REG].path), "/dev/shm%s%s",
		 d.shm, ESD_REG_SUFFIX);
	load(&orig[DATA]);
	load(&orig[REG]);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct corruption *c = &cases[i];

		corrupt(&orig[c->t], c, &bad);
		store(&bad);
		d.slots = c->slots ? c->slots : SLOTS;
		rc = esdt_daemon_run_to_exit(&d, NULL, err, sizeof(err),
					     getenv("ERRSEQD_WRAPPER") ?
						     180000 : 30000);
		d.slots = SLOTS;
		ck_assert_msg(rc == 1, "%s: the daemon exited with %d, want 1 "
			      "(a refusal): %s", c->label, rc, err);
		ck_assert_msg(strstr(err, "--recreate") != NULL,
			      "%s: the refusal does not name --recreate: %s",
			      c->label, err);
		refused++;
		strcpy(after[DATA].path, orig[DATA].path);
		strcpy(after[REG].path, orig[REG].path);
		load(&after[DATA]);
		load(&after[REG]);
		ck_assert_msg(same(&after[c->t], &bad),
			      "%s: the refused segment was modified", c->label);
		ck_assert_msg(same(&after[!c->t], &orig[!c->t]),
			      "%s: the other segment was modified", c->label);
		unchanged++;
		printf("%s: refused: %s", c->label, err);
		free(after[DATA].bytes);
		free(after[REG].bytes);
		free(bad.bytes);

		/* restored, it is adopted with its slot and value */
		store(&orig[c->t]);
		rel_restart(&d, NULL);
		ck_assert_int_eq(stat_value(&d, &again), 0);
		ck_assert_uint_eq(again, value);
		rel_stop_clean(&d);
		free(orig[DATA].bytes);
		free(orig[REG].bytes);
		load(&orig[DATA]);	/* the daemon's pid/start changed */
		load(&orig[REG]);
	}

	/* --recreate replaces a corrupted pair: the slot is gone */
	corrupt(&orig[DATA], &cases[0], &bad);
	store(&bad);
	free(bad.bytes);
	rel_restart(&d, recreate);
	ck_assert_int_eq(stat_value(&d, &again), -ENOENT);
	rel_stop_clean(&d);

	rel_figure("segment.corruptions_tried", "%d", refused);
	rel_figure("segment.refused_naming_recreate", "%d", refused);
	rel_figure("segment.left_unchanged", "%d", unchanged);
	rel_figure("segment.adopted_after_restore", "%d", refused);
	free(orig[DATA].bytes);
	free(orig[REG].bytes);
	esdt_daemon_cleanup(&d);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s;

	s = rel_suite("segment", &tc);
	tcase_add_test(tc, segment_corruption_refused_not_adopted);
	return rel_run(s);
}
