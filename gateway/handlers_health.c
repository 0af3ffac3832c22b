/*
 * handlers_health.c
 *		GET /healthz (liveness), GET /readyz (Postgres and Redis reachable;
 *		the read replicas' states are shown but do not decide readiness) and
 *		GET /metrics (Prometheus text, to loopback callers only).
 *
 * Run in a civetweb worker thread with that thread's own connections; each
 * check is bounded by its deadline (db_timeout_ms, redis_timeout_ms).
 */
#include <stdbool.h>
#include <string.h>

#include "db.h"
#include "deadline.h"
#include "handlers.h"
#include "json.h"
#include "metrics.h"
#include "redis.h"
#include "replicas.h"
#include "respond.h"
#include "server.h"
#include "version.h"

/* The outcome of one readiness check */
struct check
{
	const char *name;
	const char *error;			/* NULL when the check passed */
	double		ms;
};

/* Answer that the process is alive, without touching Postgres or Redis */
void
handle_healthz(struct request *rq)
{
	respond_data(rq, 200, "{\"status\":\"ok\",\"version\":\"" QR_GATEWAY_VERSION "\"}");
}

/* Run SELECT 1 on this thread's Postgres connection, past its breaker */
static void
check_postgres(struct request *rq, struct check *check)
{
	struct timespec start;
	enum db_status status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	status = db_ping(rq->worker ? rq->worker->db : NULL);
	check->ms = elapsed_ms(&start);
	check->error = (status == DB_OK) ? NULL : db_status_name(status);
}

/* PING this thread's Redis connection, past its breaker */
static void
check_redis(struct request *rq, struct check *check)
{
	struct timespec start;
	enum redis_status status;

	clock_gettime(CLOCK_MONOTONIC, &start);
	status = redis_ping(rq->worker ? rq->worker->redis : NULL);
	check->ms = elapsed_ms(&start);
	check->error = (status == REDIS_STATUS_OK) ? NULL : redis_status_name(status);
}

/* Append {"postgres":{"ok":…,"ms":…[,"error":…]},…} */
static void
append_checks(struct json_buf *out, const struct check *checks, int count)
{
	int			i;

	json_buf_puts(out, "{");
	for (i = 0; i < count; i++)
	{
		json_buf_printf(out, "%s\"%s\":{\"ok\":%s,\"ms\":%.1f", i ? "," : "",
						checks[i].name, checks[i].error ? "false" : "true", checks[i].ms);
		if (checks[i].error)
			json_buf_printf(out, ",\"error\":\"%s\"", checks[i].error);
		json_buf_puts(out, "}");
	}
	json_buf_puts(out, "}");
}

/* Append "not ready: postgres timeout, redis unavailable" */
static void
append_not_ready_message(struct json_buf *out, const struct check *checks, int count)
{
	bool		first = true;
	int			i;

	json_buf_puts(out, "not ready:");
	for (i = 0; i < count; i++)
	{
		if (checks[i].error == NULL)
			continue;
		json_buf_printf(out, "%s %s %s", first ? "" : ",", checks[i].name, checks[i].error);
		first = false;
	}
}

/* Answer 200 when Postgres and Redis both answer in time, else 503 not_ready */
void
handle_readyz(struct request *rq)
{
	struct check checks[2] = {{"postgres", NULL, 0}, {"redis", NULL, 0}};
	struct json_buf details;
	struct json_buf text;
	struct error_reply reply = {API_ERROR_NOT_READY, NULL, NULL, NULL, 0};

	check_postgres(rq, &checks[0]);
	check_redis(rq, &checks[1]);
	json_buf_init(&details);
	json_buf_init(&text);
	append_checks(&details, checks, 2);
	if (checks[0].error == NULL && checks[1].error == NULL)
	{
		json_buf_puts(&text, "{\"status\":\"ready\",\"checks\":");
		json_buf_puts(&text, json_buf_text(&details));
		if (rq->worker != NULL && rq->worker->replicas != NULL)
		{
			json_buf_puts(&text, ",\"replicas\":");
			replica_set_describe(rq->worker->replicas, &text);
		}
		json_buf_puts(&text, "}");
		if (text.failed)
			respond_error_code(rq, API_ERROR_INTERNAL, NULL);
		else
			respond_data(rq, 200, text.data);
	}
	else
	{
		append_not_ready_message(&text, checks, 2);
		reply.message = json_buf_text(&text);
		reply.details = details.failed ? NULL : json_buf_text(&details);
		respond_error(rq, &reply);
	}
	json_buf_free(&details);
	json_buf_free(&text);
}

/* Whether the caller is on this machine: 127.0.0.0/8 or ::1 */
static bool
from_loopback(const struct request *rq)
{
	const char *addr = mg_get_request_info(rq->conn)->remote_addr;

	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/* The Prometheus text of every counter and gauge; 403 from elsewhere than loopback */
void
handle_metrics(struct request *rq)
{
	struct json_buf text;

	if (!from_loopback(rq))
	{
		respond_error_code(rq, API_ERROR_FORBIDDEN, "metrics are served to loopback callers only");
		return;
	}
	json_buf_init(&text);
	if (metrics_render(&text))
		respond_document(rq, 200, METRICS_CONTENT_TYPE, text.data, text.len, NULL, 0);
	else
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	json_buf_free(&text);
}
