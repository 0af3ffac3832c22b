/*
 * test_respond.c
 *		Unit tests of the envelope builders and the error table of
 *		gateway/respond.c, with a fixed timestamp and request id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "respond.h"

#define TS "2026-11-25T23:59:00.123Z"
#define RID "0123456789abcdef0123456789abcdef"
#define META ",\"meta\":{\"timestamp\":\"" TS "\",\"request_id\":\"" RID "\"}}"

/* Build the error envelope of reply and compare with expected */
static void
assert_error_envelope(const struct error_reply *reply, const char *expected)
{
	struct json_buf buf;

	json_buf_init(&buf);
	assert_true(respond_build_error(&buf, reply, TS, RID));
	assert_string_equal(json_buf_text(&buf), expected);
	json_buf_free(&buf);
}

/* The success envelope wraps data and meta */
static void
test_success_envelope(void **state)
{
	struct json_buf buf;

	(void) state;
	json_buf_init(&buf);
	assert_true(respond_build_success(&buf, "{\"status\":\"ok\"}", TS, RID));
	assert_string_equal(json_buf_text(&buf),
						"{\"success\":true,\"data\":{\"status\":\"ok\"}" META);
	json_buf_free(&buf);
}

/* Missing data is written as null */
static void
test_success_null_data(void **state)
{
	struct json_buf buf;

	(void) state;
	json_buf_init(&buf);
	assert_true(respond_build_success(&buf, NULL, TS, RID));
	assert_string_equal(json_buf_text(&buf), "{\"success\":true,\"data\":null" META);
	json_buf_free(&buf);
}

/* A list page carries pagination after data and meta.count */
static void
test_page_envelope(void **state)
{
	struct json_buf buf;

	(void) state;
	json_buf_init(&buf);
	assert_true(respond_build_page(&buf, "[1,2]", "{\"limit\":2,\"hasNext\":true}", "exact", NULL, TS, RID));
	assert_string_equal(json_buf_text(&buf),
						"{\"success\":true,\"data\":[1,2],\"pagination\":{\"limit\":2,\"hasNext\":true},"
						"\"meta\":{\"timestamp\":\"" TS "\",\"request_id\":\"" RID "\",\"count\":\"exact\"}}");
	json_buf_free(&buf);
	json_buf_init(&buf);
	assert_true(respond_build_page(&buf, "[]", "{}", "", "stale", TS, RID));
	assert_string_equal(json_buf_text(&buf),
						"{\"success\":true,\"data\":[],\"pagination\":{},"
						"\"meta\":{\"timestamp\":\"" TS "\",\"request_id\":\"" RID "\",\"count\":null,"
						"\"cache\":\"stale\"}}");
	json_buf_free(&buf);
}

/* An error without message, details or hint takes the defaults */
static void
test_error_defaults(void **state)
{
	struct error_reply reply = {API_ERROR_NOT_FOUND, NULL, NULL, NULL, 0};

	(void) state;
	assert_error_envelope(&reply,
						  "{\"success\":false,\"error\":{\"code\":\"not_found\","
						  "\"message\":\"no such resource\",\"details\":null,\"hint\":null}" META);
}

/* Message, details and hint are all carried, the message escaped */
static void
test_error_message_details_hint(void **state)
{
	struct error_reply reply = {API_ERROR_BAD_REQUEST, "field \"name\" is missing",
	"{\"field\":\"name\"}", "send a JSON object", 0};

	(void) state;
	assert_error_envelope(&reply,
						  "{\"success\":false,\"error\":{\"code\":\"bad_request\","
						  "\"message\":\"field \\\"name\\\" is missing\","
						  "\"details\":{\"field\":\"name\"},\"hint\":\"send a JSON object\"}" META);
}

/* rate_limited carries retryAfter in the body */
static void
test_rate_limited_has_retry_after(void **state)
{
	struct error_reply reply = {API_ERROR_RATE_LIMITED, NULL, NULL, NULL, 7};

	(void) state;
	assert_error_envelope(&reply,
						  "{\"success\":false,\"error\":{\"code\":\"rate_limited\","
						  "\"message\":\"too many requests\",\"details\":null,\"hint\":null,"
						  "\"retryAfter\":7}" META);
}

/* not_ready carries its checks as details */
static void
test_not_ready_with_details(void **state)
{
	struct error_reply reply = {API_ERROR_NOT_READY, "not ready: redis timeout",
		"{\"redis\":{\"ok\":false,\"ms\":200.1,\"error\":\"timeout\"}}", NULL, 0};

	(void) state;
	assert_error_envelope(&reply,
						  "{\"success\":false,\"error\":{\"code\":\"not_ready\","
						  "\"message\":\"not ready: redis timeout\","
						  "\"details\":{\"redis\":{\"ok\":false,\"ms\":200.1,\"error\":\"timeout\"}},"
						  "\"hint\":null}" META);
}

/* internal_error never carries the caller's message or details */
static void
test_internal_error_hides_internals(void **state)
{
	struct error_reply reply = {API_ERROR_INTERNAL,
		"ERROR: relation \"secret_table\" does not exist", "{\"sql\":\"SELECT\"}", NULL, 0};

	(void) state;
	assert_error_envelope(&reply,
						  "{\"success\":false,\"error\":{\"code\":\"internal_error\","
						  "\"message\":\"internal error\",\"details\":null,\"hint\":null}" META);
}

/* Every stable code has its status, default message and Retry-After */
static void
test_error_table(void **state)
{
	static const struct
	{
		enum api_error error;
		const char *code;
		int			status;
		int			retry_after;
	}			expected[] = {
		{API_ERROR_BAD_REQUEST, "bad_request", 400, 0},
		{API_ERROR_UNAUTHORIZED, "unauthorized", 401, 0},
		{API_ERROR_FORBIDDEN, "forbidden", 403, 0},
		{API_ERROR_NOT_FOUND, "not_found", 404, 0},
		{API_ERROR_METHOD_NOT_ALLOWED, "method_not_allowed", 405, 0},
		{API_ERROR_CONFLICT, "conflict", 409, 0},
		{API_ERROR_PAYLOAD_TOO_LARGE, "payload_too_large", 413, 0},
		{API_ERROR_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, 0},
		{API_ERROR_RATE_LIMITED, "rate_limited", 429, 1},
		{API_ERROR_INTERNAL, "internal_error", 500, 0},
		{API_ERROR_NOT_READY, "not_ready", 503, 1},
		{API_ERROR_SERVICE_UNAVAILABLE, "service_unavailable", 503, 1},
		{API_ERROR_GATEWAY_TIMEOUT, "gateway_timeout", 504, 0},
	};
	const struct api_error_info *info;
	size_t		i;

	(void) state;
	assert_int_equal(sizeof(expected) / sizeof(expected[0]), API_ERROR_COUNT);
	for (i = 0; i < API_ERROR_COUNT; i++)
	{
		info = respond_error_info(expected[i].error);
		assert_string_equal(info->code, expected[i].code);
		assert_int_equal(info->status, expected[i].status);
		assert_int_equal(info->retry_after, expected[i].retry_after);
		assert_non_null(info->message);
		assert_true(strlen(info->message) > 0);
	}
}

/* Run the tests; TAP output with CMOCKA_MESSAGE_OUTPUT=TAP */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_success_envelope),
		cmocka_unit_test(test_success_null_data),
		cmocka_unit_test(test_page_envelope),
		cmocka_unit_test(test_error_defaults),
		cmocka_unit_test(test_error_message_details_hint),
		cmocka_unit_test(test_rate_limited_has_retry_after),
		cmocka_unit_test(test_not_ready_with_details),
		cmocka_unit_test(test_internal_error_hides_internals),
		cmocka_unit_test(test_error_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
