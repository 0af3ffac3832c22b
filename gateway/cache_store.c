/*
 * cache_store.c
 *		Cached answers as values, and the gateway's in-process store of them.
 *
 * The store is a hash table in CACHE_STRIPES stripes, each with its own
 * mutex, condition variable, byte budget and oldest-first list for
 * eviction. Besides values it keeps, per key, whether a thread of this
 * gateway is computing it, so that the others wait instead (single
 * flight). Values are encoded as one header line and three strings for
 * Redis.
 */
#include "cache_store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"

#define CACHE_STRIPES 16
#define STRIPE_BUCKETS 1024
#define ENCODING_TAG "QRC1"

struct entry
{
	char	   *key;
	struct cache_value *value;	/* NULL while only a computation is tracked */
	bool		computing;
	struct entry *chain;		/* next in the bucket */
	struct entry *newer;		/* the eviction list, oldest first */
	struct entry *older;
};

struct stripe
{
	pthread_mutex_t lock;
	pthread_cond_t done;		/* a computation ended */
	struct entry *buckets[STRIPE_BUCKETS];
	struct entry *oldest;
	struct entry *newest;
	size_t		bytes;
};

struct cache_store
{
	size_t		stripe_budget;
	struct stripe stripes[CACHE_STRIPES];
};

/* FNV-1a over a string, continuing from h */
static uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (unsigned char) *s) * 0x100000001B3ULL;
	return (h ^ 0xFF) * 0x100000001B3ULL;	/* separates "a","b" from "ab","" */
}

/* Copy s into *at and return the copy (NULL stays NULL) */
static const char *
place(char **at, const char *s, size_t len)
{
	char	   *copy = *at;

	if (s == NULL)
		return NULL;
	memcpy(copy, s, len);
	copy[len] = '\0';
	*at += len + 1;
	return copy;
}

/* Make a value holding copies of the strings, with one reference */
struct cache_value *
cache_value_new(int64_t gen, int64_t stored_ms, int64_t expiry_ms, int delta_ms, int status,
				const char *data, const char *pagination, const char *count)
{
	size_t		dlen = strlen(data);
	size_t		plen = pagination ? strlen(pagination) : 0;
	size_t		clen = count ? strlen(count) : 0;
	size_t		size = sizeof(struct cache_value) + dlen + plen + clen + 3;
	struct cache_value *v = malloc(size);
	char	   *at;
	uint64_t	h;

	if (v == NULL)
		return NULL;
	at = (char *) (v + 1);
	atomic_init(&v->refs, 1);
	v->gen = gen;
	v->stored_ms = stored_ms;
	v->expiry_ms = expiry_ms;
	v->delta_ms = delta_ms;
	v->status = status;
	v->size = size;
	v->data = place(&at, data, dlen);
	v->pagination = place(&at, pagination, plen);
	v->count = place(&at, count, clen);
	h = fnv1a(fnv1a(fnv1a(0xCBF29CE484222325ULL, data), pagination), count);
	snprintf(v->etag, sizeof(v->etag), "\"%016" PRIx64 "\"", h ^ (uint64_t) status);
	return v;
}

/* Take one more reference */
void
cache_value_hold(struct cache_value *v)
{
	atomic_fetch_add(&v->refs, 1);
}

/* Drop a reference; the last one frees the value */
void
cache_value_release(struct cache_value *v)
{
	if (v != NULL && atomic_fetch_sub(&v->refs, 1) == 1)
		free(v);
}

/*
 * Encode for Redis: "QRC1 gen stored expiry delta status dlen plen clen\n"
 * then the three strings back to back (plen, clen -1 for none)
 */
bool
cache_value_encode(const struct cache_value *v, char **out, size_t *len)
{
	size_t		dlen = strlen(v->data);
	size_t		plen = v->pagination ? strlen(v->pagination) : 0;
	size_t		clen = v->count ? strlen(v->count) : 0;
	char		head[160];
	int			hlen;

	hlen = snprintf(head, sizeof(head), ENCODING_TAG " %" PRId64 " %" PRId64 " %" PRId64 " %d %d %zu %lld %lld\n",
					v->gen, v->stored_ms, v->expiry_ms, v->delta_ms, v->status, dlen,
					v->pagination ? (long long) plen : -1LL, v->count ? (long long) clen : -1LL);
	*len = (size_t) hlen + dlen + plen + clen;
	if ((*out = malloc(*len)) == NULL)
		return false;
	memcpy(*out, head, (size_t) hlen);
	memcpy(*out + hlen, v->data, dlen);
	memcpy(*out + hlen + dlen, v->pagination ? v->pagination : "", plen);
	memcpy(*out + hlen + dlen + plen, v->count ? v->count : "", clen);
	return true;
}

/* Copy len bytes of text into a NUL-terminated string, or NULL for len -1 */
static char *
copy_part(const char *text, long long len)
{
	char	   *s;

	if (len < 0 || (s = malloc((size_t) len + 1)) == NULL)
		return NULL;
	memcpy(s, text, (size_t) len);
	s[len] = '\0';
	return s;
}

/* Decode what cache_value_encode made; NULL for anything else */
struct cache_value *
cache_value_decode(const char *text, size_t len)
{
	const char *nl = memchr(text, '\n', len < 160 ? len : 160);
	int64_t		gen, stored, expiry;
	int			delta, status, used = 0;
	long long	dlen, plen, clen;
	char		head[161];
	char	   *parts[3] = {NULL, NULL, NULL};
	struct cache_value *v = NULL;
	size_t		at;

	if (nl == NULL)
		return NULL;
	memcpy(head, text, (size_t) (nl - text));
	head[nl - text] = '\0';
	if (sscanf(head, ENCODING_TAG " %" SCNd64 " %" SCNd64 " %" SCNd64 " %d %d %lld %lld %lld%n",
			   &gen, &stored, &expiry, &delta, &status, &dlen, &plen, &clen, &used) != 8 ||
		head[used] != '\0' || dlen < 0 || plen < -1 || clen < -1)
		return NULL;
	at = (size_t) (nl - text) + 1;
	/* each length against what is left, so that no sum can wrap */
	if ((unsigned long long) dlen > len - at ||
		(unsigned long long) (plen > 0 ? plen : 0) > len - at - (size_t) dlen ||
		(unsigned long long) (clen > 0 ? clen : 0) != len - at - (size_t) dlen - (size_t) (plen > 0 ? plen : 0))
		return NULL;
	parts[0] = copy_part(text + at, dlen);
	parts[1] = copy_part(text + at + dlen, plen);
	parts[2] = copy_part(text + at + dlen + (plen > 0 ? plen : 0), clen);
	if (parts[0] != NULL && (plen < 0 || parts[1] != NULL) && (clen < 0 || parts[2] != NULL))
		v = cache_value_new(gen, stored, expiry, delta, status, parts[0], parts[1], parts[2]);
	for (int i = 0; i < 3; i++)
		free(parts[i]);
	return v;
}

/* A store of at most max_bytes of values (0: none kept, computations still tracked) */
struct cache_store *
cache_store_new(size_t max_bytes)
{
	struct cache_store *store = calloc(1, sizeof(*store));

	if (store == NULL)
		return NULL;
	store->stripe_budget = max_bytes / CACHE_STRIPES;
	for (int i = 0; i < CACHE_STRIPES; i++)
	{
		pthread_mutex_init(&store->stripes[i].lock, NULL);
		pthread_cond_init(&store->stripes[i].done, NULL);
	}
	return store;
}

/* Free the store and every value it holds */
void
cache_store_free(struct cache_store *store)
{
	struct entry *e;
	struct entry *next;

	if (store == NULL)
		return;
	for (int i = 0; i < CACHE_STRIPES; i++)
	{
		for (e = store->stripes[i].oldest; e != NULL; e = next)
		{
			next = e->newer;
			cache_value_release(e->value);
			free(e->key);
			free(e);
		}
		pthread_cond_destroy(&store->stripes[i].done);
		pthread_mutex_destroy(&store->stripes[i].lock);
	}
	free(store);
}

/* The hash of a key */
static uint64_t
key_hash(const char *key)
{
	return fnv1a(0xCBF29CE484222325ULL, key);
}

/* The stripe of a key */
static struct stripe *
stripe_of(struct cache_store *store, uint64_t hash)
{
	return &store->stripes[hash % CACHE_STRIPES];
}

/* The entry of a key in its stripe (lock held), or NULL */
static struct entry *
find(struct stripe *s, uint64_t hash, const char *key)
{
	struct entry *e = s->buckets[(hash / CACHE_STRIPES) % STRIPE_BUCKETS];

	while (e != NULL && strcmp(e->key, key) != 0)
		e = e->chain;
	return e;
}

/* Take an entry out of its bucket and the eviction list, and free it (lock held) */
static void
remove_entry(struct stripe *s, struct entry *e)
{
	struct entry **p = &s->buckets[(key_hash(e->key) / CACHE_STRIPES) % STRIPE_BUCKETS];

	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	if (e->older)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	if (e->value != NULL)
		s->bytes -= e->value->size;
	cache_value_release(e->value);
	free(e->key);
	free(e);
}

/* Make an entry for key (lock held); NULL when out of memory */
static struct entry *
add_entry(struct stripe *s, uint64_t hash, const char *key)
{
	struct entry *e = calloc(1, sizeof(*e));
	size_t		b = (hash / CACHE_STRIPES) % STRIPE_BUCKETS;

	if (e == NULL || (e->key = strdup(key)) == NULL)
	{
		free(e);
		return NULL;
	}
	e->chain = s->buckets[b];
	s->buckets[b] = e;
	e->older = s->newest;
	if (s->newest)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
	return e;
}

/* Evict the oldest values until the stripe fits its budget (lock held) */
static void
evict(struct cache_store *store, struct stripe *s, const struct entry *keep)
{
	struct entry *e = s->oldest;
	struct entry *next;

	while (s->bytes > store->stripe_budget && e != NULL)
	{
		next = e->newer;
		if (e != keep && !e->computing)
			remove_entry(s, e);
		e = next;
	}
}

/* The value of a key, held for the caller (release it), or NULL */
struct cache_value *
cache_store_get(struct cache_store *store, const char *key)
{
	uint64_t	hash = key_hash(key);
	struct stripe *s = stripe_of(store, hash);
	struct cache_value *v = NULL;
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find(s, hash, key)) != NULL && (v = e->value) != NULL)
		cache_value_hold(v);
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* Keep v (the store takes a reference) as the value of key, if it fits */
void
cache_store_put(struct cache_store *store, const char *key, struct cache_value *v)
{
	uint64_t	hash = key_hash(key);
	struct stripe *s = stripe_of(store, hash);
	struct entry *e;

	if (v->size > store->stripe_budget)
		return;
	pthread_mutex_lock(&s->lock);
	if ((e = find(s, hash, key)) != NULL || (e = add_entry(s, hash, key)) != NULL)
	{
		if (e->value != NULL)
			s->bytes -= e->value->size;
		cache_value_release(e->value);
		cache_value_hold(v);
		e->value = v;
		s->bytes += v->size;
		evict(store, s, e);
	}
	pthread_mutex_unlock(&s->lock);
}

/* Claim the computation of key for this thread; false when another has it */
bool
cache_store_begin(struct cache_store *store, const char *key)
{
	uint64_t	hash = key_hash(key);
	struct stripe *s = stripe_of(store, hash);
	struct entry *e;
	bool		mine = false;

	pthread_mutex_lock(&s->lock);
	e = find(s, hash, key);
	if (e == NULL)
		e = add_entry(s, hash, key);
	if (e == NULL)
		mine = true;			/* out of memory: compute without coalescing */
	else if (!e->computing)
		mine = e->computing = true;
	pthread_mutex_unlock(&s->lock);
	return mine;
}

/* End this thread's computation of key and wake the threads waiting for it */
void
cache_store_end(struct cache_store *store, const char *key)
{
	uint64_t	hash = key_hash(key);
	struct stripe *s = stripe_of(store, hash);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	if ((e = find(s, hash, key)) != NULL)
	{
		e->computing = false;
		if (e->value == NULL)
			remove_entry(s, e);
	}
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
}

/* Wait until no thread computes key, at most timeout_ms */
void
cache_store_wait(struct cache_store *store, const char *key, int timeout_ms)
{
	uint64_t	hash = key_hash(key);
	struct stripe *s = stripe_of(store, hash);
	struct timespec until = realtime_in(timeout_ms);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	while ((e = find(s, hash, key)) != NULL && e->computing)
		if (pthread_cond_timedwait(&s->done, &s->lock, &until) != 0)
			break;
	pthread_mutex_unlock(&s->lock);
}

/* Bytes of values held, over all stripes */
size_t
cache_store_bytes(struct cache_store *store)
{
	size_t		bytes = 0;

	for (int i = 0; i < CACHE_STRIPES; i++)
	{
		pthread_mutex_lock(&store->stripes[i].lock);
		bytes += store->stripes[i].bytes;
		pthread_mutex_unlock(&store->stripes[i].lock);
	}
	return bytes;
}
