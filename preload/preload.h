/*
 * preload.h - the policy of liberrseq-preload.so, apart from the
 * interposers so that tests can call it: which errnos count, slot names,
 * the path-prefix map and the one-error table.  Internal (hidden in the
 * .so); see errseq-preload(7) for what it means to users.
 */
#ifndef ERRSEQ_PRELOAD_H
#define ERRSEQ_PRELOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The one-error table: this many 64-bit words, one page. */
#define ESP_DEDUP_ENTRIES	512
#define ESP_DEDUP_BYTES		(ESP_DEDUP_ENTRIES * 8)
/* Default ERRSEQ_PRELOAD_WINDOW_MS. */
#define ESP_DEFAULT_WINDOW_MS	5000u

/* 1 if errno @e says storage lost or refused data (EIO, ENOSPC, EDQUOT,
 * EROFS, EFBIG, EUCLEAN, ENXIO, ENODEV, ESTALE, EREMOTEIO), else 0. */
int esp_is_storage_errno(int e);

/* 1 if @s is a valid slot name: 1..128 bytes of [A-Za-z0-9._:/@-]. */
int esp_valid_slot_name(const char *s);

/*
 * esp_map_lookup - the slot the path-prefix map gives @path.
 * @env_map: "PREFIX=SLOT" entries separated by ';' or newlines (may be
 * NULL); @file: a file of such entries, one per line, '#' comments (may
 * be NULL or unreadable).  The longest PREFIX that covers @path in whole
 * components wins; on a tie, the environment's entry.  Entries with an
 * invalid slot name are ignored.  @slot (ERRSEQ_NAME_MAX + 1 bytes)
 * receives the slot.  Returns 1 if an entry matched, else 0 ("" in @slot).
 */
int esp_map_lookup(const char *env_map, const char *file, const char *path,
		   char *slot);

/* esp_dev_slot - "dev/MAJ:MIN" for @dev into @out (@len bytes). */
void esp_dev_slot(dev_t dev, char *out, size_t len);

/* esp_key - the 32-bit identity of one error: a hash of (daemon socket,
 * slot, errno). */
uint32_t esp_key(const char *daemon, const char *slot, int err);

/*
 * esp_dedup_claim - is the error @key met at @now_ms new?  Returns 1 if
 * @table held no entry for @key within @window_ms before @now_ms: the
 * entry is then ours (*@claimed) and *@prev is what it replaced.  Returns
 * 0 if it is the same error as an earlier claim.  Lock-free, for tables
 * shared between processes.
 */
int esp_dedup_claim(uint64_t *table, uint32_t key, uint32_t now_ms,
		    uint32_t window_ms, uint64_t *claimed, uint64_t *prev);

/* esp_dedup_release - undo a claim whose recording failed, unless another
 * claim replaced it meanwhile. */
void esp_dedup_release(uint64_t *table, uint32_t key, uint64_t claimed,
		       uint64_t prev);

#endif /* ERRSEQ_PRELOAD_H */
