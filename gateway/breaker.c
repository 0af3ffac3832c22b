/*
 * breaker.c
 *		Circuit breakers for calls to Postgres and Redis.
 *
 * Shared by all worker threads: every public function holds the mutex.
 */
#include "breaker.h"

#include <stddef.h>
#include <string.h>

/*
 * Move to another state, count the transition and tell the callback. The new
 * generation voids every ticket granted before.
 */
static void
breaker_move(struct breaker *b, enum breaker_state to, int64_t at_ms)
{
	enum breaker_state from = b->state;
	enum breaker_transition which;

	b->state = to;
	b->generation++;
	b->failures = 0;
	if (to == BREAKER_OPEN)
		b->opened_at = at_ms;
	else if (to == BREAKER_HALF_OPEN)
		b->probe_deadline = at_ms + b->probe_ms;
	if (from == BREAKER_CLOSED)
		which = BREAKER_CLOSED_TO_OPEN;
	else if (from == BREAKER_OPEN)
		which = BREAKER_OPEN_TO_HALF_OPEN;
	else if (to == BREAKER_CLOSED)
		which = BREAKER_HALF_OPEN_TO_CLOSED;
	else
		which = BREAKER_HALF_OPEN_TO_OPEN;
	b->transitions[which]++;
	if (b->on_transition != NULL)
		b->on_transition(b, from, to, b->on_transition_arg);
}

/*
 * A probe that has not reported within probe_ms failed at its deadline:
 * reopen as of then. Checked at every call, so it cannot stay half-open.
 */
static void
breaker_expire_probe(struct breaker *b, int64_t now_ms)
{
	if (b->state == BREAKER_HALF_OPEN && now_ms >= b->probe_deadline)
		breaker_move(b, BREAKER_OPEN, b->probe_deadline);
}

/*
 * Set up a closed breaker. The three limits must be positive; name is kept,
 * not copied. on_transition may be NULL.
 */
void
breaker_init(struct breaker *b, const char *name, int failure_threshold,
			 int open_ms, int probe_ms,
			 breaker_transition_fn on_transition, void *arg)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->name = name;
	b->failure_threshold = failure_threshold;
	b->open_ms = open_ms;
	b->probe_ms = probe_ms;
	b->on_transition = on_transition;
	b->on_transition_arg = arg;
	b->state = BREAKER_CLOSED;
	b->generation = 1;			/* a zeroed ticket never matches */
}

/* Release the mutex; no thread may use the breaker any more */
void
breaker_destroy(struct breaker *b)
{
	pthread_mutex_destroy(&b->lock);
}

/*
 * Ask before a call. Closed: PASS. Open until opened_at + open_ms: DENIED;
 * the first caller at or after that gets the PROBE and the breaker turns
 * half-open. Half-open: DENIED while the probe runs.
 */
struct breaker_ticket
breaker_admit(struct breaker *b, int64_t now_ms)
{
	struct breaker_ticket t = {BREAKER_DENIED, 0};

	pthread_mutex_lock(&b->lock);
	breaker_expire_probe(b, now_ms);
	if (b->state == BREAKER_OPEN && now_ms >= b->opened_at + b->open_ms)
	{
		breaker_move(b, BREAKER_HALF_OPEN, now_ms);
		t.kind = BREAKER_PROBE;
	}
	else if (b->state == BREAKER_CLOSED)
		t.kind = BREAKER_PASS;
	t.generation = b->generation;
	pthread_mutex_unlock(&b->lock);
	return t;
}

/*
 * Report how an admitted call went. A PASS failure counts toward the
 * threshold and a PASS success resets the count; a PROBE success closes the
 * breaker and a PROBE failure reopens it. A ticket granted before the
 * latest transition, or a probe reporting at or after its deadline, changes
 * nothing.
 */
void
breaker_report(struct breaker *b, struct breaker_ticket t, bool ok, int64_t now_ms)
{
	pthread_mutex_lock(&b->lock);
	breaker_expire_probe(b, now_ms);
	if (t.generation == b->generation)
	{
		if (t.kind == BREAKER_PASS && b->state == BREAKER_CLOSED)
		{
			if (ok)
				b->failures = 0;
			else if (++b->failures >= b->failure_threshold)
				breaker_move(b, BREAKER_OPEN, now_ms);
		}
		else if (t.kind == BREAKER_PROBE && b->state == BREAKER_HALF_OPEN)
			breaker_move(b, ok ? BREAKER_CLOSED : BREAKER_OPEN, now_ms);
	}
	pthread_mutex_unlock(&b->lock);
}

/*
 * The state now, once an expired probe is counted as failed. An open breaker
 * whose open_ms has passed reads open until the next admit.
 */
enum breaker_state
breaker_state(struct breaker *b, int64_t now_ms)
{
	enum breaker_state s;

	pthread_mutex_lock(&b->lock);
	breaker_expire_probe(b, now_ms);
	s = b->state;
	pthread_mutex_unlock(&b->lock);
	return s;
}

/*
 * Whole seconds, rounded up, a denied client should wait (for Retry-After):
 * 0 when closed; when open, until a probe may be granted; when half-open,
 * until the probe's deadline, by which time the breaker has left half-open.
 * At least 1 when not closed.
 */
int
breaker_retry_after_s(struct breaker *b, int64_t now_ms)
{
	int64_t		ms = 0;
	int			s = 0;

	pthread_mutex_lock(&b->lock);
	breaker_expire_probe(b, now_ms);
	if (b->state == BREAKER_OPEN)
		ms = b->opened_at + b->open_ms - now_ms;
	else if (b->state == BREAKER_HALF_OPEN)
		ms = b->probe_deadline - now_ms;
	if (b->state != BREAKER_CLOSED)
		s = ms > 1000 ? (int) ((ms + 999) / 1000) : 1;
	pthread_mutex_unlock(&b->lock);
	return s;
}

/* A state's name for logs and metrics: "closed", "open", "half_open" */
const char *
breaker_state_name(enum breaker_state s)
{
	switch (s)
	{
		case BREAKER_CLOSED:
			return "closed";
		case BREAKER_OPEN:
			return "open";
		case BREAKER_HALF_OPEN:
			return "half_open";
	}
	return "unknown";
}

/* Copy how many times each transition happened, by enum breaker_transition */
void
breaker_transitions(struct breaker *b, uint64_t out[BREAKER_N_TRANSITIONS])
{
	pthread_mutex_lock(&b->lock);
	memcpy(out, b->transitions, sizeof(b->transitions));
	pthread_mutex_unlock(&b->lock);
}
