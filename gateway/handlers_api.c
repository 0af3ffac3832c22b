/*
 * handlers_api.c
 *		The one handler of every REST route that calls a SQL function.
 *
 * A route names its function; the request becomes one statement, one round
 * trip: SELECT qr_event.<function>(claims, params, body) with the verified
 * claims, the path and query parameters and the JSON body as jsonb, and
 * Postgres splits the function's answer into data, pagination, count and
 * status.  The database validates the body and authorises from the claims;
 * its errors go through the SQLSTATE table.  Runs in the worker thread
 * serving the request, on that thread's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>

#include "breaker.h"
#include "cache.h"
#include "db.h"
#include "deadline.h"
#include "handlers.h"
#include "json.h"
#include "lsn.h"
#include "query.h"
#include "replicas.h"
#include "respond.h"
#include "server.h"
#include "sqlstate.h"

#define API_SQL_SIZE 320

/* The verified claims as JSON, or false (SQL NULL) for an anonymous caller */
static bool
claims_json(const struct request *rq, struct json_buf *out)
{
	if (!rq->authenticated)
		return false;
	json_buf_puts(out, "{\"sub\":");
	json_buf_cstring(out, rq->claims.sub);
	json_buf_printf(out, ",\"role\":\"%s\",\"tier\":\"%s\",\"event\":",
					jwt_role_name(rq->claims.role), jwt_tier_name(rq->claims.tier));
	if (rq->claims.event > 0)
		json_buf_printf(out, "%lld}", (long long) rq->claims.event);
	else
		json_buf_puts(out, "null}");
	return true;
}

/*
 * The path and query parameters as one JSON object of strings; false, with
 * *error set, for a query string query_parse refuses or a name given both
 * in the path and the query.
 */
static bool
params_json(const struct request *rq, struct json_buf *out, const char **error)
{
	struct query_param query[QUERY_MAX_PARAMS];
	char		decoded[QUERY_MAX_TEXT];
	int			n = query_parse(mg_get_request_info(rq->conn)->query_string, query,
								QUERY_MAX_PARAMS, decoded, sizeof(decoded), error);

	if (n < 0)
		return false;
	json_buf_puts(out, "{");
	for (int i = 0; i < rq->match.param_count; i++)
	{
		const struct route_param *p = &rq->match.params[i];

		json_buf_puts(out, i ? "," : "");
		json_buf_string(out, p->name, p->name_len);
		json_buf_puts(out, ":");
		json_buf_string(out, p->value, p->value_len);
		for (int j = 0; j < n; j++)
			if (strlen(query[j].name) == p->name_len && strncmp(query[j].name, p->name, p->name_len) == 0)
				return *error = "a query parameter repeats a path parameter", false;
	}
	for (int j = 0; j < n; j++)
	{
		json_buf_puts(out, rq->match.param_count + j ? "," : "");
		json_buf_cstring(out, query[j].name);
		json_buf_puts(out, ":");
		json_buf_cstring(out, query[j].value);
	}
	json_buf_puts(out, "}");
	return true;
}

/* How deeply a request body may nest arrays and objects (bodies are flat objects) */
#define API_BODY_MAX_DEPTH 64

/*
 * Whether the body is declared JSON: application/json in any case, whose
 * charset parameter, if any, is UTF-8 (or utf8). JSON is UTF-8 (RFC 8259):
 * a body declared in another charset would be read as what it does not say.
 */
static bool
body_is_json(const struct request *rq)
{
	const char *type = mg_get_header(rq->conn, "Content-Type");
	size_t		len = strlen("application/json");
	const char *p;

	if (type == NULL || strncasecmp(type, "application/json", len) != 0 ||
		(type[len] != '\0' && type[len] != ';' && type[len] != ' '))
		return false;
	for (p = type + len; (p = strchr(p, ';')) != NULL;)
	{
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncasecmp(p, "charset=", 8) != 0)
			continue;
		p += 8;
		if (*p == '"')
			p++;
		len = strncasecmp(p, "utf-8", 5) == 0 ? 5 : strncasecmp(p, "utf8", 4) == 0 ? 4 : 0;
		if (len == 0 || (p[len] != '\0' && p[len] != ';' && p[len] != ' ' && p[len] != '\t' && p[len] != '"'))
			return false;
	}
	return true;
}

/*
 * Why a UTF-8 body cannot be a request's JSON object, or NULL when it may be
 * (the database parses and checks it): a NUL byte (the body reaches the
 * database as text, which would end there), another first value than an
 * object, arrays and objects nested deeper than API_BODY_MAX_DEPTH, or a
 * field named twice (json_object_shape).
 */
static const char *
body_shape_error(const char *body, size_t len)
{
	if (memchr(body, '\0', len) != NULL)
		return "the request body must not contain NUL bytes";
	switch (json_object_shape(body, len, API_BODY_MAX_DEPTH))
	{
		case JSON_OBJECT_NOT_OBJECT:
			return "request body must be a JSON object";
		case JSON_OBJECT_TOO_DEEP:
			return "the request body nests arrays and objects too deeply";
		case JSON_OBJECT_DUPLICATE_KEY:
			return "the request body names a field twice";
		case JSON_OBJECT_OK:
			break;
	}
	return NULL;
}

/*
 * Whether a body, if any, is declared JSON, is UTF-8 and may be a JSON
 * object (body_shape_error); false when it answered 415 or 400.
 */
bool
api_body_acceptable(struct request *rq)
{
	const char *shape;

	if (rq->body == NULL)
		return true;
	if (!body_is_json(rq))
	{
		respond_error_code(rq, API_ERROR_UNSUPPORTED_MEDIA_TYPE, "the body must be application/json");
		return false;
	}
	if (!json_utf8_valid(rq->body, rq->body_len))
	{
		respond_error_code(rq, API_ERROR_BAD_REQUEST, "the body is not UTF-8");
		return false;
	}
	if ((shape = body_shape_error(rq->body, rq->body_len)) != NULL)
	{
		respond_error_code(rq, API_ERROR_BAD_REQUEST, shape);
		return false;
	}
	return true;
}

/* Answers a database failure through the SQLSTATE table */
void
api_respond_db_failure(struct request *rq, enum db_status status, const struct db_result *result)
{
	struct sqlstate_mapping m;
	struct error_reply reply = {0};

	if (status == DB_TIMEOUT)
		reply.error = API_ERROR_GATEWAY_TIMEOUT;
	else if (status == DB_UNAVAILABLE)
		reply.error = API_ERROR_SERVICE_UNAVAILABLE;
	else if (status == DB_CIRCUIT_OPEN)
	{
		reply.error = API_ERROR_SERVICE_UNAVAILABLE;
		reply.message = "the database is unavailable; retry later";
		if (rq->worker != NULL && rq->worker->pg_breaker != NULL)
			reply.retry_after = breaker_retry_after_s(rq->worker->pg_breaker, monotonic_ms());
	}
	else
	{
		m = sqlstate_map(result->sqlstate);
		reply.error = m.error;
		if (m.show_message)
		{
			reply.message = result->message[0] ? result->message : NULL;
			reply.hint = result->hint[0] ? result->hint : NULL;
		}
	}
	respond_error(rq, &reply);
}

/*
 * The WAL position a read must see, from the QR-Read-After header: 0 when
 * the header is absent; false, after answering 400, when it is no LSN.
 */
static bool
read_after(struct request *rq, uint64_t *min_lsn)
{
	const char *text = mg_get_header(rq->conn, "QR-Read-After");

	*min_lsn = 0;
	if (text == NULL || lsn_parse(text, min_lsn))
		return true;
	respond_error_code(rq, API_ERROR_BAD_REQUEST,
					   "QR-Read-After must be an LSN as sent in QR-Write-LSN, like 16/B374D848");
	return false;
}

/*
 * Whether a read that failed on a replica is worth running on the primary:
 * the replica went away, is in a recovery conflict, or refused a write.
 * A timeout is not: the deadline is spent.
 */
static bool
retry_on_primary(enum db_status status, const struct db_result *result)
{
	return status == DB_UNAVAILABLE ||
		(status == DB_SQL_ERROR && (strcmp(result->sqlstate, "40001") == 0 ||
									strcmp(result->sqlstate, "25006") == 0));
}

/*
 * Run the route's statement where it belongs. Without replicas, on the
 * primary. With them, a read goes to a usable replica known to have
 * replayed min_lsn (else to the primary), and a write to the primary,
 * whose WAL position after the commit is answered in QR-Write-LSN.
 */
static enum db_status
run_statement(struct request *rq, const char *sql, const char *const *values, int nvalues,
			  uint64_t min_lsn, struct db_result *result)
{
	struct worker *w = rq->worker;
	enum db_status status;
	uint64_t	lsn;
	int			i;

	if (w == NULL || w->replicas == NULL)
		return db_query(w ? w->db : NULL, sql, nvalues, values, result);
	if (strcmp(rq->match.route->method, "GET") != 0)
	{
		status = db_query_lsn(w->db, sql, nvalues, values, result, &lsn);
		if (status == DB_OK && lsn != 0)
			lsn_format(lsn, rq->write_lsn);
		return status;
	}
	if ((i = replica_pick(w->replicas, min_lsn, &w->replica_turn)) >= 0)
	{
		rq->read_from = "replica";
		status = db_query(w->replica_db[i], sql, nvalues, values, result);
		if (status == DB_TIMEOUT || status == DB_UNAVAILABLE)
			replica_mark_down(w->replicas, i);
		if (!retry_on_primary(status, result))
			return status;
		PQclear(result->res);
	}
	rq->read_from = "primary";
	return db_query(w->db, sql, nvalues, values, result);
}

/* A route's statement: its arguments and where it may run */
struct statement
{
	const char *values[4];		/* claims, params, body, and the game id */
	uint64_t	min_lsn;
	char		game_id[24];
};

/*
 * Build and run the route's statement (a cache_fetch_fn): one call of its
 * function, whose answer Postgres splits into data, pagination, count and
 * status; with_version adds the game's leaderboard version, read in the
 * same snapshot; on_primary keeps it off the replicas (no replica has
 * replayed every LSN)
 */
static enum db_status
fetch_route(struct request *rq, void *arg, bool with_version, bool on_primary,
			struct db_result *result)
{
	struct statement *st = arg;
	char		sql[API_SQL_SIZE];

	snprintf(sql, sizeof(sql),
			 "SELECT r->'data', r->'pagination', r->>'count', coalesce((r->>'status')::int, 200)%s"
			 " FROM qr_event.%s($1::jsonb, $2::jsonb, $3::jsonb) AS r",
			 with_version ? ", qr_event.leaderboard_version($4::bigint)" : "",
			 rq->match.route->sql_function);
	snprintf(st->game_id, sizeof(st->game_id), "%lld",
			 rq->match.param_count > 0 ? (long long) rq->match.params[0].id : 0LL);
	st->values[3] = st->game_id;
	return run_statement(rq, sql, st->values, with_version ? 4 : 3,
						 on_primary ? UINT64_MAX : st->min_lsn, result);
}

/* Run the statement and relay its answer; a write that worked invalidates the cache */
static void
relay_route(struct request *rq, struct statement *st)
{
	struct db_result result;
	enum db_status status = fetch_route(rq, st, false, false, &result);

	if (status != DB_OK)
		api_respond_db_failure(rq, status, &result);
	else if (PQntuples(result.res) != 1 || PQgetisnull(result.res, 0, 0))
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	else
	{
		if (strcmp(rq->match.route->method, "GET") != 0)
			cache_note_write(rq->worker ? rq->worker->cache : NULL, rq);
		respond_page(rq, atoi(PQgetvalue(result.res, 0, 3)) == 201 ? 201 : 200,
					 PQgetvalue(result.res, 0, 0),
					 PQgetisnull(result.res, 0, 1) ? NULL : PQgetvalue(result.res, 0, 1),
					 PQgetisnull(result.res, 0, 1) ? NULL : PQgetvalue(result.res, 0, 2));
	}
	PQclear(result.res);
}

/* Calls the route's SQL function and relays its answer, through the cache when it applies */
void
handle_sql_route(struct request *rq)
{
	struct cache *cache = rq->worker ? rq->worker->cache : NULL;
	struct statement st = {{NULL, NULL, NULL, NULL}, 0, ""};
	struct json_buf claims;
	struct json_buf params;
	const char *error = NULL;

	if (!api_body_acceptable(rq) || !read_after(rq, &st.min_lsn))
		return;
	json_buf_init(&claims);
	json_buf_init(&params);
	st.values[0] = claims_json(rq, &claims) ? json_buf_text(&claims) : NULL;
	if (!params_json(rq, &params, &error))
		respond_error_code(rq, API_ERROR_BAD_REQUEST, error);
	else if (claims.failed || params.failed)
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	else
	{
		st.values[1] = json_buf_text(&params);
		st.values[2] = rq->body;
		if (cache_applies(cache, rq))
			cache_serve(cache, rq, st.values[0], st.values[1], fetch_route, &st);
		else
			relay_route(rq, &st);
	}
	json_buf_free(&claims);
	json_buf_free(&params);
}
