/*
 * request.h
 *		The one request pipeline: every HTTP request goes through it.
 *
 * A struct request lives on the stack of the civetweb worker thread serving
 * it and is never shared with another thread.
 */
#ifndef QR_GATEWAY_REQUEST_H
#define QR_GATEWAY_REQUEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <civetweb.h>

#include "config.h"
#include "jwt.h"
#include "lsn.h"
#include "router.h"

#define REQUEST_ID_MAX 64

struct worker;

struct request
{
	struct mg_connection *conn;
	const struct config *cfg;
	struct worker *worker;		/* this thread's connections, NULL if none */
	const atomic_bool *stopping;	/* set once the server is shutting down */
	char		id[REQUEST_ID_MAX + 1];
	const char *method;
	const char *path;			/* without the query string */
	struct route_match match;
	bool		authenticated;	/* a verified bearer token came with it */
	struct jwt_claims claims;	/* its claims, when authenticated */
	char	   *body;			/* NUL-terminated; NULL when there was none */
	size_t		body_len;
	const char *cache_control;	/* the Cache-Control answer header */
	char		cache_control_buf[48];	/* when it carries a max-age */
	const char *cache_result;	/* meta.cache: hit, miss, stale, refresh; NULL */
	char		etag[24];		/* the ETag answer header, "" for none */
	struct
	{
		int			limit;		/* 0: no rate limit applied, no headers */
		int			remaining;
		int			reset_s;
	}			rate;
	int			tier;			/* its enum rate_scope: premium, authenticated, anonymous */
	bool		holds_slot;		/* a concurrency slot to give back */
	const char *read_from;		/* "primary" or "replica" for a routed read */
	char		write_lsn[LSN_TEXT_SIZE];	/* after a write, when replicas serve reads */
	bool		head_only;		/* HEAD: headers without the body */
	bool		close;			/* close the connection after answering */
	bool		sent_continue;	/* an interim 100 Continue went out */
	bool		responded;
	int			status;			/* the status sent */
	size_t		bytes;			/* body bytes sent */
	struct timespec started;
};

extern void request_random_id(char *out);
extern int	request_handle(struct mg_connection *conn, const struct config *cfg,
						   const atomic_bool *stopping);

#endif
