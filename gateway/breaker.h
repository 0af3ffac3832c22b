/*
 * breaker.h
 *		Circuit breakers for calls to Postgres and Redis, on a monotonic
 *		millisecond clock that the caller passes in.
 *
 * One struct breaker is shared by all worker threads behind its own mutex.
 */
#ifndef QR_GATEWAY_BREAKER_H
#define QR_GATEWAY_BREAKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum breaker_state
{
	BREAKER_CLOSED,				/* every call passes */
	BREAKER_OPEN,				/* every call is denied */
	BREAKER_HALF_OPEN			/* one probe call runs, the others are denied */
};

/* What breaker_admit grants a caller */
enum breaker_kind
{
	BREAKER_DENIED,				/* do not call; report nothing */
	BREAKER_PASS,				/* call, then report */
	BREAKER_PROBE				/* the one trial call, then report */
};

/* Indexes of the counters filled by breaker_transitions */
enum breaker_transition
{
	BREAKER_CLOSED_TO_OPEN,
	BREAKER_OPEN_TO_HALF_OPEN,
	BREAKER_HALF_OPEN_TO_CLOSED,
	BREAKER_HALF_OPEN_TO_OPEN,
	BREAKER_N_TRANSITIONS
};

/* A grant; its report counts only if no transition happened in between */
struct breaker_ticket
{
	enum breaker_kind kind;
	uint64_t	generation;
};

struct breaker;

/*
 * Called on every transition with the breaker's mutex held: it must not
 * call any breaker function on the same breaker.
 */
typedef void (*breaker_transition_fn) (const struct breaker *b,
									   enum breaker_state from,
									   enum breaker_state to, void *arg);

struct breaker
{
	pthread_mutex_t lock;
	const char *name;			/* not copied; must outlive the breaker */
	int			failure_threshold;	/* consecutive failures that open it */
	int			open_ms;		/* how long it stays open */
	int			probe_ms;		/* how long a probe may run */
	breaker_transition_fn on_transition;	/* or NULL */
	void	   *on_transition_arg;
	enum breaker_state state;
	int			failures;		/* consecutive, while closed */
	int64_t		opened_at;		/* while open */
	int64_t		probe_deadline; /* while half-open */
	uint64_t	generation;		/* bumped on every transition */
	uint64_t	transitions[BREAKER_N_TRANSITIONS];
};

extern void breaker_init(struct breaker *b, const char *name, int failure_threshold,
						 int open_ms, int probe_ms,
						 breaker_transition_fn on_transition, void *arg);
extern void breaker_destroy(struct breaker *b);
extern struct breaker_ticket breaker_admit(struct breaker *b, int64_t now_ms);
extern void breaker_report(struct breaker *b, struct breaker_ticket t, bool ok,
						   int64_t now_ms);
extern enum breaker_state breaker_state(struct breaker *b, int64_t now_ms);
extern int	breaker_retry_after_s(struct breaker *b, int64_t now_ms);
extern const char *breaker_state_name(enum breaker_state s);
extern void breaker_transitions(struct breaker *b,
								uint64_t out[BREAKER_N_TRANSITIONS]);

#endif
