/*
 * router.h
 *		The one route table and the pure function that matches a request to it.
 *
 * The table is constant data; matching touches only caller-owned memory, so
 * any thread may route at any time.
 */
#ifndef QR_GATEWAY_ROUTER_H
#define QR_GATEWAY_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#define ROUTE_MAX_SEGMENTS 16
#define ROUTE_MAX_PARAMS 4
#define ROUTE_ALLOW_SIZE 64

struct request;

typedef void (*route_handler) (struct request *rq);

/* Who may call a route */
enum route_auth
{
	ROUTE_AUTH_ANYONE,			/* public: a token is optional */
	ROUTE_AUTH_ACCOUNT,			/* an account's token (organizer or staff) */
	ROUTE_AUTH_GUEST			/* a guest's token */
};

/* How a route's answers are cached: not, or in a class of DESIGN §5 */
enum route_cache
{
	ROUTE_CACHE_NONE,
	ROUTE_CACHE_STATIC,			/* event and game settings */
	ROUTE_CACHE_FREQUENT,		/* events, guests, families */
	ROUTE_CACHE_REALTIME,		/* leaderboards */
	ROUTE_CACHE_COMPUTED		/* dashboard figures */
};

/* Which endpoint rate limit a route counts against, besides its tier's */
enum route_rate
{
	ROUTE_RATE_NONE,
	ROUTE_RATE_LOGIN,
	ROUTE_RATE_LEADERBOARD,
	ROUTE_RATE_PLAY,
	ROUTE_RATE_EVENTS
};

struct route
{
	const char *method;
	const char *pattern;		/* "/api/games/{id}/leaderboard" */
	route_handler handler;
	enum route_auth auth;
	enum route_cache cache;
	enum route_rate rate;
	const char *sql_function;	/* the SQL function it calls, NULL if none */
};

/* A {name} segment of the pattern and the path text it captured */
struct route_param
{
	const char *name;
	size_t		name_len;
	const char *value;			/* points into the path; not NUL-terminated */
	size_t		value_len;
	int64_t		id;				/* the value of an id or *_id parameter, else 0 */
};

struct route_match
{
	const struct route *route;
	int			param_count;
	struct route_param params[ROUTE_MAX_PARAMS];
	char		allow[ROUTE_ALLOW_SIZE];	/* "GET, HEAD" for a 405 */
};

enum route_result
{
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,
	ROUTE_METHOD_NOT_ALLOWED
};

extern enum route_result router_match(const struct route *table, size_t count,
									  const char *method, const char *path,
									  struct route_match *match);
extern enum route_result router_find(const char *method, const char *path,
									 struct route_match *match);
extern const struct route *router_routes(size_t *count);

#endif
