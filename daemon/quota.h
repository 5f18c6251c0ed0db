/*
 * quota.h - what each uid uses of the daemon (connections, live slots it
 * created, holds) and the per-uid limits, so that no single local user
 * can take all of a shared resource.
 */
#ifndef ERRSEQD_QUOTA_H
#define ERRSEQD_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

struct esd_usage {
	uint32_t uid;
	uint32_t conns;		/* connections now */
	uint32_t slots;		/* LIVE slots it created */
	uint32_t holds;		/* holds over all its connections */
	uint32_t chunks;	/* chunks of its writer domains */
};

struct esd_quota {
	struct esd_usage *b;	/* open addressing on uid; uid+1 == 0: empty */
	uint32_t cap, n;
	uint32_t max_conns;	/* per uid; 0: no limit */
	uint32_t max_slots;
	uint32_t max_holds;
	uint32_t exempt_uid;	/* the daemon's user: no per-uid limits */
};

/* esd_quota_get - @uid's usage, created at zero.  NULL only when out of
 * memory (the caller refuses the request: -ENOMEM). */
struct esd_usage *esd_quota_get(struct esd_quota *q, uid_t uid);

/* esd_quota_peek - @uid's usage, or NULL if it never used anything. */
const struct esd_usage *esd_quota_peek(const struct esd_quota *q, uid_t uid);

/* esd_quota_exempt - do the limits not apply to @uid (root, the daemon's
 * user)? */
static inline int esd_quota_exempt(const struct esd_quota *q, uid_t uid)
{
	return uid == 0 || uid == q->exempt_uid;
}

/* esd_quota_fini - free the table. */
void esd_quota_fini(struct esd_quota *q);

#endif /* ERRSEQD_QUOTA_H */
