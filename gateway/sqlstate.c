/*
 * sqlstate.c
 *		The one table from a PostgreSQL SQLSTATE to the API's error answer.
 *
 * Errors a caller can cause (bad input, a missing or hidden row, a conflict)
 * keep the database's message, which the SQL functions word for clients;
 * everything else becomes a 5xx whose body carries no internal text (the
 * request id links it to the log).  An exact SQLSTATE is looked up first,
 * then its two-character class.  Constant data: safe in any thread.
 */
#include "sqlstate.h"

#include <string.h>

struct sqlstate_rule
{
	const char *state;			/* five characters, or a two-character class */
	enum api_error error;
	bool		show_message;
};

static const struct sqlstate_rule rules[] = {
	/* exact states first: they refine their class */
	{"42501", API_ERROR_FORBIDDEN, true},	/* insufficient_privilege */
	{"P0002", API_ERROR_NOT_FOUND, true},	/* no_data_found: missing or not visible */
	{"23505", API_ERROR_CONFLICT, true},	/* unique_violation */
	{"55000", API_ERROR_CONFLICT, true},	/* object_not_in_prerequisite_state */
	{"23503", API_ERROR_BAD_REQUEST, true},	/* foreign_key_violation: a bad reference */
	{"23514", API_ERROR_BAD_REQUEST, true},	/* check_violation */
	{"23502", API_ERROR_BAD_REQUEST, true},	/* not_null_violation */
	{"428C9", API_ERROR_BAD_REQUEST, true},	/* generated_always: a client-chosen id */
	{"54000", API_ERROR_BAD_REQUEST, true},	/* program_limit_exceeded: e.g. a cursor key too long */
	{"57014", API_ERROR_GATEWAY_TIMEOUT, false},	/* query_canceled: statement_timeout */
	{"57P01", API_ERROR_SERVICE_UNAVAILABLE, false},	/* admin_shutdown */
	{"57P02", API_ERROR_SERVICE_UNAVAILABLE, false},	/* crash_shutdown */
	{"57P03", API_ERROR_SERVICE_UNAVAILABLE, false},	/* cannot_connect_now */
	{"40001", API_ERROR_SERVICE_UNAVAILABLE, false},	/* serialization_failure: retry */
	{"40P01", API_ERROR_SERVICE_UNAVAILABLE, false},	/* deadlock_detected: retry */
	{"25006", API_ERROR_SERVICE_UNAVAILABLE, false},	/* read_only_sql_transaction: a replica */
	/* classes */
	{"22", API_ERROR_BAD_REQUEST, true},	/* data exception: bad input */
	{"28", API_ERROR_UNAUTHORIZED, true},	/* invalid authorization: bad credentials */
	{"08", API_ERROR_SERVICE_UNAVAILABLE, false},	/* connection exception */
	{"53", API_ERROR_SERVICE_UNAVAILABLE, false},	/* insufficient resources */
};

/* The answer for a SQLSTATE; anything unknown is an internal error */
struct sqlstate_mapping
sqlstate_map(const char *sqlstate)
{
	struct sqlstate_mapping internal = {API_ERROR_INTERNAL, false};
	size_t		n = sizeof(rules) / sizeof(rules[0]);

	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return internal;
	for (size_t i = 0; i < n; i++)
	{
		size_t		len = strlen(rules[i].state);

		if (strncmp(sqlstate, rules[i].state, len) == 0)
			return (struct sqlstate_mapping) {rules[i].error, rules[i].show_message};
	}
	return internal;
}
