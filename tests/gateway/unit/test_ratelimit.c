/*
 * test_ratelimit.c
 *		Unit tests of gateway/ratelimit.c: the GCRA in process (rc NULL), both
 *		limits of a request, concurrency caps, the table's bound, and, when
 *		QR_TEST_REDIS names a Redis (host:port), the shared GCRA with leases.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "log.h"
#include "ratelimit.h"

#define T0 1000000				/* a start on the fake monotonic clock, ms */

static struct config cfg;

/* Limits on: every scope gets per_second, burst and concurrent */
static void
set_all(double per_second, int burst, int concurrent)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.rate_limits = true;
	for (int s = 0; s < RATE_SCOPE_COUNT; s++)
		cfg.rate[s] = (struct config_rate) {per_second, burst, concurrent};
}

/* One check of a tier alone, without Redis */
static struct ratelimit_verdict
check(struct ratelimit *rl, const char *principal, int64_t now_ms)
{
	return ratelimit_check(rl, NULL, RATE_ANONYMOUS, -1, principal, now_ms);
}

/* The scopes' names */
static void
test_scope_names(void **state)
{
	static const char *const names[] = {
		"premium", "authenticated", "anonymous", "login", "leaderboard", "play", "events"
	};

	(void) state;
	for (int s = 0; s < RATE_SCOPE_COUNT; s++)
		assert_string_equal(ratelimit_scope_name((enum rate_scope) s), names[s]);
}

/* burst at one instant, then refusal until T has passed */
static void
test_burst(void **state)
{
	struct ratelimit *rl;
	struct ratelimit_verdict v;

	(void) state;
	set_all(10, 5, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	for (int i = 0; i < 5; i++)
	{
		v = check(rl, "ip:10.0.0.1", T0);
		assert_true(v.allowed);
		assert_true(v.local);
		assert_false(v.concurrency);
		assert_int_equal(v.scope, RATE_ANONYMOUS);
		assert_int_equal(v.limit, 5);
		assert_int_equal(v.remaining, 4 - i);
		assert_int_equal(v.retry_after_s, 0);
	}
	v = check(rl, "ip:10.0.0.1", T0);
	assert_false(v.allowed);
	assert_false(v.concurrency);
	assert_int_equal(v.remaining, 0);
	assert_int_equal(v.reset_s, 1);
	assert_true(v.retry_after_s >= 1);
	assert_false(check(rl, "ip:10.0.0.1", T0 + 99).allowed);
	assert_true(check(rl, "ip:10.0.0.1", T0 + 100).allowed);
	assert_false(check(rl, "ip:10.0.0.1", T0 + 100).allowed);
	assert_true(check(rl, "ip:10.0.0.1", T0 + 600).allowed);
	ratelimit_free(rl);
}

/* Over 60 s of 10-ms steps the count accepted is within [rate * 60 - 1, rate * 60 + burst] */
static void
test_sustained(void **state)
{
	static const struct config_rate rates[] = {
		{10, 5, 0}, {7, 2, 0}, {5, 1, 0}, {200.0 / 60, 20, 0}, {60.0 / 60, 10, 0}, {1000, 50, 0}
	};

	(void) state;
	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++)
	{
		struct ratelimit *rl;
		double		bound = rates[r].per_second * 60;
		double		offered = 6000;	/* one request every 10 ms */
		int			accepted = 0;

		set_all(rates[r].per_second, rates[r].burst, 0);
		assert_non_null(rl = ratelimit_new(&cfg));
		for (int step = 0; step < 6000; step++)
			accepted += check(rl, "a:42", T0 + step * 10).allowed;
		if (accepted > bound + rates[r].burst || accepted < (bound < offered ? bound : offered) - 1)
			fail_msg("%g/s burst %d: %d accepted in 60 s", rates[r].per_second,
					 rates[r].burst, accepted);
		ratelimit_free(rl);
	}
}

/* Both limits apply; a refusal by one spends no token of the other */
static void
test_tier_and_endpoint(void **state)
{
	struct ratelimit *rl;
	struct ratelimit_verdict v;

	(void) state;
	set_all(10, 5, 0);
	cfg.rate[RATE_LOGIN] = (struct config_rate) {10.0 / 60, 3, 0};
	assert_non_null(rl = ratelimit_new(&cfg));
	for (int i = 0; i < 3; i++)
	{
		v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:a", T0);
		assert_true(v.allowed);
		assert_int_equal(v.scope, RATE_LOGIN);	/* the tighter one */
		assert_int_equal(v.limit, 3);
		assert_int_equal(v.remaining, 2 - i);
	}
	v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:a", T0);
	assert_false(v.allowed);
	assert_int_equal(v.scope, RATE_LOGIN);
	assert_int_equal(v.retry_after_s, 6);
	/* the tier spent 3 of 5; the refused login did not spend one */
	assert_true(check(rl, "ip:a", T0).allowed);
	assert_true(check(rl, "ip:a", T0).allowed);
	v = check(rl, "ip:a", T0);
	assert_false(v.allowed);
	assert_int_equal(v.scope, RATE_ANONYMOUS);

	/* a tier refusal spends no login token */
	assert_true(ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:b", T0).allowed);
	assert_true(ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:b", T0).allowed);
	for (int i = 0; i < 3; i++)
		assert_true(check(rl, "ip:b", T0).allowed);
	v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:b", T0);
	assert_false(v.allowed);
	assert_int_equal(v.scope, RATE_ANONYMOUS);
	assert_int_equal(v.limit, 5);
	v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:b", T0 + 100);
	assert_true(v.allowed);
	v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:b", T0 + 200);
	assert_false(v.allowed);
	assert_int_equal(v.scope, RATE_LOGIN);
	ratelimit_free(rl);
}

/* The cap refuses the (cap+1)-th request in flight, spending no token */
static void
test_concurrency(void **state)
{
	struct ratelimit *rl;
	struct ratelimit_verdict v;

	(void) state;
	set_all(100, 3, 2);
	cfg.rate[RATE_PREMIUM].concurrent = 0;
	assert_non_null(rl = ratelimit_new(&cfg));
	assert_true(check(rl, "ip:c", T0).allowed);
	assert_true(check(rl, "ip:c", T0).allowed);
	v = check(rl, "ip:c", T0);
	assert_false(v.allowed);
	assert_true(v.concurrency);
	assert_int_equal(v.scope, RATE_ANONYMOUS);
	assert_int_equal(v.limit, 2);
	assert_true(v.retry_after_s >= 1);
	assert_true(check(rl, "ip:other", T0).allowed);
	ratelimit_release(rl, RATE_ANONYMOUS, "ip:c");
	assert_true(check(rl, "ip:c", T0).allowed);	/* the third token */
	ratelimit_release(rl, RATE_ANONYMOUS, "ip:c");
	v = check(rl, "ip:c", T0);	/* refused by the rate; frees its slot */
	assert_false(v.allowed);
	assert_false(v.concurrency);
	ratelimit_release(rl, RATE_ANONYMOUS, "ip:c");
	ratelimit_release(rl, RATE_ANONYMOUS, "ip:c");	/* one too many: no effect */
	assert_true(check(rl, "ip:c", T0 + 100).allowed);
	assert_true(check(rl, "ip:c", T0 + 100).allowed);
	v = check(rl, "ip:c", T0 + 100);
	assert_false(v.allowed);
	assert_true(v.concurrency);
	/* no cap when concurrent is 0 */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_check(rl, NULL, RATE_PREMIUM, -1, "a:1", T0).allowed);
	ratelimit_free(rl);
}

/* rate_limits off allows everything and reports no limit */
static void
test_disabled(void **state)
{
	struct ratelimit *rl;
	struct ratelimit_verdict v;

	(void) state;
	set_all(1, 1, 1);
	cfg.rate_limits = false;
	assert_non_null(rl = ratelimit_new(&cfg));
	for (int i = 0; i < 1000; i++)
	{
		v = ratelimit_check(rl, NULL, RATE_ANONYMOUS, RATE_LOGIN, "ip:d", T0);
		assert_true(v.allowed);
		assert_int_equal(v.limit, 0);
	}
	ratelimit_release(rl, RATE_ANONYMOUS, "ip:d");
	assert_int_equal(ratelimit_entry_count(rl), 0);
	ratelimit_free(rl);
}

/* Principals, tiers and endpoints each have buckets of their own */
static void
test_independent(void **state)
{
	static const char *const who[] = {"ip:1.2.3.4", "ip:1.2.3.5", "a:7", "g:7", "ip:::1"};
	struct ratelimit *rl;

	(void) state;
	set_all(1, 2, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	for (size_t p = 0; p < sizeof(who) / sizeof(who[0]); p++)
	{
		assert_true(check(rl, who[p], T0).allowed);
		assert_true(check(rl, who[p], T0).allowed);
		assert_false(check(rl, who[p], T0).allowed);
	}
	assert_true(ratelimit_check(rl, NULL, RATE_AUTHENTICATED, -1, "a:7", T0).allowed);
	assert_true(ratelimit_check(rl, NULL, RATE_PREMIUM, RATE_PLAY, "a:8", T0).allowed);
	assert_true(ratelimit_check(rl, NULL, RATE_PREMIUM, RATE_EVENTS, "a:8", T0).allowed);
	assert_false(ratelimit_check(rl, NULL, RATE_PREMIUM, -1, "a:8", T0).allowed);
	ratelimit_free(rl);
}

/* A million principals keep the table bounded, and an active one limited */
static void
test_bounded(void **state)
{
	struct ratelimit *rl;
	char		who[32];
	int			hot = 0;
	int64_t		now = T0;

	(void) state;
	set_all(10, 5, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	for (int i = 0; i < 1000000; i++)
	{
		now = T0 + i / 1000;
		snprintf(who, sizeof(who), "ip:10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		assert_true(check(rl, who, now).allowed);
		if (i % 100 == 0)
			hot += check(rl, "ip:hot", now).allowed;
	}
	assert_true(ratelimit_entry_count(rl) <= RATELIMIT_MAX_ENTRIES);
	assert_true(ratelimit_entry_count(rl) > RATELIMIT_MAX_ENTRIES / 2);
	assert_true(hot <= 5 + (now - T0) / 100 + 1);
	assert_true(hot >= 5 + (now - T0) / 100 - 1);
	ratelimit_free(rl);
}

#define THREADS 8

/* What the threads of test_threads share */
struct hammer
{
	struct ratelimit *rl;
	const char *principal;
	int64_t		now_ms;
	atomic_int	in_flight;
	atomic_int	max_in_flight;
	atomic_int	accepted;
};

/* One thread: checks, holds each allowed request a moment, releases */
static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;

	for (int i = 0; i < 20000; i++)
	{
		int			now;
		int			max;

		if (!ratelimit_check(h->rl, NULL, RATE_ANONYMOUS, -1, h->principal, h->now_ms).allowed)
			continue;
		atomic_fetch_add(&h->accepted, 1);
		now = atomic_fetch_add(&h->in_flight, 1) + 1;
		max = atomic_load(&h->max_in_flight);
		while (now > max && !atomic_compare_exchange_weak(&h->max_in_flight, &max, now))
			;
		sched_yield();
		atomic_fetch_sub(&h->in_flight, 1);
		ratelimit_release(h->rl, RATE_ANONYMOUS, h->principal);
	}
	return NULL;
}

/* Threads at once: the cap holds, and one instant's burst is exact */
static void
test_threads(void **state)
{
	struct hammer h = {.principal = "ip:threads", .now_ms = T0};
	pthread_t	threads[THREADS];

	(void) state;
	set_all(1e6, 1000000000, 3);
	assert_non_null(h.rl = ratelimit_new(&cfg));
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, hammer_run, &h), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	assert_true(atomic_load(&h.max_in_flight) <= 3);
	assert_true(atomic_load(&h.accepted) > 0);
	ratelimit_free(h.rl);

	set_all(100, 37, 0);
	assert_non_null(h.rl = ratelimit_new(&cfg));
	atomic_store(&h.accepted, 0);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&threads[t], NULL, hammer_run, &h), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(threads[t], NULL);
	assert_int_equal(atomic_load(&h.accepted), 37);
	ratelimit_free(h.rl);
}

/* --- against a real Redis ----------------------------------------------- */

static char redis_host[256];
static int	redis_port;

/* A connection to QR_TEST_REDIS, or NULL when it is not set */
static struct redis_conn *
test_redis(void)
{
	const char *env = getenv("QR_TEST_REDIS");
	const char *colon;

	if (env == NULL || (colon = strrchr(env, ':')) == NULL ||
		(size_t) (colon - env) >= sizeof(redis_host))
		return NULL;
	memcpy(redis_host, env, (size_t) (colon - env));
	redis_host[colon - env] = '\0';
	redis_port = atoi(colon + 1);
	return redis_conn_create(redis_host, redis_port, 200);
}

/* A monotonic clock in ms */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms */
static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* A principal unique to this run */
static const char *
unique(const char *what)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "ip:test-%d-%s", (int) getpid(), what);
	return buf;
}

/* Run one Redis command and return its integer reply */
static long long
redis_int(struct redis_conn *rc, const char *cmd, const char *key)
{
	const char *argv[] = {cmd, key};
	size_t		argvlen[] = {strlen(cmd), key != NULL ? strlen(key) : 0};
	struct redis_cmd c = {key != NULL ? 2 : 1, argv, argvlen};
	redisReply *reply;
	long long	value;

	assert_int_equal(redis_pipeline(rc, 1, &c, &reply), REDIS_STATUS_OK);
	value = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
	freeReplyObject(reply);
	return value;
}

/* The script's GCRA: burst, refusal, refill after T; keys expire */
static void
test_redis_gcra(void **state)
{
	struct redis_conn *rc = test_redis();
	struct ratelimit *rl;
	struct ratelimit_verdict v;
	char		principal[64];
	char		key[128];
	long long	pttl;

	(void) state;
	if (rc == NULL)
		skip();
	set_all(2, 3, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	snprintf(principal, sizeof(principal), "%s", unique("gcra"));
	snprintf(key, sizeof(key), "qr:rl:anonymous:%s", principal);
	for (int i = 0; i < 3; i++)
	{
		v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
		assert_true(v.allowed);
		assert_false(v.local);
		assert_int_equal(v.remaining, 2 - i);
		assert_int_equal(v.limit, 3);
	}
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
	assert_false(v.allowed);
	assert_false(v.local);
	assert_int_equal(v.retry_after_s, 1);
	assert_true(v.reset_s >= 1 && v.reset_s <= 2);
	pttl = redis_int(rc, "PTTL", key);
	assert_true(pttl > 0 && pttl <= 1500);
	sleep_ms(600);
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
	assert_true(v.allowed);
	assert_false(v.local);
	assert_false(ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms()).allowed);
	ratelimit_free(rl);
	redis_conn_destroy(rc);
}

/* Both limits in one script: a refusal by one spends nothing of the other */
static void
test_redis_tier_and_endpoint(void **state)
{
	struct redis_conn *rc = test_redis();
	struct ratelimit *rl;
	struct ratelimit_verdict v;
	char		principal[64];

	(void) state;
	if (rc == NULL)
		skip();
	set_all(10, 5, 0);
	cfg.rate[RATE_LOGIN] = (struct config_rate) {10.0 / 60, 3, 0};
	assert_non_null(rl = ratelimit_new(&cfg));
	snprintf(principal, sizeof(principal), "%s", unique("both"));
	for (int i = 0; i < 3; i++)
	{
		v = ratelimit_check(rl, rc, RATE_ANONYMOUS, RATE_LOGIN, principal, mono_ms());
		assert_true(v.allowed);
		assert_false(v.local);
		assert_int_equal(v.scope, RATE_LOGIN);
	}
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, RATE_LOGIN, principal, mono_ms());
	assert_false(v.allowed);
	assert_false(v.local);
	assert_int_equal(v.scope, RATE_LOGIN);
	assert_true(v.retry_after_s >= 5 && v.retry_after_s <= 6);
	assert_true(ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms()).allowed);
	assert_true(ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms()).allowed);
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
	assert_false(v.allowed);
	assert_int_equal(v.scope, RATE_ANONYMOUS);
	ratelimit_free(rl);
	redis_conn_destroy(rc);
}

/* A high limit leases many tokens: most checks never reach Redis */
static void
test_redis_lease(void **state)
{
	struct redis_conn *rc = test_redis();
	struct ratelimit *rl;
	struct ratelimit_verdict v;
	char		principal[64];
	char		key[128];
	int64_t		now = mono_ms();

	(void) state;
	if (rc == NULL)
		skip();
	set_all(1000, 100, 0);		/* leases of min(100, 100 / 2) = 50 */
	assert_non_null(rl = ratelimit_new(&cfg));
	snprintf(principal, sizeof(principal), "%s", unique("lease"));
	snprintf(key, sizeof(key), "qr:rl:anonymous:%s", principal);
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, now);
	assert_true(v.allowed);
	assert_false(v.local);
	assert_int_equal(v.remaining, 99);	/* 50 in Redis, 49 leased */
	assert_int_equal(redis_int(rc, "DEL", key), 1);
	for (int i = 0; i < 49; i++)
	{
		v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, now);
		assert_true(v.allowed);
		assert_false(v.local);
	}
	assert_int_equal(redis_int(rc, "EXISTS", key), 0);
	assert_true(ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, now).allowed);
	assert_int_equal(redis_int(rc, "EXISTS", key), 1);
	/* a lease lapses after RATELIMIT_LEASE_MS */
	assert_int_equal(redis_int(rc, "DEL", key), 1);
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, now + RATELIMIT_LEASE_MS);
	assert_true(v.allowed);
	assert_int_equal(redis_int(rc, "EXISTS", key), 1);
	ratelimit_free(rl);
	redis_conn_destroy(rc);
}

/* Two gateways sharing Redis never accept more than the bound together */
static void
test_redis_two_gateways(void **state)
{
	struct redis_conn *rc[2];
	struct ratelimit *rl[2];
	struct ratelimit_verdict v;
	char		principal[64];
	int			accepted = 0;
	int64_t		start;

	(void) state;
	if ((rc[0] = test_redis()) == NULL)
		skip();
	assert_non_null(rc[1] = redis_conn_create(redis_host, redis_port, 200));
	set_all(20, 5, 0);			/* leases of 2 */
	assert_non_null(rl[0] = ratelimit_new(&cfg));
	assert_non_null(rl[1] = ratelimit_new(&cfg));
	snprintf(principal, sizeof(principal), "%s", unique("flood"));
	start = mono_ms();
	for (int i = 0; mono_ms() - start < 2000; i++)
	{
		v = ratelimit_check(rl[i % 2], rc[i % 2], RATE_ANONYMOUS, -1, principal, mono_ms());
		assert_false(v.local);
		accepted += v.allowed;
		if (i % 4 == 3)
			sleep_ms(1);
	}
	if (accepted > 20 * 2 + 5 || accepted < 20)
		fail_msg("%d accepted in 2 s by two gateways", accepted);
	for (int g = 0; g < 2; g++)
	{
		ratelimit_free(rl[g]);
		redis_conn_destroy(rc[g]);
	}
}

/* SCRIPT FLUSH between calls: the script is loaded again; EVALSHA works after */
static void
test_redis_script_flush(void **state)
{
	struct redis_conn *rc = test_redis();
	const char *argv[] = {"SCRIPT", "FLUSH"};
	const size_t argvlen[] = {6, 5};
	const struct redis_cmd flush = {2, argv, argvlen};
	struct ratelimit *rl;
	struct ratelimit_verdict v;
	redisReply *reply;
	char		principal[64];

	(void) state;
	if (rc == NULL)
		skip();
	set_all(10.0 / 60, 3, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	snprintf(principal, sizeof(principal), "%s", unique("flush"));
	for (int i = 0; i < 3; i++)
	{
		if (i == 1)
		{
			assert_int_equal(redis_pipeline(rc, 1, &flush, &reply), REDIS_STATUS_OK);
			freeReplyObject(reply);
		}
		v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
		assert_true(v.allowed);
		assert_false(v.local);
		assert_int_equal(v.remaining, 2 - i);
	}
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, principal, mono_ms());
	assert_false(v.allowed);
	assert_false(v.local);
	ratelimit_free(rl);
	redis_conn_destroy(rc);
}

/* Redis unreachable: local verdicts that still limit */
static void
test_redis_down(void **state)
{
	struct redis_conn *rc;
	struct ratelimit *rl;
	struct ratelimit_verdict v;

	(void) state;
	if (getenv("QR_TEST_REDIS") == NULL)
		skip();
	assert_non_null(rc = redis_conn_create("127.0.0.1", 1, 200));
	set_all(1, 3, 0);
	assert_non_null(rl = ratelimit_new(&cfg));
	/*
	 * The clock is the real one here: an in-process decision is made at the
	 * time the Redis call failed (the time passed in plus the wait), so a
	 * clock that stands still would not be monotonic across the calls.
	 */
	for (int i = 0; i < 3; i++)
	{
		v = ratelimit_check(rl, rc, RATE_ANONYMOUS, RATE_EVENTS, "ip:down", mono_ms());
		assert_true(v.allowed);
		assert_true(v.local);
	}
	v = ratelimit_check(rl, rc, RATE_ANONYMOUS, RATE_EVENTS, "ip:down", mono_ms());
	assert_false(v.allowed);
	assert_true(v.local);
	assert_true(v.retry_after_s >= 1);
	assert_true(ratelimit_check(rl, rc, RATE_ANONYMOUS, -1, "ip:down", mono_ms() + 1000).allowed);
	ratelimit_free(rl);
	redis_conn_destroy(rc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope_names),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_sustained),
		cmocka_unit_test(test_tier_and_endpoint),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_independent),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_redis_gcra),
		cmocka_unit_test(test_redis_tier_and_endpoint),
		cmocka_unit_test(test_redis_lease),
		cmocka_unit_test(test_redis_two_gateways),
		cmocka_unit_test(test_redis_script_flush),
		cmocka_unit_test(test_redis_down),
	};

	log_init(LOG_ERROR);		/* unreachable Redis warns on every call */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
