/*
 * policy.c - the decisions of liberrseq-preload.so that do not depend on
 * interposing: which errnos count, slot names, the path-prefix map and the
 * one-error table (see preload.h).  Everything here runs on the error path
 * only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <errseq/client.h>

#include "preload/preload.h"

/* ---- what is recorded ------------------------------------------------ */

/* The errnos that say storage lost or refused data.  Never EINTR, EAGAIN,
 * EBADF, EINVAL, EPIPE and the like: those are the caller's business. */
int esp_is_storage_errno(int e)
{
	switch (e) {
	case EIO:
	case ENOSPC:
	case EDQUOT:
	case EROFS:
	case EFBIG:
	case EUCLEAN:
	case ENXIO:
	case ENODEV:
	case ESTALE:
	case EREMOTEIO:
		return 1;
	default:
		return 0;
	}
}

int esp_valid_slot_name(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= ERRSEQ_NAME_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._:/@-", c) != NULL))
			return 0;
	}
	return n > 0;
}

/* Does @prefix cover @path (whole components)? */
static int prefix_covers(const char *prefix, size_t plen, const char *path)
{
	if (plen == 0 || strncmp(prefix, path, plen) != 0)
		return 0;
	return prefix[plen - 1] == '/' || path[plen] == '\0' ||
	       path[plen] == '/';
}

/*
 * One PREFIX=SLOT entry of @len bytes at @e: if it covers @path better
 * (longer; with @wins_ties, at least as long) than *@best, copy its slot
 * to @slot.  Splits at the last '=' (slot names cannot hold one).
 */
static void map_entry(const char *e, size_t len, const char *path,
		      int wins_ties, size_t *best, char *slot)
{
	const char *eq = NULL;
	char name[ERRSEQ_NAME_MAX + 1];
	size_t plen, slen;

	while (len > 0 && (e[0] == ' ' || e[0] == '\t')) {
		e++;
		len--;
	}
	while (len > 0 && (e[len - 1] == ' ' || e[len - 1] == '\t' ||
			   e[len - 1] == '\r'))
		len--;
	if (len == 0 || e[0] == '#')
		return;
	for (size_t i = 0; i < len; i++)
		if (e[i] == '=')
			eq = e + i;
	if (eq == NULL)
		return;
	plen = (size_t)(eq - e);
	slen = len - plen - 1;
	/* Blanks around the '=' are not part of either side. */
	while (plen > 0 && (e[plen - 1] == ' ' || e[plen - 1] == '\t'))
		plen--;
	while (slen > 0 && (eq[1] == ' ' || eq[1] == '\t')) {
		eq++;
		slen--;
	}
	if (slen == 0 || slen > ERRSEQ_NAME_MAX ||
	    plen + (wins_ties ? 1 : 0) <= *best)
		return;
	if (!prefix_covers(e, plen, path))
		return;
	memcpy(name, eq + 1, slen);
	name[slen] = '\0';
	if (!esp_valid_slot_name(name))
		return;
	memcpy(slot, name, slen + 1);
	*best = plen;
}

/* Entries separated by any of @seps in @text (@len bytes). */
static void map_text(const char *text, size_t len, const char *seps,
		     const char *path, int wins_ties, size_t *best, char *slot)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || strchr(seps, text[i]) != NULL) {
			map_entry(text + start, i - start, path, wins_ties,
				  best, slot);
			start = i + 1;
		}
	}
}

int esp_map_lookup(const char *env_map, const char *file, const char *path,
		   char *slot)
{
	size_t best = 0;

	slot[0] = '\0';
	if (path == NULL || path[0] != '/')
		return 0;
	if (file != NULL && file[0] != '\0') {
		const size_t cap = 65536;	/* a map is small */
		char *buf = malloc(cap);
		int fd = buf != NULL ? open(file, O_RDONLY | O_CLOEXEC) : -1;

		if (fd >= 0) {
			size_t len = 0;
			ssize_t n;

			while (len < cap &&
			       (n = read(fd, buf + len, cap - len)) > 0)
				len += (size_t)n;
			close(fd);
			map_text(buf, len, "\n", path, 0, &best, slot);
		}
		free(buf);
	}
	if (env_map != NULL)
		map_text(env_map, strlen(env_map), ";\n", path, 1, &best,
			 slot);
	return slot[0] != '\0';
}

void esp_dev_slot(dev_t dev, char *out, size_t len)
{
	snprintf(out, len, "dev/%u:%u", major(dev), minor(dev));
}

uint32_t esp_key(const char *daemon, const char *slot, int err)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	unsigned char tail[sizeof(int)];

	memcpy(tail, &err, sizeof(tail));
	for (const unsigned char *p = (const unsigned char *)daemon; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;	/* not a name byte */
	for (const unsigned char *p = (const unsigned char *)slot; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	for (size_t i = 0; i < sizeof(tail); i++)
		h = (h ^ tail[i]) * 0x100000001b3ull;
	return (uint32_t)(h ^ (h >> 32));
}

int esp_dedup_claim(uint64_t *table, uint32_t key, uint32_t now_ms,
		    uint32_t window_ms, uint64_t *claimed, uint64_t *prev)
{
	uint64_t *w = &table[key % ESP_DEDUP_ENTRIES];
	uint64_t old = __atomic_load_n(w, __ATOMIC_ACQUIRE);
	uint64_t mine = ((uint64_t)key << 32) | now_ms;

	for (;;) {
		if (old != 0 && (uint32_t)(old >> 32) == key &&
		    (uint32_t)(now_ms - (uint32_t)old) < window_ms)
			return 0;	/* met within the window: the same */
		if (__atomic_compare_exchange_n(w, &old, mine, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			*claimed = mine;
			*prev = old;
			return 1;
		}
	}
}

void esp_dedup_release(uint64_t *table, uint32_t key, uint64_t claimed,
		       uint64_t prev)
{
	uint64_t *w = &table[key % ESP_DEDUP_ENTRIES];

	/* Only if nobody claimed it since. */
	__atomic_compare_exchange_n(w, &claimed, prev, 0, __ATOMIC_ACQ_REL,
				    __ATOMIC_RELAXED);
}

