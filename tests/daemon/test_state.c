/*
 * test_registry.c - unit tests of the daemon's state, linked against libesd
 * directly: the registry (name hash with a fixed key and forced tag
 * collisions, per-domain FIFO free lists, chunk growth, the start-up
 * repair from the private record), the holds tables and the per-uid usage.
 * No daemon, no socket: a store with --persist none in this process.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/errseq_word.h"
#include "common/shm_layout.h"
#include "daemon/holds.h"
#include "daemon/quota.h"
#include "daemon/registry.h"
#include "daemon/slotword.h"
#include "daemon/store.h"

struct fix {
	struct esd_store st;
	struct esd_quota q;
	struct esd_registry r;
};

static const uint64_t fixed_key[2] = { 0x0123456789abcdefull,
				       0xfedcba9876543210ull };

static void fix_open(struct fix *f, uint32_t slots)
{
	struct esd_store_params p = {
		.slots = slots, .persist = ESD_PERSIST_NONE,
		.socket_path = "/nonexistent/unused.sock",
	};
	char err[256];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(esd_store_open(&f->st, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(esd_registry_init(&f->r, &f->st, &f->q, 999, NULL),
			 0);
	esd_registry_set_key(&f->r, fixed_key);
}

/* Rebuild the in-memory registry from the store, as a restart would. */
static void fix_restart(struct fix *f, struct esd_rebuild_stats *rs)
{
	esd_registry_fini(&f->r);
	esd_quota_fini(&f->q);
	memset(&f->q, 0, sizeof(f->q));
	ck_assert_int_eq(esd_registry_init(&f->r, &f->st, &f->q, 999, rs), 0);
	esd_registry_set_key(&f->r, fixed_key);
}

static void fix_close(struct fix *f)
{
	esd_registry_fini(&f->r);
	esd_quota_fini(&f->q);
	esd_store_close(&f->st);
}

static int create(struct fix *f, const char *name, uid_t uid, uint32_t gid)
{
	return esd_registry_create(&f->r, name, strlen(name), uid, gid);
}

static int lookup(struct fix *f, const char *name)
{
	return esd_registry_lookup(&f->r, name, strlen(name));
}

/* ---- the name hash ---- */

/* Two names of the same length that share their first 100 bytes and whose
 * hash tags (the low 32 bits, compared before the bytes) are equal. */
static void tag_collision(char a[129], char b[129])
{
	enum { N = 1 << 18 };
	uint32_t *tags = malloc(N * sizeof(*tags));
	uint32_t *table = calloc(1u << 20, sizeof(*table));	/* idx + 1 */
	char name[129];

	ck_assert_ptr_nonnull(tags);
	ck_assert_ptr_nonnull(table);
	memset(name, 'p', 100);
	for (uint32_t i = 0; i < N; i++) {
		uint32_t t, h;

		snprintf(name + 100, 29, "%08x", i);
		t = (uint32_t)esd_registry_hash(fixed_key, name, 108);
		tags[i] = t;
		for (h = t & ((1u << 20) - 1); table[h];
		     h = (h + 1) & ((1u << 20) - 1)) {
			if (tags[table[h] - 1] == t) {
				memcpy(a, name, 108);
				a[108] = '\0';
				memset(b, 'p', 100);
				snprintf(b + 100, 29, "%08x", table[h] - 1);
				free(tags);
				free(table);
				return;
			}
		}
		table[h] = i + 1;
	}
	ck_abort_msg("no 32-bit tag collision among %d names", N);
}

START_TEST(hash_tag_collision_keeps_names_apart)
{
	struct fix f;
	char a[129], b[129];
	int ia, ib;

	tag_collision(a, b);
	ck_assert_str_ne(a, b);
	ck_assert_uint_eq((uint32_t)esd_registry_hash(fixed_key, a, 108),
			  (uint32_t)esd_registry_hash(fixed_key, b, 108));
	fix_open(&f, 2048);
	ia = create(&f, a, 1, ESD_NO_GID);
	ck_assert_int_ge(ia, 0);
	ck_assert_int_eq(lookup(&f, b), -ENOENT);
	ib = create(&f, b, 1, ESD_NO_GID);
	ck_assert_int_ge(ib, 0);
	ck_assert_int_ne(ia, ib);
	ck_assert_int_eq(lookup(&f, a), ia);
	ck_assert_int_eq(lookup(&f, b), ib);
	ck_assert_int_eq(esd_registry_delete(&f.r, (uint32_t)ia), 0);
	ck_assert_int_eq(lookup(&f, a), -ENOENT);
	ck_assert_int_eq(lookup(&f, b), ib);
	fix_close(&f);
}
END_TEST

START_TEST(hash_random_creates_and_deletes_match_a_model)
{
	enum { NAMES = 1500 };
	struct fix f;
	int model[NAMES];
	char name[32];
	unsigned seed = 12345;

	fix_open(&f, 2048);
	for (int i = 0; i < NAMES; i++)
		model[i] = -1;
	for (int step = 0; step < 20000; step++) {
		int i;

		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 8) % NAMES);
		snprintf(name, sizeof(name), "n%d", i);
		if (model[i] < 0) {
			if (f.r.live >= 1900)
				continue;
			model[i] = create(&f, name, 1, ESD_NO_GID);
			ck_assert_int_ge(model[i], 0);
		} else {
			ck_assert_int_eq(esd_registry_delete(&f.r,
							     (uint32_t)model[i]),
					 0);
			model[i] = -1;
		}
		if (step % 997 == 0)
			for (int k = 0; k < NAMES; k++) {
				snprintf(name, sizeof(name), "n%d", k);
				ck_assert_int_eq(lookup(&f, name),
						 model[k] < 0 ? -ENOENT
							      : model[k]);
			}
	}
	fix_close(&f);
}
END_TEST

/* ---- free lists, domains and capacity ---- */

START_TEST(freed_index_is_reused_last)
{
	struct fix f;
	int a, b;

	fix_open(&f, 1024);
	a = create(&f, "a", 1, ESD_NO_GID);
	ck_assert_int_eq(esd_registry_delete(&f.r, (uint32_t)a), 0);
	b = create(&f, "b", 1, ESD_NO_GID);
	ck_assert_int_ne(a, b);
	fix_close(&f);
}
END_TEST

START_TEST(domains_get_their_own_chunks_and_grow)
{
	struct fix f;
	char name[32];
	int i1, i2, ig, last = -1;

	fix_open(&f, 4096);
	esd_registry_set_limits(&f.r, 4096, 0);
	i1 = create(&f, "u1", 1, ESD_NO_GID);
	i2 = create(&f, "u2", 2, ESD_NO_GID);
	ig = create(&f, "u1g", 1, 50);
	ck_assert_uint_ne(ESD_INDEX_CHUNK(i1), ESD_INDEX_CHUNK(i2));
	ck_assert_uint_ne(ESD_INDEX_CHUNK(i1), ESD_INDEX_CHUNK(ig));
	ck_assert_uint_eq(f.st.chunks, 3);
	/* uid 1 fills its chunk, then gets a fourth one */
	for (int k = 1; k <= (int)ESD_CHUNK_SLOTS; k++) {
		snprintf(name, sizeof(name), "more%d", k);
		last = create(&f, name, 1, ESD_NO_GID);
		ck_assert_int_ge(last, 0);
	}
	ck_assert_uint_eq(f.st.chunks, 4);
	ck_assert_uint_eq(ESD_INDEX_CHUNK(last), 3);
	ck_assert_uint_eq(esd_quota_peek(&f.q, 1)->slots,
			  ESD_CHUNK_SLOTS + 2);
	ck_assert_uint_eq(esd_quota_peek(&f.q, 1)->chunks, 3);
	fix_close(&f);
}
END_TEST

/* Many writer domains with a slot each do not use up the maximum: it
 * counts live slots, not chunks. */
START_TEST(capacity_counts_slots_not_domains)
{
	struct fix f;
	char name[32];

	fix_open(&f, 4096);
	esd_registry_set_limits(&f.r, 4096, 0);
	for (uid_t u = 1; u <= 8; u++) {
		snprintf(name, sizeof(name), "u%u", (unsigned)u);
		ck_assert_int_ge(create(&f, name, u, ESD_NO_GID), 0);
	}
	ck_assert_int_ge(create(&f, "root", 0, ESD_NO_GID), 0);
	/* the maximum is 4096 live slots, whatever the domains */
	esd_registry_set_limits(&f.r, 10, 0);
	ck_assert_int_ge(create(&f, "tenth", 0, ESD_NO_GID), 0);
	ck_assert_int_eq(create(&f, "eleventh", 0, ESD_NO_GID), -ENOSPC);
	ck_assert_int_eq(create(&f, "eleventh", 9, ESD_NO_GID), -ENOSPC);
	fix_close(&f);
}
END_TEST

/* One uid cannot take the index space with many writer groups. */
START_TEST(chunks_per_uid_are_bounded)
{
	struct fix f;
	char name[32];

	fix_open(&f, 4096);
	esd_registry_set_limits(&f.r, 4096, 3);
	for (uint32_t g = 100; g < 103; g++) {
		snprintf(name, sizeof(name), "g%u", g);
		ck_assert_int_ge(create(&f, name, 7, g), 0);
	}
	ck_assert_int_eq(create(&f, "g103", 7, 103), -EDQUOT);
	/* its existing domains still have room */
	ck_assert_int_ge(create(&f, "again", 7, 100), 0);
	/* root is exempt */
	for (uint32_t g = 200; g < 205; g++) {
		snprintf(name, sizeof(name), "r%u", g);
		ck_assert_int_ge(create(&f, name, 0, g), 0);
	}
	fix_close(&f);
}
END_TEST

START_TEST(held_zombie_index_is_not_reused)
{
	struct fix f;
	int a;

	fix_open(&f, 1024);
	esd_registry_set_limits(&f.r, 4 * ESD_CHUNK_SLOTS, 0);
	a = create(&f, "a", 1, ESD_NO_GID);
	ck_assert_int_eq(esd_registry_hold(&f.r, (uint32_t)a), 0);
	ck_assert_int_eq(esd_registry_delete(&f.r, (uint32_t)a), 0);
	ck_assert_uint_eq(f.r.zombies, 1);
	/* every other index of the chunk goes first */
	for (int k = 0; k < (int)ESD_CHUNK_SLOTS - 1; k++) {
		char name[32];

		snprintf(name, sizeof(name), "x%d", k);
		ck_assert_int_ne(create(&f, name, 1, ESD_NO_GID), a);
	}
	/* the chunk is full but for the held zombie: a new chunk, not a */
	ck_assert_int_ne(create(&f, "full", 1, ESD_NO_GID), a);
	ck_assert_uint_eq(f.st.chunks, 2);
	esd_registry_release(&f.r, (uint32_t)a, 1);
	ck_assert_uint_eq(f.r.zombies, 0);
	/* a went to the tail: after the new chunk's 1023 free indexes */
	for (int k = 0; k < (int)ESD_CHUNK_SLOTS - 1; k++) {
		char name[32];

		snprintf(name, sizeof(name), "y%d", k);
		ck_assert_int_ne(create(&f, name, 1, ESD_NO_GID), a);
	}
	ck_assert_int_eq(create(&f, "last", 1, ESD_NO_GID), a);
	fix_close(&f);
}
END_TEST

/* ---- rights ---- */

START_TEST(writer_sets)
{
	struct fix f;
	gid_t groups[] = { 7, 50 };
	struct esd_cred c1 = { .uid = 1, .gid = 1 };
	struct esd_cred c2 = { .uid = 2, .gid = 2 };
	struct esd_cred member = { .uid = 3, .gid = 3, .ngroups = 2,
				   .groups = groups };
	struct esd_cred root = { .uid = 0 }, daemon = { .uid = 999 };
	int own, grp;

	fix_open(&f, 2048);
	own = create(&f, "own", 1, ESD_NO_GID);
	grp = create(&f, "grp", 1, 50);
	ck_assert(esd_registry_may_write(&f.r, (uint32_t)own, &c1));
	ck_assert(!esd_registry_may_write(&f.r, (uint32_t)own, &c2));
	ck_assert(!esd_registry_may_write(&f.r, (uint32_t)own, &member));
	ck_assert(esd_registry_may_write(&f.r, (uint32_t)own, &root));
	ck_assert(esd_registry_may_write(&f.r, (uint32_t)own, &daemon));
	ck_assert(esd_registry_may_write(&f.r, (uint32_t)grp, &member));
	ck_assert(!esd_registry_may_write(&f.r, (uint32_t)grp, &c2));
	/* group members write, they do not delete */
	ck_assert(!esd_registry_may_delete(&f.r, (uint32_t)grp, &member));
	ck_assert(esd_registry_may_delete(&f.r, (uint32_t)grp, &c1));
	ck_assert(esd_registry_may_delete(&f.r, (uint32_t)grp, &root));
	ck_assert(!esd_registry_may_delete(&f.r, (uint32_t)own, &c2));
	fix_close(&f);
}
END_TEST

START_TEST(mark_seen_is_one_exact_cas)
{
	struct fix f;
	struct esd_slot *s;
	uint32_t gen;
	int a;

	fix_open(&f, 1024);
	a = create(&f, "a", 1, ESD_NO_GID);
	s = esd_store_slot(&f.st, (uint32_t)a);
	gen = esd_registry_gen(&f.r, (uint32_t)a);
	s->word = ESD_WORD(gen, 5);
	/* a stale value: no change */
	ck_assert_int_eq(esd_registry_mark_seen(&f.r, (uint32_t)a, gen, 6), 0);
	ck_assert_uint_eq(s->word, ESD_WORD(gen, 5));
	/* a wrong generation */
	ck_assert_int_eq(esd_registry_mark_seen(&f.r, (uint32_t)a, gen + 2, 5),
			 -ESTALE);
	ck_assert_uint_eq(s->word, ESD_WORD(gen, 5));
	/* the value read: SEEN added, nothing else */
	ck_assert_int_eq(esd_registry_mark_seen(&f.r, (uint32_t)a, gen, 5), 0);
	ck_assert_uint_eq(s->word, ESD_WORD(gen, 5 | ERRSEQ_SEEN));
	fix_close(&f);
}
END_TEST

/* ---- start-up repair, from the private record only ---- */

START_TEST(repair_restores_a_scribbled_word_never_deletes)
{
	struct fix f;
	struct esd_rebuild_stats rs;
	struct esd_slot *s;
	uint32_t gen;
	int a;

	fix_open(&f, 1024);
	a = create(&f, "victim", 1, ESD_NO_GID);
	s = esd_store_slot(&f.st, (uint32_t)a);
	gen = esd_registry_gen(&f.r, (uint32_t)a);
	s->word = ESD_WORD(gen + 1, 0x1234);	/* what a delete would look like */
	s->waiters = 77;
	fix_restart(&f, &rs);
	ck_assert_int_eq(lookup(&f, "victim"), a);
	ck_assert_uint_eq(rs.live, 1);
	ck_assert_uint_eq(rs.finished_deletes, 0);
	ck_assert_uint_eq(rs.repaired_words, 1);
	ck_assert_uint_eq(ESD_WORD_GEN(s->word), gen);
	ck_assert_uint_eq(ESD_WORD_VAL(s->word), 0x1234);
	ck_assert_uint_eq(s->waiters, 0);
	fix_close(&f);
}
END_TEST

START_TEST(repair_finishes_a_recorded_delete_and_rolls_back_a_create)
{
	struct fix f;
	struct esd_rebuild_stats rs;
	struct esd_reg_entry *e;
	uint32_t gen;
	int a, b;

	fix_open(&f, 1024);
	a = create(&f, "going", 1, ESD_NO_GID);
	b = create(&f, "half", 1, ESD_NO_GID);
	gen = esd_registry_gen(&f.r, (uint32_t)a);
	/* a delete whose intent was stored, then the daemon died */
	esd_store_entry(&f.st, (uint32_t)a)->state = ESD_REG_DELETING;
	/* a create that stored its gen but not its commit */
	e = esd_store_entry(&f.st, (uint32_t)b);
	e->state = ESD_REG_FREE;
	fix_restart(&f, &rs);
	ck_assert_int_eq(lookup(&f, "going"), -ENOENT);
	ck_assert_int_eq(lookup(&f, "half"), -ENOENT);
	ck_assert_uint_eq(rs.finished_deletes, 1);
	ck_assert_uint_eq(rs.rolled_back, 1);
	ck_assert_uint_eq(ESD_WORD_GEN(esd_store_slot(&f.st,
						      (uint32_t)a)->word),
			  gen + 1);
	ck_assert_uint_eq(esd_store_entry(&f.st, (uint32_t)a)->state,
			  ESD_REG_DELETED);
	ck_assert(!ESD_GEN_LIVE(esd_store_entry(&f.st, (uint32_t)b)->gen));
	ck_assert_uint_eq(rs.live, 0);
	fix_close(&f);
}
END_TEST

START_TEST(repair_keeps_names_and_writer_sets)
{
	struct fix f;
	struct esd_rebuild_stats rs;
	struct esd_cred member = { .uid = 3, .gid = 50 };
	int a, g;

	fix_open(&f, 2048);
	a = create(&f, "a", 1, ESD_NO_GID);
	g = create(&f, "g", 2, 50);
	fix_restart(&f, &rs);
	ck_assert_uint_eq(rs.live, 2);
	ck_assert_int_eq(lookup(&f, "a"), a);
	ck_assert_int_eq(lookup(&f, "g"), g);
	ck_assert(esd_registry_may_write(&f.r, (uint32_t)g, &member));
	ck_assert(!esd_registry_may_write(&f.r, (uint32_t)a, &member));
	ck_assert_uint_eq(esd_quota_peek(&f.q, 2)->slots, 1);
	fix_close(&f);
}
END_TEST

/* ---- holds tables and quota ---- */

START_TEST(holds_table_counts)
{
	struct esd_holds h = { 0 };

	for (uint32_t i = 0; i < 5000; i++)
		ck_assert_int_eq(esd_holds_add(&h, i * 7919u), 0);
	ck_assert_int_eq(esd_holds_add(&h, 0), 0);
	ck_assert_uint_eq(h.total, 5001);
	ck_assert_uint_eq(h.used, 5000);
	ck_assert_uint_eq(esd_holds_count(&h, 0), 2);
	for (uint32_t i = 0; i < 5000; i += 2)
		ck_assert_int_eq(esd_holds_drop(&h, i * 7919u), 0);
	for (uint32_t i = 0; i < 5000; i++)
		ck_assert_uint_eq(esd_holds_count(&h, i * 7919u),
				  i == 0 ? 1 : (i % 2 ? 1 : 0));
	ck_assert_int_eq(esd_holds_drop(&h, 2 * 7919u), -ENOENT);
	esd_holds_fini(&h);
	ck_assert_uint_eq(h.total, 0);
}
END_TEST

START_TEST(quota_per_uid)
{
	struct esd_quota q = { .exempt_uid = 999 };

	for (uid_t u = 1; u < 300; u++)
		esd_quota_get(&q, u)->conns = u;
	for (uid_t u = 1; u < 300; u++)
		ck_assert_uint_eq(esd_quota_peek(&q, u)->conns, u);
	ck_assert_ptr_null(esd_quota_peek(&q, 5000));
	ck_assert(esd_quota_exempt(&q, 0));
	ck_assert(esd_quota_exempt(&q, 999));
	ck_assert(!esd_quota_exempt(&q, 1));
	esd_quota_fini(&q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("state");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, hash_tag_collision_keeps_names_apart);
	tcase_add_test(tc, hash_random_creates_and_deletes_match_a_model);
	tcase_add_test(tc, freed_index_is_reused_last);
	tcase_add_test(tc, domains_get_their_own_chunks_and_grow);
	tcase_add_test(tc, capacity_counts_slots_not_domains);
	tcase_add_test(tc, chunks_per_uid_are_bounded);
	tcase_add_test(tc, held_zombie_index_is_not_reused);
	tcase_add_test(tc, writer_sets);
	tcase_add_test(tc, mark_seen_is_one_exact_cas);
	tcase_add_test(tc, repair_restores_a_scribbled_word_never_deletes);
	tcase_add_test(tc,
		       repair_finishes_a_recorded_delete_and_rolls_back_a_create);
	tcase_add_test(tc, repair_keeps_names_and_writer_sets);
	tcase_add_test(tc, holds_table_counts);
	tcase_add_test(tc, quota_per_uid);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
