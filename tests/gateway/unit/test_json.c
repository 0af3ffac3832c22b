/*
 * test_json.c
 *		Unit tests of gateway/json.c: the text buffer, JSON string escaping,
 *		UTF-8 checking, timestamps and duplicate keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "json.h"

/* Escape len bytes of text and compare with the expected JSON */
static void
assert_escaped(const char *text, size_t len, const char *expected)
{
	struct json_buf buf;

	json_buf_init(&buf);
	assert_true(json_buf_string(&buf, text, len));
	assert_string_equal(json_buf_text(&buf), expected);
	assert_int_equal(buf.len, strlen(expected));
	json_buf_free(&buf);
}

/* Escape a NUL-terminated text and compare */
static void
assert_escaped_cstr(const char *text, const char *expected)
{
	assert_escaped(text, strlen(text), expected);
}

/* Text without special characters is only quoted */
static void
test_plain_text(void **state)
{
	(void) state;
	assert_escaped_cstr("", "\"\"");
	assert_escaped_cstr("hello world/path", "\"hello world/path\"");
}

/* Quotes and backslashes get a backslash */
static void
test_quotes_and_backslash(void **state)
{
	(void) state;
	assert_escaped_cstr("a\"b\\c", "\"a\\\"b\\\\c\"");
	assert_escaped_cstr("\"\"", "\"\\\"\\\"\"");
}

/* Control characters become \u00XX; DEL passes */
static void
test_control_characters(void **state)
{
	(void) state;
	assert_escaped_cstr("\x01\n\t\r\x1f", "\"\\u0001\\u000a\\u0009\\u000d\\u001f\"");
	assert_escaped_cstr("\x7f", "\"\x7f\"");
}

/* A NUL inside an explicit length is escaped, not an end */
static void
test_embedded_nul(void **state)
{
	(void) state;
	assert_escaped("a\0b", 3, "\"a\\u0000b\"");
	assert_escaped("\0", 1, "\"\\u0000\"");
}

/* Well-formed UTF-8 passes unchanged, U+2028/U+2029 included */
static void
test_valid_utf8_passes(void **state)
{
	(void) state;
	assert_escaped_cstr("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
	/* U+2028 and U+2029 are valid in JSON text */
	assert_escaped_cstr("a\xE2\x80\xA8" "b\xE2\x80\xA9", "\"a\xE2\x80\xA8" "b\xE2\x80\xA9\"");
	/* the largest code point */
	assert_escaped_cstr("\xF4\x8F\xBF\xBF", "\"\xF4\x8F\xBF\xBF\"");
}

#define FFFD "\xEF\xBF\xBD"

/* Each maximal ill-formed sequence becomes one U+FFFD */
static void
test_invalid_utf8_replaced(void **state)
{
	(void) state;
	assert_escaped_cstr("\xFF", "\"" FFFD "\"");
	assert_escaped_cstr("a\xC3", "\"a" FFFD "\"");
	assert_escaped_cstr("a\xC3z", "\"a" FFFD "z\"");
	/* overlong encodings */
	assert_escaped_cstr("\xC0\xAF", "\"" FFFD FFFD "\"");
	assert_escaped_cstr("\xE0\x80\xAF", "\"" FFFD FFFD FFFD "\"");
	/* a UTF-16 surrogate */
	assert_escaped_cstr("\xED\xA0\x80", "\"" FFFD FFFD FFFD "\"");
	/* a truncated 4-byte sequence is one maximal invalid prefix */
	assert_escaped_cstr("\xF0\x9F\x98" "x", "\"" FFFD "x\"");
	/* above U+10FFFF */
	assert_escaped_cstr("\xF4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	/* a stray continuation byte next to a quote */
	assert_escaped_cstr("\x80\"", "\"" FFFD "\\\"\"");
}

/* A NULL string is written as null */
static void
test_null_cstring(void **state)
{
	struct json_buf buf;

	(void) state;
	json_buf_init(&buf);
	json_buf_cstring(&buf, NULL);
	assert_string_equal(json_buf_text(&buf), "null");
	json_buf_free(&buf);
}

/* The buffer grows past its first allocation and stays terminated */
static void
test_buffer_grows(void **state)
{
	struct json_buf buf;
	char		big[5000];
	int			i;

	(void) state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_buf_init(&buf);
	assert_string_equal(json_buf_text(&buf), "");
	for (i = 0; i < 10; i++)
		assert_true(json_buf_printf(&buf, "%s%d", big, i));
	assert_int_equal(buf.len, 10 * (sizeof(big) - 1 + 1));
	assert_false(buf.failed);
	assert_int_equal(buf.data[buf.len], '\0');
	json_buf_free(&buf);
	assert_null(buf.data);
}

/* json_utf8_valid accepts UTF-8 and rejects anything else */
static void
test_utf8_valid(void **state)
{
	(void) state;
	assert_true(json_utf8_valid("", 0));
	assert_true(json_utf8_valid("abc \xC3\xA9", 6));
	assert_false(json_utf8_valid("\xC3", 1));
	assert_false(json_utf8_valid("\xED\xA0\x80", 3));
	assert_false(json_utf8_valid("\xFE", 1));
}

/* Timestamps are RFC 3339 UTC with truncated milliseconds */
static void
test_timestamp(void **state)
{
	struct timespec when = {0, 123456789};
	char		out[JSON_TIMESTAMP_SIZE];

	(void) state;
	json_format_timestamp(out, sizeof(out), &when);
	assert_string_equal(out, "1970-01-01T00:00:00.123Z");
	when.tv_sec = 1795651140;
	when.tv_nsec = 999999999;
	json_format_timestamp(out, sizeof(out), &when);
	assert_string_equal(out, "2026-11-25T23:59:00.999Z");
}

/* Run the tests; TAP output with CMOCKA_MESSAGE_OUTPUT=TAP */
/* Keys named twice at the top level of an object, however spelt; nested ones do not count */
static void
test_duplicate_keys(void **state)
{
	static const char *const twice[] = {
		"{\"a\":1,\"a\":2}",
		"{ \"name\" : \"x\" , \"gate\":1, \"name\":\"y\"}",
		"{\"a\":1,\"\\u0061\":2}",
		"{\"\\u00e9\":1,\"\xc3\xa9\":2}",
		"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}",
		"{\"a\\nb\":1,\"a\\u000ab\":2}",
		"{\"x\":{\"a\":1},\"y\":[1,{\"b\":2}],\"x\":3}",
		"{\"q\\\"\":1,\"q\\u0022\":2}",
	};
	static const char *const once[] = {
		"{}",
		"{\"a\":1,\"b\":2}",
		"{\"a\":{\"a\":1},\"b\":{\"a\":2}}",
		"{\"a\":[{\"b\":1},{\"b\":2}]}",
		"{\"a\":\"a\",\"b\":\"a\"}",
		"{\"a\":\"\\\"a\\\":\",\"b\":1}",
		"{\"A\":1,\"a\":2}",
		"{\"a\":1,\"a",
		"{\"\\u00zz\":1,\"\\u00zz\":2}",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(twice) / sizeof(twice[0]); i++)
		assert_int_equal(json_object_shape(twice[i], strlen(twice[i]), 64), JSON_OBJECT_DUPLICATE_KEY);
	for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
		assert_int_not_equal(json_object_shape(once[i], strlen(once[i]), 64), JSON_OBJECT_DUPLICATE_KEY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text),
		cmocka_unit_test(test_quotes_and_backslash),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_valid_utf8_passes),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_null_cstring),
		cmocka_unit_test(test_buffer_grows),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_timestamp),
		cmocka_unit_test(test_duplicate_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
