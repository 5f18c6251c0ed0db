/*
 * request.h - decode and validate one received protocol packet.
 *
 * A pure function of its input bytes: no I/O, no globals, no allocation.
 * It is the daemon's only parser of peer input and the libFuzzer target
 * (fuzz/), so everything a peer controls is checked here, and the server
 * then works on typed, validated fields only.
 */
#ifndef ERRSEQD_REQUEST_H
#define ERRSEQD_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/protocol.h"

/* esd_request_decode's answer for a packet that ends the connection. */
#define ESD_REQUEST_CLOSE	1

struct esd_request {
	uint16_t op;		/* enum esp_op as received (echoed in replies) */
	uint16_t version;	/* hdr.version as received */
	uint32_t seq;		/* hdr.seq as received (echoed in replies) */
	union {
		struct {	/* ESP_OP_HELLO */
			uint32_t min_version;
			uint32_t max_version;
		} hello;
		struct {	/* ESP_OP_OPEN, ESP_OP_UNLINK, ESP_OP_STAT */
			uint32_t flags;	/* OPEN: ESP_OPEN_*; else 0 */
			uint32_t gid;	/* OPEN with ESP_OPEN_GROUP */
			uint32_t name_len;	/* 1..ESD_NAME_MAX */
			char name[ESD_NAME_MAX + 1];	/* NUL-terminated */
		} name;
		struct {	/* ESP_OP_CLOSE */
			uint32_t index;
			uint32_t gen;
		} slot;
		struct {	/* ESP_OP_LIST */
			uint32_t start;
			uint32_t max;	/* clamped to 1..ESP_LIST_MAX */
		} list;
		struct {	/* ESP_OP_SEEN */
			uint32_t index;
			uint32_t gen;
			uint32_t value;
		} seen;
		struct {	/* ESP_OP_ARM */
			uint32_t index;
			uint32_t gen;
			uint32_t on;	/* 0 or 1 */
		} arm;
		struct {	/* ESP_OP_REATTACH */
			uint32_t index;
			uint32_t gen;
			uint32_t name_len;	/* 1..ESD_NAME_MAX */
			char name[ESD_NAME_MAX + 1];	/* NUL-terminated */
		} reattach;
	} u;
};

/*
 * esd_request_decode - decode the @len-byte packet at @buf into @out.
 *
 * Returns:
 *   0                   a valid request; @out is filled.
 *   ESD_REQUEST_CLOSE   the connection must be closed without a reply:
 *                       shorter than struct esp_hdr, or a bad magic.
 *   -errno              an invalid request that gets an error reply;
 *                       out->op and out->seq are filled for that reply:
 *     -EPROTONOSUPPORT  hdr.version != ESP_VERSION, or a HELLO whose
 *                       [min_version, max_version] excludes ESP_VERSION
 *     -EOPNOTSUPP       unknown op
 *     -EBADMSG          non-zero hdr.status, or a size other than the
 *                       op's exact struct size
 *     -EINVAL           a bad name (esd_name_check; name_len 0 or > 128),
 *                       unknown OPEN flags, EXCL or GROUP without CREATE,
 *                       non-zero flags on UNLINK / STAT, ARM's on not 0/1
 * In every case *@why (if @why is non-NULL) points to a short static
 * reason ("" on success).  Reserved fields are ignored.  Never reads
 * beyond @len bytes of @buf; @buf may be unaligned.
 */
int esd_request_decode(const void *buf, size_t len, struct esd_request *out,
		       const char **why);

#endif /* ERRSEQD_REQUEST_H */
