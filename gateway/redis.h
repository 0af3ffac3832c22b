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

#include <stddef.h>

#include <hiredis/hiredis.h>

enum redis_status
{
	REDIS_STATUS_OK,
	REDIS_STATUS_TIMEOUT,		/* the deadline passed */
	REDIS_STATUS_UNAVAILABLE,	/* cannot connect, broken, or an error reply */
	REDIS_STATUS_CIRCUIT_OPEN	/* not tried: the circuit breaker is open */
};

struct redis_conn;
struct breaker;

/* One command of a pipeline, as binary-safe arguments */
struct redis_cmd
{
	int			argc;
	const char **argv;
	const size_t *argvlen;
};

extern struct redis_conn *redis_conn_create(const char *host, int port, int timeout_ms);
extern void redis_conn_destroy(struct redis_conn *rc);
extern void redis_conn_set_breaker(struct redis_conn *rc, struct breaker *breaker);
extern enum redis_status redis_ping(struct redis_conn *rc);
extern enum redis_status redis_pipeline(struct redis_conn *rc, int n,
										const struct redis_cmd *cmds, redisReply **replies);
extern int	redis_open_connections(void);
extern const char *redis_status_name(enum redis_status status);

#endif
