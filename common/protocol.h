/*
 * protocol.h - the errseqd control protocol, version 1 (internal ABI).
 *
 * Transport: a SOCK_SEQPACKET Unix socket.  One message is one packet; the
 * packet length is the message length, and every message has the exact size
 * of its struct below (struct esp_list_rep carries a counted array).  All
 * integers are in host byte order: the socket never leaves the machine.
 * doc/protocol.md is the prose form of this file.
 *
 * A connection starts with HELLO.  The reply carries the geometry and the
 * incarnation of the data segment and passes its fd with SCM_RIGHTS; after
 * that the client maps the slots itself and the daemon is never on the data
 * path.  Requests are answered in order, one reply per request, echoing the
 * request's seq.  A reply whose hdr.status is negative is a struct
 * esp_err_rep: a negative errno and a short message.
 *
 * The daemon closes the connection on: a packet shorter than esp_hdr, a bad
 * magic, a truncated (MSG_TRUNC) packet, or a peer that does not read its
 * replies (the send would block).  Every other bad request gets an error
 * reply and the connection stays usable.
 */
#ifndef ERRSEQ_COMMON_PROTOCOL_H
#define ERRSEQ_COMMON_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/shm_layout.h"

#define ESP_MAGIC		0x50515345u	/* "ESQP" little-endian */
#define ESP_VERSION		1u
#define ESP_MAX_MSG		65536u	/* largest packet either side sends */
#define ESP_ERRMSG_MAX		120u

enum esp_op {
	ESP_OP_HELLO = 1,	/* esp_hello_req -> esp_hello_rep + fd */
	ESP_OP_OPEN = 2,	/* esp_name_req (flags) -> esp_open_rep */
	ESP_OP_CLOSE = 3,	/* esp_slot_req -> esp_hdr */
	ESP_OP_UNLINK = 4,	/* esp_name_req -> esp_hdr */
	ESP_OP_STAT = 5,	/* esp_name_req -> esp_stat_rep */
	ESP_OP_LIST = 6,	/* esp_list_req -> esp_list_rep */
	ESP_OP_STATUS = 7,	/* esp_hdr -> esp_status_rep */
	ESP_OP_REATTACH = 8,	/* esp_reattach_req -> esp_open_rep */
	ESP_OP_MAX_ = 9,
};

/* Flags of ESP_OP_OPEN; the same values as ERRSEQ_CREATE / ERRSEQ_EXCL. */
#define ESP_OPEN_CREATE		0x1u
#define ESP_OPEN_EXCL		0x2u

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
	struct esp_hdr hdr;	/* + SCM_RIGHTS: one fd, the data segment */
	uint32_t version;	/* the protocol version chosen */
	uint32_t layout_version;	/* ESD_LAYOUT_VERSION */
	uint32_t slot_count;
	uint32_t slot_stride;
	uint32_t header_size;
	uint32_t daemon_pid;
	uint64_t incarnation;
	uint64_t seg_size;	/* bytes to map */
};

/* OPEN, UNLINK and STAT name a slot. */
struct esp_name_req {
	struct esp_hdr hdr;
	uint32_t flags;		/* OPEN: ESP_OPEN_*; others: 0 */
	uint32_t name_len;	/* 1..ESD_NAME_MAX, else -EINVAL */
	char name[ESD_NAME_MAX];	/* name_len bytes used, rest ignored */
};

struct esp_open_rep {
	struct esp_hdr hdr;
	uint32_t index;		/* slot index in the data segment */
	uint32_t gen;		/* the generation handles must carry */
	uint32_t created;	/* 1 if this call created the slot */
	uint32_t reserved;
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

/* One slot as STAT and LIST report it; values read with no side effect. */
struct esp_slot_info {
	uint32_t index;
	uint32_t gen;
	uint32_t creator_uid;
	uint32_t holders;	/* handles open on it, over all connections */
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
	uint32_t slot_count;	/* capacity */
	uint32_t slots_used;	/* live slots */
	uint32_t slots_held;	/* deleted slots still held open */
	uint32_t clients;	/* connections now */
	uint32_t max_clients;
	uint64_t start_ns;	/* CLOCK_REALTIME the daemon started */
	uint64_t uptime_ns;	/* CLOCK_MONOTONIC since start */
	uint64_t incarnation;
	uint64_t seg_size;
	char version[ESP_VERSION_STR_MAX];	/* PACKAGE_VERSION, NUL-terminated */
};

_Static_assert(sizeof(struct esp_hdr) == 16, "hdr");
_Static_assert(sizeof(struct esp_err_rep) == 140, "err");
_Static_assert(sizeof(struct esp_hello_req) == 24, "hello req");
_Static_assert(sizeof(struct esp_hello_rep) == 56, "hello rep");
_Static_assert(sizeof(struct esp_name_req) == 152, "name req");
_Static_assert(sizeof(struct esp_open_rep) == 32, "open rep");
_Static_assert(sizeof(struct esp_slot_req) == 24, "slot req");
_Static_assert(sizeof(struct esp_reattach_req) == 160, "reattach req");
_Static_assert(sizeof(struct esp_slot_info) == 184, "slot info");
_Static_assert(offsetof(struct esp_slot_info, name) == 56, "info name");
_Static_assert(sizeof(struct esp_list_req) == 24, "list req");
_Static_assert(sizeof(struct esp_list_rep) == 24, "list rep");
_Static_assert(sizeof(struct esp_status_rep) == 104, "status rep");
_Static_assert(ESP_LIST_MAX >= 300, "list page");

#endif /* ERRSEQ_COMMON_PROTOCOL_H */
