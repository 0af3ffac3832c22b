/*
 * test_router.c
 *		Unit tests of gateway/router.c: matching, parameters, 404, 405 with
 *		its Allow list, and the paths and ids that must not match.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "handlers.h"
#include "router.h"

/* A handler that is only ever compared, never called */
static void
no_handler(struct request *rq)
{
	(void) rq;
}

static const struct route table[] = {
	{"GET", "/healthz", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"GET", "/api/events/{id}", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"DELETE", "/api/events/{id}", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"GET", "/api/events/{id}/guests", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"POST", "/api/events/{id}/guests", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"POST", "/api/events/{event_id}/guests/{guest_id}/qr", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"GET", "/api/qr/{token}/history", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"GET", "/api/games/{id}/leaderboard/stream", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	{"GET", "/api/games/{id}/leaderboard/{participation_id}", no_handler, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
};

#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

/* Route method and path through the test table */
static enum route_result
route(const char *method, const char *path, struct route_match *m)
{
	return router_match(table, TABLE_SIZE, method, path, m);
}

/* A literal path matches its route without parameters */
static void
test_exact_match(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("GET", "/healthz", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[0]);
	assert_int_equal(m.param_count, 0);
	assert_string_equal(m.allow, "");
}

/* HEAD is served by the GET route */
static void
test_head_uses_get(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("HEAD", "/healthz", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[0]);
}

/* An {id} segment captures a positive int64 */
static void
test_id_parameter(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("GET", "/api/events/42", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[1]);
	assert_int_equal(m.param_count, 1);
	assert_int_equal(m.params[0].name_len, 2);
	assert_memory_equal(m.params[0].name, "id", 2);
	assert_int_equal(m.params[0].value_len, 2);
	assert_memory_equal(m.params[0].value, "42", 2);
	assert_int_equal(m.params[0].id, 42);

	assert_int_equal(route("GET", "/api/events/9223372036854775807", &m), ROUTE_FOUND);
	assert_true(m.params[0].id == INT64_MAX);
}

/* Several *_id parameters are captured in order */
static void
test_two_parameters(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("POST", "/api/events/7/guests/1234/qr", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[5]);
	assert_int_equal(m.param_count, 2);
	assert_memory_equal(m.params[0].name, "event_id", 8);
	assert_int_equal(m.params[0].id, 7);
	assert_memory_equal(m.params[1].name, "guest_id", 8);
	assert_int_equal(m.params[1].id, 1234);
}

/* A parameter not named *id captures any non-empty text */
static void
test_text_parameter(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("GET", "/api/qr/AbC-_x9/history", &m), ROUTE_FOUND);
	assert_int_equal(m.param_count, 1);
	assert_int_equal(m.params[0].value_len, 7);
	assert_memory_equal(m.params[0].value, "AbC-_x9", 7);
	assert_int_equal(m.params[0].id, 0);
}

/* A literal segment is chosen where the id would be invalid */
static void
test_literal_beats_invalid_id(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("GET", "/api/games/3/leaderboard/stream", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[7]);
	assert_int_equal(route("GET", "/api/games/3/leaderboard/99", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route, &table[8]);
	assert_int_equal(m.params[1].id, 99);
}

/* Unknown, trailing-slash, empty-segment and dot-segment paths are not found */
static void
test_not_found(void **state)
{
	static const char *const paths[] = {
		"/nope", "/", "", "healthz", "/healthz/", "//healthz", "/healthz//",
		"/api/events", "/api/events/", "/api/events/42/", "/api/events//42",
		"/api/./events/1", "/api/events/../events/1", "/api/events/1/..",
		"/HEALTHZ", "/healthzz",
		"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r",
	};
	struct route_match m;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
	{
		assert_int_equal(route("GET", paths[i], &m), ROUTE_NOT_FOUND);
		assert_null(m.route);
		assert_string_equal(m.allow, "");
	}
}

/* Zero, signs, leading zeros, non-digits and overflow are not ids */
static void
test_bad_ids_not_found(void **state)
{
	static const char *const paths[] = {
		"/api/events/0", "/api/events/-1", "/api/events/+1", "/api/events/01",
		"/api/events/abc", "/api/events/12a", "/api/events/1.5", "/api/events/%31",
		"/api/events/9223372036854775808", "/api/events/99999999999999999999",
		"/api/events/ 1",
	};
	struct route_match m;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		assert_int_equal(route("GET", paths[i], &m), ROUTE_NOT_FOUND);
}

/* A known path with another method lists the allowed ones */
static void
test_method_not_allowed(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(route("POST", "/healthz", &m), ROUTE_METHOD_NOT_ALLOWED);
	assert_null(m.route);
	assert_string_equal(m.allow, "GET, HEAD");

	assert_int_equal(route("PUT", "/api/events/5", &m), ROUTE_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD, DELETE");

	assert_int_equal(route("DELETE", "/api/events/5/guests", &m), ROUTE_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD, POST");

	/* a bad id is not found, whatever the method */
	assert_int_equal(route("PUT", "/api/events/0", &m), ROUTE_NOT_FOUND);
}

/* The gateway's own table serves /healthz and /readyz */
static void
test_gateway_table(void **state)
{
	struct route_match m;

	(void) state;
	assert_int_equal(router_find("GET", "/healthz", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, handle_healthz);
	assert_null(m.route->sql_function);
	assert_int_equal(router_find("GET", "/readyz", &m), ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, handle_readyz);
	assert_int_equal(router_find("POST", "/readyz", &m), ROUTE_METHOD_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD");
	assert_int_equal(router_find("GET", "/readyz/", &m), ROUTE_NOT_FOUND);
}

/* Run the tests; TAP output with CMOCKA_MESSAGE_OUTPUT=TAP */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_match),
		cmocka_unit_test(test_head_uses_get),
		cmocka_unit_test(test_id_parameter),
		cmocka_unit_test(test_two_parameters),
		cmocka_unit_test(test_text_parameter),
		cmocka_unit_test(test_literal_beats_invalid_id),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_bad_ids_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_gateway_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
