/*
 * cache.h
 *		Answers of the cached GET routes, in process and in Redis, refreshed
 *		early by XFetch and invalidated by versions.
 *
 * One struct cache per gateway, shared by the worker threads; each call
 * uses the calling thread's Redis connection.
 */
#ifndef QR_GATEWAY_CACHE_H
#define QR_GATEWAY_CACHE_H

#include <stdbool.h>

#include "changes.h"
#include "config.h"
#include "db.h"
#include "request.h"

struct cache;

/*
 * Runs the route's statement (on the primary when on_primary). Its result
 * has data, pagination, count and status in columns 0 to 3 and, when
 * with_version, the game's leaderboard version in column 4.
 */
typedef enum db_status (*cache_fetch_fn) (struct request *rq, void *arg, bool with_version,
										  bool on_primary, struct db_result *result);

extern struct cache *cache_new(const struct config *cfg, struct changes *changes);
extern void cache_free(struct cache *c);
extern bool cache_applies(const struct cache *c, const struct request *rq);
extern void cache_serve(struct cache *c, struct request *rq, const char *claims,
						const char *params, cache_fetch_fn fetch, void *arg);
extern void cache_note_write(struct cache *c, struct request *rq);

#endif
