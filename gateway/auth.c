/*
 * auth.c
 *		The authentication step of the request pipeline: the bearer token.
 *
 * A request without an Authorization header is anonymous. A header that is
 * not "Bearer <token>", or a token jwt_verify refuses, is answered 401 right
 * here, before any Postgres or Redis work, whatever the route: a client
 * holding a bad token learns so instead of being served as anonymous.  The
 * reason goes to the log, never to the client.  Runs in the worker thread
 * serving the request.
 */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "request.h"
#include "respond.h"

/* Splits "Bearer <token>" (scheme in any case, spaces between) */
enum auth_header
auth_parse_header(const char *value, const char **token, size_t *len)
{
	const char *p;
	size_t		n;

	if (value == NULL)
		return AUTH_HEADER_NONE;
	if (strncasecmp(value, "Bearer", 6) != 0 || (value[6] != ' ' && value[6] != '\t'))
		return AUTH_HEADER_INVALID;
	for (p = value + 6; *p == ' ' || *p == '\t'; p++)
		;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || memchr(p, ' ', n) != NULL || memchr(p, '\t', n) != NULL)
		return AUTH_HEADER_INVALID;
	*token = p;
	*len = n;
	return AUTH_HEADER_BEARER;
}

/*
 * Verifies the request's bearer token, if any, into rq->claims. Returns
 * false when it answered 401.
 */
bool
auth_request(struct request *rq)
{
	const char *header = mg_get_header(rq->conn, "Authorization");
	const char *token = NULL;
	size_t		len = 0;
	enum jwt_status status;

	rq->authenticated = false;
	switch (auth_parse_header(header, &token, &len))
	{
		case AUTH_HEADER_NONE:
			return true;
		case AUTH_HEADER_INVALID:
			log_event(LOG_INFO, "refused an Authorization header that is not a bearer token", NULL);
			respond_error_code(rq, API_ERROR_UNAUTHORIZED, "invalid token");
			return false;
		case AUTH_HEADER_BEARER:
			break;
	}
	status = jwt_verify(token, len, (const unsigned char *) rq->cfg->jwt_secret,
						strlen(rq->cfg->jwt_secret), time(NULL), &rq->claims);
	if (status != JWT_OK)
	{
		char		fields[96];

		snprintf(fields, sizeof(fields), "\"reason\":\"%s\"", jwt_status_text(status));
		log_event(LOG_INFO, "refused a bearer token", fields);
		respond_error_code(rq, API_ERROR_UNAUTHORIZED, "invalid token");
		return false;
	}
	rq->authenticated = true;
	return true;
}

/*
 * Whether the route admits the caller: 401 (authentication required) for a
 * route that needs a token when none came, 403 when the token is of the
 * other kind (a guest on an account's route, or the reverse). Returns false
 * when it answered.
 */
bool
auth_admits(struct request *rq)
{
	enum route_auth need = rq->match.route->auth;
	bool		guest = rq->authenticated && rq->claims.role == JWT_ROLE_GUEST;

	if (need == ROUTE_AUTH_ANYONE)
		return true;
	if (!rq->authenticated)
	{
		respond_error_code(rq, API_ERROR_UNAUTHORIZED, "authentication required");
		return false;
	}
	if ((need == ROUTE_AUTH_GUEST) != guest)
	{
		respond_error_code(rq, API_ERROR_FORBIDDEN,
						   guest ? "this route is for accounts" : "this route is for guests");
		return false;
	}
	return true;
}
