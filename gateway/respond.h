/*
 * respond.h
 *		The JSON envelopes of every answer, the stable error codes, and
 *		sending an answer through civetweb.
 *
 * The builders are pure; the senders write to the request's connection and
 * run only in the worker thread serving that request.
 */
#ifndef QR_GATEWAY_RESPOND_H
#define QR_GATEWAY_RESPOND_H

#include <stdbool.h>

#include "json.h"
#include "request.h"

/* Stable error codes; never renumbered in meaning, never reused */
enum api_error
{
	API_ERROR_BAD_REQUEST,
	API_ERROR_UNAUTHORIZED,
	API_ERROR_FORBIDDEN,
	API_ERROR_NOT_FOUND,
	API_ERROR_METHOD_NOT_ALLOWED,
	API_ERROR_CONFLICT,
	API_ERROR_PAYLOAD_TOO_LARGE,
	API_ERROR_UNSUPPORTED_MEDIA_TYPE,
	API_ERROR_RATE_LIMITED,
	API_ERROR_INTERNAL,
	API_ERROR_NOT_READY,
	API_ERROR_SERVICE_UNAVAILABLE,
	API_ERROR_GATEWAY_TIMEOUT,
	API_ERROR_COUNT
};

struct api_error_info
{
	const char *code;			/* "not_found" */
	int			status;			/* HTTP status */
	const char *message;		/* default message */
	int			retry_after;	/* default Retry-After seconds, 0: none */
};

/* An error answer; NULL members take the defaults */
struct error_reply
{
	enum api_error error;
	const char *message;		/* NULL: the code's default message */
	const char *details;		/* raw JSON, NULL: null */
	const char *hint;			/* NULL: null */
	int			retry_after;	/* seconds, 0: the code's default */
};

/* One answer header */
struct respond_header
{
	const char *name;
	const char *value;
};

extern const struct api_error_info *respond_error_info(enum api_error error);
extern bool respond_build_success(struct json_buf *out, const char *data_json,
								  const char *timestamp, const char *request_id);
extern bool respond_build_error(struct json_buf *out, const struct error_reply *reply,
								const char *timestamp, const char *request_id);
extern bool respond_build_page(struct json_buf *out, const char *data_json,
							   const char *pagination_json, const char *count,
							   const char *cache, const char *timestamp,
							   const char *request_id);
extern void respond_not_modified(struct request *rq);
extern void respond_document(struct request *rq, int status, const char *content_type,
							 const char *body, size_t len,
							 const struct respond_header *extra, int nextra);
extern void respond_raw_json(struct request *rq, int status, const char *json, size_t len);
extern void respond_data(struct request *rq, int status, const char *data_json);
extern void respond_page(struct request *rq, int status, const char *data_json,
						 const char *pagination_json, const char *count);
extern void respond_error(struct request *rq, const struct error_reply *reply);
extern void respond_error_code(struct request *rq, enum api_error error,
							   const char *message);
extern void respond_early_error(struct mg_connection *conn, int status);

#endif
