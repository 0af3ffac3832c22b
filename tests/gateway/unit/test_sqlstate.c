/*
 * test_sqlstate.c
 *		Unit tests of gateway/sqlstate.c: the SQLSTATE to HTTP table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sqlstate.h"

/* The HTTP status a SQLSTATE answers with, and whether its message is shown */
static void
assert_maps(const char *state, int status, bool shown)
{
	struct sqlstate_mapping m = sqlstate_map(state);

	assert_int_equal(respond_error_info(m.error)->status, status);
	assert_int_equal(m.show_message, shown);
}

/* Errors a caller causes: 4xx with the database's message */
static void
test_client_errors(void **state)
{
	(void) state;
	assert_maps("22023", 400, true);
	assert_maps("22004", 400, true);
	assert_maps("22P02", 400, true);
	assert_maps("22003", 400, true);
	assert_maps("23503", 400, true);
	assert_maps("23514", 400, true);
	assert_maps("23502", 400, true);
	assert_maps("428C9", 400, true);
	assert_maps("54000", 400, true);
	assert_maps("28P01", 401, true);
	assert_maps("28000", 401, true);
	assert_maps("42501", 403, true);
	assert_maps("P0002", 404, true);
	assert_maps("23505", 409, true);
	assert_maps("55000", 409, true);
}

/* The server's troubles: 5xx without internal text */
static void
test_server_errors(void **state)
{
	(void) state;
	assert_maps("57014", 504, false);
	assert_maps("08006", 503, false);
	assert_maps("08001", 503, false);
	assert_maps("53300", 503, false);
	assert_maps("57P01", 503, false);
	assert_maps("40001", 503, false);
	assert_maps("40P01", 503, false);
	assert_maps("25006", 503, false);
	assert_maps("XX000", 500, false);
	assert_maps("XX001", 500, false);
	assert_maps("42P01", 500, false);	/* undefined_table: our bug, not the caller's */
	assert_maps("P0001", 500, false);	/* a RAISE without a code */
}

/* Anything that is not a SQLSTATE is an internal error */
static void
test_not_a_sqlstate(void **state)
{
	(void) state;
	assert_maps(NULL, 500, false);
	assert_maps("", 500, false);
	assert_maps("22", 500, false);
	assert_maps("220230", 500, false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_errors),
		cmocka_unit_test(test_server_errors),
		cmocka_unit_test(test_not_a_sqlstate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
