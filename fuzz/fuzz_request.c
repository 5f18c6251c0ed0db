/*
 * fuzz_request.c - libFuzzer target for errseqd's hostile-input surface:
 * the packet decoder (esd_request_decode, daemon/request.c) and the name
 * checks (esd_name_check, esd_shm_name_check, common/common.c).
 *
 * Besides crashes and sanitizer reports, every input is judged against a
 * small reference model written here from the contracts in request.h,
 * protocol.h and common.h (not from the code under test): the decoder's
 * answer (close / -errno / 0) must be the model's, and a decoded request
 * must hold only validated fields.  A disagreement abort()s, which libFuzzer
 * reports as a crash with the input saved.
 *
 * Built two ways: by `make fuzz` with clang -fsanitize=fuzzer (libFuzzer
 * drives LLVMFuzzerTestOneInput), and into fuzz/replay_request with the
 * normal compiler, which replays the committed corpus and regressions under
 * `make check` (see replay.c).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/protocol.h"
#include "daemon/request.h"
#include "fuzz/fuzz_request.h"

static void fail(const char *what, int got, int want)
{
	fprintf(stderr, "fuzz_request: %s (got %d, model says %d)\n", what,
		got, want);
	abort();
}

static int ref_name_char(unsigned char ch, const char *extra)
{
	if (ch >= 'a' && ch <= 'z')
		return 1;
	if (ch >= 'A' && ch <= 'Z')
		return 1;
	if (ch >= '0' && ch <= '9')
		return 1;
	for (; *extra; extra++)
		if ((unsigned char)*extra == ch)
			return 1;
	return 0;
}

/* common.h: 1..ESD_NAME_MAX bytes of [A-Za-z0-9._:/@-]. */
static int ref_name_check(const char *name, size_t len)
{
	if (len < 1 || len > ESD_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!ref_name_char((unsigned char)name[i], "._:/@-"))
			return -EINVAL;
	return 0;
}

/* common.h: "/" then 1..200 bytes of [A-Za-z0-9._-], not "." or "..". */
static int ref_shm_name_check(const char *name)
{
	size_t len;

	if (name[0] != '/')
		return -EINVAL;
	len = strlen(name + 1);
	if (len < 1 || len > 200)
		return -EINVAL;
	if ((len == 1 && name[1] == '.') ||
	    (len == 2 && name[1] == '.' && name[2] == '.'))
		return -EINVAL;
	for (size_t i = 1; i <= len; i++)
		if (!ref_name_char((unsigned char)name[i], "._-"))
			return -EINVAL;
	return 0;
}

static size_t ref_size(uint16_t op)
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

/* The answer request.h promises for this packet. */
static int ref_decode(const uint8_t *buf, size_t len)
{
	struct esp_hdr h;

	if (len < sizeof(h))
		return ESD_REQUEST_CLOSE;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != ESP_MAGIC)
		return ESD_REQUEST_CLOSE;
	if (h.version != ESP_VERSION)
		return -EPROTONOSUPPORT;
	if (ref_size(h.op) == 0)
		return -EOPNOTSUPP;
	if (h.status != 0 || len != ref_size(h.op))
		return -EBADMSG;
	switch (h.op) {
	case ESP_OP_HELLO: {
		struct esp_hello_req q;

		memcpy(&q, buf, sizeof(q));
		return (q.min_version <= ESP_VERSION &&
			q.max_version >= ESP_VERSION) ? 0 : -EPROTONOSUPPORT;
	}
	case ESP_OP_OPEN:
	case ESP_OP_UNLINK:
	case ESP_OP_STAT: {
		struct esp_name_req q;

		memcpy(&q, buf, sizeof(q));
		if (h.op == ESP_OP_OPEN) {
			if ((q.flags & ESP_OPEN_GROUP) &&
			    !(q.flags & ESP_OPEN_CREATE))
				return -EINVAL;
			if (q.flags & ~(uint32_t)(ESP_OPEN_CREATE |
						  ESP_OPEN_EXCL |
						  ESP_OPEN_GROUP))
				return -EINVAL;
			if ((q.flags & ESP_OPEN_EXCL) &&
			    !(q.flags & ESP_OPEN_CREATE))
				return -EINVAL;
		} else if (q.flags) {
			return -EINVAL;
		}
		if (q.name_len < 1 || q.name_len > ESD_NAME_MAX)
			return -EINVAL;
		return ref_name_check(q.name, q.name_len);
	}
	case ESP_OP_REATTACH: {
		struct esp_reattach_req q;

		memcpy(&q, buf, sizeof(q));
		if (q.name_len < 1 || q.name_len > ESD_NAME_MAX)
			return -EINVAL;
		return ref_name_check(q.name, q.name_len);
	}
	case ESP_OP_ARM: {
		struct esp_arm_req q;

		memcpy(&q, buf, sizeof(q));
		return q.on > 1 ? -EINVAL : 0;
	}
	default:
		return 0;
	}
}

/* A decoded request must carry only what the model accepted. */
static void check_decoded(const uint8_t *buf, const struct esd_request *r)
{
	struct esp_hdr h;
	const char *name = NULL;
	uint32_t name_len = 0;

	memcpy(&h, buf, sizeof(h));
	if (r->op != h.op || r->seq != h.seq || r->version != h.version)
		fail("decoded header differs from the packet", r->op, h.op);
	switch (r->op) {
	case ESP_OP_OPEN:
	case ESP_OP_UNLINK:
	case ESP_OP_STAT:
		name = r->u.name.name;
		name_len = r->u.name.name_len;
		break;
	case ESP_OP_REATTACH:
		name = r->u.reattach.name;
		name_len = r->u.reattach.name_len;
		break;
	case ESP_OP_ARM:
		if (r->u.arm.on > 1)
			fail("ARM on not 0/1", (int)r->u.arm.on, 1);
		break;
	case ESP_OP_LIST:
		if (r->u.list.max < 1 || r->u.list.max > ESP_LIST_MAX)
			fail("LIST max not clamped", (int)r->u.list.max,
			     (int)ESP_LIST_MAX);
		break;
	default:
		break;
	}
	if (name) {
		if (name_len < 1 || name_len > ESD_NAME_MAX ||
		    name[name_len] != '\0' || strlen(name) != name_len)
			fail("decoded name not NUL-terminated at name_len",
			     (int)strlen(name), (int)name_len);
		if (ref_name_check(name, name_len) != 0)
			fail("decoded name has a forbidden byte", -EINVAL, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct esd_request req;
	const char *why = NULL;
	int rc, want;
	char shm[256];

	/* 1. the decoder */
	rc = esd_request_decode(data, size, &req, &why);
	want = ref_decode(data, size);
	if (rc != want)
		fail("esd_request_decode answer", rc, want);
	if (!why || (rc != 0 && !*why))
		fail("no reason given", rc, 0);
	if (rc == 0)
		check_decoded(data, &req);

	/* 2. slot names: the whole input as a name */
	rc = esd_name_check((const char *)data, size);
	want = ref_name_check((const char *)data, size);
	if (rc != want)
		fail("esd_name_check", rc, want);

	/* 3. shm names: the input up to its first NUL, as a C string */
	if (size < sizeof(shm)) {
		memcpy(shm, data, size);
		shm[size] = '\0';
		rc = esd_shm_name_check(shm);
		want = ref_shm_name_check(shm);
		if (rc != want)
			fail("esd_shm_name_check", rc, want);
	}
	return 0;
}
