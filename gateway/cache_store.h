/*
 * cache_store.h
 *		Cached answers as values, and the gateway's in-process store of them.
 *
 * A value is immutable once made and reference counted, so a thread may
 * keep serving one after the store dropped it. The store is striped: one
 * mutex per stripe; any thread may call any function.
 */
#ifndef QR_GATEWAY_CACHE_STORE_H
#define QR_GATEWAY_CACHE_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CACHE_ETAG_SIZE 20		/* "\"" 16 hex digits "\"" and a NUL */

/* One cached answer: the SQL function's data, pagination and count */
struct cache_value
{
	atomic_int	refs;
	int64_t		gen;			/* the leaderboard version or tag generation it was made at */
	int64_t		stored_ms;		/* wall clock */
	int64_t		expiry_ms;		/* wall clock: fresh until then */
	int			delta_ms;		/* how long computing it took (XFetch) */
	int			status;			/* 200 */
	char		etag[CACHE_ETAG_SIZE];
	size_t		size;			/* bytes of the whole allocation */
	const char *data;
	const char *pagination;		/* NULL when none */
	const char *count;			/* NULL when none */
};

struct cache_store;

extern struct cache_value *cache_value_new(int64_t gen, int64_t stored_ms, int64_t expiry_ms,
										   int delta_ms, int status, const char *data,
										   const char *pagination, const char *count);
extern void cache_value_hold(struct cache_value *v);
extern void cache_value_release(struct cache_value *v);
extern bool cache_value_encode(const struct cache_value *v, char **out, size_t *len);
extern struct cache_value *cache_value_decode(const char *text, size_t len);

extern struct cache_store *cache_store_new(size_t max_bytes);
extern void cache_store_free(struct cache_store *store);
extern struct cache_value *cache_store_get(struct cache_store *store, const char *key);
extern void cache_store_put(struct cache_store *store, const char *key, struct cache_value *v);
extern bool cache_store_begin(struct cache_store *store, const char *key);
extern void cache_store_end(struct cache_store *store, const char *key);
extern void cache_store_wait(struct cache_store *store, const char *key, int timeout_ms);
extern size_t cache_store_bytes(struct cache_store *store);

#endif
