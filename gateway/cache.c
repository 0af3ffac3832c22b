/*
 * cache.c
 *		Answers of the cached GET routes, in process and in Redis, refreshed
 *		early by XFetch and invalidated by versions.
 *
 * A route's class (router.c) gives its TTL and XFetch beta. The key is the
 * route pattern, the caller's claims for private routes (public answers do
 * not depend on the caller) and the parameters. Every value carries the
 * version it was computed at:
 *   - leaderboards: the game's leaderboard version, which the change poller
 *     (changes.c) knows locally; such values are also kept in process;
 *   - /api/events/{id}/...: a generation per event, and /api/events one per
 *     account, counters in Redis that writes through the gateway bump and
 *     that are read with the value in one MGET. Such values are computed on
 *     the primary: a replica that has not yet replayed the write would
 *     store an old answer under the new generation.
 * A value older than the current version is invalid: a change shows on the
 * next read. A valid value is fresh until its expiry, then still served
 * (stale) for cache_stale_s while one caller refreshes it, and when
 * Postgres fails. Before expiry XFetch (Vattani et al.) picks callers to
 * refresh early with probability rising as expiry nears, weighted by how
 * long the value took to compute. One computation per key at a time: in
 * process by single flight (cache_store.c), across gateways by a short
 * Redis lock; the others serve the old value or wait for the new one.
 */
#include "cache.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/sha.h>

#include "cache_store.h"
#include "deadline.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"
#include "respond.h"
#include "server.h"
#include "sqlstate.h"

#define WAIT_POLL_MS 20
#define UNLOCK_SCRIPT \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"

static const char *const class_names[] = {"static", "frequent", "realtime", "computed"};

struct cache
{
	const struct config *cfg;
	struct changes *changes;
	struct cache_store *store;
};

/* What invalidates a route's answers */
enum tag_kind
{
	TAG_NONE,					/* only their TTL */
	TAG_GAME,					/* the game's leaderboard version */
	TAG_EVENT,					/* the event's generation */
	TAG_ACCOUNT					/* the caller's generation (their list of events) */
};

/* One request's view of the cache */
struct lookup
{
	struct cache *c;
	struct request *rq;
	enum cache_class cls;
	enum tag_kind tag;
	int64_t		game_id;
	char		tag_key[80];	/* Redis counter of TAG_EVENT and TAG_ACCOUNT */
	int64_t		gen;			/* the current version or generation */
	bool		gen_known;		/* false when Redis could not tell it */
	struct json_buf key;		/* the whole key, in process */
	char		redis_key[72];	/* qr:c:<sha-256 of key> */
	char		lock_key[72];	/* qr:l:<sha-256 of key> */
	char		lock_token[33];
	bool		locked;			/* this request holds both locks */
	bool		computing_here;	/* lock() lost to a thread of this gateway */
};

/* The wall clock in ms (values are shared by gateways) */
static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A uniform draw in (0, 1], from a per-thread xorshift generator */
static double
uniform(void)
{
	static _Thread_local uint64_t state;

	if (state == 0 && getrandom(&state, sizeof(state), 0) != sizeof(state))
		state = (uint64_t) wall_ms() | 1;
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return ((state >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/*
 * XFetch: whether to recompute a value before its expiry, given how long
 * computing it took and beta (0: never early)
 */
static bool
xfetch_due(int64_t now_ms, const struct cache_value *v, double beta)
{
	return now_ms - v->delta_ms * beta * log(uniform()) >= v->expiry_ms;
}

/* Make a cache for the configured classes */
struct cache *
cache_new(const struct config *cfg, struct changes *changes)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->cfg = cfg;
	c->changes = changes;
	if ((c->store = cache_store_new((size_t) cfg->cache_memory_mb * 1024 * 1024)) == NULL)
	{
		free(c);
		return NULL;
	}
	return c;
}

/* Free the cache and what it holds in process */
void
cache_free(struct cache *c)
{
	if (c == NULL)
		return;
	cache_store_free(c->store);
	free(c);
}

/* Whether the request is a cached read: a GET of a cached route, without QR-Read-After */
bool
cache_applies(const struct cache *c, const struct request *rq)
{
	return c != NULL && c->cfg->cache && rq->match.route->cache != ROUTE_CACHE_NONE &&
		strcmp(rq->match.route->method, "GET") == 0 &&
		mg_get_header(rq->conn, "QR-Read-After") == NULL;
}

/* What invalidates the route's answers, from its pattern */
static enum tag_kind
tag_of(const char *pattern)
{
	if (strncmp(pattern, "/api/games/{id}", 15) == 0)
		return TAG_GAME;
	if (strncmp(pattern, "/api/events/{id}", 16) == 0)
		return TAG_EVENT;
	if (strcmp(pattern, "/api/events") == 0)
		return TAG_ACCOUNT;
	return TAG_NONE;
}

/* The Redis counter of a tag, "" for none (lookup.tag_key's size) */
static void
tag_key_of(const struct request *rq, enum tag_kind tag, char *out, size_t size)
{
	out[0] = '\0';
	if (tag == TAG_EVENT && rq->match.param_count > 0)
		snprintf(out, size, "qr:t:e:%" PRId64, rq->match.params[0].id);
	else if (tag == TAG_ACCOUNT && rq->authenticated)
		snprintf(out, size, "qr:t:a:%s", rq->claims.sub);
}

/* Write prefix and the SHA-256 of text in hex */
static void
hashed_key(const char *prefix, const char *text, size_t len, char *out, size_t size)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	int			n = snprintf(out, size, "%s", prefix);

	SHA256((const unsigned char *) text, len, digest);
	for (int i = 0; i < SHA256_DIGEST_LENGTH && (size_t) n + 3 <= size; i++)
		n += snprintf(out + n, size - (size_t) n, "%02x", digest[i]);
}

/* Fill the lookup of a request; false when out of memory */
static bool
lookup_init(struct lookup *lk, struct cache *c, struct request *rq, const char *claims,
			const char *params)
{
	const struct route *r = rq->match.route;

	memset(lk, 0, sizeof(*lk));
	lk->c = c;
	lk->rq = rq;
	lk->cls = (enum cache_class) (r->cache - ROUTE_CACHE_STATIC);
	lk->tag = tag_of(r->pattern);
	lk->game_id = lk->tag == TAG_GAME && rq->match.param_count > 0 ? rq->match.params[0].id : 0;
	tag_key_of(rq, lk->tag, lk->tag_key, sizeof(lk->tag_key));
	json_buf_init(&lk->key);
	json_buf_puts(&lk->key, r->pattern);
	json_buf_puts(&lk->key, "\n");
	json_buf_puts(&lk->key, r->auth == ROUTE_AUTH_ANYONE || claims == NULL ? "public" : claims);
	json_buf_puts(&lk->key, "\n");
	json_buf_puts(&lk->key, params);
	if (lk->key.failed)
		return false;
	hashed_key("qr:c:", lk->key.data, lk->key.len, lk->redis_key, sizeof(lk->redis_key));
	hashed_key("qr:l:", lk->key.data, lk->key.len, lk->lock_key, sizeof(lk->lock_key));
	request_random_id(lk->lock_token);
	return true;
}

/* The calling thread's Redis connection */
static struct redis_conn *
redis_of(const struct lookup *lk)
{
	return lk->rq->worker ? lk->rq->worker->redis : NULL;
}

/* Decode a GET reply into a value, NULL for nil or garbage */
static struct cache_value *
value_of_reply(const redisReply *reply)
{
	if (reply == NULL || reply->type != REDIS_REPLY_STRING)
		return NULL;
	return cache_value_decode(reply->str, reply->len);
}

/*
 * Read the value from Redis and, for event and account tags, the current
 * generation with it (one MGET). gen_known stays false when Redis failed.
 */
static struct cache_value *
read_redis(struct lookup *lk)
{
	const char *argv[3] = {"MGET", lk->redis_key, lk->tag_key};
	size_t		argvlen[3] = {4, strlen(lk->redis_key), strlen(lk->tag_key)};
	struct redis_cmd cmd = {lk->tag_key[0] ? 3 : 2, argv, argvlen};
	struct cache_value *v = NULL;
	redisReply *reply;

	if (redis_pipeline(redis_of(lk), 1, &cmd, &reply) != REDIS_STATUS_OK)
		return NULL;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t) cmd.argc - 1)
	{
		v = value_of_reply(reply->element[0]);
		if (lk->tag_key[0])
		{
			lk->gen = reply->element[1]->type == REDIS_REPLY_STRING ?
				strtoll(reply->element[1]->str, NULL, 10) : 0;
			lk->gen_known = true;
		}
	}
	freeReplyObject(reply);
	return v;
}

/* Store a value in Redis for its TTL plus the stale window */
static void
write_redis(struct lookup *lk, const struct cache_value *v)
{
	char		px[24];
	char	   *encoded;
	size_t		len;
	const char *argv[5] = {"SET", lk->redis_key, NULL, "PX", px};
	size_t		argvlen[5] = {3, strlen(lk->redis_key), 0, 2, 0};
	struct redis_cmd cmd = {5, argv, argvlen};
	redisReply *reply;

	if (!cache_value_encode(v, &encoded, &len))
		return;
	argv[2] = encoded;
	argvlen[2] = len;
	argvlen[4] = (size_t) snprintf(px, sizeof(px), "%lld",
								   (long long) (v->expiry_ms - v->stored_ms) +
								   lk->c->cfg->cache_stale_s * 1000LL + 1000);
	if (redis_pipeline(redis_of(lk), 1, &cmd, &reply) == REDIS_STATUS_OK)
		freeReplyObject(reply);
	free(encoded);
}

/*
 * The game's current version into lk->gen: the poller's, or, for a game it
 * never reported, leaderboard_version read once from the primary. False
 * when the primary cannot tell.
 */
static bool
game_version(struct lookup *lk)
{
	char		id[24];
	const char *values[1] = {id};
	struct db_result result;
	bool		ok;

	if (changes_known(lk->c->changes, lk->game_id, &lk->gen))
		return true;
	snprintf(id, sizeof(id), "%" PRId64, lk->game_id);
	ok = db_query(lk->rq->worker ? lk->rq->worker->db : NULL,
				  "SELECT qr_event.leaderboard_version($1::bigint)", 1, values, &result) == DB_OK &&
		PQntuples(result.res) == 1 && !PQgetisnull(result.res, 0, 0);
	if (ok)
	{
		lk->gen = strtoll(PQgetvalue(result.res, 0, 0), NULL, 10);
		changes_learn(lk->c->changes, lk->game_id, lk->gen);
	}
	PQclear(result.res);
	return ok;
}

/* The current value: in process for leaderboards, else (or then) Redis */
static struct cache_value *
current_value(struct lookup *lk)
{
	struct cache_value *v = NULL;

	if (lk->tag == TAG_GAME)
	{
		if (!(lk->gen_known = game_version(lk)))
			return read_redis(lk);
		if ((v = cache_store_get(lk->c->store, lk->key.data)) != NULL && v->gen >= lk->gen)
			return v;
		cache_value_release(v);
		if ((v = read_redis(lk)) != NULL && v->gen >= lk->gen)
			cache_store_put(lk->c->store, lk->key.data, v);
		return v;
	}
	if (lk->tag == TAG_NONE)
		lk->gen_known = true;
	return read_redis(lk);
}

/* Whether v answers at the current version */
static bool
valid(const struct lookup *lk, const struct cache_value *v)
{
	return v != NULL && lk->gen_known && v->gen >= lk->gen;
}

/* Take the right to compute: single flight here, then the Redis lock */
static bool
lock(struct lookup *lk)
{
	char		px[16];
	const char *argv[6] = {"SET", lk->lock_key, lk->lock_token, "NX", "PX", px};
	size_t		argvlen[6] = {3, strlen(lk->lock_key), strlen(lk->lock_token), 2, 2, 0};
	struct redis_cmd cmd = {6, argv, argvlen};
	redisReply *reply;
	bool		taken = true;

	if (!cache_store_begin(lk->c->store, lk->key.data))
	{
		lk->computing_here = true;
		return false;
	}
	argvlen[5] = (size_t) snprintf(px, sizeof(px), "%d", lk->c->cfg->cache_lock_ms);
	if (redis_pipeline(redis_of(lk), 1, &cmd, &reply) == REDIS_STATUS_OK)
	{
		taken = reply->type == REDIS_REPLY_STATUS;	/* OK, or nil when held */
		freeReplyObject(reply);
	}
	if (!taken)
		cache_store_end(lk->c->store, lk->key.data);
	lk->locked = taken;
	return taken;
}

/* Whether another gateway still holds the Redis lock of the key */
static bool
locked_elsewhere(struct lookup *lk)
{
	const char *argv[2] = {"EXISTS", lk->lock_key};
	size_t		argvlen[2] = {6, strlen(lk->lock_key)};
	struct redis_cmd cmd = {2, argv, argvlen};
	redisReply *reply;
	bool		held = false;

	if (redis_pipeline(redis_of(lk), 1, &cmd, &reply) == REDIS_STATUS_OK)
	{
		held = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
		freeReplyObject(reply);
	}
	return held;
}

/* Give the right to compute back */
static void
unlock(struct lookup *lk)
{
	const char *argv[5] = {"EVAL", UNLOCK_SCRIPT, "1", lk->lock_key, lk->lock_token};
	size_t		argvlen[5] = {4, strlen(UNLOCK_SCRIPT), 1, strlen(lk->lock_key),
	strlen(lk->lock_token)};
	struct redis_cmd cmd = {5, argv, argvlen};
	redisReply *reply;

	if (!lk->locked)
		return;
	if (redis_pipeline(redis_of(lk), 1, &cmd, &reply) == REDIS_STATUS_OK)
		freeReplyObject(reply);
	cache_store_end(lk->c->store, lk->key.data);
	lk->locked = false;
}

/*
 * Wait, at most cache_lock_ms, for whoever computes the key to store a
 * valid value: a thread of this gateway (single flight), or another gateway
 * (polling Redis while its lock lasts). NULL when none came: the
 * computation failed (an error answer is not kept) or took too long.
 */
static struct cache_value *
wait_for_value(struct lookup *lk)
{
	struct deadline until = deadline_in(lk->c->cfg->cache_lock_ms);
	struct timespec pause = {0, WAIT_POLL_MS * 1000000L};
	struct cache_value *v;

	if (lk->computing_here)
	{
		cache_store_wait(lk->c->store, lk->key.data, lk->c->cfg->cache_lock_ms);
		if ((v = current_value(lk)) != NULL && valid(lk, v))
			return v;
		cache_value_release(v);
		return NULL;
	}
	do
	{
		if ((v = current_value(lk)) != NULL && valid(lk, v))
			return v;
		cache_value_release(v);
		if (!locked_elsewhere(lk))
			return NULL;
		nanosleep(&pause, NULL);
	} while (deadline_ms_left(&until) > 0);
	return NULL;
}

/* Answer with a value: headers of its class, 304 when the client has it */
static void
serve(struct lookup *lk, const struct cache_value *v, const char *result)
{
	struct request *rq = lk->rq;
	const char *if_none_match = mg_get_header(rq->conn, "If-None-Match");
	int64_t		left = (v->expiry_ms - wall_ms()) / 1000;

	rq->cache_result = result;
	metrics_cache(rq->worker ? rq->worker->metrics : NULL, class_names[lk->cls], result);
	snprintf(rq->etag, sizeof(rq->etag), "%s", v->etag);
	if (rq->match.route->auth == ROUTE_AUTH_ANYONE)
	{
		snprintf(rq->cache_control_buf, sizeof(rq->cache_control_buf),
				 "public, max-age=%lld", (long long) (left > 0 ? left : 0));
		rq->cache_control = rq->cache_control_buf;
	}
	if (if_none_match != NULL && (strcmp(if_none_match, "*") == 0 ||
								  strstr(if_none_match, v->etag) != NULL))
		respond_not_modified(rq);
	else
		respond_page(rq, v->status, v->data, v->pagination, v->count);
}

/*
 * Compute the answer with fetch and keep it (when the version is known);
 * on a database failure *status and *result say why
 */
static struct cache_value *
compute(struct lookup *lk, cache_fetch_fn fetch, void *arg, enum db_status *status,
		struct db_result *result)
{
	struct timespec started;
	struct cache_value *v = NULL;
	const PGresult *res;
	int64_t		now;
	int64_t		gen = lk->gen;

	clock_gettime(CLOCK_MONOTONIC, &started);
	*status = fetch(lk->rq, arg, lk->tag == TAG_GAME,
					lk->tag == TAG_EVENT || lk->tag == TAG_ACCOUNT, result);
	if (*status != DB_OK)
		return NULL;
	res = result->res;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return NULL;
	if (lk->tag == TAG_GAME && PQnfields(res) > 4 && !PQgetisnull(res, 0, 4))
		gen = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	now = wall_ms();
	v = cache_value_new(gen, now, now + lk->c->cfg->cache_ttl_s[lk->cls] * 1000LL,
						(int) elapsed_ms(&started), atoi(PQgetvalue(res, 0, 3)),
						PQgetvalue(res, 0, 0), PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 1),
						PQgetisnull(res, 0, 1) ? NULL : PQgetvalue(res, 0, 2));
	if (v != NULL && lk->gen_known)
	{
		if (lk->tag == TAG_GAME)
			cache_store_put(lk->c->store, lk->key.data, v);
		write_redis(lk, v);
	}
	return v;
}

/*
 * Whether a failed computation says nothing about the value: Postgres did not
 * answer, or refused for a passing reason it would answer with 503 or 504 (a
 * statement_timeout, a serialization failure, a shutdown). Errors the request
 * itself causes are the answer, not a reason to serve an old one.
 */
static bool
passing_failure(enum db_status status, const struct db_result *res)
{
	int			http;

	if (status == DB_TIMEOUT || status == DB_UNAVAILABLE || status == DB_CIRCUIT_OPEN)
		return true;
	if (status != DB_SQL_ERROR)
		return false;
	http = respond_error_info(sqlstate_map(res->sqlstate).error)->status;
	return http == 503 || http == 504;
}

/*
 * Compute and answer; when Postgres fails for a passing reason, answer with
 * old (if any, within the stale window) marked stale, else with the failure
 */
static void
compute_and_serve(struct lookup *lk, struct cache_value *old, const char *result,
				  cache_fetch_fn fetch, void *arg)
{
	struct db_result res;
	enum db_status status;
	struct cache_value *v = compute(lk, fetch, arg, &status, &res);
	int64_t		stale_ms = lk->c->cfg->cache_stale_s * 1000LL;

	unlock(lk);
	if (v != NULL)
		serve(lk, v, result);
	else if (old != NULL && passing_failure(status, &res) &&
			 wall_ms() < old->expiry_ms + stale_ms)
		serve(lk, old, "stale");
	else if (status != DB_OK)
		api_respond_db_failure(lk->rq, status, &res);
	else
		respond_error_code(lk->rq, API_ERROR_INTERNAL, NULL);
	cache_value_release(v);
	PQclear(res.res);
}

/*
 * Holding the right to compute a missing or invalid value: serve the value
 * whoever held it before may have just stored, else compute it
 */
static void
compute_unless_done(struct lookup *lk, struct cache_value *old, cache_fetch_fn fetch, void *arg)
{
	struct cache_value *again = lk->locked ? current_value(lk) : NULL;

	if (valid(lk, again) && wall_ms() < again->expiry_ms)
	{
		unlock(lk);
		serve(lk, again, "hit");
	}
	else
		compute_and_serve(lk, old, "miss", fetch, arg);
	cache_value_release(again);
}

/* Serve a GET of a cached route from the cache, computing when it must */
void
cache_serve(struct cache *c, struct request *rq, const char *claims, const char *params,
			cache_fetch_fn fetch, void *arg)
{
	struct lookup lk;
	struct cache_value *v;
	int64_t		now;

	if (!lookup_init(&lk, c, rq, claims, params))
	{
		json_buf_free(&lk.key);
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
		return;
	}
	v = current_value(&lk);
	now = wall_ms();
	if (valid(&lk, v) && now < v->expiry_ms + c->cfg->cache_stale_s * 1000LL)
	{
		bool		fresh = now < v->expiry_ms;

		if (fresh && !xfetch_due(now, v, c->cfg->cache_beta[lk.cls]))
			serve(&lk, v, "hit");
		else if (lock(&lk))
			compute_and_serve(&lk, v, "refresh", fetch, arg);
		else
			serve(&lk, v, fresh ? "hit" : "stale");
	}
	else if (!lk.gen_known || lock(&lk))
		compute_unless_done(&lk, v, fetch, arg);
	else
	{
		struct cache_value *waited = wait_for_value(&lk);

		if (waited != NULL)
			serve(&lk, waited, "hit");
		else
			compute_and_serve(&lk, v, "miss", fetch, arg);
		cache_value_release(waited);
	}
	cache_value_release(v);
	json_buf_free(&lk.key);
}

/*
 * After a write answered 2xx: bump the generation it changes, so that the
 * next read of those answers computes them again
 */
void
cache_note_write(struct cache *c, struct request *rq)
{
	const char *pattern = rq->match.route->pattern;
	char		key[80];
	const char *argv[2] = {"INCR", key};
	size_t		argvlen[2] = {4, 0};
	struct redis_cmd cmd = {2, argv, argvlen};
	redisReply *reply;

	if (c == NULL || !c->cfg->cache)
		return;
	if (strcmp(pattern, "/api/events") == 0)
		tag_key_of(rq, TAG_ACCOUNT, key, sizeof(key));
	else
		tag_key_of(rq, tag_of(pattern) == TAG_EVENT ? TAG_EVENT : TAG_NONE, key, sizeof(key));
	if (key[0] == '\0')
		return;
	argvlen[1] = strlen(key);
	if (redis_pipeline(rq->worker ? rq->worker->redis : NULL, 1, &cmd, &reply) != REDIS_STATUS_OK)
		log_event(LOG_WARN, "could not invalidate cached answers after a write", NULL);
	else
	{
		if (reply->type == REDIS_REPLY_ERROR)
			log_event(LOG_WARN, "redis refused to invalidate cached answers after a write", NULL);
		freeReplyObject(reply);
	}
}
