/*
 * ratelimit.c
 *		Rate limits per principal: GCRA in Redis with leases of tokens kept in
 *		process, a GCRA in process when Redis fails, and concurrency caps.
 *
 * Shared by all worker threads: the table is under one mutex, which is never
 * held across a Redis call; each thread brings its own Redis connection.
 */
#include "ratelimit.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "deadline.h"
#include "json.h"
#include "log.h"

#define WAYS 8					/* entries per set of the table */
#define KEY_MAX (RATELIMIT_PRINCIPAL_MAX + 32)

/*
 * The GCRA of all gateways, on Redis's clock. KEYS[i] is a limit's key and
 * ARGV[3i-2], ARGV[3i-1], ARGV[3i] its emission interval T and burst
 * tolerance (burst - 1) * T in microseconds and how many tokens to take.
 * A key holds its theoretical arrival time (TAT) and expires when that has
 * passed. Each limit grants the most tokens n <= want with
 * max(TAT, now) + n * T - now <= tolerance + T; when any limit would grant
 * none, none grants anything (all or nothing). Per key it returns granted,
 * remaining after the grant, ms until the bucket is full and ms until one
 * token is free (0 when that key had room).
 */
static const char script[] =
"if redis.replicate_commands then redis.replicate_commands() end\n"
"local clock = redis.call('TIME')\n"
"local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])\n"
"local res, tats, all = {}, {}, true\n"
"for i = 1, #KEYS do\n"
"  local t, tol = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])\n"
"  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or 0) or 0, now)\n"
"  local n = math.floor((tol + t - (tat - now)) / t)\n"
"  n = math.max(0, math.min(n, tonumber(ARGV[3 * i])))\n"
"  if n == 0 then all = false end\n"
"  tats[i], res[4 * i - 3] = tat, n\n"
"end\n"
"for i = 1, #KEYS do\n"
"  local t, tol = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1])\n"
"  local n = all and res[4 * i - 3] or 0\n"
"  local tat = tats[i] + n * t\n"
"  if n > 0 then\n"
"    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX',\n"
"               math.max(1, math.ceil((tat - now) / 1000)))\n"
"  end\n"
"  res[4 * i - 3] = n\n"
"  res[4 * i - 2] = math.max(0, math.floor((tol + t - (tat - now)) / t))\n"
"  res[4 * i - 1] = math.ceil((tat - now) / 1000)\n"
"  res[4 * i] = (n == 0 and tat - now > tol) and math.ceil((tat - now - tol) / 1000) or 0\n"
"end\n"
"return res\n";

/* One (scope, principal): its lease, its local GCRA and its requests in flight */
struct rl_entry
{
	bool		used;
	uint32_t	hash;
	int64_t		used_ms;		/* last looked up */
	int			scope;
	int			in_flight;		/* tier entries with a concurrency cap */
	int64_t		lease_tokens;	/* spent in Redis, not yet used here */
	int64_t		lease_until_ms;
	int64_t		blocked_until_ms;	/* Redis refused until then */
	int64_t		shared_remaining;	/* Redis's remaining at the last answer */
	int64_t		full_at_ms;		/* when the bucket is full, by that answer */
	int64_t		local_tat_us;	/* the GCRA used while Redis fails */
	char		principal[RATELIMIT_PRINCIPAL_MAX];
};

struct ratelimit
{
	const struct config *cfg;
	char		sha[41];		/* SHA1 of the script, for EVALSHA */
	int64_t		t_us[RATE_SCOPE_COUNT]; /* emission interval */
	int64_t		tol_us[RATE_SCOPE_COUNT];	/* burst tolerance */
	int64_t		want[RATE_SCOPE_COUNT]; /* lease size */
	pthread_mutex_t lock;
	struct rl_entry *entries;	/* RATELIMIT_MAX_ENTRIES, in sets of WAYS */
	size_t		count;			/* entries used */
};

/* Where one limit's answer for a request comes from */
enum rl_source
{
	SOURCE_ASK,					/* no lease left: ask Redis (or the local GCRA) */
	SOURCE_LEASE,				/* a leased token was spent */
	SOURCE_BLOCKED				/* Redis refused lately and still would */
};

/* One limit's answer: tokens granted and the numbers for the headers */
struct rl_outcome
{
	int64_t		granted;
	int64_t		remaining;
	int64_t		reset_ms;
	int64_t		retry_ms;
};

/* One limit that applies to a request */
struct rl_part
{
	enum rate_scope scope;
	enum rl_source source;
	struct rl_outcome out;
};

/* The scope's name, as in Redis keys and logs */
const char *
ratelimit_scope_name(enum rate_scope scope)
{
	static const char *const names[] = {
		"premium", "authenticated", "anonymous", "login", "leaderboard", "play", "events"
	};

	return (int) scope >= 0 && scope < RATE_SCOPE_COUNT ? names[scope] : "unknown";
}

/* a / b rounded up, for a >= 0 and b > 0; 0 for a < 0 */
static int64_t
ceil_div(int64_t a, int64_t b)
{
	return a <= 0 ? 0 : (a + b - 1) / b;
}

/* A count clamped into an int */
static int
clamp_int(int64_t v)
{
	return v < 0 ? 0 : v > INT_MAX ? INT_MAX : (int) v;
}

/* FNV-1a of the scope and the principal */
static uint32_t
key_hash(int scope, const char *principal)
{
	uint32_t	h = 2166136261u;

	h = (h ^ (uint32_t) scope) * 16777619u;
	for (; *principal != '\0'; principal++)
		h = (h ^ (unsigned char) *principal) * 16777619u;
	return h;
}

/* Whether an entry holds nothing that dropping it would lose */
static bool
entry_idle(const struct rl_entry *e, int64_t now_ms)
{
	return e->in_flight == 0 && (e->lease_tokens == 0 || e->lease_until_ms <= now_ms) &&
		e->blocked_until_ms <= now_ms && e->local_tat_us <= now_ms * 1000;
}

/* Which entry of a set to replace first: free, then idle, then least recently used */
static int64_t
victim_rank(const struct rl_entry *e, int64_t now_ms)
{
	return !e->used ? INT64_MIN : entry_idle(e, now_ms) ? INT64_MIN + 1 : e->used_ms;
}

/*
 * The entry of (scope, principal); created when missing when now_ms >= 0,
 * in place of the entry of its set ranked first by victim_rank among those
 * with no request in flight. NULL when missing and not created. Any other
 * entry pointer may be stale afterwards.
 */
static struct rl_entry *
entry_get(struct ratelimit *rl, int scope, const char *principal, int64_t now_ms)
{
	uint32_t	hash = key_hash(scope, principal);
	struct rl_entry *set = &rl->entries[(hash % (RATELIMIT_MAX_ENTRIES / WAYS)) * WAYS];
	struct rl_entry *victim = NULL;
	struct rl_entry *e;

	for (e = set; e < set + WAYS; e++)
	{
		if (e->used && e->hash == hash && e->scope == scope &&
			strcmp(e->principal, principal) == 0)
		{
			e->used_ms = now_ms >= 0 ? now_ms : e->used_ms;
			return e;
		}
		if (e->in_flight == 0 &&
			(victim == NULL || victim_rank(e, now_ms) < victim_rank(victim, now_ms)))
			victim = e;
	}
	if (now_ms < 0 || victim == NULL)
		return NULL;
	rl->count += victim->used ? 0 : 1;
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->hash = hash;
	victim->scope = scope;
	victim->used_ms = now_ms;
	strcpy(victim->principal, principal);
	return victim;
}

/*
 * The GCRA on one bucket at now (all in us): grant up to want tokens and
 * describe the bucket after; the TAT to store when the grant is kept.
 */
static int64_t
gcra(int64_t tat, int64_t now, int64_t t, int64_t tol, int64_t want,
	 struct rl_outcome *out)
{
	int64_t		n;

	if (tat < now)
		tat = now;
	n = (tol + t - (tat - now)) / t;
	n = n < 0 ? 0 : n > want ? want : n;
	tat += n * t;
	out->granted = n;
	out->remaining = (tol + t - (tat - now)) / t;
	out->reset_ms = ceil_div(tat - now, 1000);
	out->retry_ms = n > 0 ? 0 : ceil_div(tat - now - tol, 1000);
	return tat;
}

/* Log that the script answered something other than its result */
static void
log_script_problem(const redisReply *reply)
{
	struct json_buf fields;

	json_buf_init(&fields);
	json_buf_puts(&fields, "\"error\":");
	json_buf_cstring(&fields, reply->type == REDIS_REPLY_ERROR && reply->str != NULL ?
					 reply->str : "unexpected reply");
	log_event(LOG_WARN, "rate limit script failed; limiting in process",
			  json_buf_text(&fields));
	json_buf_free(&fields);
}

/* Read the script's 4 integers per limit; false when the reply is not that */
static bool
parse_reply(struct ratelimit *rl, const redisReply *reply, int n,
			const enum rate_scope *scopes, struct rl_outcome *out)
{
	int			i;

	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t) (4 * n))
		return false;
	for (i = 0; i < 4 * n; i++)
		if (reply->element[i]->type != REDIS_REPLY_INTEGER)
			return false;
	for (i = 0; i < n; i++)
	{
		out[i].granted = reply->element[4 * i]->integer;
		if (out[i].granted < 0 || out[i].granted > rl->want[scopes[i]])
			return false;
		out[i].remaining = reply->element[4 * i + 1]->integer;
		out[i].reset_ms = reply->element[4 * i + 2]->integer;
		out[i].retry_ms = reply->element[4 * i + 3]->integer;
	}
	return true;
}

/*
 * Run the script for n limits of one principal in one round trip: EVALSHA,
 * and EVAL (which caches it again) when Redis lost the script. False when
 * Redis could not answer it (rc NULL included).
 */
static bool
shared_check(struct ratelimit *rl, struct redis_conn *rc, int n,
			 const enum rate_scope *scopes, const char *principal, struct rl_outcome *out)
{
	char		keys[2][KEY_MAX];
	char		args[2][3][24];
	const char *argv[3 + 2 * 4];
	size_t		argvlen[3 + 2 * 4];
	struct redis_cmd cmd = {3 + 4 * n, argv, argvlen};
	redisReply *reply;
	bool		ok;
	int			i;

	if (rc == NULL)
		return false;
	argv[0] = "EVALSHA";
	argv[1] = rl->sha;
	argv[2] = n == 1 ? "1" : "2";
	for (i = 0; i < n; i++)
	{
		snprintf(keys[i], sizeof(keys[i]), "qr:rl:%s:%s",
				 ratelimit_scope_name(scopes[i]), principal);
		argv[3 + i] = keys[i];
		for (int k = 0; k < 3; k++)
		{
			snprintf(args[i][k], sizeof(args[i][k]), "%" PRId64, k == 0 ? rl->t_us[scopes[i]] :
					 k == 1 ? rl->tol_us[scopes[i]] : rl->want[scopes[i]]);
			argv[3 + n + 3 * i + k] = args[i][k];
		}
	}
	for (i = 0; i < cmd.argc; i++)
		argvlen[i] = strlen(argv[i]);
	if (redis_pipeline(rc, 1, &cmd, &reply) != REDIS_STATUS_OK)
		return false;
	if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0)
	{
		freeReplyObject(reply);
		argv[0] = "EVAL";
		argv[1] = script;
		argvlen[0] = 4;
		argvlen[1] = sizeof(script) - 1;
		if (redis_pipeline(rc, 1, &cmd, &reply) != REDIS_STATUS_OK)
			return false;
	}
	if (!(ok = parse_reply(rl, reply, n, scopes, out)))
		log_script_problem(reply);
	freeReplyObject(reply);
	return ok;
}

/*
 * Take a slot of the tier's concurrency cap; false when none is free. When
 * every entry of the principal's set has requests in flight, there is no cap.
 */
static bool
slot_acquire(struct ratelimit *rl, enum rate_scope tier, const char *principal,
			 int64_t now_ms)
{
	struct rl_entry *e;

	if (rl->cfg->rate[tier].concurrent <= 0 ||
		(e = entry_get(rl, tier, principal, now_ms)) == NULL)
		return true;
	if (e->in_flight >= rl->cfg->rate[tier].concurrent)
		return false;
	e->in_flight++;
	return true;
}

/* Give back a slot taken by slot_acquire */
static void
slot_release(struct ratelimit *rl, enum rate_scope tier, const char *principal)
{
	struct rl_entry *e;

	if (rl->cfg->rate[tier].concurrent <= 0)
		return;
	if ((e = entry_get(rl, tier, principal, -1)) != NULL && e->in_flight > 0)
		e->in_flight--;
}

/* Spend a leased token of one limit if there is one, or say why not */
static enum rl_source
lease_take(struct ratelimit *rl, enum rate_scope scope, const char *principal,
		   int64_t now_ms, struct rl_outcome *out)
{
	struct rl_entry *e = entry_get(rl, scope, principal, now_ms);

	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return SOURCE_ASK;
	out->reset_ms = e->full_at_ms > now_ms ? e->full_at_ms - now_ms : 0;
	if (e->blocked_until_ms > now_ms)
	{
		out->retry_ms = e->blocked_until_ms - now_ms;
		return SOURCE_BLOCKED;
	}
	if (e->lease_tokens > 0 && e->lease_until_ms > now_ms)
	{
		e->lease_tokens--;
		out->granted = 1;
		out->remaining = e->shared_remaining + e->lease_tokens;
		return SOURCE_LEASE;
	}
	e->lease_tokens = 0;
	return SOURCE_ASK;
}

/*
 * Keep Redis's answer for one limit: the tokens granted beyond this request
 * as a lease (merged into a live one, whose lapse time it keeps), or the
 * time until which Redis would refuse.
 */
static void
lease_store(struct ratelimit *rl, enum rate_scope scope, const char *principal,
			int64_t now_ms, struct rl_outcome *out)
{
	struct rl_entry *e = entry_get(rl, scope, principal, now_ms);

	if (e == NULL)
		return;
	e->shared_remaining = out->remaining;
	e->full_at_ms = now_ms + out->reset_ms;
	if (out->granted > 0)
	{
		if (e->lease_tokens == 0 || e->lease_until_ms <= now_ms)
		{
			e->lease_tokens = 0;
			e->lease_until_ms = now_ms + RATELIMIT_LEASE_MS;
		}
		e->lease_tokens += out->granted - 1;
		out->remaining += e->lease_tokens;
	}
	else if (out->retry_ms > 0)
		e->blocked_until_ms = now_ms + out->retry_ms;
}

/* Redis failed: the GCRA in process for the limits that asked, all or none */
static void
local_check(struct ratelimit *rl, struct rl_part *parts, int n, const char *principal,
			int64_t now_ms)
{
	struct rl_entry *e;
	int64_t		tat[2];
	bool		all = true;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (parts[i].source != SOURCE_ASK)
			continue;
		e = entry_get(rl, parts[i].scope, principal, now_ms);
		tat[i] = gcra(e != NULL ? e->local_tat_us : 0, now_ms * 1000, rl->t_us[parts[i].scope],
					  rl->tol_us[parts[i].scope], 1, &parts[i].out);
		all = all && parts[i].out.granted > 0;
	}
	for (i = 0; i < n; i++)
	{
		if (parts[i].source != SOURCE_ASK)
			continue;
		if (!all)
			parts[i].out.granted = 0;
		else if ((e = entry_get(rl, parts[i].scope, principal, now_ms)) != NULL)
			e->local_tat_us = tat[i];
	}
}

/*
 * Decide a request of principal under its tier's limit and, when endpoint is
 * an endpoint scope (else -1), that one too; both must allow, and a refusal
 * by one spends no token of the other. The concurrency cap is checked first
 * and spends nothing when it refuses. now_ms is a monotonic clock >= 0.
 *
 * Each limit first spends a token leased earlier; without one it asks Redis
 * for a lease of want tokens (see ratelimit_new), spent in Redis at once, and
 * keeps the rest for RATELIMIT_LEASE_MS. A refusal by Redis is remembered
 * until its retry time, so a flood is refused without asking again. When
 * Redis fails (or rc is NULL) the GCRA runs in process: exact per gateway.
 *
 * An allowed verdict must be followed by ratelimit_release at the request's
 * end. The cap is per gateway: with N gateways a principal may have up to
 * N * concurrent requests in flight.
 */
struct ratelimit_verdict
ratelimit_check(struct ratelimit *rl, struct redis_conn *rc, enum rate_scope tier,
				int endpoint, const char *principal, int64_t now_ms)
{
	struct ratelimit_verdict v = {.allowed = true, .scope = tier};
	char		who[RATELIMIT_PRINCIPAL_MAX];
	struct rl_part parts[2];
	enum rate_scope ask[2];
	struct rl_outcome asked[2];
	bool		blocked = false;
	bool		shared = false;
	int64_t		retry_s;
	int			n = 0;
	int			nask = 0;
	int			pick = 0;
	int			i;

	if (!rl->cfg->rate_limits || (int) tier < 0 || tier > RATE_ANONYMOUS)
		return v;
	snprintf(who, sizeof(who), "%s", principal);
	if (endpoint > RATE_ANONYMOUS && endpoint < RATE_SCOPE_COUNT)
		parts[n++].scope = (enum rate_scope) endpoint;
	parts[n++].scope = tier;

	pthread_mutex_lock(&rl->lock);
	if (!slot_acquire(rl, tier, who, now_ms))
	{
		pthread_mutex_unlock(&rl->lock);
		v.allowed = false;
		v.concurrency = true;
		v.limit = rl->cfg->rate[tier].concurrent;
		v.retry_after_s = 1;
		return v;
	}
	for (i = 0; i < n; i++)
	{
		parts[i].source = lease_take(rl, parts[i].scope, who, now_ms, &parts[i].out);
		blocked = blocked || parts[i].source == SOURCE_BLOCKED;
		if (parts[i].source == SOURCE_ASK)
			ask[nask++] = parts[i].scope;
	}
	pthread_mutex_unlock(&rl->lock);

	if (!blocked && nask > 0)
	{
		/*
		 * A failing Redis may take up to its timeout to fail. Other threads
		 * meanwhile ran the local GCRA at later times; a decision at the time
		 * taken before asking would see their theoretical arrival times in its
		 * future and refuse whenever the burst's tolerance is shorter than the
		 * wait. The local GCRA decides at the time Redis failed.
		 */
		int64_t		asked_at = rc != NULL ? monotonic_ms() : 0;

		shared = shared_check(rl, rc, nask, ask, who, asked);
		if (rc != NULL && !shared)
			now_ms += monotonic_ms() - asked_at;
	}
	if (blocked || nask > 0)
	{
		pthread_mutex_lock(&rl->lock);
		if (!blocked && !shared)
		{
			local_check(rl, parts, n, who, now_ms);
			v.local = true;
		}
		else if (!blocked)
		{
			for (i = 0, nask = 0; i < n; i++)
			{
				if (parts[i].source != SOURCE_ASK)
					continue;
				parts[i].out = asked[nask++];
				lease_store(rl, parts[i].scope, who, now_ms, &parts[i].out);
			}
		}
		for (i = 0; i < n; i++)
			v.allowed = v.allowed && parts[i].out.granted > 0;
		for (i = 0; i < n && !v.allowed; i++)
		{
			struct rl_entry *e = entry_get(rl, parts[i].scope, who, -1);

			if (parts[i].source == SOURCE_LEASE && e != NULL && e->lease_until_ms > now_ms)
				e->lease_tokens++;
		}
		if (!v.allowed)
			slot_release(rl, tier, who);
		pthread_mutex_unlock(&rl->lock);
	}

	/* report the limit that refused last the longest, else the tightest */
	for (i = 1; i < n; i++)
		if (v.allowed ? parts[i].out.remaining < parts[pick].out.remaining :
			parts[i].out.retry_ms > parts[pick].out.retry_ms)
			pick = i;
	v.scope = parts[pick].scope;
	v.limit = rl->cfg->rate[v.scope].burst;
	v.remaining = clamp_int(parts[pick].out.remaining);
	v.reset_s = clamp_int(ceil_div(parts[pick].out.reset_ms, 1000));
	retry_s = ceil_div(parts[pick].out.retry_ms, 1000);
	if (!v.allowed)
		v.retry_after_s = retry_s > 1 ? clamp_int(retry_s) : 1;
	return v;
}

/* End a request that ratelimit_check allowed: free its concurrency slot */
void
ratelimit_release(struct ratelimit *rl, enum rate_scope tier, const char *principal)
{
	char		who[RATELIMIT_PRINCIPAL_MAX];

	if (!rl->cfg->rate_limits || (int) tier < 0 || tier > RATE_ANONYMOUS)
		return;
	snprintf(who, sizeof(who), "%s", principal);
	pthread_mutex_lock(&rl->lock);
	slot_release(rl, tier, who);
	pthread_mutex_unlock(&rl->lock);
}

/* How many (scope, principal) entries the table holds */
size_t
ratelimit_entry_count(struct ratelimit *rl)
{
	size_t		count;

	pthread_mutex_lock(&rl->lock);
	count = rl->count;
	pthread_mutex_unlock(&rl->lock);
	return count;
}

/*
 * Make the limiter for cfg's limits (cfg must outlive it); NULL when out of
 * memory. Per scope: T = 1e6 / per_second us (whole us, at least 1, so rates
 * above 10^6/s act as 10^6/s), tolerance (burst - 1) * T, and leases of
 * want = clamp(per_second * 0.1 s, 1, max(1, burst / 2)) tokens.
 */
struct ratelimit *
ratelimit_new(const struct config *cfg)
{
	struct ratelimit *rl = calloc(1, sizeof(*rl));
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int			s;

	if (rl == NULL)
		return NULL;
	rl->entries = calloc(RATELIMIT_MAX_ENTRIES, sizeof(*rl->entries));
	if (rl->entries == NULL ||
		!EVP_Digest(script, sizeof(script) - 1, md, &mdlen, EVP_sha1(), NULL) ||
		pthread_mutex_init(&rl->lock, NULL) != 0)
	{
		free(rl->entries);
		free(rl);
		return NULL;
	}
	for (unsigned int k = 0; k < mdlen && k < 20; k++)
		snprintf(rl->sha + 2 * k, 3, "%02x", md[k]);
	rl->cfg = cfg;
	for (s = 0; s < RATE_SCOPE_COUNT; s++)
	{
		double		ps = cfg->rate[s].per_second;
		int64_t		burst = cfg->rate[s].burst > 1 ? cfg->rate[s].burst : 1;
		int64_t		half = burst / 2 > 1 ? burst / 2 : 1;

		rl->t_us[s] = ps >= 1e6 ? 1 : ps > 1e-6 ? (int64_t) (1e6 / ps + 0.5) : INT32_MAX;
		rl->tol_us[s] = (burst - 1) * rl->t_us[s];
		rl->want[s] = ps * 0.1 >= (double) half ? half : ps * 0.1 >= 1 ? (int64_t) (ps * 0.1) : 1;
	}
	return rl;
}

/* Free the limiter; no thread may use it any more */
void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->entries);
	free(rl);
}
