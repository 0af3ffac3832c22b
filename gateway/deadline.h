/*
 * deadline.h
 *		Monotonic deadlines and elapsed times for calls that must not hang.
 *
 * Pure values on the caller's stack; safe in any thread.
 */
#ifndef QR_GATEWAY_DEADLINE_H
#define QR_GATEWAY_DEADLINE_H

#include <stdint.h>
#include <time.h>

struct deadline
{
	struct timespec at;			/* CLOCK_MONOTONIC */
};

extern struct deadline deadline_in(int ms);
extern int	deadline_ms_left(const struct deadline *d);
extern double elapsed_ms(const struct timespec *since);
extern int64_t monotonic_ms(void);
extern struct timespec realtime_in(int ms);

#endif
