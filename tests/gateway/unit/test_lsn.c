/*
 * test_lsn.c
 *		Unit tests of gateway/lsn.c: LSN text, and replica lag from samples
 *		of the primary's position.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lsn.h"

/* Postgres's forms parse; anything else is refused */
static void
test_parse(void **state)
{
	static const char *const bad[] = {
		"", "/", "0/", "/0", "0", "0/0/0", "0/0 ", " 0/0", "0x1/0", "1/-1",
		"123456789/0", "0/123456789", "G/0", "0/0g", "+1/0", "0/1\n", "0//1", NULL
	};
	uint64_t	lsn = 42;

	(void) state;
	assert_true(lsn_parse("0/0", &lsn));
	assert_int_equal(lsn, 0);
	assert_true(lsn_parse("16/B374D848", &lsn));
	assert_int_equal(lsn, 0x16B374D848ULL);
	assert_true(lsn_parse("ffffffff/ffffffff", &lsn));
	assert_int_equal(lsn, UINT64_MAX);
	assert_true(lsn_parse("00000001/00000002", &lsn));
	assert_int_equal(lsn, 0x100000002ULL);
	for (int i = 0; bad[i] != NULL; i++)
	{
		lsn = 7;
		if (lsn_parse(bad[i], &lsn))
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(lsn, 7);
	}
	assert_false(lsn_parse(NULL, &lsn));
}

/* Formatting matches Postgres and round-trips */
static void
test_format(void **state)
{
	static const uint64_t values[] = {0, 1, 0x16B374D848ULL, 0xFFFFFFFFULL,
	0x100000000ULL, UINT64_MAX};
	char		text[LSN_TEXT_SIZE];
	uint64_t	back;

	(void) state;
	lsn_format(0x16B374D848ULL, text);
	assert_string_equal(text, "16/B374D848");
	lsn_format(0, text);
	assert_string_equal(text, "0/0");
	lsn_format(UINT64_MAX, text);
	assert_string_equal(text, "FFFFFFFF/FFFFFFFF");
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
	{
		lsn_format(values[i], text);
		assert_true(lsn_parse(text, &back));
		assert_int_equal(back, values[i]);
	}
}

/* Lag in time behind the newest sample; idle primaries make none */
static void
test_lag(void **state)
{
	static struct lsn_history h;

	(void) state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(lsn_history_lag_ms(&h, 100), -1);
	lsn_history_add(&h, 1000, 100);
	lsn_history_add(&h, 1250, 100);
	lsn_history_add(&h, 1500, 100);
	assert_int_equal(lsn_history_lag_ms(&h, 100), 0);
	assert_int_equal(lsn_history_lag_ms(&h, 150), 0);
	assert_int_equal(lsn_history_lag_ms(&h, 99), -1);
	lsn_history_add(&h, 1750, 200);
	lsn_history_add(&h, 2000, 300);
	/* holds what the primary had at 1500, not at 1750 */
	assert_int_equal(lsn_history_lag_ms(&h, 100), 500);
	assert_int_equal(lsn_history_lag_ms(&h, 250), 250);
	assert_int_equal(lsn_history_lag_ms(&h, 300), 0);
	assert_int_equal(lsn_history_lag_ms(&h, 50), -1);
}

/* The ring keeps the newest LSN_HISTORY_SIZE samples */
static void
test_ring(void **state)
{
	static struct lsn_history h;
	int64_t		n = LSN_HISTORY_SIZE + 10;

	(void) state;
	memset(&h, 0, sizeof(h));
	for (int64_t i = 0; i < n; i++)
		lsn_history_add(&h, i * 10, (uint64_t) i * 1000);
	assert_int_equal(h.count, LSN_HISTORY_SIZE);
	assert_int_equal(lsn_history_lag_ms(&h, (uint64_t) (n - 1) * 1000), 0);
	assert_int_equal(lsn_history_lag_ms(&h, (uint64_t) (n - 2) * 1000 + 999), 10);
	/* the oldest kept sample is number 10; number 9 was overwritten */
	assert_int_equal(lsn_history_lag_ms(&h, 10 * 1000), (n - 1 - 10) * 10);
	assert_int_equal(lsn_history_lag_ms(&h, 9 * 1000 + 999), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_lag),
		cmocka_unit_test(test_ring),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
