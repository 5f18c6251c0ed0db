/*
 * protocol.h - the errseqd control protocol, version 2 (internal ABI).
 *
 * Transport: a SOCK_SEQPACKET Unix socket.  One message is one packet; the
 * packet length is the message length, and every message has the exact size
 * of its struct below (struct esp_list_rep carries a counted array).  All
 * integers are in host byte order: the socket never leaves the machine.
 * doc/protocol.md is the prose form of this file.
 *
 * A connection starts with HELLO, which passes no fd.  OPEN and REATTACH
 * name a slot; the reply to the first OPEN of a slot in a chunk that this
 * connection has not been given yet carries that chunk's memfd
 * (SCM_RIGHTS): O_RDWR if the peer may write the chunk's domain, O_RDONLY
 * otherwise.  Each chunk is passed at most once per connection.  After that
 * the client maps the slots itself and the daemon is never on the data
 * path, except SEEN (a read-only watcher has the daemon mark a value seen)
 * and ARM (a watcher asks that setters wake it).  Requests are answered in
 * order, one reply per request, echoing the request's seq.  A reply whose
 * hdr.status is negative is a struct esp_err_rep: a negative errno and a
 * short message.
 *
 * The daemon closes the connection on: a packet shorter than esp_hdr, a bad
 * magic, a truncated (MSG_TRUNC) packet, a peer that does not read its
 * replies (the send would block), or no HELLO within the HELLO timeout.
 * Every other bad request gets an error reply and the connection stays
 * usable.
 */
#ifndef ERRSEQ_COMMON_PROTOCOL_H
#define ERRSEQ_COMMON_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/shm_layout.h"

#define ESP_MAGIC		0x50515345u	/* "ESQP" little-endian */
#define ESP_VERSION		2u
#define ESP_MAX_MSG		65536u	/* largest packet either side sends */
#define ESP_ERRMSG_MAX		120u

enum esp_op {
	ESP_OP_HELLO = 1,	/* esp_hello_req -> esp_hello_rep */
	ESP_OP_OPEN = 2,	/* esp_name_req -> esp_open_rep (+ chunk fd) */
	ESP_OP_CLOSE = 3,	/* esp_slot_req -> esp_hdr */
	ESP_OP_UNLINK = 4,	/* esp_name_req -> esp_hdr */
	ESP_OP_STAT = 5,	/* esp_name_req -> esp_stat_rep */
	ESP_OP_LIST = 6,	/* esp_list_req -> esp_list_rep */
	ESP_OP_STATUS = 7,	/* esp_hdr -> esp_status_rep */
	ESP_OP_REATTACH = 8,	/* esp_reattach_req -> esp_open_rep */
	ESP_OP_SEEN = 9,	/* esp_seen_req -> esp_hdr */
	ESP_OP_ARM = 10,	/* esp_arm_req -> esp_hdr */
	ESP_OP_MAX_ = 11,
};

/* Flags of ESP_OP_OPEN; the same values as ERRSEQ_CREATE / ERRSEQ_EXCL. */
#define ESP_OPEN_CREATE		0x1u
#define ESP_OPEN_EXCL		0x2u
#define ESP_OPEN_GROUP		0x4u	/* create: writers include group gid */

struct esp_hdr {
	uint32_t magic;		/* ESP_MAGIC */
	uint16_t version;	/* ESP_VERSION; else -EPROTONOSUPPORT */
	uint16_t op;		/* enum esp_op; a reply echoes it */
	uint32_t seq;		/* chosen by the client, echoed */
	int32_t status;		/* requests: 0; replies: 0 or -errno */
};

/* Any failed request: hdr.status < 0. */
struct esp_err_rep {
	struct esp_hdr hdr;
	uint32_t msg_len;	/* bytes of msg used, < ESP_ERRMSG_MAX */
	char msg[ESP_ERRMSG_MAX];	/* short reason, NUL-terminated */
};

struct esp_hello_req {
	struct esp_hdr hdr;
	uint32_t min_version;	/* oldest protocol the client speaks */
	uint32_t max_version;	/* newest protocol the client speaks */
};

struct esp_hello_rep {
	struct esp_hdr hdr;	/* no fd: chunks come with OPEN replies */
	uint32_t version;	/* the protocol version chosen */
	uint32_t layout_version;	/* ESD_LAYOUT_VERSION */
	uint32_t max_slots;	/* global indexes are below this */
	uint32_t chunk_slots;	/* ESD_CHUNK_SLOTS */
	uint32_t slot_stride;	/* sizeof(struct esd_slot) */
	uint32_t daemon_pid;
	uint32_t daemon_uid;	/* the daemon's euid (in every writer set) */
	uint32_t reserved;
	uint64_t incarnation;	/* of the daemon's state; new = all stale */
};

/* OPEN, UNLINK and STAT name a slot. */
struct esp_name_req {
	struct esp_hdr hdr;
	uint32_t flags;		/* OPEN: ESP_OPEN_*; others: 0 */
	uint32_t name_len;	/* 1..ESD_NAME_MAX, else -EINVAL */
	uint32_t gid;		/* OPEN with ESP_OPEN_GROUP: writer group */
	uint32_t reserved;
	char name[ESD_NAME_MAX];	/* name_len bytes used, rest ignored */
};

#define ESP_RIGHT_WRITE		0x1u	/* the peer may write the slot */
#define ESP_OPEN_FD		0x2u	/* this reply carries the chunk fd */

struct esp_open_rep {
	struct esp_hdr hdr;	/* + SCM_RIGHTS: the chunk, if ESP_OPEN_FD */
	uint32_t index;		/* global slot index */
	uint32_t gen;		/* the generation handles must carry */
	uint32_t created;	/* 1 if this call created the slot */
	uint32_t flags;		/* ESP_RIGHT_WRITE | ESP_OPEN_FD */
};

/* CLOSE: release one hold this connection has on a slot. */
struct esp_slot_req {
	struct esp_hdr hdr;
	uint32_t index;
	uint32_t gen;
};

/* REATTACH: after a reconnect, take a hold again on a slot that this
 * client had open.  -ESTALE if it is no longer (index, gen, name). */
struct esp_reattach_req {
	struct esp_hdr hdr;
	uint32_t index;
	uint32_t gen;
	uint32_t name_len;
	uint32_t reserved;
	char name[ESD_NAME_MAX];
};

/* SEEN: a read-only watcher observed @value (live gen @gen) on @index,
 * which it holds; the daemon CASes gen|value -> gen|(value | SEEN) once,
 * as errseq_check_and_advance would.  Success whatever the CAS found;
 * -EBADF if not held, -ESTALE if @gen is not the slot's, -EINVAL for a
 * value that is not a set value. */
struct esp_seen_req {
	struct esp_hdr hdr;
	uint32_t index;
	uint32_t gen;
	uint32_t value;
	uint32_t reserved;
};

/* ARM: @on = 1: setters of @index must wake this connection's sleepers
 * (the daemon counts it in the slot's waiters); 0: no longer.  Idempotent;
 * a connection's arms go with its last hold on the slot or its close. */
struct esp_arm_req {
	struct esp_hdr hdr;
	uint32_t index;
	uint32_t gen;
	uint32_t on;
	uint32_t reserved;
};

/* One slot as STAT and LIST report it; values read with no side effect. */
#define ESP_INFO_WRITABLE	0x1u	/* the asking peer may write it */
struct esp_slot_info {
	uint32_t index;
	uint32_t gen;
	uint32_t creator_uid;
	uint32_t holders;	/* handles open on it, over all connections */
	uint32_t writer_gid;	/* writer group, or ESD_NO_GID */
	uint32_t flags;		/* ESP_INFO_* */
	uint64_t created_ns;	/* CLOCK_REALTIME */
	uint64_t word;		/* the slot word: gen << 32 | errseq_t */
	uint64_t sets_total;
	uint64_t last_set_ns;	/* CLOCK_REALTIME_COARSE; 0 if never set */
	int32_t last_pid;	/* 0 if never set */
	uint32_t name_len;
	char name[ESD_NAME_MAX];
};

struct esp_stat_rep {
	struct esp_hdr hdr;
	struct esp_slot_info info;
};

/* LIST: live slots with index >= start, in index order, at most max. */
struct esp_list_req {
	struct esp_hdr hdr;
	uint32_t start;
	uint32_t max;		/* clamped to ESP_LIST_MAX; 0 means the max */
};

#define ESP_LIST_END		UINT32_MAX
struct esp_list_rep {
	struct esp_hdr hdr;
	uint32_t count;		/* entries that follow */
	uint32_t next;		/* start of the next page, or ESP_LIST_END */
	struct esp_slot_info entries[];
};

#define ESP_LIST_MAX \
	((ESP_MAX_MSG - sizeof(struct esp_list_rep)) / sizeof(struct esp_slot_info))

#define ESP_VERSION_STR_MAX	32u
struct esp_status_rep {
	struct esp_hdr hdr;
	uint32_t pid;
	uint32_t slot_count;	/* the global maximum */
	uint32_t slots_used;	/* live slots */
	uint32_t slots_held;	/* deleted slots still held open */
	uint32_t clients;	/* connections now */
	uint32_t max_clients;
	uint64_t start_ns;	/* CLOCK_REALTIME the daemon started */
	uint64_t uptime_ns;	/* CLOCK_MONOTONIC since start */
	uint64_t incarnation;
	uint64_t seg_size;	/* bytes of slot memory now (chunks * 64 KiB) */
	char version[ESP_VERSION_STR_MAX];	/* PACKAGE_VERSION, NUL-terminated */
	uint32_t chunks;	/* chunks in use */
	uint32_t chunk_slots;	/* ESD_CHUNK_SLOTS */
	uint32_t uid_slots;	/* live slots the asking uid created */
	uint32_t max_uid_slots;	/* its limit */
	uint32_t uid_clients;	/* the asking uid's connections */
	uint32_t max_uid_clients;
	uint32_t uid_holds;	/* the asking uid's holds */
	uint32_t max_uid_holds;
};

_Static_assert(sizeof(struct esp_hdr) == 16, "hdr");
_Static_assert(sizeof(struct esp_err_rep) == 140, "err");
_Static_assert(sizeof(struct esp_hello_req) == 24, "hello req");
_Static_assert(sizeof(struct esp_hello_rep) == 56, "hello rep");
_Static_assert(sizeof(struct esp_name_req) == 160, "name req");
_Static_assert(sizeof(struct esp_open_rep) == 32, "open rep");
_Static_assert(sizeof(struct esp_slot_req) == 24, "slot req");
_Static_assert(sizeof(struct esp_reattach_req) == 160, "reattach req");
_Static_assert(sizeof(struct esp_seen_req) == 32, "seen req");
_Static_assert(sizeof(struct esp_arm_req) == 32, "arm req");
_Static_assert(sizeof(struct esp_slot_info) == 192, "slot info");
_Static_assert(offsetof(struct esp_slot_info, name) == 64, "info name");
_Static_assert(sizeof(struct esp_list_req) == 24, "list req");
_Static_assert(sizeof(struct esp_list_rep) == 24, "list rep");
_Static_assert(sizeof(struct esp_status_rep) == 136, "status rep");
_Static_assert(ESP_LIST_MAX >= 300, "list page");

#endif /* ERRSEQ_COMMON_PROTOCOL_H */
