/*
 * test_query.c
 *		Unit tests of gateway/query.c: decoding and refusing query strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "query.h"

static struct query_param params[QUERY_MAX_PARAMS];
static char buf[QUERY_MAX_TEXT];

static int
parse(const char *qs, const char **error)
{
	return query_parse(qs, params, QUERY_MAX_PARAMS, buf, sizeof(buf), error);
}

/* Names, values, escapes and '+' */
static void
test_decoding(void **state)
{
	const char *error;

	(void) state;
	assert_int_equal(parse(NULL, &error), 0);
	assert_int_equal(parse("", &error), 0);
	assert_int_equal(parse("limit=20&cursor=AQ-_x&rank_mode=dense", &error), 3);
	assert_string_equal(params[0].name, "limit");
	assert_string_equal(params[0].value, "20");
	assert_string_equal(params[1].value, "AQ-_x");
	assert_string_equal(params[2].name, "rank_mode");
	assert_int_equal(parse("q=a%20b+c%2B%26%3d&empty=&flag", &error), 3);
	assert_string_equal(params[0].value, "a b c+&=");
	assert_string_equal(params[1].value, "");
	assert_string_equal(params[2].name, "flag");
	assert_string_equal(params[2].value, "");
	assert_int_equal(parse("&&a=1&", &error), 1);
	assert_int_equal(parse("name=Zo%C3%AB", &error), 1);
	assert_string_equal(params[0].value, "Zo\xc3\xab");
}

/* Everything that could make a request mean two things, or hide bytes */
static void
test_refusals(void **state)
{
	static const char *const bad[] = {
		"a=1&a=2", "a=%", "a=%2", "a=%zz", "a=%00", "=1", "A=1", "a-b=1", "a%3D=1",
		"a=%C3", "a=%ff%fe", "abcdefghijklmnopqrstuvwxyz0123456=1",
	};
	const char *error;

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		error = NULL;
		assert_int_equal(parse(bad[i], &error), -1);
		assert_non_null(error);
	}
	parse("a=1&a=2", &error);
	assert_string_equal(error, "a query parameter appears more than once");
}

/* Limits: parameters and decoded bytes */
static void
test_limits(void **state)
{
	char		qs[4096] = "";
	char		small[8];
	const char *error;

	(void) state;
	for (int i = 0; i < QUERY_MAX_PARAMS + 1; i++)
	{
		char		part[16];

		snprintf(part, sizeof(part), "%sp%d=1", i ? "&" : "", i);
		strcat(qs, part);
	}
	assert_int_equal(parse(qs, &error), -1);
	assert_string_equal(error, "too many query parameters");
	assert_int_equal(query_parse("abc=defgh", params, QUERY_MAX_PARAMS, small, sizeof(small), &error), -1);
}

/*
 * A buffer filled to the last byte, then an empty part: refused, nothing
 * written past the buffer (a guard byte after it stays as it was)
 */
static void
test_full_buffer(void **state)
{
	struct query_param p[QUERY_MAX_PARAMS];
	char		qs[QUERY_MAX_TEXT + 64];
	char		small[9 + 1];
	const char *error = NULL;
	int			n;

	(void) state;
	/* "a\0xxxx\0b\0" fills all 9 bytes; b's empty value has no room for its NUL */
	snprintf(qs, sizeof(qs), "a=xxxx&b&=%s", "%41%41%41%41");
	small[9] = 'G';
	n = query_parse(qs, p, QUERY_MAX_PARAMS, small, 9, &error);
	assert_int_equal(n, -1);
	assert_non_null(error);
	assert_int_equal(small[9], 'G');
	/* the gateway's own sizes: QUERY_MAX_TEXT bytes, filled, then an empty part */
	memset(qs, 0, sizeof(qs));
	strcpy(qs, "a=");
	memset(qs + 2, 'x', QUERY_MAX_TEXT - 6);
	strcat(qs, "&b&=%41%41%41%41%41%41%41%41");
	n = query_parse(qs, p, QUERY_MAX_PARAMS, buf, sizeof(buf), &error);
	assert_int_equal(n, -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoding),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_full_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
