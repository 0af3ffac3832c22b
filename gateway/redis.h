/*
 * redis.h
 *		Redis access with a deadline on every call, connecting included.
 *
 * One struct redis_conn per worker thread, never shared: created empty by
 * the thread's start hook, connected on first use, freed after any error or
 * timeout and reconnected on the next call.
 */
#ifndef QR_GATEWAY_REDIS_H
#define QR_GATEWAY_REDIS_H

enum redis_status
{
	REDIS_STATUS_OK,
	REDIS_STATUS_TIMEOUT,		/* the deadline passed */
	REDIS_STATUS_UNAVAILABLE	/* cannot connect, broken, or an error reply */
};

struct redis_conn;

extern struct redis_conn *redis_conn_create(const char *host, int port, int timeout_ms);
extern void redis_conn_destroy(struct redis_conn *rc);
extern enum redis_status redis_ping(struct redis_conn *rc);
extern const char *redis_status_name(enum redis_status status);

#endif
