/*
 * test_breaker.c
 *		Unit tests of gateway/breaker.c: the circuit breaker's states, probe
 *		deadline, stale tickets, transition counters and callback, and one
 *		probe at a time under concurrent callers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <cmocka.h>

#include "breaker.h"

#define THRESHOLD 5
#define OPEN_MS 60000
#define PROBE_MS 5000
#define MAX_SEEN 32

/* The transitions the callback saw, in order */
struct seen
{
	const struct breaker *b;
	int			n;
	enum breaker_state from[MAX_SEEN];
	enum breaker_state to[MAX_SEEN];
};

/* Transition callback that records into a struct seen */
static void
record(const struct breaker *b, enum breaker_state from, enum breaker_state to,
	   void *arg)
{
	struct seen *s = arg;

	s->b = b;
	if (s->n < MAX_SEEN)
	{
		s->from[s->n] = from;
		s->to[s->n] = to;
	}
	s->n++;
}

/* Assert that transition i of s went from one state to another */
static void
assert_seen(const struct seen *s, int i, enum breaker_state from,
			enum breaker_state to)
{
	assert_true(i < s->n);
	assert_int_equal(s->from[i], from);
	assert_int_equal(s->to[i], to);
}

/* Report n failures through PASS tickets at now */
static void
fail_n(struct breaker *b, int n, int64_t now)
{
	for (int i = 0; i < n; i++)
	{
		struct breaker_ticket t = breaker_admit(b, now);

		assert_int_equal(t.kind, BREAKER_PASS);
		breaker_report(b, t, false, now);
	}
}

/* A breaker with the test limits, opened by failures at time 1000 */
static void
open_at_1000(struct breaker *b, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	breaker_init(b, "test", THRESHOLD, OPEN_MS, PROBE_MS, record, s);
	fail_n(b, THRESHOLD, 1000);
	assert_int_equal(breaker_state(b, 1000), BREAKER_OPEN);
}

/* Fewer failures than the threshold leave it closed and passing */
static void
test_below_threshold(void **state)
{
	struct breaker b;
	struct seen s = {0};

	(void) state;
	breaker_init(&b, "test", THRESHOLD, OPEN_MS, PROBE_MS, record, &s);
	assert_int_equal(breaker_state(&b, 0), BREAKER_CLOSED);
	assert_int_equal(breaker_retry_after_s(&b, 0), 0);
	fail_n(&b, THRESHOLD - 1, 10);
	assert_int_equal(breaker_state(&b, 10), BREAKER_CLOSED);
	assert_int_equal(breaker_admit(&b, 10).kind, BREAKER_PASS);
	assert_int_equal(breaker_retry_after_s(&b, 10), 0);
	assert_int_equal(s.n, 0);
	breaker_destroy(&b);
}

/* A success resets the count of consecutive failures */
static void
test_success_resets(void **state)
{
	struct breaker b;
	struct breaker_ticket t;

	(void) state;
	breaker_init(&b, "test", THRESHOLD, OPEN_MS, PROBE_MS, NULL, NULL);
	fail_n(&b, THRESHOLD - 1, 10);
	t = breaker_admit(&b, 20);
	breaker_report(&b, t, true, 20);
	fail_n(&b, THRESHOLD - 1, 30);
	assert_int_equal(breaker_state(&b, 30), BREAKER_CLOSED);
	fail_n(&b, 1, 40);
	assert_int_equal(breaker_state(&b, 40), BREAKER_OPEN);
	breaker_destroy(&b);
}

/* The failure that reaches the threshold opens it, and calls are denied */
static void
test_opens_at_threshold(void **state)
{
	struct breaker b;
	struct seen s;

	(void) state;
	open_at_1000(&b, &s);
	assert_int_equal(s.n, 1);
	assert_seen(&s, 0, BREAKER_CLOSED, BREAKER_OPEN);
	assert_ptr_equal(s.b, &b);
	assert_string_equal(s.b->name, "test");
	assert_int_equal(breaker_admit(&b, 1000).kind, BREAKER_DENIED);
	assert_int_equal(breaker_admit(&b, 30000).kind, BREAKER_DENIED);
	breaker_destroy(&b);
}

/* While open, everything is denied and Retry-After counts down, rounded up */
static void
test_open_countdown(void **state)
{
	struct breaker b;
	struct seen s;

	(void) state;
	open_at_1000(&b, &s);
	assert_int_equal(breaker_retry_after_s(&b, 1000), 60);
	assert_int_equal(breaker_retry_after_s(&b, 1001), 60);
	assert_int_equal(breaker_retry_after_s(&b, 1999), 60);
	assert_int_equal(breaker_retry_after_s(&b, 2000), 59);
	assert_int_equal(breaker_retry_after_s(&b, 2001), 59);
	assert_int_equal(breaker_retry_after_s(&b, 59999), 2);
	assert_int_equal(breaker_retry_after_s(&b, 60000), 1);
	assert_int_equal(breaker_retry_after_s(&b, 60999), 1);
	assert_int_equal(breaker_admit(&b, 60999).kind, BREAKER_DENIED);
	/* due for a probe but nobody asked yet: still open, still >= 1 */
	assert_int_equal(breaker_retry_after_s(&b, 90000), 1);
	assert_int_equal(breaker_state(&b, 90000), BREAKER_OPEN);
	assert_int_equal(s.n, 1);
	breaker_destroy(&b);
}

/* After open_ms, exactly one caller gets the probe; the others are denied */
static void
test_one_probe(void **state)
{
	struct breaker b;
	struct seen s;
	struct breaker_ticket t;

	(void) state;
	open_at_1000(&b, &s);
	t = breaker_admit(&b, 61000);
	assert_int_equal(t.kind, BREAKER_PROBE);
	assert_int_equal(breaker_state(&b, 61000), BREAKER_HALF_OPEN);
	assert_seen(&s, 1, BREAKER_OPEN, BREAKER_HALF_OPEN);
	for (int64_t now = 61000; now < 61000 + PROBE_MS; now += 250)
		assert_int_equal(breaker_admit(&b, now).kind, BREAKER_DENIED);
	assert_int_equal(breaker_retry_after_s(&b, 61000), 5);
	assert_int_equal(breaker_retry_after_s(&b, 61001), 5);
	assert_int_equal(breaker_retry_after_s(&b, 65999), 1);
	assert_int_equal(s.n, 2);
	breaker_destroy(&b);
}

/* A probe that succeeds closes it with the failure count at zero */
static void
test_probe_success_closes(void **state)
{
	struct breaker b;
	struct seen s;
	struct breaker_ticket t;

	(void) state;
	open_at_1000(&b, &s);
	t = breaker_admit(&b, 61000);
	breaker_report(&b, t, true, 62000);
	assert_int_equal(breaker_state(&b, 62000), BREAKER_CLOSED);
	assert_int_equal(breaker_retry_after_s(&b, 62000), 0);
	assert_seen(&s, 2, BREAKER_HALF_OPEN, BREAKER_CLOSED);
	fail_n(&b, THRESHOLD - 1, 63000);
	assert_int_equal(breaker_state(&b, 63000), BREAKER_CLOSED);
	fail_n(&b, 1, 63000);
	assert_int_equal(breaker_state(&b, 63000), BREAKER_OPEN);
	breaker_destroy(&b);
}

/* A probe that fails reopens it for a full open_ms from its report */
static void
test_probe_failure_reopens(void **state)
{
	struct breaker b;
	struct seen s;
	struct breaker_ticket t;

	(void) state;
	open_at_1000(&b, &s);
	t = breaker_admit(&b, 61000);
	breaker_report(&b, t, false, 63000);
	assert_int_equal(breaker_state(&b, 63000), BREAKER_OPEN);
	assert_seen(&s, 2, BREAKER_HALF_OPEN, BREAKER_OPEN);
	assert_int_equal(breaker_retry_after_s(&b, 63000), 60);
	assert_int_equal(breaker_admit(&b, 63000 + OPEN_MS - 1).kind, BREAKER_DENIED);
	assert_int_equal(breaker_admit(&b, 63000 + OPEN_MS).kind, BREAKER_PROBE);
	assert_int_equal(s.n, 4);
	breaker_destroy(&b);
}

/*
 * A probe that never reports fails at its deadline: open from then for a
 * full open_ms, then one new probe.
 */
static void
test_probe_expires(void **state)
{
	struct breaker b;
	struct seen s;
	int64_t		expiry = 61000 + PROBE_MS;

	(void) state;
	open_at_1000(&b, &s);
	assert_int_equal(breaker_admit(&b, 61000).kind, BREAKER_PROBE);
	assert_int_equal(breaker_state(&b, expiry - 1), BREAKER_HALF_OPEN);
	assert_int_equal(breaker_admit(&b, expiry - 1).kind, BREAKER_DENIED);
	/* noticed late: still open from the deadline, not from now */
	assert_int_equal(breaker_admit(&b, expiry + 3000).kind, BREAKER_DENIED);
	assert_int_equal(breaker_state(&b, expiry + 3000), BREAKER_OPEN);
	assert_seen(&s, 2, BREAKER_HALF_OPEN, BREAKER_OPEN);
	assert_int_equal(breaker_retry_after_s(&b, expiry + 3000), 57);
	assert_int_equal(breaker_admit(&b, expiry + OPEN_MS - 1).kind, BREAKER_DENIED);
	assert_int_equal(breaker_admit(&b, expiry + OPEN_MS).kind, BREAKER_PROBE);
	assert_int_equal(breaker_admit(&b, expiry + OPEN_MS).kind, BREAKER_DENIED);
	assert_int_equal(s.n, 4);
	assert_seen(&s, 3, BREAKER_OPEN, BREAKER_HALF_OPEN);
	breaker_destroy(&b);
}

/* An admit long after an expired probe sees the failure and a new probe at once */
static void
test_probe_expires_long_ago(void **state)
{
	struct breaker b;
	struct seen s;

	(void) state;
	open_at_1000(&b, &s);
	assert_int_equal(breaker_admit(&b, 61000).kind, BREAKER_PROBE);
	assert_int_equal(breaker_admit(&b, 61000 + PROBE_MS + OPEN_MS).kind,
					 BREAKER_PROBE);
	assert_int_equal(s.n, 4);
	assert_seen(&s, 2, BREAKER_HALF_OPEN, BREAKER_OPEN);
	assert_seen(&s, 3, BREAKER_OPEN, BREAKER_HALF_OPEN);
	breaker_destroy(&b);
}

/* The expired probe's late report changes nothing, before or after renewal */
static void
test_late_probe_report(void **state)
{
	struct breaker b;
	struct seen s;
	struct breaker_ticket old;
	struct breaker_ticket probe;
	int64_t		expiry = 61000 + PROBE_MS;

	(void) state;
	open_at_1000(&b, &s);
	old = breaker_admit(&b, 61000);
	/* reporting at its deadline is too late */
	breaker_report(&b, old, true, expiry);
	assert_int_equal(breaker_state(&b, expiry), BREAKER_OPEN);
	assert_int_equal(s.n, 3);
	probe = breaker_admit(&b, expiry + OPEN_MS);
	assert_int_equal(probe.kind, BREAKER_PROBE);
	breaker_report(&b, old, true, expiry + OPEN_MS + 1);
	breaker_report(&b, old, false, expiry + OPEN_MS + 2);
	assert_int_equal(breaker_state(&b, expiry + OPEN_MS + 2), BREAKER_HALF_OPEN);
	assert_int_equal(breaker_admit(&b, expiry + OPEN_MS + 2).kind, BREAKER_DENIED);
	assert_int_equal(s.n, 4);
	breaker_report(&b, probe, true, expiry + OPEN_MS + 3);
	assert_int_equal(breaker_state(&b, expiry + OPEN_MS + 3), BREAKER_CLOSED);
	assert_int_equal(s.n, 5);
	breaker_destroy(&b);
}

/* PASS tickets from before a transition report nothing; DENIED never does */
static void
test_stale_pass(void **state)
{
	struct breaker b;
	struct seen s = {0};
	struct breaker_ticket early[THRESHOLD];
	struct breaker_ticket denied;
	struct breaker_ticket probe;

	(void) state;
	breaker_init(&b, "test", THRESHOLD, OPEN_MS, PROBE_MS, record, &s);
	for (int i = 0; i < THRESHOLD; i++)
		early[i] = breaker_admit(&b, 0);
	fail_n(&b, THRESHOLD, 10);
	assert_int_equal(breaker_state(&b, 10), BREAKER_OPEN);
	/* calls that began while closed end after it opened */
	breaker_report(&b, early[0], true, 20);
	breaker_report(&b, early[1], false, 20);
	assert_int_equal(breaker_state(&b, 20), BREAKER_OPEN);
	assert_int_equal(breaker_retry_after_s(&b, 20), 60);
	denied = breaker_admit(&b, 30);
	assert_int_equal(denied.kind, BREAKER_DENIED);
	breaker_report(&b, denied, true, 30);
	assert_int_equal(breaker_state(&b, 30), BREAKER_OPEN);
	/* nor do they count against the half-open or reclosed breaker */
	probe = breaker_admit(&b, 10 + OPEN_MS);
	assert_int_equal(probe.kind, BREAKER_PROBE);
	breaker_report(&b, early[2], true, 10 + OPEN_MS);
	assert_int_equal(breaker_state(&b, 10 + OPEN_MS), BREAKER_HALF_OPEN);
	breaker_report(&b, probe, true, 10 + OPEN_MS);
	fail_n(&b, THRESHOLD - 1, 20 + OPEN_MS);
	breaker_report(&b, early[3], false, 20 + OPEN_MS);
	breaker_report(&b, early[4], false, 20 + OPEN_MS);
	assert_int_equal(breaker_state(&b, 20 + OPEN_MS), BREAKER_CLOSED);
	/* the probe ticket is spent once it has reported */
	breaker_report(&b, probe, false, 20 + OPEN_MS);
	assert_int_equal(breaker_state(&b, 20 + OPEN_MS), BREAKER_CLOSED);
	assert_int_equal(s.n, 3);
	breaker_destroy(&b);
}

/* Counters and callback see every transition, in order */
static void
test_transitions(void **state)
{
	struct breaker b;
	struct seen s;
	struct breaker_ticket t;
	uint64_t	count[BREAKER_N_TRANSITIONS];
	static const enum breaker_state path[][2] = {
		{BREAKER_CLOSED, BREAKER_OPEN},
		{BREAKER_OPEN, BREAKER_HALF_OPEN},
		{BREAKER_HALF_OPEN, BREAKER_OPEN},	/* probe failed */
		{BREAKER_OPEN, BREAKER_HALF_OPEN},
		{BREAKER_HALF_OPEN, BREAKER_OPEN},	/* probe expired */
		{BREAKER_OPEN, BREAKER_HALF_OPEN},
		{BREAKER_HALF_OPEN, BREAKER_CLOSED},
		{BREAKER_CLOSED, BREAKER_OPEN},
	};
	int			n = (int) (sizeof(path) / sizeof(path[0]));

	(void) state;
	open_at_1000(&b, &s);
	t = breaker_admit(&b, 61000);
	breaker_report(&b, t, false, 61000);
	t = breaker_admit(&b, 121000);
	assert_int_equal(t.kind, BREAKER_PROBE);
	assert_int_equal(breaker_state(&b, 126000), BREAKER_OPEN);
	t = breaker_admit(&b, 186000);
	breaker_report(&b, t, true, 186001);
	fail_n(&b, THRESHOLD, 190000);
	assert_int_equal(s.n, n);
	for (int i = 0; i < n; i++)
		assert_seen(&s, i, path[i][0], path[i][1]);
	breaker_transitions(&b, count);
	assert_int_equal(count[BREAKER_CLOSED_TO_OPEN], 2);
	assert_int_equal(count[BREAKER_OPEN_TO_HALF_OPEN], 3);
	assert_int_equal(count[BREAKER_HALF_OPEN_TO_CLOSED], 1);
	assert_int_equal(count[BREAKER_HALF_OPEN_TO_OPEN], 2);
	breaker_destroy(&b);
}

/* States have stable names for logs and metrics */
static void
test_state_names(void **state)
{
	(void) state;
	assert_string_equal(breaker_state_name(BREAKER_CLOSED), "closed");
	assert_string_equal(breaker_state_name(BREAKER_OPEN), "open");
	assert_string_equal(breaker_state_name(BREAKER_HALF_OPEN), "half_open");
}

#define N_THREADS 8
#define N_ROUNDS 100
#define N_CALLS 5000
#define NOW 61000

/* What the hammering threads share in one round */
struct hammer
{
	struct breaker b;
	pthread_barrier_t start;
	bool		probe_ok;
	atomic_int	probes;			/* PROBE tickets granted */
	atomic_int	outstanding;	/* PROBE tickets not yet reported */
	atomic_int	most;			/* the most ever outstanding at once */
};

/* One thread: admit and report at a fixed clock as fast as it can */
static void *
hammer_thread(void *arg)
{
	struct hammer *h = arg;

	pthread_barrier_wait(&h->start);
	for (int i = 0; i < N_CALLS; i++)
	{
		struct breaker_ticket t = breaker_admit(&h->b, NOW);
		int			o;
		int			most;

		if (t.kind == BREAKER_PROBE)
		{
			atomic_fetch_add(&h->probes, 1);
			o = atomic_fetch_add(&h->outstanding, 1) + 1;
			most = atomic_load(&h->most);
			while (o > most && !atomic_compare_exchange_weak(&h->most, &most, o))
				;
			for (int k = 0; k < 200; k++)
				sched_yield();
			atomic_fetch_sub(&h->outstanding, 1);
			breaker_report(&h->b, t, h->probe_ok, NOW);
		}
		else if (t.kind == BREAKER_PASS)
			breaker_report(&h->b, t, i % 3 != 0, NOW);
	}
	return NULL;
}

/* Eight threads racing for the probe of a due breaker get one between them */
static void
test_threads_one_probe(void **state)
{
	static struct hammer h;
	pthread_t	threads[N_THREADS];
	uint64_t	count[BREAKER_N_TRANSITIONS];

	(void) state;
	for (int round = 0; round < N_ROUNDS; round++)
	{
		memset(&h, 0, sizeof(h));
		breaker_init(&h.b, "hammer", THRESHOLD, OPEN_MS, PROBE_MS, NULL, NULL);
		fail_n(&h.b, THRESHOLD, NOW - OPEN_MS);
		h.probe_ok = round % 2 == 0;
		atomic_init(&h.probes, 0);
		atomic_init(&h.outstanding, 0);
		atomic_init(&h.most, 0);
		assert_int_equal(pthread_barrier_init(&h.start, NULL, N_THREADS), 0);
		for (int i = 0; i < N_THREADS; i++)
			assert_int_equal(pthread_create(&threads[i], NULL, hammer_thread, &h), 0);
		for (int i = 0; i < N_THREADS; i++)
			pthread_join(threads[i], NULL);
		assert_int_equal(atomic_load(&h.probes), 1);
		assert_int_equal(atomic_load(&h.most), 1);
		assert_int_equal(atomic_load(&h.outstanding), 0);
		breaker_transitions(&h.b, count);
		assert_int_equal(count[BREAKER_OPEN_TO_HALF_OPEN], 1);
		assert_int_equal(count[BREAKER_HALF_OPEN_TO_CLOSED] +
						 count[BREAKER_HALF_OPEN_TO_OPEN], 1);
		assert_int_not_equal(breaker_state(&h.b, NOW), BREAKER_HALF_OPEN);
		pthread_barrier_destroy(&h.start);
		breaker_destroy(&h.b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_below_threshold),
		cmocka_unit_test(test_success_resets),
		cmocka_unit_test(test_opens_at_threshold),
		cmocka_unit_test(test_open_countdown),
		cmocka_unit_test(test_one_probe),
		cmocka_unit_test(test_probe_success_closes),
		cmocka_unit_test(test_probe_failure_reopens),
		cmocka_unit_test(test_probe_expires),
		cmocka_unit_test(test_probe_expires_long_ago),
		cmocka_unit_test(test_late_probe_report),
		cmocka_unit_test(test_stale_pass),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_threads_one_probe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
