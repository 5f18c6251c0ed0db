/*
 * strerror.c - errseq_strerror: one message for every code liberrseq-client
 * returns, the library's own codes (ERRSEQ_E*, below -4095) as well as
 * errnos of either sign.  The strings are static and never change, so the
 * call is thread-safe; it never returns NULL.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "common/visibility.h"
#include "errseq/client.h"

ERRSEQ_EXPORT const char *errseq_strerror(int code)
{
	const char *msg;

	switch (code) {
	case 0:
		return "success";
	case ERRSEQ_ESTALE:
		return "stale slot: it was deleted or the daemon's state replaced; "
		       "reopen it by name";
	case ERRSEQ_EFORKED:
		return "client inherited across fork(): open a new client in "
		       "this process";
	case ERRSEQ_EPROTO:
		return "errseqd broke the protocol (version or layout "
		       "mismatch, or a malformed reply)";
	case ERRSEQ_EUNSAFE:
		return "refusing an untrusted daemon: it runs as another user, "
		       "or its socket directory is not safe";
	case ERRSEQ_EABI:
		return "the program was built with ERRSEQ_INLINE for an inline "
		       "ABI this liberrseq-client does not have: rebuild it";
	}
	if (code == INT_MIN)
		return "unknown error";
	if (code < 0)
		code = -code;
	/* strerrordesc_np: glibc's static, locale-independent table */
	msg = strerrordesc_np(code);
	return msg ? msg : "unknown error";
}
