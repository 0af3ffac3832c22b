/*
 * deadline.c
 *		Monotonic deadlines and elapsed times for calls that must not hang.
 *
 * Pure values on the caller's stack; safe in any thread.
 */
#include "deadline.h"

#define NSEC_PER_SEC 1000000000L
#define NSEC_PER_MS 1000000L

/* The deadline ms milliseconds from now */
struct deadline
deadline_in(int ms)
{
	struct deadline d;

	clock_gettime(CLOCK_MONOTONIC, &d.at);
	d.at.tv_sec += ms / 1000;
	d.at.tv_nsec += (long) (ms % 1000) * NSEC_PER_MS;
	if (d.at.tv_nsec >= NSEC_PER_SEC)
	{
		d.at.tv_sec++;
		d.at.tv_nsec -= NSEC_PER_SEC;
	}
	return d;
}

/* Whole milliseconds left before the deadline, rounded up; 0 once passed */
int
deadline_ms_left(const struct deadline *d)
{
	struct timespec now;
	long long	ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long) (d->at.tv_sec - now.tv_sec) * NSEC_PER_SEC +
		(d->at.tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return 0;
	return (int) ((ns + NSEC_PER_MS - 1) / NSEC_PER_MS);
}

/* Milliseconds elapsed since a CLOCK_MONOTONIC instant */
double
elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double) (now.tv_sec - since->tv_sec) * 1000.0 +
		(double) (now.tv_nsec - since->tv_nsec) / 1e6;
}

/* A monotonic clock in ms, for breakers, leases and probes */
int64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The CLOCK_REALTIME moment ms from now, for pthread_cond_timedwait */
struct timespec
realtime_in(int ms)
{
	struct timespec at;

	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += ms / 1000;
	at.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (at.tv_nsec >= 1000000000L)
	{
		at.tv_sec++;
		at.tv_nsec -= 1000000000L;
	}
	return at;
}
