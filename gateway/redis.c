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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "deadline.h"
#include "json.h"
#include "log.h"

struct redis_conn
{
	const char *host;
	int			port;
	int			timeout_ms;
	redisContext *ctx;			/* NULL until connected, and after an error */
};

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

/* Close the connection, if any, and free the handle */
void
redis_conn_destroy(struct redis_conn *rc)
{
	if (rc == NULL)
		return;
	if (rc->ctx != NULL)
		redisFree(rc->ctx);
	free(rc);
}

/* The name of a status as it appears in logs and answers */
const char *
redis_status_name(enum redis_status status)
{
	static const char *const names[] = {"ok", "timeout", "unavailable"};

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
	redisFree(rc->ctx);
	rc->ctx = NULL;
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

/* Run a command given as argc arguments; *reply is the caller's to free */
static enum redis_status
redis_run(struct redis_conn *rc, int argc, const char **argv,
		  const size_t *argvlen, redisReply **reply)
{
	struct deadline deadline = deadline_in(rc->timeout_ms);
	enum redis_status status;
	int			ms;
	int			saved_errno;

	*reply = NULL;
	if (rc->ctx != NULL && !redis_idle_ok(rc->ctx))
	{
		log_event(LOG_INFO, "redis closed an idle connection; reconnecting", NULL);
		redisFree(rc->ctx);
		rc->ctx = NULL;
	}
	if (rc->ctx == NULL && (status = redis_connect(rc, &deadline)) != REDIS_STATUS_OK)
		return status;
	if ((ms = deadline_ms_left(&deadline)) == 0)
		return REDIS_STATUS_TIMEOUT;
	if (redisSetTimeout(rc->ctx, ms_to_timeval(ms)) != REDIS_OK)
	{
		redis_drop(rc, REDIS_STATUS_UNAVAILABLE);
		return REDIS_STATUS_UNAVAILABLE;
	}
	*reply = redisCommandArgv(rc->ctx, argc, argv, argvlen);
	saved_errno = errno;
	if (*reply == NULL)
	{
		status = classify_failure(rc->ctx, saved_errno);
		redis_drop(rc, status);
		return status;
	}
	if ((*reply)->type == REDIS_REPLY_ERROR)
	{
		log_redis_problem("redis answered an error", (*reply)->str);
		freeReplyObject(*reply);
		*reply = NULL;
		return REDIS_STATUS_UNAVAILABLE;
	}
	return REDIS_STATUS_OK;
}

/* PING Redis within the deadline */
enum redis_status
redis_ping(struct redis_conn *rc)
{
	const char *argv[] = {"PING"};
	const size_t argvlen[] = {4};
	enum redis_status status;
	redisReply *reply;

	if (rc == NULL)
		return REDIS_STATUS_UNAVAILABLE;
	status = redis_run(rc, 1, argv, argvlen, &reply);
	if (reply != NULL)
		freeReplyObject(reply);
	return status;
}
