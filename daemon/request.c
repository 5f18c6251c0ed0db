/*
 * request.c - the protocol decoder (see request.h).  Checks run in a fixed
 * order, so that one bad packet always gets the same answer:
 *
 *   1. length >= sizeof(struct esp_hdr), else close
 *   2. magic == ESP_MAGIC, else close
 *   3. version == ESP_VERSION                  else -EPROTONOSUPPORT
 *   4. op known                                else -EOPNOTSUPP
 *   5. status == 0                             else -EBADMSG
 *   6. length == the op's struct size          else -EBADMSG
 *   7. the op's own fields (versions, names, flags)
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "common/common.h"
#include "daemon/log.h"
#include "daemon/request.h"


/* The exact packet size of each request op. */
static size_t request_size(uint16_t op)
{
	switch (op) {
	case ESP_OP_HELLO:
		return sizeof(struct esp_hello_req);
	case ESP_OP_OPEN:
	case ESP_OP_UNLINK:
	case ESP_OP_STAT:
		return sizeof(struct esp_name_req);
	case ESP_OP_CLOSE:
		return sizeof(struct esp_slot_req);
	case ESP_OP_LIST:
		return sizeof(struct esp_list_req);
	case ESP_OP_STATUS:
		return sizeof(struct esp_hdr);
	case ESP_OP_REATTACH:
		return sizeof(struct esp_reattach_req);
	case ESP_OP_SEEN:
		return sizeof(struct esp_seen_req);
	case ESP_OP_ARM:
		return sizeof(struct esp_arm_req);
	default:
		return 0;
	}
}

static int decode_name(const char *name, uint32_t name_len, char *dst,
		       const char **why)
{
	if (name_len < 1 || name_len > ESD_NAME_MAX)
		return esd_refuse(why, -EINVAL, "name length must be 1..128");
	if (esd_name_check(name, name_len) < 0)
		return esd_refuse(why, -EINVAL, "name has a byte outside [A-Za-z0-9._:/@-]");
	memcpy(dst, name, name_len);
	dst[name_len] = '\0';
	return 0;
}

int esd_request_decode(const void *buf, size_t len, struct esd_request *out,
		       const char **why)
{
	struct esp_hdr hdr;

	memset(out, 0, sizeof(*out));
	if (why)
		*why = "";
	if (!buf || len < sizeof(hdr))
		return esd_refuse(why, ESD_REQUEST_CLOSE, "packet shorter than its header");
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != ESP_MAGIC)
		return esd_refuse(why, ESD_REQUEST_CLOSE, "bad magic");
	out->op = hdr.op;
	out->version = hdr.version;
	out->seq = hdr.seq;
	if (hdr.version != ESP_VERSION)
		return esd_refuse(why, -EPROTONOSUPPORT, "unsupported protocol version");
	if (request_size(hdr.op) == 0)
		return esd_refuse(why, -EOPNOTSUPP, "unknown op");
	if (hdr.status != 0)
		return esd_refuse(why, -EBADMSG, "request with a non-zero status");
	if (len != request_size(hdr.op))
		return esd_refuse(why, -EBADMSG, "wrong message size for the op");

	switch (hdr.op) {
	case ESP_OP_HELLO: {
		struct esp_hello_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.hello.min_version = q.min_version;
		out->u.hello.max_version = q.max_version;
		if (q.min_version > ESP_VERSION || q.max_version < ESP_VERSION)
			return esd_refuse(why, -EPROTONOSUPPORT, "no common protocol version (the "
				      "daemon speaks 2)");
		return 0;
	}
	case ESP_OP_OPEN:
	case ESP_OP_UNLINK:
	case ESP_OP_STAT: {
		struct esp_name_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.name.flags = q.flags;
		out->u.name.name_len = q.name_len;
		out->u.name.gid = q.gid;
		if (hdr.op == ESP_OP_OPEN) {
			if ((q.flags & ESP_OPEN_GROUP) &&
			    !(q.flags & ESP_OPEN_CREATE))
				return esd_refuse(why, -EINVAL,
						  "GROUP without CREATE");
			if (q.flags & ~(ESP_OPEN_CREATE | ESP_OPEN_EXCL |
					ESP_OPEN_GROUP))
				return esd_refuse(why, -EINVAL, "unknown open flags");
			if ((q.flags & ESP_OPEN_EXCL) &&
			    !(q.flags & ESP_OPEN_CREATE))
				return esd_refuse(why, -EINVAL, "EXCL without CREATE");
		} else if (q.flags != 0) {
			return esd_refuse(why, -EINVAL, "flags must be 0");
		}
		return decode_name(q.name, q.name_len, out->u.name.name, why);
	}
	case ESP_OP_CLOSE: {
		struct esp_slot_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.slot.index = q.index;
		out->u.slot.gen = q.gen;
		return 0;
	}
	case ESP_OP_LIST: {
		struct esp_list_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.list.start = q.start;
		out->u.list.max = (q.max == 0 || q.max > ESP_LIST_MAX)
					  ? (uint32_t)ESP_LIST_MAX : q.max;
		return 0;
	}
	case ESP_OP_STATUS:
		return 0;
	case ESP_OP_SEEN: {
		struct esp_seen_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.seen.index = q.index;
		out->u.seen.gen = q.gen;
		out->u.seen.value = q.value;
		return 0;
	}
	case ESP_OP_ARM: {
		struct esp_arm_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.arm.index = q.index;
		out->u.arm.gen = q.gen;
		out->u.arm.on = q.on;
		if (q.on > 1)
			return esd_refuse(why, -EINVAL, "on must be 0 or 1");
		return 0;
	}
	case ESP_OP_REATTACH: {
		struct esp_reattach_req q;

		memcpy(&q, buf, sizeof(q));
		out->u.reattach.index = q.index;
		out->u.reattach.gen = q.gen;
		out->u.reattach.name_len = q.name_len;
		return decode_name(q.name, q.name_len, out->u.reattach.name,
				   why);
	}
	default:
		return esd_refuse(why, -EOPNOTSUPP, "unknown op");
	}
}
