/*
 * respond.c
 *		The JSON envelopes of every answer, the stable error codes, and
 *		sending an answer through civetweb.
 *
 * The builders are pure; the senders write to the request's connection and
 * run only in the worker thread serving that request.
 */
#include "respond.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

#define RESPOND_MAX_HEADERS 24
#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

static const struct api_error_info api_errors[API_ERROR_COUNT] = {
	[API_ERROR_BAD_REQUEST] = {"bad_request", 400, "the request is not valid", 0},
	[API_ERROR_UNAUTHORIZED] = {"unauthorized", 401, "authentication is required", 0},
	[API_ERROR_FORBIDDEN] = {"forbidden", 403, "not allowed", 0},
	[API_ERROR_NOT_FOUND] = {"not_found", 404, "no such resource", 0},
	[API_ERROR_METHOD_NOT_ALLOWED] = {"method_not_allowed", 405,
	"method not allowed on this resource", 0},
	[API_ERROR_CONFLICT] = {"conflict", 409,
	"the request conflicts with the current state", 0},
	[API_ERROR_PAYLOAD_TOO_LARGE] = {"payload_too_large", 413,
	"request body too large", 0},
	[API_ERROR_UNSUPPORTED_MEDIA_TYPE] = {"unsupported_media_type", 415,
	"request body must be application/json", 0},
	[API_ERROR_RATE_LIMITED] = {"rate_limited", 429, "too many requests", 1},
	[API_ERROR_INTERNAL] = {"internal_error", 500, "internal error", 0},
	[API_ERROR_NOT_READY] = {"not_ready", 503, "not ready", 1},
	[API_ERROR_SERVICE_UNAVAILABLE] = {"service_unavailable", 503,
	"service temporarily unavailable", 1},
	[API_ERROR_GATEWAY_TIMEOUT] = {"gateway_timeout", 504,
	"the database did not answer in time", 0},
};

/* The code, HTTP status and defaults of an error */
const struct api_error_info *
respond_error_info(enum api_error error)
{
	return &api_errors[error];
}

/*
 * Append ,"meta":{...} (with "count" unless NULL, "cache" unless NULL) and
 * the closing brace
 */
static void
append_meta(struct json_buf *out, const char *timestamp, const char *request_id,
			const char *count, const char *cache)
{
	json_buf_puts(out, ",\"meta\":{\"timestamp\":");
	json_buf_cstring(out, timestamp);
	json_buf_puts(out, ",\"request_id\":");
	json_buf_cstring(out, request_id);
	if (count != NULL)
	{
		json_buf_puts(out, ",\"count\":");
		json_buf_cstring(out, count[0] != '\0' ? count : NULL);
	}
	if (cache != NULL)
	{
		json_buf_puts(out, ",\"cache\":");
		json_buf_cstring(out, cache);
	}
	json_buf_puts(out, "}}");
}

/* Build {"success":true,"data":<data_json>,"meta":{...}} */
bool
respond_build_success(struct json_buf *out, const char *data_json,
					  const char *timestamp, const char *request_id)
{
	return respond_build_page(out, data_json, NULL, NULL, NULL, timestamp, request_id);
}

/*
 * Build the success envelope of a list page: "pagination" (raw JSON) after
 * "data", meta.count ("exact", "estimated", or "" for null) and meta.cache
 * (hit, miss, stale, refresh); each is left out when NULL.
 */
bool
respond_build_page(struct json_buf *out, const char *data_json, const char *pagination_json,
				   const char *count, const char *cache, const char *timestamp,
				   const char *request_id)
{
	json_buf_puts(out, "{\"success\":true,\"data\":");
	json_buf_puts(out, data_json ? data_json : "null");
	if (pagination_json != NULL)
	{
		json_buf_puts(out, ",\"pagination\":");
		json_buf_puts(out, pagination_json);
	}
	append_meta(out, timestamp, request_id, count, cache);
	return !out->failed;
}

/* The Retry-After seconds of a reply, 0 when it has none */
static int
reply_retry_after(const struct error_reply *reply)
{
	if (reply->retry_after > 0)
		return reply->retry_after;
	return respond_error_info(reply->error)->retry_after;
}

/*
 * Build {"success":false,"error":{...},"meta":{...}}. An internal error
 * always carries its default message and no details: whatever went wrong
 * inside stays in the log, linked by the request id.
 */
bool
respond_build_error(struct json_buf *out, const struct error_reply *reply,
					const char *timestamp, const char *request_id)
{
	const struct api_error_info *info = respond_error_info(reply->error);
	bool		internal = (reply->error == API_ERROR_INTERNAL);
	const char *message = reply->message;
	const char *details = reply->details;

	if (internal || message == NULL)
		message = info->message;
	if (internal || details == NULL)
		details = "null";
	json_buf_puts(out, "{\"success\":false,\"error\":{\"code\":");
	json_buf_cstring(out, info->code);
	json_buf_puts(out, ",\"message\":");
	json_buf_cstring(out, message);
	json_buf_puts(out, ",\"details\":");
	json_buf_puts(out, details);
	json_buf_puts(out, ",\"hint\":");
	json_buf_cstring(out, reply->hint);
	if (reply->error == API_ERROR_RATE_LIMITED)
		json_buf_printf(out, ",\"retryAfter\":%d", reply_retry_after(reply));
	json_buf_puts(out, "}");
	append_meta(out, timestamp, request_id, NULL, NULL);
	return !out->failed;
}

/* Now as an RFC 3339 timestamp */
static void
timestamp_now(char *out, size_t outlen)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	json_format_timestamp(out, outlen, &now);
}

/*
 * The headers every answer carries, plus Allow for a 405, WWW-Authenticate
 * for a 401, Retry-After when retry_after > 0 and the rate limit's headers
 * when one applied; numbers are formatted into nums.
 */
static int
collect_headers(const struct request *rq, int status, const char *content_type, size_t len,
				int retry_after, struct respond_header *h, char nums[5][24])
{
	int			n = 0;

	snprintf(nums[0], 24, "%zu", len);
	h[n++] = (struct respond_header) {"Content-Type", content_type};
	h[n++] = (struct respond_header) {"Content-Length", nums[0]};
	h[n++] = (struct respond_header) {"X-Request-Id", rq->id};
	h[n++] = (struct respond_header) {"Cache-Control", rq->cache_control};
	if (rq->etag[0] != '\0')
		h[n++] = (struct respond_header) {"ETag", rq->etag};
	if (rq->read_from != NULL)
		h[n++] = (struct respond_header) {"QR-Read-From", rq->read_from};
	if (rq->write_lsn[0] != '\0')
		h[n++] = (struct respond_header) {"QR-Write-LSN", rq->write_lsn};
	if (status == 405 && rq->match.allow[0] != '\0')
		h[n++] = (struct respond_header) {"Allow", rq->match.allow};
	if (status == 401)
		h[n++] = (struct respond_header) {"WWW-Authenticate", "Bearer"};
	if (retry_after > 0)
	{
		snprintf(nums[1], 24, "%d", retry_after);
		h[n++] = (struct respond_header) {"Retry-After", nums[1]};
	}
	if (rq->rate.limit > 0)
	{
		snprintf(nums[2], 24, "%d", rq->rate.limit);
		snprintf(nums[3], 24, "%d", rq->rate.remaining);
		snprintf(nums[4], 24, "%d", rq->rate.reset_s);
		h[n++] = (struct respond_header) {"RateLimit-Limit", nums[2]};
		h[n++] = (struct respond_header) {"RateLimit-Remaining", nums[3]};
		h[n++] = (struct respond_header) {"RateLimit-Reset", nums[4]};
	}
	return n;
}

/*
 * Whether the connection stays open after this answer: HTTP/1.1 without
 * "Connection: close", or HTTP/1.0 asking for keep-alive; and not closed by
 * the gateway (framing trouble, an interim 100 Continue, shutting down).
 * When not, civetweb is told so too.
 */
static bool
keep_alive(struct request *rq)
{
	const char *version = mg_get_request_info(rq->conn)->http_version;
	const char *connection = mg_get_header(rq->conn, "Connection");
	bool		keep;

	if (connection != NULL)
		keep = strcasecmp(connection, "keep-alive") == 0;
	else
		keep = version != NULL && strcmp(version, "1.1") == 0;
	keep = keep && !rq->close && !rq->sent_continue && !atomic_load(rq->stopping);
	if (!keep)
		mg_disable_connection_keep_alive(rq->conn);
	return keep;
}

/* The Date header's value, formatted once per second per thread */
static const char *
http_date(void)
{
	static _Thread_local char text[40];
	static _Thread_local time_t formatted;
	time_t		now = time(NULL);
	struct tm	tm;

	if (now != formatted)
	{
		gmtime_r(&now, &tm);
		strftime(text, sizeof(text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		formatted = now;
	}
	return text;
}

/*
 * Write the status line, headers and body with one write: civetweb's header
 * functions send each line by itself, a packet each on a TCP_NODELAY socket
 */
static void
send_answer(struct request *rq, int status, const struct respond_header *h, int n,
			const char *body, size_t len)
{
	struct json_buf out;

	json_buf_init(&out);
	json_buf_printf(&out, "HTTP/1.1 %d %s\r\n", status, mg_get_response_code_text(rq->conn, status));
	for (int i = 0; i < n; i++)
		json_buf_printf(&out, "%s: %s\r\n", h[i].name, h[i].value);
	json_buf_printf(&out, "Date: %s\r\nConnection: %s\r\n\r\n", http_date(),
					keep_alive(rq) ? "keep-alive" : "close");
	if (body != NULL && len > 0)
		json_buf_append(&out, body, len);
	if (out.failed)
	{
		mg_disable_connection_keep_alive(rq->conn);
		log_event(LOG_ERROR, "out of memory writing an answer", NULL);
	}
	else
		mg_write(rq->conn, out.data, out.len);
	json_buf_free(&out);
}

/*
 * Send status, the common headers, extra ones and the body (left out for
 * HEAD); the one place that writes an answer
 */
static void
respond_send(struct request *rq, int status, const char *content_type, const char *body,
			 size_t len, int retry_after, const struct respond_header *extra, int nextra)
{
	struct respond_header headers[RESPOND_MAX_HEADERS];
	char		nums[5][24];
	int			n;

	if (rq->responded)
	{
		log_event(LOG_ERROR, "a second response to one request was dropped", NULL);
		return;
	}
	rq->responded = true;
	rq->status = status;
	rq->bytes = rq->head_only ? 0 : len;
	n = collect_headers(rq, status, content_type, len, retry_after, headers, nums);
	for (int i = 0; i < nextra && n < RESPOND_MAX_HEADERS; i++)
		headers[n++] = extra[i];
	send_answer(rq, status, headers, n, rq->head_only ? NULL : body, len);
}

/* Answer with a document that is not a JSON envelope (HTML, metrics text) */
void
respond_document(struct request *rq, int status, const char *content_type, const char *body,
				 size_t len, const struct respond_header *extra, int nextra)
{
	respond_send(rq, status, content_type, body, len, 0, extra, nextra);
}

/* Send the 500 envelope built without allocating, when memory ran out */
static void
respond_out_of_memory(struct request *rq, const char *timestamp)
{
	char		body[256];
	int			len;

	log_event(LOG_ERROR, "out of memory while building a response", NULL);
	rq->close = true;
	len = snprintf(body, sizeof(body),
				   "{\"success\":false,\"error\":{\"code\":\"internal_error\","
				   "\"message\":\"internal error\",\"details\":null,\"hint\":null},"
				   "\"meta\":{\"timestamp\":\"%s\",\"request_id\":\"%s\"}}",
				   timestamp, rq->id);
	respond_send(rq, 500, JSON_CONTENT_TYPE, body, (size_t) len, 0, NULL, 0);
}

/* Answer 304 Not Modified: the headers of the cached answer, no body */
void
respond_not_modified(struct request *rq)
{
	struct respond_header headers[RESPOND_MAX_HEADERS];
	int			n = 0;

	if (rq->responded)
		return;
	rq->responded = true;
	rq->status = 304;
	rq->bytes = 0;
	headers[n++] = (struct respond_header) {"X-Request-Id", rq->id};
	headers[n++] = (struct respond_header) {"Cache-Control", rq->cache_control};
	headers[n++] = (struct respond_header) {"ETag", rq->etag};
	send_answer(rq, 304, headers, n, NULL, 0);
}

/* Answer with a JSON document as it is, without an envelope */
void
respond_raw_json(struct request *rq, int status, const char *json, size_t len)
{
	respond_send(rq, status, JSON_CONTENT_TYPE, json, len, 0, NULL, 0);
}

/* Answer with the success envelope around data_json (raw JSON) */
void
respond_data(struct request *rq, int status, const char *data_json)
{
	respond_page(rq, status, data_json, NULL, NULL);
}

/* Answer with the success envelope of a page (see respond_build_page) */
void
respond_page(struct request *rq, int status, const char *data_json,
			 const char *pagination_json, const char *count)
{
	struct json_buf body;
	char		ts[JSON_TIMESTAMP_SIZE];

	timestamp_now(ts, sizeof(ts));
	json_buf_init(&body);
	if (respond_build_page(&body, data_json, pagination_json, count, rq->cache_result, ts, rq->id))
		respond_send(rq, status, JSON_CONTENT_TYPE, body.data, body.len, 0, NULL, 0);
	else
		respond_out_of_memory(rq, ts);
	json_buf_free(&body);
}

/* Answer with the error envelope of reply and its status */
void
respond_error(struct request *rq, const struct error_reply *reply)
{
	struct json_buf body;
	char		ts[JSON_TIMESTAMP_SIZE];

	timestamp_now(ts, sizeof(ts));
	json_buf_init(&body);
	if (respond_build_error(&body, reply, ts, rq->id))
		respond_send(rq, respond_error_info(reply->error)->status, JSON_CONTENT_TYPE, body.data,
					 body.len, reply_retry_after(reply), NULL, 0);
	else
		respond_out_of_memory(rq, ts);
	json_buf_free(&body);
}

/* Answer with an error code and message (NULL: the default message) */
void
respond_error_code(struct request *rq, enum api_error error, const char *message)
{
	struct error_reply reply = {error, message, NULL, NULL, 0};

	respond_error(rq, &reply);
}

/* How an error civetweb found by itself is answered */
struct early_error
{
	int			civetweb_status;
	int			status;
	enum api_error error;
	const char *message;
};

static const struct early_error early_errors[] = {
	{411, 411, API_ERROR_BAD_REQUEST, "a request body needs a valid Content-Length or chunked encoding"},
	{413, 413, API_ERROR_PAYLOAD_TOO_LARGE, "the request head is too large"},
	{414, 414, API_ERROR_BAD_REQUEST, "the request target is too long"},
	{431, 431, API_ERROR_BAD_REQUEST, "the request headers are too large"},
	{505, 400, API_ERROR_BAD_REQUEST, "unsupported HTTP version; use HTTP/1.0 or HTTP/1.1"},
};

/* The answer to a civetweb status: the table's, else 400 (4xx) or 500 */
static struct early_error
early_error_for(int civetweb_status)
{
	struct early_error other = {civetweb_status, civetweb_status, API_ERROR_BAD_REQUEST,
	"the request is malformed"};
	size_t		i;

	for (i = 0; i < sizeof(early_errors) / sizeof(early_errors[0]); i++)
	{
		if (early_errors[i].civetweb_status == civetweb_status)
			return early_errors[i];
	}
	if (civetweb_status >= 500)
	{
		other.error = API_ERROR_INTERNAL;
		other.message = NULL;
	}
	else if (civetweb_status != 400)
		other.status = 400;
	return other;
}

/*
 * Answer an error civetweb found before any handler ran (a malformed request
 * line, oversized headers, an unknown transfer coding) with the JSON
 * envelope and close the connection; civetweb's header functions are not
 * usable at that point, so the head is written as text.
 */
void
respond_early_error(struct mg_connection *conn, int status)
{
	struct early_error early = early_error_for(status);
	struct error_reply reply = {.error = early.error, .message = early.message};
	char		timestamp[JSON_TIMESTAMP_SIZE];
	char		id[REQUEST_ID_MAX + 1];
	char		fields[32];
	struct json_buf body;

	timestamp_now(timestamp, sizeof(timestamp));
	request_random_id(id);
	json_buf_init(&body);
	if (respond_build_error(&body, &reply, timestamp, id))
	{
		mg_printf(conn, "HTTP/1.1 %d %s\r\n"
				  "Content-Type: application/json; charset=utf-8\r\n"
				  "Content-Length: %zu\r\n"
				  "X-Request-Id: %s\r\n"
				  "Cache-Control: no-store\r\n"
				  "Connection: close\r\n\r\n",
				  early.status, mg_get_response_code_text(conn, early.status), body.len, id);
		mg_write(conn, json_buf_text(&body), body.len);
	}
	json_buf_free(&body);
	log_set_request_id(id);
	snprintf(fields, sizeof(fields), "\"status\":%d", early.status);
	log_event(LOG_INFO, "malformed request refused", fields);
	log_set_request_id(NULL);
}
