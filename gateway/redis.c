/*
 * redis.c
 *		Redis access with a deadline on every call, connecting included.
 *
 * One struct redis_conn per worker thread, never shared. hiredis bounds a
 * command only through redisSetTimeout, so it is set before every command
 * to the time left; a context that saw any error is freed, never reused.
 */
#include "redis.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "breaker.h"
#include "deadline.h"
#include "json.h"
#include "log.h"

struct redis_conn
{
	const char *host;
	int			port;
	int			timeout_ms;
	redisContext *ctx;			/* NULL until connected, and after an error */
	struct breaker *breaker;	/* guards every call; NULL for none */
};

static atomic_int open_connections;	/* over every redis_conn, for metrics */

/* Close the connection, if any */
static void
redis_close(struct redis_conn *rc)
{
	if (rc->ctx == NULL)
		return;
	redisFree(rc->ctx);
	rc->ctx = NULL;
	atomic_fetch_sub(&open_connections, 1);
}

/* How many Redis connections the process has open */
int
redis_open_connections(void)
{
	return atomic_load(&open_connections);
}

/* Make an unconnected handle; the connection is opened on first use */
struct redis_conn *
redis_conn_create(const char *host, int port, int timeout_ms)
{
	struct redis_conn *rc = calloc(1, sizeof(*rc));

	if (rc == NULL)
		return NULL;
	rc->host = host;
	rc->port = port;
	rc->timeout_ms = timeout_ms;
	return rc;
}

/* Guard every call of this connection with a (shared) circuit breaker */
void
redis_conn_set_breaker(struct redis_conn *rc, struct breaker *breaker)
{
	if (rc != NULL)
		rc->breaker = breaker;
}

/* Close the connection, if any, and free the handle */
void
redis_conn_destroy(struct redis_conn *rc)
{
	if (rc == NULL)
		return;
	redis_close(rc);
	free(rc);
}

/* The name of a status as it appears in logs and answers */
const char *
redis_status_name(enum redis_status status)
{
	static const char *const names[] = {"ok", "timeout", "unavailable", "circuit_open"};

	return names[status];
}

/* Milliseconds as a struct timeval */
static struct timeval
ms_to_timeval(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* Log a Redis problem with hiredis's text */
static void
log_redis_problem(const char *msg, const char *detail)
{
	struct json_buf fields;

	json_buf_init(&fields);
	json_buf_puts(&fields, "\"error\":");
	json_buf_cstring(&fields, detail);
	log_event(LOG_WARN, msg, json_buf_text(&fields));
	json_buf_free(&fields);
}

/* Whether a failed context ran out of time (errno saved right after the call) */
static enum redis_status
classify_failure(const redisContext *ctx, int saved_errno)
{
	if (ctx->err == REDIS_ERR_IO &&
		(saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
		 saved_errno == ETIMEDOUT || saved_errno == EINPROGRESS))
		return REDIS_STATUS_TIMEOUT;
	return REDIS_STATUS_UNAVAILABLE;
}

/* Free the context after an error; the next call reconnects */
static void
redis_drop(struct redis_conn *rc, enum redis_status why)
{
	log_redis_problem(why == REDIS_STATUS_TIMEOUT ?
					  "redis call timed out; connection dropped" :
					  "redis connection lost", rc->ctx->errstr);
	redis_close(rc);
}

/* Connect within the deadline */
static enum redis_status
redis_connect(struct redis_conn *rc, const struct deadline *deadline)
{
	enum redis_status status;
	redisContext *ctx;
	int			ms = deadline_ms_left(deadline);
	int			saved_errno;

	if (ms == 0)
		return REDIS_STATUS_TIMEOUT;
	ctx = redisConnectWithTimeout(rc->host, rc->port, ms_to_timeval(ms));
	saved_errno = errno;
	if (ctx == NULL)
		return REDIS_STATUS_UNAVAILABLE;
	if (ctx->err)
	{
		status = classify_failure(ctx, saved_errno);
		log_redis_problem(status == REDIS_STATUS_TIMEOUT ?
						  "connecting to redis timed out" :
						  "cannot connect to redis", ctx->errstr);
		redisFree(ctx);
		return status;
	}
	rc->ctx = ctx;
	atomic_fetch_add(&open_connections, 1);
	return REDIS_STATUS_OK;
}

/*
 * Whether an idle connection is still usable. Redis never speaks unasked,
 * so a readable socket means it closed the connection (a restart, a
 * timeout); finding that now lets the call reconnect instead of failing.
 */
static bool
redis_idle_ok(const redisContext *ctx)
{
	struct pollfd pfd;

	pfd.fd = ctx->fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, 0) == 0;
}

/* Connect if needed and set the time left as hiredis's timeout */
static enum redis_status
redis_ready(struct redis_conn *rc, const struct deadline *deadline)
{
	enum redis_status status;
	int			ms;

	if (rc->ctx != NULL && !redis_idle_ok(rc->ctx))
	{
		log_event(LOG_INFO, "redis closed an idle connection; reconnecting", NULL);
		redis_close(rc);
	}
	if (rc->ctx == NULL && (status = redis_connect(rc, deadline)) != REDIS_STATUS_OK)
		return status;
	if ((ms = deadline_ms_left(deadline)) == 0)
		return REDIS_STATUS_TIMEOUT;
	if (redisSetTimeout(rc->ctx, ms_to_timeval(ms)) != REDIS_OK)
	{
		redis_drop(rc, REDIS_STATUS_UNAVAILABLE);
		return REDIS_STATUS_UNAVAILABLE;
	}
	return REDIS_STATUS_OK;
}

/* Send the commands and read the replies (see redis_pipeline) */
static enum redis_status
redis_exchange(struct redis_conn *rc, int n, const struct redis_cmd *cmds,
			   redisReply **replies)
{
	struct deadline deadline = deadline_in(rc->timeout_ms);
	enum redis_status status;
	void	   *reply;
	int			saved_errno;
	int			i;

	if ((status = redis_ready(rc, &deadline)) != REDIS_STATUS_OK)
		return status;
	for (i = 0; i < n; i++)
		if (redisAppendCommandArgv(rc->ctx, cmds[i].argc, cmds[i].argv, cmds[i].argvlen) != REDIS_OK)
			break;
	for (int j = 0; i == n && j < n; j++)
	{
		if (redisGetReply(rc->ctx, &reply) != REDIS_OK || reply == NULL)
			break;
		replies[j] = reply;
	}
	saved_errno = errno;
	if (i == n && replies[n - 1] != NULL)
		return REDIS_STATUS_OK;
	status = classify_failure(rc->ctx, saved_errno);
	for (i = 0; i < n; i++)
	{
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
		replies[i] = NULL;
	}
	redis_drop(rc, status);
	return status;
}

/*
 * Send n commands at once and read their n replies: one round trip, within
 * the connection's deadline. On REDIS_STATUS_OK every replies[i] is set and
 * the caller's to free (freeReplyObject); error replies (NOSCRIPT, WRONGTYPE)
 * are replies too, of type REDIS_REPLY_ERROR. On a failure none is set and
 * the connection is dropped. With a breaker, an open circuit answers
 * REDIS_STATUS_CIRCUIT_OPEN at once.
 */
enum redis_status
redis_pipeline(struct redis_conn *rc, int n, const struct redis_cmd *cmds,
			   redisReply **replies)
{
	struct breaker_ticket ticket;
	enum redis_status status;

	for (int i = 0; i < n; i++)
		replies[i] = NULL;
	if (rc == NULL)
		return REDIS_STATUS_UNAVAILABLE;
	if (rc->breaker == NULL)
		return redis_exchange(rc, n, cmds, replies);
	ticket = breaker_admit(rc->breaker, monotonic_ms());
	if (ticket.kind == BREAKER_DENIED)
		return REDIS_STATUS_CIRCUIT_OPEN;
	status = redis_exchange(rc, n, cmds, replies);
	breaker_report(rc->breaker, ticket, status == REDIS_STATUS_OK, monotonic_ms());
	return status;
}

/* PING Redis within the deadline, past the breaker: readiness asks the server itself */
enum redis_status
redis_ping(struct redis_conn *rc)
{
	const char *argv[] = {"PING"};
	const size_t argvlen[] = {4};
	const struct redis_cmd ping = {1, argv, argvlen};
	enum redis_status status;
	redisReply *reply;

	if (rc == NULL)
		return REDIS_STATUS_UNAVAILABLE;
	reply = NULL;
	status = redis_exchange(rc, 1, &ping, &reply);
	if (status == REDIS_STATUS_OK && reply->type == REDIS_REPLY_ERROR)
	{
		log_redis_problem("redis answered an error", reply->str);
		status = REDIS_STATUS_UNAVAILABLE;
	}
	if (reply != NULL)
		freeReplyObject(reply);
	return status;
}
