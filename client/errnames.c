/*
 * errnames.c - errno names for liberrseq-client: errseq_errno_name and
 * errseq_errno_parse, the one table errseqctl and the examples share.
 * See include/errseq/client.h for the contracts.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <strings.h>

#include "common/visibility.h"
#include "errseq/client.h"

struct errno_name {
	int num;
	const char *name;
};

/*
 * Every errno Linux defines (asm-generic numbering 1..133; the macros keep
 * the numbers right on architectures that differ).  Canonical names come
 * first; the aliases at the end only serve parsing, since lookup by number
 * stops at the first match.
 */
#define E_(n) { n, #n }
static const struct errno_name errno_names[] = {
	E_(EPERM), E_(ENOENT), E_(ESRCH), E_(EINTR), E_(EIO), E_(ENXIO),
	E_(E2BIG), E_(ENOEXEC), E_(EBADF), E_(ECHILD), E_(EAGAIN),
	E_(ENOMEM), E_(EACCES), E_(EFAULT), E_(ENOTBLK), E_(EBUSY),
	E_(EEXIST), E_(EXDEV), E_(ENODEV), E_(ENOTDIR), E_(EISDIR),
	E_(EINVAL), E_(ENFILE), E_(EMFILE), E_(ENOTTY), E_(ETXTBSY),
	E_(EFBIG), E_(ENOSPC), E_(ESPIPE), E_(EROFS), E_(EMLINK), E_(EPIPE),
	E_(EDOM), E_(ERANGE), E_(EDEADLK), E_(ENAMETOOLONG), E_(ENOLCK),
	E_(ENOSYS), E_(ENOTEMPTY), E_(ELOOP), E_(ENOMSG), E_(EIDRM),
	E_(ECHRNG), E_(EL2NSYNC), E_(EL3HLT), E_(EL3RST), E_(ELNRNG),
	E_(EUNATCH), E_(ENOCSI), E_(EL2HLT), E_(EBADE), E_(EBADR),
	E_(EXFULL), E_(ENOANO), E_(EBADRQC), E_(EBADSLT), E_(EBFONT),
	E_(ENOSTR), E_(ENODATA), E_(ETIME), E_(ENOSR), E_(ENONET),
	E_(ENOPKG), E_(EREMOTE), E_(ENOLINK), E_(EADV), E_(ESRMNT),
	E_(ECOMM), E_(EPROTO), E_(EMULTIHOP), E_(EDOTDOT), E_(EBADMSG),
	E_(EOVERFLOW), E_(ENOTUNIQ), E_(EBADFD), E_(EREMCHG), E_(ELIBACC),
	E_(ELIBBAD), E_(ELIBSCN), E_(ELIBMAX), E_(ELIBEXEC), E_(EILSEQ),
	E_(ERESTART), E_(ESTRPIPE), E_(EUSERS), E_(ENOTSOCK),
	E_(EDESTADDRREQ), E_(EMSGSIZE), E_(EPROTOTYPE), E_(ENOPROTOOPT),
	E_(EPROTONOSUPPORT), E_(ESOCKTNOSUPPORT), E_(EOPNOTSUPP),
	E_(EPFNOSUPPORT), E_(EAFNOSUPPORT), E_(EADDRINUSE),
	E_(EADDRNOTAVAIL), E_(ENETDOWN), E_(ENETUNREACH), E_(ENETRESET),
	E_(ECONNABORTED), E_(ECONNRESET), E_(ENOBUFS), E_(EISCONN),
	E_(ENOTCONN), E_(ESHUTDOWN), E_(ETOOMANYREFS), E_(ETIMEDOUT),
	E_(ECONNREFUSED), E_(EHOSTDOWN), E_(EHOSTUNREACH), E_(EALREADY),
	E_(EINPROGRESS), E_(ESTALE), E_(EUCLEAN), E_(ENOTNAM), E_(ENAVAIL),
	E_(EISNAM), E_(EREMOTEIO), E_(EDQUOT), E_(ENOMEDIUM),
	E_(EMEDIUMTYPE), E_(ECANCELED), E_(ENOKEY), E_(EKEYEXPIRED),
	E_(EKEYREVOKED), E_(EKEYREJECTED), E_(EOWNERDEAD),
	E_(ENOTRECOVERABLE), E_(ERFKILL), E_(EHWPOISON),
	/* aliases: accepted by errseq_errno_parse, never named */
	E_(EWOULDBLOCK), E_(EDEADLOCK), E_(ENOTSUP),
};
#undef E_

#define N_ERRNO_NAMES (sizeof(errno_names) / sizeof(errno_names[0]))

ERRSEQ_EXPORT const char *errseq_errno_name(int e)
{
	if (e == INT_MIN)
		return NULL;	/* -INT_MIN does not exist */
	if (e < 0)
		e = -e;
	if (e == 0)
		return NULL;
	for (size_t i = 0; i < N_ERRNO_NAMES; i++)
		if (errno_names[i].num == e)
			return errno_names[i].name;
	return NULL;
}

ERRSEQ_EXPORT int errseq_errno_parse(const char *s)
{
	const char *p = s;
	int v = 0;

	if (!s || !*s)
		return -EINVAL;
	if ((*p >= '0' && *p <= '9') || *p == '-') {
		/* digits only, by hand: strtol would also take "+5", " 5" and
		 * "0x5", and would write errno, which the library never does */
		if (*p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			v = v * 10 + (*p - '0');
			if (v > ERRSEQ_MAX_ERRNO)
				return -EINVAL;
		}
		if (*p || v == 0)
			return -EINVAL;
		return v;
	}
	for (size_t i = 0; i < N_ERRNO_NAMES; i++)
		if (!strcasecmp(errno_names[i].name, s))
			return errno_names[i].num;
	return -EINVAL;
}
