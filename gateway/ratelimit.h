/*
 * ratelimit.h
 *		Rate limits per principal (GCRA), shared by the gateways through Redis
 *		with leases of tokens kept in process, and per-gateway concurrency caps.
 *
 * One struct ratelimit is shared by all worker threads behind its own mutex;
 * the Redis connection passed to a check is the calling thread's own.
 */
#ifndef QR_GATEWAY_RATELIMIT_H
#define QR_GATEWAY_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "redis.h"

/* The most (scope, principal) entries kept in process; older ones are evicted */
#define RATELIMIT_MAX_ENTRIES 65536
/* Principals are cut to this many bytes minus one, here and in Redis keys */
#define RATELIMIT_PRINCIPAL_MAX 96
/* How long leased tokens may be spent in process before they are dropped */
#define RATELIMIT_LEASE_MS 1000

/*
 * What a check decided, for the response and its headers. limit is 0 when
 * no limit applied (rate limits off): send no rate limit headers then.
 */
struct ratelimit_verdict
{
	bool		allowed;
	enum rate_scope scope;		/* the limit that refused, or the tightest one */
	bool		concurrency;	/* refused by the concurrency cap */
	bool		local;			/* Redis failed: decided by this gateway alone */
	int			limit;			/* the burst; the cap when concurrency */
	int			remaining;		/* approximate when served from a lease */
	int			reset_s;		/* until the bucket is full again, rounded up */
	int			retry_after_s;	/* when refused, at least 1; else 0 */
};

struct ratelimit;

extern struct ratelimit *ratelimit_new(const struct config *cfg);
extern void ratelimit_free(struct ratelimit *rl);
extern struct ratelimit_verdict ratelimit_check(struct ratelimit *rl, struct redis_conn *rc,
												enum rate_scope tier, int endpoint,
												const char *principal, int64_t now_ms);
extern void ratelimit_release(struct ratelimit *rl, enum rate_scope tier,
							  const char *principal);
extern size_t ratelimit_entry_count(struct ratelimit *rl);
extern const char *ratelimit_scope_name(enum rate_scope scope);

#endif
