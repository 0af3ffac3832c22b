/*
 * request.c
 *		The one request pipeline: every HTTP request goes through it.
 *
 * server.c calls request_handle in a civetweb worker thread for every path;
 * the struct request lives on that thread's stack and is never shared.
 */
#include "request.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "auth.h"
#include "config.h"
#include "deadline.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "respond.h"
#include "server.h"
#include "stream.h"

#define BODY_READ_CHUNK 16384

/* Whether a client's X-Request-Id is acceptable: [A-Za-z0-9._-]{1,64} */
static bool
request_id_acceptable(const char *id)
{
	size_t		len = 0;

	for (; id[len] != '\0'; len++)
	{
		if (len == REQUEST_ID_MAX)
			return false;
		if (!((id[len] >= 'a' && id[len] <= 'z') || (id[len] >= 'A' && id[len] <= 'Z') ||
			  (id[len] >= '0' && id[len] <= '9') ||
			  id[len] == '.' || id[len] == '_' || id[len] == '-'))
			return false;
	}
	return len > 0;
}

/* Write 32 random hex digits (and a NUL) into out, which holds 33 bytes */
void
request_random_id(char *out)
{
	unsigned char random[16];
	struct timespec now;
	int			i;

	if (getrandom(random, sizeof(random), 0) != (ssize_t) sizeof(random))
	{
		/* cannot happen for 16 bytes once booted; still keep ids distinct */
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(out, 33, "%016llx%016llx",
				 (unsigned long long) now.tv_sec,
				 (unsigned long long) now.tv_nsec ^ (unsigned long long) (uintptr_t) out);
		return;
	}
	for (i = 0; i < (int) sizeof(random); i++)
		snprintf(out + 2 * i, 3, "%02x", random[i]);
}

/* Use the client's request id if acceptable, else 32 random hex digits */
static void
request_assign_id(struct request *rq)
{
	const char *given = mg_get_header(rq->conn, "X-Request-Id");

	if (given != NULL && request_id_acceptable(given))
		strcpy(rq->id, given);
	else
		request_random_id(rq->id);
}

/* Fill the request from civetweb's view of it and tag the log with its id */
static void
request_begin(struct request *rq, struct mg_connection *conn,
			  const struct config *cfg, const atomic_bool *stopping)
{
	const struct mg_request_info *info = mg_get_request_info(conn);

	memset(rq, 0, sizeof(*rq));
	clock_gettime(CLOCK_MONOTONIC, &rq->started);
	rq->conn = conn;
	rq->cfg = cfg;
	rq->stopping = stopping;
	rq->worker = mg_get_thread_pointer(conn);
	rq->method = info->request_method ? info->request_method : "";
	rq->path = info->local_uri_raw ? info->local_uri_raw : "";
	rq->cache_control = "no-store";
	rq->tier = RATE_ANONYMOUS;
	rq->head_only = strcmp(rq->method, "HEAD") == 0;
	request_assign_id(rq);
	log_set_request_id(rq->id);
}

/* How many times a request header is present */
static int
header_count(const struct mg_request_info *info, const char *name)
{
	int			count = 0;
	int			i;

	for (i = 0; i < info->num_headers; i++)
		count += strcasecmp(info->http_headers[i].name, name) == 0;
	return count;
}

/* Refuse a body over the limit; the rest of it is never read */
static void
reject_too_large(struct request *rq)
{
	char		message[96];

	snprintf(message, sizeof(message), "the request body is larger than %d bytes",
			 rq->cfg->max_body_bytes);
	rq->close = true;
	respond_error_code(rq, API_ERROR_PAYLOAD_TOO_LARGE, message);
}

/*
 * Check the framing headers before anything is read. Both Transfer-Encoding
 * and Content-Length, or two Content-Lengths, let a proxy and the gateway
 * disagree on where the body ends (request smuggling): refuse and close.
 * So does a request with MG_MAX_HEADERS headers: civetweb keeps that many
 * and silently drops the rest, framing headers included, and a dropped
 * Content-Length would make the body a request of its own.
 */
static bool
request_check_framing(struct request *rq)
{
	const struct mg_request_info *info = mg_get_request_info(rq->conn);
	int			te = header_count(info, "Transfer-Encoding");
	int			cl = header_count(info, "Content-Length");
	char		message[64];

	if (info->num_headers >= MG_MAX_HEADERS)
	{
		snprintf(message, sizeof(message), "too many request headers (at most %d)",
				 MG_MAX_HEADERS - 1);
		rq->close = true;
		respond_error_code(rq, API_ERROR_BAD_REQUEST, message);
		return false;
	}
	if ((te > 0 && cl > 0) || te > 1 || cl > 1)
	{
		rq->close = true;
		respond_error_code(rq, API_ERROR_BAD_REQUEST, te > 0 && cl > 0 ?
						   "Transfer-Encoding and Content-Length must not be sent together" :
						   "a framing header is repeated");
		return false;
	}
	if (info->content_length > rq->cfg->max_body_bytes)
	{
		reject_too_large(rq);
		return false;
	}
	return true;
}

/* Whether the request announces a body (chunked or a Content-Length > 0) */
static bool
request_has_body(const struct request *rq)
{
	return mg_get_header(rq->conn, "Transfer-Encoding") != NULL ||
		mg_get_request_info(rq->conn)->content_length > 0;
}

/* Grow the body buffer towards limit bytes (plus a NUL); false when out of memory */
static bool
body_grow(struct request *rq, size_t *cap, size_t limit)
{
	size_t		newcap = *cap ? *cap * 2 : BODY_READ_CHUNK;
	char	   *grown;

	if (newcap > limit)
		newcap = limit;
	if ((grown = realloc(rq->body, newcap + 1)) == NULL)
		return false;
	rq->body = grown;
	*cap = newcap;
	return true;
}

/*
 * Tell a client waiting on "Expect: 100-continue" to send the body; civetweb
 * does this only for its own file handlers. A request refused before its
 * body is read never gets it, so the client need not send the body at all.
 */
static void
request_send_continue(struct request *rq)
{
	const char *expect = mg_get_header(rq->conn, "Expect");
	const char *version = mg_get_request_info(rq->conn)->http_version;
	static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
		version != NULL && strcmp(version, "1.1") == 0)
	{
		mg_write(rq->conn, interim, sizeof(interim) - 1);
		rq->sent_continue = true;
	}
}

/*
 * Read the whole body, chunked or not, never more than max_body_bytes + 1
 * bytes. Answers (and returns false) when it is too large, cut short,
 * malformed, or memory runs out.
 */
static bool
request_read_body(struct request *rq)
{
	long long	announced = mg_get_request_info(rq->conn)->content_length;
	size_t		limit = (size_t) rq->cfg->max_body_bytes + 1;
	size_t		cap = 0;
	int			n = 1;

	if (announced >= 0)
		limit = (size_t) announced;
	request_send_continue(rq);
	while (n > 0 && rq->body_len < limit)
	{
		if (rq->body_len == cap && !body_grow(rq, &cap, limit))
		{
			rq->close = true;
			respond_error_code(rq, API_ERROR_INTERNAL, NULL);
			return false;
		}
		n = mg_read(rq->conn, rq->body + rq->body_len, cap - rq->body_len);
		if (n > 0)
			rq->body_len += (size_t) n;
	}
	if (rq->body != NULL)
		rq->body[rq->body_len] = '\0';
	if (rq->body_len > (size_t) rq->cfg->max_body_bytes)
	{
		reject_too_large(rq);
		return false;
	}
	if (n < 0 || (announced >= 0 && rq->body_len < (size_t) announced))
	{
		rq->close = true;
		respond_error_code(rq, API_ERROR_BAD_REQUEST,
						   "the request body is incomplete or malformed");
		return false;
	}
	return true;
}

/* The caller's tier: premium or standard token, or none */
static enum rate_scope
request_tier(const struct request *rq)
{
	if (!rq->authenticated)
		return RATE_ANONYMOUS;
	return rq->claims.tier == JWT_TIER_PREMIUM ? RATE_PREMIUM : RATE_AUTHENTICATED;
}

/* Who a limit counts: the account or guest of the token, else the IP address */
static void
request_principal(const struct request *rq, char *out, size_t size)
{
	if (!rq->authenticated)
		snprintf(out, size, "ip:%s", mg_get_request_info(rq->conn)->remote_addr);
	else
		snprintf(out, size, "%s:%s", rq->claims.role == JWT_ROLE_GUEST ? "g" : "a", rq->claims.sub);
}

/*
 * Count the request against its tier's and its endpoint's limits and the
 * tier's concurrency cap; false after answering 429. Probes (/healthz,
 * /readyz) and /metrics are not limited; a stream gives its concurrency
 * slot back at once (streams have their own cap).
 */
static bool
request_rate_limit(struct request *rq)
{
	const struct route *r = rq->match.route;
	struct worker *w = rq->worker;
	char		principal[RATELIMIT_PRINCIPAL_MAX];
	struct ratelimit_verdict v;
	struct error_reply reply = {API_ERROR_RATE_LIMITED, NULL, NULL, NULL, 0};
	char		message[96];

	if (w == NULL || w->ratelimit == NULL ||
		(strncmp(r->pattern, "/api/", 5) != 0 && strncmp(r->pattern, "/live/", 6) != 0))
		return true;
	request_principal(rq, principal, sizeof(principal));
	v = ratelimit_check(w->ratelimit, w->redis, (enum rate_scope) rq->tier,
						r->rate == ROUTE_RATE_NONE ? -1 : RATE_LOGIN + (int) (r->rate - ROUTE_RATE_LOGIN),
						principal, monotonic_ms());
	rq->rate.limit = v.limit;
	rq->rate.remaining = v.remaining;
	rq->rate.reset_s = v.reset_s;
	if (v.allowed)
	{
		rq->holds_slot = r->handler != handle_leaderboard_stream;
		if (!rq->holds_slot)
			ratelimit_release(w->ratelimit, (enum rate_scope) rq->tier, principal);
		return true;
	}
	metrics_rate_limited(w->metrics, ratelimit_scope_name((enum rate_scope) rq->tier),
						 v.concurrency ? "concurrency" : ratelimit_scope_name(v.scope));
	if (v.concurrency)
		snprintf(message, sizeof(message), "too many requests in flight (at most %d)", v.limit);
	else
		snprintf(message, sizeof(message), "rate limit of %s exceeded", ratelimit_scope_name(v.scope));
	reply.message = message;
	reply.retry_after = v.retry_after_s;
	rq->close = request_has_body(rq);
	respond_error(rq, &reply);
	return false;
}

/* Framing, routing, token, body, handler: the steps every request takes */
static void
request_dispatch(struct request *rq)
{
	enum route_result found;

	if (atomic_load(rq->stopping))
	{
		rq->close = true;
		respond_error_code(rq, API_ERROR_SERVICE_UNAVAILABLE, "the gateway is shutting down");
		return;
	}
	if (!request_check_framing(rq))
		return;
	found = router_find(rq->method, rq->path, &rq->match);
	if (found != ROUTE_FOUND)
	{
		rq->close = request_has_body(rq);
		if (found == ROUTE_METHOD_NOT_ALLOWED)
			respond_error_code(rq, API_ERROR_METHOD_NOT_ALLOWED, NULL);
		else
			respond_error_code(rq, API_ERROR_NOT_FOUND, NULL);
		return;
	}
	if (!auth_request(rq) || !auth_admits(rq))
	{
		rq->close = request_has_body(rq);
		return;
	}
	rq->tier = request_tier(rq);
	if (!request_rate_limit(rq))
		return;
	if (request_has_body(rq) && !request_read_body(rq))
		return;
	rq->match.route->handler(rq);
}

/* Write the access log line of a finished request */
static void
request_log_access(const struct request *rq)
{
	const struct mg_request_info *info = mg_get_request_info(rq->conn);
	struct json_buf fields;

	json_buf_init(&fields);
	json_buf_puts(&fields, "\"method\":");
	json_buf_cstring(&fields, rq->method);
	json_buf_puts(&fields, ",\"path\":");
	json_buf_cstring(&fields, rq->path);
	json_buf_printf(&fields, ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f,\"remote\":",
					rq->status, rq->bytes, elapsed_ms(&rq->started));
	json_buf_cstring(&fields, info->remote_addr);
	if (rq->read_from != NULL)
		json_buf_printf(&fields, ",\"read_from\":\"%s\"", rq->read_from);
	log_access(json_buf_text(&fields));
	json_buf_free(&fields);
}

/* The method as a metrics label: one of the usual ones, else "other" */
static const char *
method_label(const char *method)
{
	static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(method, known[i]) == 0)
			return known[i];
	return "other";
}

/* Count the finished request; log it as an alert when it was slow */
static void
request_finish(struct request *rq)
{
	struct worker *w = rq->worker;
	double		ms = elapsed_ms(&rq->started);
	const char *route = rq->match.route ? rq->match.route->pattern : "unmatched";
	struct json_buf fields;

	if (w != NULL && w->ratelimit != NULL && rq->holds_slot)
	{
		char		principal[RATELIMIT_PRINCIPAL_MAX];

		request_principal(rq, principal, sizeof(principal));
		ratelimit_release(w->ratelimit, (enum rate_scope) rq->tier, principal);
	}
	metrics_request(w ? w->metrics : NULL, method_label(rq->method), route, rq->status,
					ratelimit_scope_name((enum rate_scope) rq->tier), ms / 1000.0);
	if (ms < rq->cfg->slow_request_ms)
		return;
	json_buf_init(&fields);
	json_buf_puts(&fields, "\"alert\":\"slow_request\",\"method\":");
	json_buf_cstring(&fields, rq->method);
	json_buf_puts(&fields, ",\"route\":");
	json_buf_cstring(&fields, route);
	json_buf_printf(&fields, ",\"status\":%d,\"duration_ms\":%.3f,\"threshold_ms\":%d",
					rq->status, ms, rq->cfg->slow_request_ms);
	log_event(LOG_WARN, "slow request", json_buf_text(&fields));
	json_buf_free(&fields);
}

/*
 * Serve one request from start to access log line. Returns the status sent,
 * which tells civetweb the request was handled.
 */
int
request_handle(struct mg_connection *conn, const struct config *cfg,
			   const atomic_bool *stopping)
{
	struct request rq;

	request_begin(&rq, conn, cfg, stopping);
	request_dispatch(&rq);
	if (!rq.responded)
	{
		log_event(LOG_ERROR, "the handler sent no response", NULL);
		respond_error_code(&rq, API_ERROR_INTERNAL, NULL);
	}
	request_finish(&rq);
	if (rq.cfg->access_log)
		request_log_access(&rq);
	free(rq.body);
	log_set_request_id(NULL);
	return rq.status;
}
