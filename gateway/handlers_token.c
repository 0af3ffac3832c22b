/*
 * handlers_token.c
 *		POST /api/auth/login and POST /api/auth/guest: credentials in, a
 *		signed token out.
 *
 * The route's SQL function checks the credentials (a password against its
 * PBKDF2 hash, or a live QR token) and answers the claims; the gateway signs
 * them with QR_GATEWAY_JWT_SECRET for JWT_TTL_SECONDS.  Runs in the worker
 * thread serving the request, on that thread's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "json.h"
#include "jwt.h"
#include "respond.h"
#include "server.h"

/* How long a token is valid */
#define JWT_TTL_SECONDS 3600
#define API_SQL_SIZE 320

/* Reads the claims columns of the token query into claims; false if they are not claims */
static bool
read_claims(const PGresult *res, time_t now, struct jwt_claims *claims)
{
	const char *sub = PQgetvalue(res, 0, 0);
	const char *role = PQgetvalue(res, 0, 1);
	const char *tier = PQgetvalue(res, 0, 2);

	memset(claims, 0, sizeof(*claims));
	if (PQgetisnull(res, 0, 0) || strlen(sub) == 0 || strlen(sub) > JWT_MAX_SUB)
		return false;
	strcpy(claims->sub, sub);
	if (strcmp(role, "organizer") == 0)
		claims->role = JWT_ROLE_ORGANIZER;
	else if (strcmp(role, "staff") == 0)
		claims->role = JWT_ROLE_STAFF;
	else if (strcmp(role, "guest") == 0)
		claims->role = JWT_ROLE_GUEST;
	else
		return false;
	claims->tier = strcmp(tier, "premium") == 0 ? JWT_TIER_PREMIUM : JWT_TIER_STANDARD;
	claims->event = PQgetisnull(res, 0, 3) ? 0 : strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	claims->iat = (int64_t) now;
	claims->exp = (int64_t) now + JWT_TTL_SECONDS;
	return claims->role != JWT_ROLE_GUEST || claims->event > 0;
}

/* Answers {"token","expires_at","tier","role","sub"} for signed claims */
static void
respond_token(struct request *rq, const struct jwt_claims *claims)
{
	char		token[JWT_MAX_TOKEN + 1];
	char		expires[JSON_TIMESTAMP_SIZE];
	struct timespec at = {.tv_sec = (time_t) claims->exp};
	struct json_buf data;

	if (!jwt_sign(claims, (const unsigned char *) rq->cfg->jwt_secret, strlen(rq->cfg->jwt_secret),
				  token, sizeof(token)))
	{
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
		return;
	}
	json_format_timestamp(expires, sizeof(expires), &at);
	json_buf_init(&data);
	json_buf_puts(&data, "{\"token\":");
	json_buf_cstring(&data, token);
	json_buf_puts(&data, ",\"expires_at\":");
	json_buf_cstring(&data, expires);
	json_buf_printf(&data, ",\"tier\":\"%s\",\"role\":\"%s\",\"sub\":",
					jwt_tier_name(claims->tier), jwt_role_name(claims->role));
	json_buf_cstring(&data, claims->sub);
	json_buf_puts(&data, "}");
	if (data.failed)
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	else
		respond_data(rq, 200, json_buf_text(&data));
	json_buf_free(&data);
}

/* Checks the credentials in the body with the route's SQL function, then signs */
void
handle_token_route(struct request *rq)
{
	char		sql[API_SQL_SIZE];
	const char *values[1];
	struct db_result result;
	enum db_status status;
	struct jwt_claims claims;

	if (!api_body_acceptable(rq))
		return;
	if (rq->body == NULL)
	{
		respond_error_code(rq, API_ERROR_BAD_REQUEST, "a JSON body is required");
		return;
	}
	values[0] = rq->body;
	snprintf(sql, sizeof(sql),
			 "SELECT d->>'sub', d->>'role', d->>'tier', d->>'event'"
			 " FROM qr_event.%s(NULL, '{}'::jsonb, $1::jsonb) AS r, LATERAL (SELECT r->'data') AS x (d)",
			 rq->match.route->sql_function);
	status = db_query(rq->worker ? rq->worker->db : NULL, sql, 1, values, &result);
	if (status != DB_OK)
		api_respond_db_failure(rq, status, &result);
	else if (PQntuples(result.res) != 1 || !read_claims(result.res, time(NULL), &claims))
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	else
		respond_token(rq, &claims);
	PQclear(result.res);
}
