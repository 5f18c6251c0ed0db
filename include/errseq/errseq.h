/*
 * errseq.h - errseq_t, the Linux kernel's error sequence counter, in userspace.
 *
 * An errseq_t records the latest error in one 32-bit word and lets any number
 * of watchers learn, each exactly once, that a new error has been recorded
 * since they last looked.  The functions below work on any errseq_t in
 * memory, including memory shared between processes (MAP_SHARED): they use
 * only lock-free atomics.  Their behaviour is the kernel's (lib/errseq.c,
 * Linux 4.17 and later), bit for bit and return value for return value.
 *
 * This header is part of liberrseq-client (pkg-config liberrseq-client).
 */
#ifndef ERRSEQ_ERRSEQ_H
#define ERRSEQ_ERRSEQ_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t errseq_t;

#define ERRSEQ_ERRNO_BITS 12       /* bits 0..11 hold the errno (1..4095) */
#define ERRSEQ_MAX_ERRNO ((1 << ERRSEQ_ERRNO_BITS) - 1)
#define ERRSEQ_SEEN      (1u << ERRSEQ_ERRNO_BITS) /* bit 12: sampled */
#define ERRSEQ_CTR_SHIFT (ERRSEQ_ERRNO_BITS + 1)   /* bits 13..31: counter */
#define ERRSEQ_CTR_INC   (1u << ERRSEQ_CTR_SHIFT)  /* wraps mod 2^19 */

/*
 * errseq_set - record an error.
 * @eseq: the word; @err: a negative errno in [-4095, -1].
 * Any other @err stores nothing.  Returns the value the word held before the
 * call (for diagnostics only: it is not a cursor); if a racing setter had
 * already installed the very value this call would write, that value.
 * Lock-free; any context.
 */
errseq_t errseq_set(errseq_t *eseq, int err);

/*
 * errseq_sample - take a starting cursor for a new watcher.
 * Returns the current value if its SEEN flag is set, else 0, so that an error
 * no one has consumed yet is still reported to the new watcher.  Pure read.
 */
errseq_t errseq_sample(errseq_t *eseq);

/*
 * errseq_check - has an error been recorded since @since?
 * Returns 0 if the word equals @since, else the latest error as a negative
 * errno.  Pure read: it never consumes (never sets SEEN).
 */
int errseq_check(errseq_t *eseq, errseq_t since);

/*
 * errseq_check_and_advance - report and consume for one watcher.
 * Returns 0 and changes nothing if the word equals *@since.  Otherwise marks
 * the word SEEN, moves *@since to the new value and returns the latest error
 * as a negative errno.  The word is updated atomically; *@since is not:
 * callers sharing one cursor must serialise (see errseq.rst).
 */
int errseq_check_and_advance(errseq_t *eseq, errseq_t *since);

/*
 * errseq_peek - the raw value, with no side effect (for tools).
 */
errseq_t errseq_peek(errseq_t *eseq);

#ifdef __cplusplus
}
#endif

#endif /* ERRSEQ_ERRSEQ_H */
