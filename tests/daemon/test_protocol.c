/*
 * test_protocol.c - errseqd integration tests: every request of the control
 * protocol and its exact reply codes, through the raw client.
 *
 * Every test starts the real daemon on its own temporary socket and shm
 * name; the helpers and the fixtures are in tests/support/daemon_util.h.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

/* ---- HELLO ------------------------------------------------------------ */

/*
 * Protocol 2: HELLO passes no fd and may not be repeated (-EPROTO: in
 * protocol 1 every HELLO carried the whole segment, and unread replies
 * could exhaust in-flight fds).  The segment header that protocol 1
 * checked in the mapping is gone (layout 2 chunks have no header): its
 * fields come in the HELLO reply only.  The memory comes as chunk fds on
 * OPEN replies, once per chunk per connection, and is a sealed memfd
 * (0600) rather than a /dev/shm name.
 */
START_TEST(daemon_hello_reply_and_chunk_fds)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_open_rep a, b, a2;
	struct stat st;
	char path[128];
	void *base;
	int fd, seals;

	start_daemon(&d, 16, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(c.hello.version, ESP_VERSION);
	ck_assert_uint_eq(c.hello.layout_version, ESD_LAYOUT_VERSION);
	/* --slots is the live maximum; HELLO gives the index space. */
	ck_assert_uint_eq(c.hello.max_slots, esd_index_capacity(16));
	ck_assert_uint_eq(c.hello.chunk_slots, ESD_CHUNK_SLOTS);
	ck_assert_uint_eq(c.hello.slot_stride, sizeof(struct esd_slot));
	ck_assert_int_eq((pid_t)c.hello.daemon_pid, d.pid);
	ck_assert_uint_eq(c.hello.daemon_uid, geteuid());
	ck_assert_uint_ne(c.hello.incarnation, 0);
	/* esrc_hello refuses a HELLO reply that carries an fd. */
	ck_assert_uint_eq(c.fds_passed, 0);

	/* The first OPEN of a slot in a chunk passes the chunk: read-write
	 * for a writer (the creator), sealed against any change of size. */
	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	ck_assert_uint_eq(a.flags, ESP_RIGHT_WRITE | ESP_OPEN_FD);
	fd = esrc_chunk_fd(&c, a.index);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, ESD_CHUNK_BYTES);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(fd, 2 * ESD_CHUNK_BYTES), -1);
	ck_assert_int_eq(errno, EPERM);
	base = map_chunk(&c, a.index, PROT_READ | PROT_WRITE);
	for (uint32_t i = 0; i < ESD_CHUNK_SLOTS; i++)
		ck_assert_uint_eq(slot_word(base, i),
				  i == ESD_INDEX_SLOT(a.index)
					  ? ESD_WORD(a.gen, 0) : 0);

	/* The same chunk is not passed twice on one connection. */
	b = open_ok(&c, "b", ESP_OPEN_CREATE);
	ck_assert_uint_eq(ESD_INDEX_CHUNK(b.index), ESD_INDEX_CHUNK(a.index));
	ck_assert_uint_eq(b.flags, ESP_RIGHT_WRITE);
	ck_assert_uint_eq(c.fds_passed, 1);

	/* HELLO may not be repeated; the connection stays usable. */
	CK_CODE(esrc_hello(&c), -EPROTO);
	ck_assert_uint_eq(c.fds_passed, 1);
	status_ok(&c);

	/* Every connection gets the same state, and the chunk again. */
	conn(&c2, &d);
	ck_assert_uint_eq(c2.hello.incarnation, c.hello.incarnation);
	ck_assert_uint_eq(c2.hello.max_slots, c.hello.max_slots);
	a2 = open_ok(&c2, "a", 0);
	ck_assert_uint_eq(a2.index, a.index);
	ck_assert_uint_eq(a2.flags, ESP_RIGHT_WRITE | ESP_OPEN_FD);
	ck_assert_int_ge(esrc_chunk_fd(&c2, a.index), 0);

	/* Nothing in /dev/shm: --shm is accepted and ignored. */
	snprintf(path, sizeof(path), "/dev/shm%s", d.shm);
	ck_assert_int_eq(stat(path, &st), -1);
	snprintf(path, sizeof(path), "/dev/shm%s.reg", d.shm);
	ck_assert_int_eq(stat(path, &st), -1);

	unmap_chunk(base);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_hello_version_negotiation)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_hdr h;

	start_daemon(&d, 4, NULL);
	ck_assert_int_eq(esrc_init(&c, d.sock), 0);
	/* No overlap with version 2: refused, connection stays usable. */
	CK_CODE(esrc_hello_versions(&c, 3, 7), -EPROTONOSUPPORT);
	CK_CODE(esrc_hello_versions(&c, 0, 1), -EPROTONOSUPPORT);
	CK_CODE(esrc_hello_versions(&c, 0, 0), -EPROTONOSUPPORT);
	CK_CODE(esrc_hello_versions(&c, 5, 2), -EPROTONOSUPPORT);
	/* A refused HELLO is not a HELLO: ops are still refused. */
	CK_CODE(esrc_status(&c, NULL), -EPROTO);
	/* A range that includes 2 picks 2. */
	CK_CODE(esrc_hello_versions(&c, 1, 9), 0);
	ck_assert_uint_eq(c.hello.version, 2);

	/* A header with another version: -EPROTONOSUPPORT, still usable. */
	esrc_hdr(&h, ESP_OP_STATUS, 77);
	h.version = 1;
	CK_CODE(raw_call(&c, &h, sizeof(h)), -EPROTONOSUPPORT);
	h.version = 3;
	CK_CODE(raw_call(&c, &h, sizeof(h)), -EPROTONOSUPPORT);
	h.version = 0;
	CK_CODE(raw_call(&c, &h, sizeof(h)), -EPROTONOSUPPORT);
	status_ok(&c);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_op_before_hello_is_eproto)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_list_rep *lr = malloc(ESP_MAX_MSG);

	start_daemon(&d, 4, NULL);
	ck_assert_int_eq(esrc_init(&c, d.sock), 0);
	CK_CODE(esrc_status(&c, NULL), -EPROTO);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE, NULL), -EPROTO);
	CK_CODE(esrc_close_slot(&c, 0, 1), -EPROTO);
	CK_CODE(esrc_unlink(&c, NAME("a")), -EPROTO);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -EPROTO);
	CK_CODE(esrc_list(&c, 0, 0, lr, ESP_MAX_MSG), -EPROTO);
	CK_CODE(esrc_reattach(&c, 0, 1, NAME("a"), NULL), -EPROTO);
	CK_CODE(esrc_seen(&c, 0, 1, 0x1001), -EPROTO);
	CK_CODE(esrc_arm(&c, 0, 1, 1), -EPROTO);
	/* Nothing was created, and HELLO still works afterwards. */
	CK_CODE(esrc_hello(&c), 0);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	free(lr);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- OPEN, names ------------------------------------------------------ */

START_TEST(daemon_open_create_excl)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_open_rep a, a2, a3, b;
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	CK_CODE(esrc_open(&c, NAME("a"), 0, NULL), -ENOENT);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_EXCL, NULL), -EINVAL);
	/* 0x4 is ESP_OPEN_GROUP in protocol 2: without CREATE, -EINVAL. */
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_GROUP, NULL), -EINVAL);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE | 0x8, NULL),
		-EINVAL);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE | 0x80000000u, NULL),
		-EINVAL);
	CK_CODE(esrc_stat(&c, NAME("a"), NULL), -ENOENT);
	ck_assert_uint_eq(c.fds_passed, 0);

	a = open_ok(&c, "a", ESP_OPEN_CREATE);
	ck_assert_uint_eq(a.created, 1);
	ck_assert_uint_lt(a.index, c.hello.max_slots);
	ck_assert_msg(ESD_GEN_LIVE(a.gen), "gen %u must be odd", a.gen);
	base = map_chunk(&c, a.index, PROT_READ);
	ck_assert_uint_eq(slot_word(base, a.index), ESD_WORD(a.gen, 0));

	a2 = open_ok(&c, "a", ESP_OPEN_CREATE);
	ck_assert_uint_eq(a2.created, 0);
	ck_assert_uint_eq(a2.index, a.index);
	ck_assert_uint_eq(a2.gen, a.gen);
	a3 = open_ok(&c, "a", 0);
	ck_assert_uint_eq(a3.created, 0);
	ck_assert_uint_eq(a3.index, a.index);
	ck_assert_uint_eq(a3.gen, a.gen);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_CREATE | ESP_OPEN_EXCL,
			  NULL), -EEXIST);
	CK_CODE(esrc_open(&c, NAME("a"), ESP_OPEN_EXCL, NULL), -EINVAL);

	b = open_ok(&c, "b", ESP_OPEN_CREATE | ESP_OPEN_EXCL);
	ck_assert_uint_eq(b.created, 1);
	ck_assert_uint_ne(b.index, a.index);
	ck_assert_msg(ESD_GEN_LIVE(b.gen), "gen %u must be odd", b.gen);

	/* Three successful opens of a, none counted for the failures. */
	ck_assert_uint_eq(stat_ok(&c, "a").holders, 3);
	ck_assert_uint_eq(stat_ok(&c, "b").holders, 1);
	ck_assert_uint_eq(status_ok(&c).slots_used, 2);
	unmap_chunk(base);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_names_valid_and_invalid)
{
	static const unsigned char bad[] = {
		' ', '\0', '\t', '\n', '\r', '!', '"', '#', '$', '%', '&',
		'\'', '(', ')', '*', '+', ',', ';', '<', '=', '>', '?', '[',
		'\\', ']', '^', '`', '{', '|', '}', '~', 0x01, 0x7f, 0x80,
		0xc3, 0xff,
	};
	static const size_t bad_len[] = { 0, ESD_NAME_MAX + 1, 1000,
					  UINT32_MAX };
	static char buf[ESP_MAX_MSG];
	struct esdt_daemon d;
	struct esrc c;
	struct esp_slot_info info;
	struct esp_name_req req;
	char name[ESD_NAME_MAX + 8];
	uint32_t good = 0;
	size_t len;

	start_daemon(&d, 16, NULL);
	conn(&c, &d);

	/* 1 byte, 128 bytes, and every allowed character class. */
	open_ok(&c, "x", ESP_OPEN_CREATE);
	good++;
	for (size_t i = 0; i < sizeof(name); i++)
		name[i] = "abcXYZ059._:/@-"[i % 15];
	CK_CODE(esrc_open(&c, name, ESD_NAME_MAX, ESP_OPEN_CREATE, NULL), 0);
	good++;
	CK_CODE(esrc_stat(&c, name, ESD_NAME_MAX, &info), 0);
	ck_assert_uint_eq(info.name_len, ESD_NAME_MAX);
	ck_assert_int_eq(memcmp(info.name, name, ESD_NAME_MAX), 0);
	open_ok(&c, "azAZ09._:/@-", ESP_OPEN_CREATE);
	open_ok(&c, "@", ESP_OPEN_CREATE);
	open_ok(&c, "/", ESP_OPEN_CREATE);
	open_ok(&c, "..", ESP_OPEN_CREATE);
	good += 4;

	/* Lengths 0, 129 and beyond: -EINVAL for every op that takes a name. */
	for (size_t k = 0; k < sizeof(bad_len) / sizeof(bad_len[0]); k++) {
		len = bad_len[k];
		CK_CODE(esrc_open(&c, name, len, ESP_OPEN_CREATE, NULL),
			-EINVAL);
		CK_CODE(esrc_open(&c, name, len, 0, NULL), -EINVAL);
		CK_CODE(esrc_stat(&c, name, len, NULL), -EINVAL);
		CK_CODE(esrc_unlink(&c, name, len), -EINVAL);
		CK_CODE(esrc_reattach(&c, 0, 1, name, len, NULL), -EINVAL);
	}

	/* Each byte outside [A-Za-z0-9._:/@-], at the start, middle, end. */
	for (size_t k = 0; k < sizeof(bad); k++)
		for (int pos = 0; pos < 5; pos += 2) {
			char n[5] = { 'a', 'b', 'c', 'd', 'e' };

			n[pos] = (char)bad[k];
			ck_assert_msg(esrc_open(&c, n, 5, ESP_OPEN_CREATE,
						NULL) == -EINVAL,
				      "byte 0x%02x at %d accepted", bad[k], pos);
			CK_CODE(esrc_stat(&c, n, 5, NULL), -EINVAL);
			CK_CODE(esrc_unlink(&c, n, 5), -EINVAL);
		}

	/* Bytes of the name field past name_len are ignored. */
	memset(&req, '!', sizeof(req));
	req.flags = ESP_OPEN_CREATE;
	req.name_len = 3;
	memcpy(req.name, "abc", 3);
	CK_CODE(esrc_request(&c, ESP_OP_OPEN, &req, sizeof(req), buf,
			     sizeof(buf), &len, NULL), 0);
	ck_assert_uint_eq(len, sizeof(struct esp_open_rep));
	good++;
	info = stat_ok(&c, "abc");
	ck_assert_uint_eq(info.name_len, 3);

	ck_assert_uint_eq(status_ok(&c).slots_used, good);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_stat_and_status_report)
{
	struct esdt_daemon d;
	struct esrc c, c2;
	struct esp_slot_info info;
	struct esp_status_rep st, st2;
	struct esp_name_req req = { .flags = 1, .name_len = 1, .name = "s" };
	struct esp_open_rep o;
	struct esd_slot *slot;
	struct timespec ts;
	char buf[512];
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	o = open_ok(&c, "s", ESP_OPEN_CREATE);
	base = map_chunk(&c, o.index, PROT_READ | PROT_WRITE);
	info = stat_ok(&c, "s");
	ck_assert_uint_eq(info.index, o.index);
	ck_assert_uint_eq(info.gen, o.gen);
	ck_assert_uint_eq(info.creator_uid, geteuid());
	ck_assert_uint_eq(info.holders, 1);
	ck_assert_uint_eq(info.writer_gid, ESD_NO_GID);
	ck_assert_uint_eq(info.flags, ESP_INFO_WRITABLE);
	clock_gettime(CLOCK_REALTIME, &ts);
	ck_assert_uint_ne(info.created_ns, 0);
	ck_assert_uint_le(info.created_ns,
			  (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec);
	ck_assert_uint_eq(info.word, ESD_WORD(o.gen, 0));
	ck_assert_uint_eq(info.sets_total, 0);
	ck_assert_uint_eq(info.last_set_ns, 0);
	ck_assert_int_eq(info.last_pid, 0);
	ck_assert_uint_eq(info.name_len, 1);
	ck_assert_int_eq(info.name[0], 's');

	/* What producers wrote in the segment is reported, and STAT has no
	 * side effect on the word (no SEEN set). */
	slot = chunk_slot(base, o.index);
	__atomic_store_n(&slot->word, ESD_WORD(o.gen, 5), __ATOMIC_SEQ_CST);
	__atomic_store_n(&slot->sets_total, 3, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_set_ns, 12345, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->last_pid, 4321, __ATOMIC_RELAXED);
	info = stat_ok(&c, "s");
	ck_assert_uint_eq(info.word, ESD_WORD(o.gen, 5));
	ck_assert_uint_eq(info.sets_total, 3);
	ck_assert_uint_eq(info.last_set_ns, 12345);
	ck_assert_int_eq(info.last_pid, 4321);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, 5));

	CK_CODE(esrc_stat(&c, NAME("nope"), NULL), -ENOENT);
	/* STAT takes no flags. */
	CK_CODE(esrc_request(&c, ESP_OP_STAT, &req, sizeof(req), buf,
			     sizeof(buf), NULL, NULL), -EINVAL);

	st = status_ok(&c);
	ck_assert_int_eq((pid_t)st.pid, d.pid);
	/* --slots 8 is the live maximum; the index space is larger (every
	 * writer domain has chunks of its own); memory in use is one
	 * chunk. */
	ck_assert_uint_eq(st.slot_count, 8);
	ck_assert_uint_eq(c.hello.max_slots, esd_index_capacity(8));
	ck_assert_uint_eq(st.slots_used, 1);
	ck_assert_uint_eq(st.slots_held, 0);
	ck_assert_uint_eq(st.clients, 1);
	ck_assert_uint_eq(st.max_clients, 4096);
	ck_assert_uint_eq(st.incarnation, c.hello.incarnation);
	ck_assert_uint_eq(st.chunks, 1);
	ck_assert_uint_eq(st.chunk_slots, ESD_CHUNK_SLOTS);
	ck_assert_uint_eq(st.seg_size, ESD_CHUNK_BYTES);
	/* Per-uid figures of the asking uid, and the default limits. */
	ck_assert_uint_eq(st.uid_slots, 1);
	ck_assert_uint_eq(st.uid_clients, 1);
	ck_assert_uint_eq(st.uid_holds, 1);
	ck_assert_uint_eq(st.max_uid_slots, 8 / 4);
	ck_assert_uint_eq(st.max_uid_clients, 256);
	ck_assert_uint_eq(st.max_uid_holds, 65536);
	ck_assert_uint_ne(st.start_ns, 0);
	ck_assert_msg(memchr(st.version, '\0', sizeof(st.version)) != NULL,
		      "version not NUL-terminated");
	ck_assert_str_eq(st.version, PACKAGE_VERSION);

	conn(&c2, &d);
	ck_assert_uint_eq(wait_clients(&c, 2), 2);
	st2 = status_ok(&c2);
	ck_assert_uint_ge(st2.uptime_ns, st.uptime_ns);
	ck_assert_uint_eq(st2.start_ns, st.start_ns);
	ck_assert_uint_eq(st2.uid_clients, 2);
	unmap_chunk(base);
	esrc_fini(&c);
	esrc_fini(&c2);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- CLOSE, UNLINK, holds, reuse ------------------------------------- */

START_TEST(daemon_close_releases_holds)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep x, y;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	x = open_ok(&a, "x", ESP_OPEN_CREATE);
	open_ok(&a, "x", 0);
	y = open_ok(&b, "y", ESP_OPEN_CREATE);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 2);
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 1);
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "x").holders, 0);
	/* No hold left on this connection. */
	CK_CODE(esrc_close_slot(&a, x.index, x.gen), -EBADF);
	/* A slot only another connection holds. */
	CK_CODE(esrc_close_slot(&a, y.index, y.gen), -EBADF);
	ck_assert_uint_eq(stat_ok(&a, "y").holders, 1);
	/* Indexes never used, in no chunk, or beyond the maximum. */
	CK_CODE(esrc_close_slot(&a, 7, 1), -EBADF);
	CK_CODE(esrc_close_slot(&a, ESD_CHUNK_SLOTS - 1, 1), -EBADF);
	CK_CODE(esrc_close_slot(&a, ESD_CHUNK_SLOTS, 1), -EBADF);
	CK_CODE(esrc_close_slot(&a, UINT32_MAX, 1), -EBADF);
	/* The slot stays; b's hold is unaffected and releasable. */
	stat_ok(&a, "x");
	CK_CODE(esrc_close_slot(&b, y.index, y.gen), 0);
	ck_assert_uint_eq(stat_ok(&a, "y").holders, 0);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_unlink_invalidates_slot)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_open_rep x, y;
	struct esp_status_rep st;
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&c, &d);
	x = open_ok(&c, "x", ESP_OPEN_CREATE);
	base = map_chunk(&c, x.index, PROT_READ | PROT_WRITE);
	__atomic_store_n(&chunk_slot(base, x.index)->word,
			 ESD_WORD(x.gen, 5), __ATOMIC_SEQ_CST);
	CK_CODE(esrc_unlink(&c, NAME("x")), 0);
	/* Generation to even, value complemented (wakes futex sleepers). */
	ck_assert_uint_eq(slot_word(base, x.index),
			  ESD_WORD(x.gen + 1, ~(uint32_t)5));
	CK_CODE(esrc_stat(&c, NAME("x"), NULL), -ENOENT);
	CK_CODE(esrc_unlink(&c, NAME("x")), -ENOENT);
	CK_CODE(esrc_open(&c, NAME("x"), 0, NULL), -ENOENT);
	CK_CODE(esrc_reattach(&c, x.index, x.gen, NAME("x"), NULL), -ESTALE);
	st = status_ok(&c);
	ck_assert_uint_eq(st.slots_used, 0);
	ck_assert_uint_eq(st.slots_held, 1);
	/* The hold on the deleted slot is released with its old identity. */
	CK_CODE(esrc_close_slot(&c, x.index, x.gen), 0);
	ck_assert_uint_eq(status_ok(&c).slots_held, 0);
	CK_CODE(esrc_close_slot(&c, x.index, x.gen), -EBADF);
	CK_CODE(esrc_unlink(&c, NAME("never")), -ENOENT);
	CK_CODE(esrc_unlink(&c, NAME("bad name")), -EINVAL);

	/* Re-created: a new generation, value reset. */
	y = open_ok(&c, "x", ESP_OPEN_CREATE);
	ck_assert_uint_eq(y.created, 1);
	ck_assert_msg(ESD_GEN_LIVE(y.gen), "gen %u must be odd", y.gen);
	ck_assert_msg(y.index != x.index || y.gen == x.gen + 2,
		      "index %u reused with gen %u after gen %u", y.index,
		      y.gen, x.gen);
	ck_assert_uint_eq(ESD_INDEX_CHUNK(y.index), ESD_INDEX_CHUNK(x.index));
	ck_assert_uint_eq(slot_word(base, y.index), ESD_WORD(y.gen, 0));
	unmap_chunk(base);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_reattach)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep r, o;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	r = open_ok(&a, "r", ESP_OPEN_CREATE);
	open_ok(&a, "s", ESP_OPEN_CREATE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("r"), &o), 0);
	ck_assert_uint_eq(o.index, r.index);
	ck_assert_uint_eq(o.gen, r.gen);
	ck_assert_uint_eq(o.created, 0);
	/* REATTACH never passes an fd (esrc_reattach refuses one), even on a
	 * connection that was never given the chunk. */
	ck_assert_uint_eq(o.flags, ESP_RIGHT_WRITE);
	ck_assert_uint_eq(b.fds_passed, 0);
	ck_assert_uint_eq(stat_ok(&a, "r").holders, 2);

	CK_CODE(esrc_reattach(&b, r.index, r.gen + 2, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen + 1, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("q"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("rr"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("s"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, 999, r.gen, NAME("r"), NULL), -ESTALE);
	CK_CODE(esrc_reattach(&b, ESD_CHUNK_SLOTS, r.gen, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, UINT32_MAX, r.gen, NAME("r"), NULL),
		-ESTALE);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("bad name"), NULL),
		-EINVAL);
	ck_assert_uint_eq(stat_ok(&a, "r").holders, 2);

	CK_CODE(esrc_unlink(&a, NAME("r")), 0);
	CK_CODE(esrc_reattach(&b, r.index, r.gen, NAME("r"), NULL), -ESTALE);
	/* The reattached hold is a hold like any other. */
	CK_CODE(esrc_close_slot(&b, r.index, r.gen), 0);
	CK_CODE(esrc_close_slot(&b, r.index, r.gen), -EBADF);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

START_TEST(daemon_list_pages)
{
	struct esdt_daemon d;
	struct esrc c;
	struct esp_list_rep *lr = malloc(ESP_MAX_MSG);
	uint32_t pos, seen, last;
	char name[16];
	const uint32_t n = ESP_LIST_MAX + 44;

	ck_assert_ptr_nonnull(lr);
	start_daemon(&d, 512, NULL);
	conn(&c, &d);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "l%u", i);
		open_ok(&c, name, ESP_OPEN_CREATE);
	}
	CK_CODE(esrc_unlink(&c, NAME("l3")), 0);

	/* max 0 means ESP_LIST_MAX; pages continue at next. */
	CK_CODE(esrc_list(&c, 0, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, ESP_LIST_MAX);
	ck_assert_uint_ne(lr->next, ESP_LIST_END);
	CK_CODE(esrc_list(&c, 0, 100000, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, ESP_LIST_MAX);

	/* Small pages: every live slot exactly once, in index order. */
	pos = 0;
	seen = 0;
	last = 0;
	do {
		CK_CODE(esrc_list(&c, pos, 7, lr, ESP_MAX_MSG), 0);
		ck_assert_uint_le(lr->count, 7);
		for (uint32_t i = 0; i < lr->count; i++) {
			const struct esp_slot_info *e = &lr->entries[i];

			ck_assert_uint_ge(e->index, pos);
			if (seen)
				ck_assert_uint_gt(e->index, last);
			last = e->index;
			ck_assert_msg(ESD_GEN_LIVE(e->gen), "dead slot listed");
			ck_assert_uint_eq(e->holders, 1);
			ck_assert_uint_eq(ESD_WORD_GEN(e->word), e->gen);
			ck_assert_msg(!(e->name_len == 2 &&
					!memcmp(e->name, "l3", 2)),
				      "deleted slot listed");
			seen++;
		}
		ck_assert_msg(lr->next == ESP_LIST_END || lr->next > pos,
			      "next %u does not advance from %u", lr->next, pos);
		pos = lr->next;
	} while (pos != ESP_LIST_END);
	ck_assert_uint_eq(seen, n - 1);

	/* Past the end (of the one chunk in use; --slots 512 is one). */
	CK_CODE(esrc_list(&c, ESD_CHUNK_SLOTS, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 0);
	ck_assert_uint_eq(lr->next, ESP_LIST_END);
	CK_CODE(esrc_list(&c, UINT32_MAX - 1, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 0);
	ck_assert_uint_eq(lr->next, ESP_LIST_END);
	free(lr);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * A sparse store: 8 chunks filled, then most slots deleted so that whole
 * chunks are empty and the others keep a few slots at word and chunk
 * edges.  LIST (which skips empty chunks and walks a bitmap of live
 * entries) must return exactly the live slots, in index order, with the
 * same cursor as a plain scan: a full page's next is the index after its
 * last entry (ESP_LIST_END when that is the end of the chunks in use), a
 * short page's is ESP_LIST_END.  The same after a restart, which rebuilds
 * the bitmap from the registry.
 */
#define SPARSE_CHUNKS	8u
#define SPARSE_SLOTS	(SPARSE_CHUNKS * ESD_CHUNK_SLOTS)

static bool sparse_keep(uint32_t index)
{
	uint32_t c = index / ESD_CHUNK_SLOTS, pos = index % ESD_CHUNK_SLOTS;

	switch (c) {
	case 0:
		return pos == 0 || pos == ESD_CHUNK_SLOTS - 1;
	case 2:
		return pos == 500;
	case 4:
		return pos == 63 || pos == 64 || pos == 127 || pos == 128;
	case 6:
		return pos % 97 == 0;
	case 7:
		return pos == ESD_CHUNK_SLOTS - 1;
	default:
		return false;	/* 1, 3 and 5: empty */
	}
}

/* Walk the whole list in pages of @max from @start; check it is exactly
 * the slots of @names (index -> name, "" if not live) at or after @start. */
static void check_sparse_list(struct esrc *c, struct esp_list_rep *lr,
			      char (*names)[16], uint32_t start, uint32_t max)
{
	uint32_t pos = start, want = start, page = max ? max : ESP_LIST_MAX;

	do {
		CK_CODE(esrc_list(c, pos, max, lr, ESP_MAX_MSG), 0);
		ck_assert_uint_le(lr->count, page);
		for (uint32_t i = 0; i < lr->count; i++) {
			const struct esp_slot_info *e = &lr->entries[i];

			while (want < SPARSE_SLOTS && !names[want][0])
				want++;
			ck_assert_msg(e->index == want, "page from %u of %u: "
				      "entry %u is slot %u, expected %u", pos,
				      max, i, e->index, want);
			ck_assert_uint_eq(e->name_len, strlen(names[want]));
			ck_assert_int_eq(memcmp(e->name, names[want],
						e->name_len), 0);
			ck_assert_msg(ESD_GEN_LIVE(e->gen), "dead slot listed");
			want++;
		}
		if (lr->count == page && lr->entries[page - 1].index + 1 <
					 SPARSE_SLOTS)
			ck_assert_uint_eq(lr->next,
					  lr->entries[page - 1].index + 1);
		else
			ck_assert_uint_eq(lr->next, ESP_LIST_END);
		pos = lr->next;
	} while (pos != ESP_LIST_END);
	while (want < SPARSE_SLOTS && !names[want][0])
		want++;
	ck_assert_msg(want == SPARSE_SLOTS, "slot %u (%s) was not listed",
		      want, want < SPARSE_SLOTS ? names[want] : "");
}

static void check_sparse_all(struct esrc *c, struct esp_list_rep *lr,
			     char (*names)[16])
{
	static const uint32_t pages[] = { 1, 2, 3, 7, 64, 0 };
	static const uint32_t starts[] = {
		0, 1, ESD_CHUNK_SLOTS - 1, ESD_CHUNK_SLOTS + 5,
		4 * ESD_CHUNK_SLOTS + 64, 4 * ESD_CHUNK_SLOTS + 65,
		6 * ESD_CHUNK_SLOTS + 1, SPARSE_SLOTS - 1,
	};

	for (size_t p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
		check_sparse_list(c, lr, names, 0, pages[p]);
	for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		check_sparse_list(c, lr, names, starts[k], 2);
		check_sparse_list(c, lr, names, starts[k], 0);
	}
	/* at and past the end of the chunks in use */
	CK_CODE(esrc_list(c, SPARSE_SLOTS, 0, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 0);
	ck_assert_uint_eq(lr->next, ESP_LIST_END);
	/* from the start of an empty chunk, one entry: the next live slot
	 * is a chunk further on, and next is just after it */
	CK_CODE(esrc_list(c, 3 * ESD_CHUNK_SLOTS, 1, lr, ESP_MAX_MSG), 0);
	ck_assert_uint_eq(lr->count, 1);
	ck_assert_uint_eq(lr->entries[0].index, 4 * ESD_CHUNK_SLOTS + 63);
	ck_assert_uint_eq(lr->next, 4 * ESD_CHUNK_SLOTS + 64);
}

START_TEST(daemon_list_sparse)
{
	static char names[SPARSE_SLOTS][16];
	struct esdt_daemon d;
	struct esrc c;
	struct esp_list_rep *lr = malloc(ESP_MAX_MSG);
	struct esp_open_rep zombie = { 0 };
	uint32_t kept = 0;
	char name[16];
	int st;

	ck_assert_ptr_nonnull(lr);
	memset(names, 0, sizeof(names));
	start_daemon(&d, SPARSE_SLOTS, NULL);
	conn(&c, &d);
	for (uint32_t i = 0; i < SPARSE_SLOTS; i++) {
		struct esp_open_rep r;

		snprintf(name, sizeof(name), "sp%u", i);
		r = open_ok(&c, name, ESP_OPEN_CREATE);
		ck_assert_uint_lt(r.index, SPARSE_SLOTS);
		ck_assert_msg(!names[r.index][0], "index %u twice", r.index);
		memcpy(names[r.index], name, strlen(name) + 1);
		if (r.index == 3 * ESD_CHUNK_SLOTS + 7)
			zombie = r;	/* stays held while deleted */
		else
			CK_CODE(esrc_close_slot(&c, r.index, r.gen), 0);
	}
	ck_assert_uint_eq(zombie.index, 3 * ESD_CHUNK_SLOTS + 7);
	/* the full store first: every slot, pages from 0 */
	check_sparse_list(&c, lr, names, 0, 0);
	for (uint32_t i = 0; i < SPARSE_SLOTS; i++) {
		if (sparse_keep(i)) {
			kept++;
			continue;
		}
		CK_CODE(esrc_unlink(&c, NAME(names[i])), 0);
		names[i][0] = '\0';
	}
	ck_assert_uint_eq(status_ok(&c).slots_used, kept);
	ck_assert_uint_eq(status_ok(&c).slots_held, 1);	/* the zombie */
	check_sparse_all(&c, lr, names);

	/* the bitmap is rebuilt at start from the registry */
	esrc_fini(&c);
	st = esdt_daemon_stop(&d, SIGKILL);
	ck_assert_msg(WIFSIGNALED(st), "status %d", st);
	restart_daemon(&d, NULL);
	conn(&c, &d);
	ck_assert_uint_eq(status_ok(&c).slots_used, kept);
	check_sparse_all(&c, lr, names);
	free(lr);
	esrc_fini(&c);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- SEEN and ARM (protocol 2) -------------------------------------- */

START_TEST(daemon_seen_marks_once)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep o;
	const uint32_t v = (1u << 13) | 5;	/* a set value: EIO, counter 1 */
	const uint32_t seen = 1u << 12;
	void *base;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	o = open_ok(&a, "s", ESP_OPEN_CREATE);
	base = map_chunk(&a, o.index, PROT_READ | PROT_WRITE);
	__atomic_store_n(&chunk_slot(base, o.index)->word, ESD_WORD(o.gen, v),
			 __ATOMIC_SEQ_CST);
	/* No hold on this connection. */
	CK_CODE(esrc_seen(&b, o.index, o.gen, v), -EBADF);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, v));
	/* Another generation. */
	CK_CODE(esrc_seen(&a, o.index, o.gen + 2, v), -ESTALE);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, v));
	/* The CAS (gen, v) -> (gen, v | SEEN). */
	CK_CODE(esrc_seen(&a, o.index, o.gen, v), 0);
	ck_assert_uint_eq(slot_word(base, o.index), ESD_WORD(o.gen, v | seen));
	/* A CAS that fails (the word moved on) is still a success and
	 * changes nothing. */
	__atomic_store_n(&chunk_slot(base, o.index)->word,
			 ESD_WORD(o.gen, (2u << 13) | 5), __ATOMIC_SEQ_CST);
	CK_CODE(esrc_seen(&a, o.index, o.gen, v), 0);
	ck_assert_uint_eq(slot_word(base, o.index),
			  ESD_WORD(o.gen, (2u << 13) | 5));
	/* After a delete: stale. */
	CK_CODE(esrc_unlink(&a, NAME("s")), 0);
	CK_CODE(esrc_seen(&a, o.index, o.gen, (2u << 13) | 5), -ESTALE);
	unmap_chunk(base);
	esrc_fini(&a);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

/*
 * ARM: `waiters` is the daemon's count of armed connections, stored before
 * the reply; it follows arms, disarms, the last CLOSE of a hold and the
 * end of a connection.
 */
START_TEST(daemon_arm_counts_connections)
{
	struct esdt_daemon d;
	struct esrc a, b;
	struct esp_open_rep o, ob;
	const struct esd_slot *slot;
	void *base;
	int i;

	start_daemon(&d, 8, NULL);
	conn(&a, &d);
	conn(&b, &d);
	o = open_ok(&a, "w", ESP_OPEN_CREATE);
	base = map_chunk(&a, o.index, PROT_READ);
	slot = chunk_slot(base, o.index);
	ck_assert_uint_eq(slot->waiters, 0);
	CK_CODE(esrc_arm(&b, o.index, o.gen, 1), -EBADF);
	CK_CODE(esrc_arm(&a, o.index, o.gen, 2), -EINVAL);
	CK_CODE(esrc_arm(&a, o.index, o.gen + 2, 1), -ESTALE);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  0);
	CK_CODE(esrc_arm(&a, o.index, o.gen, 1), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  1);
	/* Idempotent per connection. */
	CK_CODE(esrc_arm(&a, o.index, o.gen, 1), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  1);
	ob = open_ok(&b, "w", 0);
	CK_CODE(esrc_arm(&b, ob.index, ob.gen, 1), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  2);
	/* Disarm. */
	CK_CODE(esrc_arm(&b, ob.index, ob.gen, 0), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  1);
	CK_CODE(esrc_arm(&b, ob.index, ob.gen, 1), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  2);
	/* The last hold's CLOSE disarms. */
	CK_CODE(esrc_close_slot(&b, ob.index, ob.gen), 0);
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  1);
	/* So does the connection's end (asynchronously). */
	esrc_fini(&a);
	for (i = 0; i < WAIT_MS / 10; i++) {
		if (__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST) == 0)
			break;
		sleep_ms(10);
	}
	ck_assert_uint_eq(__atomic_load_n(&slot->waiters, __ATOMIC_SEQ_CST),
			  0);
	unmap_chunk(base);
	esrc_fini(&b);
	esdt_daemon_cleanup(&d);
}
END_TEST

/* ---- suite ----------------------------------------------------------- */

static Suite *daemon_protocol_suite(void)
{
	Suite *s = suite_create("daemon_protocol");
	TCase *tc;

	tc = tcase(s, "protocol");
	tcase_add_test(tc, daemon_hello_reply_and_chunk_fds);
	tcase_add_test(tc, daemon_hello_version_negotiation);
	tcase_add_test(tc, daemon_op_before_hello_is_eproto);
	tcase_add_test(tc, daemon_open_create_excl);
	tcase_add_test(tc, daemon_names_valid_and_invalid);
	tcase_add_test(tc, daemon_stat_and_status_report);
	tcase_add_test(tc, daemon_close_releases_holds);
	tcase_add_test(tc, daemon_unlink_invalidates_slot);
	tcase_add_test(tc, daemon_reattach);
	tcase_add_test(tc, daemon_list_pages);
	tcase_add_test(tc, daemon_list_sparse);
	tcase_add_test(tc, daemon_seen_marks_once);
	tcase_add_test(tc, daemon_arm_counts_connections);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* Log records must use the terminal format, not the journal's. */
	unsetenv("JOURNAL_STREAM");
	sr = srunner_create(daemon_protocol_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
