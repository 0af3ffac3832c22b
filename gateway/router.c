/*
 * router.c
 *		The one route table and the pure function that matches a request to it.
 *
 * The table is constant data; matching touches only caller-owned memory, so
 * any thread may route at any time.
 */
#include "router.h"

#include <stdbool.h>
#include <string.h>

#include "handlers.h"
#include "live_page.h"
#include "stream.h"

/* A route answered by one qr_event.http_* function (handlers_api.c) */
#define SQL_ROUTE(method, pattern, auth, cache, rate, function) \
	{method, pattern, handle_sql_route, auth, ROUTE_CACHE_##cache, ROUTE_RATE_##rate, function}
/* A route that checks credentials and answers a signed token (handlers_token.c) */
#define TOKEN_ROUTE(pattern, rate, function) \
	{"POST", pattern, handle_token_route, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE, ROUTE_RATE_##rate, function}

static const struct route routes[] = {
	{"GET", "/healthz", handle_healthz, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE,
	ROUTE_RATE_NONE, NULL},
	{"GET", "/readyz", handle_readyz, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE,
	ROUTE_RATE_NONE, NULL},
	{"GET", "/metrics", handle_metrics, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE,
	ROUTE_RATE_NONE, NULL},
	TOKEN_ROUTE("/api/auth/login", LOGIN, "http_login"),
	TOKEN_ROUTE("/api/auth/guest", NONE, "http_guest_login"),
	SQL_ROUTE("GET", "/api/events", ROUTE_AUTH_ACCOUNT, FREQUENT, EVENTS, "http_list_events"),
	SQL_ROUTE("POST", "/api/events", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_create_event"),
	SQL_ROUTE("GET", "/api/events/{id}", ROUTE_AUTH_ACCOUNT, FREQUENT, NONE, "http_get_event"),
	SQL_ROUTE("GET", "/api/events/{id}/guests", ROUTE_AUTH_ACCOUNT, FREQUENT, NONE, "http_list_guests"),
	SQL_ROUTE("POST", "/api/events/{id}/guests", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_add_guest"),
	SQL_ROUTE("GET", "/api/events/{id}/families", ROUTE_AUTH_ACCOUNT, FREQUENT, NONE, "http_list_families"),
	SQL_ROUTE("POST", "/api/events/{id}/families", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_add_family"),
	SQL_ROUTE("GET", "/api/events/{id}/games", ROUTE_AUTH_ANYONE, STATIC, NONE, "http_list_games"),
	SQL_ROUTE("POST", "/api/events/{id}/games", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_add_game"),
	SQL_ROUTE("GET", "/api/events/{id}/stats", ROUTE_AUTH_ACCOUNT, COMPUTED, NONE, "http_event_stats"),
	SQL_ROUTE("POST", "/api/events/{id}/guests/{guest_id}/qr", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_issue_qr"),
	SQL_ROUTE("POST", "/api/qr/{token}/scan", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_scan_qr"),
	SQL_ROUTE("POST", "/api/qr/{token}/revoke", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_revoke_qr"),
	SQL_ROUTE("GET", "/api/qr/{token}/history", ROUTE_AUTH_ACCOUNT, NONE, NONE, "http_qr_history"),
	SQL_ROUTE("GET", "/api/games/{id}/leaderboard", ROUTE_AUTH_ANYONE, REALTIME, LEADERBOARD, "http_leaderboard"),
	SQL_ROUTE("GET", "/api/games/{id}/leaderboard/{participation_id}", ROUTE_AUTH_ANYONE, REALTIME, LEADERBOARD,
			  "http_leaderboard_entry"),
	{"GET", "/api/games/{id}/leaderboard/stream", handle_leaderboard_stream, ROUTE_AUTH_ANYONE,
	ROUTE_CACHE_NONE, ROUTE_RATE_NONE, NULL},
	SQL_ROUTE("POST", "/api/games/{id}/play", ROUTE_AUTH_GUEST, NONE, PLAY, "http_play"),
	{"GET", "/live/games/{id}", handle_live_page, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE,
	ROUTE_RATE_NONE, NULL},
	{"GET", "/api/openapi.json", handle_openapi, ROUTE_AUTH_ANYONE, ROUTE_CACHE_NONE,
	ROUTE_RATE_NONE, NULL},
};

/* One '/'-separated piece of a path or pattern */
struct segment
{
	const char *text;
	size_t		len;
};

/*
 * Split an absolute path into its segments. Fails (returns -1) on anything
 * that no route can name: no leading '/', an empty segment (a trailing or
 * doubled slash), "." or "..", or too many segments.
 */
static int
split_path(const char *path, struct segment *segs)
{
	const char *p = path;
	const char *end;
	int			n = 0;

	if (*p != '/')
		return -1;
	while (*p == '/')
	{
		p++;
		for (end = p; *end != '\0' && *end != '/'; end++)
			;
		if (end == p || n == ROUTE_MAX_SEGMENTS)
			return -1;
		if ((end - p == 1 && p[0] == '.') ||
			(end - p == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		segs[n].text = p;
		segs[n].len = (size_t) (end - p);
		n++;
		p = end;
	}
	return n;
}

/* Whether a parameter of this name holds a row id (id or *_id) */
static bool
is_id_param(const char *name, size_t len)
{
	return (len == 2 && strncmp(name, "id", 2) == 0) ||
		(len > 3 && strncmp(name + len - 3, "_id", 3) == 0);
}

/* Parse a positive int64 written in plain digits without a leading zero */
static bool
parse_id(const char *text, size_t len, int64_t *id)
{
	int64_t		value = 0;
	size_t		i;

	if (len == 0 || text[0] == '0')
		return false;
	for (i = 0; i < len; i++)
	{
		if (text[i] < '0' || text[i] > '9')
			return false;
		if (value > (INT64_MAX - (text[i] - '0')) / 10)
			return false;
		value = value * 10 + (text[i] - '0');
	}
	*id = value;
	return true;
}

/* Capture a {name} pattern segment; false when the value is not acceptable */
static bool
capture_param(const struct segment *pat, const struct segment *seg,
			  struct route_param *param)
{
	param->name = pat->text + 1;
	param->name_len = pat->len - 2;
	param->value = seg->text;
	param->value_len = seg->len;
	param->id = 0;
	if (is_id_param(param->name, param->name_len))
		return parse_id(seg->text, seg->len, &param->id);
	return true;
}

/* Match the path's segments against one pattern, capturing its parameters */
static bool
match_pattern(const char *pattern, const struct segment *segs, int nsegs,
			  struct route_match *match)
{
	struct segment pat[ROUTE_MAX_SEGMENTS];
	int			npat = split_path(pattern, pat);
	int			i;

	if (npat != nsegs)
		return false;
	match->param_count = 0;
	for (i = 0; i < npat; i++)
	{
		if (pat[i].len > 2 && pat[i].text[0] == '{' &&
			pat[i].text[pat[i].len - 1] == '}')
		{
			if (match->param_count == ROUTE_MAX_PARAMS ||
				!capture_param(&pat[i], &segs[i], &match->params[match->param_count]))
				return false;
			match->param_count++;
		}
		else if (pat[i].len != segs[i].len ||
				 memcmp(pat[i].text, segs[i].text, segs[i].len) != 0)
			return false;
	}
	return true;
}

/* Add a method to the Allow list unless it is already there */
static void
allow_add(char *allow, const char *method)
{
	size_t		len = strlen(allow);
	size_t		mlen = strlen(method);
	const char *p;

	for (p = allow; (p = strstr(p, method)) != NULL; p += mlen)
	{
		if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0'))
			return;
	}
	if (len + mlen + 3 > ROUTE_ALLOW_SIZE)
		return;
	if (len > 0)
	{
		memcpy(allow + len, ", ", 2);
		len += 2;
	}
	memcpy(allow + len, method, mlen + 1);
}

/*
 * Match method and path against a route table. HEAD is served by GET routes.
 * On ROUTE_FOUND, match names the route and its parameters; on
 * ROUTE_METHOD_NOT_ALLOWED, match->allow lists the methods the path has.
 */
enum route_result
router_match(const struct route *table, size_t count, const char *method,
			 const char *path, struct route_match *match)
{
	struct segment segs[ROUTE_MAX_SEGMENTS];
	int			nsegs = split_path(path, segs);
	bool		head = strcmp(method, "HEAD") == 0;
	size_t		i;

	memset(match, 0, sizeof(*match));
	if (nsegs < 0)
		return ROUTE_NOT_FOUND;
	for (i = 0; i < count; i++)
	{
		if (!match_pattern(table[i].pattern, segs, nsegs, match))
			continue;
		if (strcmp(table[i].method, method) == 0 ||
			(head && strcmp(table[i].method, "GET") == 0))
		{
			match->route = &table[i];
			match->allow[0] = '\0';
			return ROUTE_FOUND;
		}
		allow_add(match->allow, table[i].method);
		if (strcmp(table[i].method, "GET") == 0)
			allow_add(match->allow, "HEAD");
	}
	match->param_count = 0;
	return match->allow[0] != '\0' ? ROUTE_METHOD_NOT_ALLOWED : ROUTE_NOT_FOUND;
}

/* Match method and path against the gateway's route table */
enum route_result
router_find(const char *method, const char *path, struct route_match *match)
{
	return router_match(routes, sizeof(routes) / sizeof(routes[0]), method,
						path, match);
}

/* The route table itself, for documents generated from it (openapi.c) */
const struct route *
router_routes(size_t *count)
{
	*count = sizeof(routes) / sizeof(routes[0]);
	return routes;
}
