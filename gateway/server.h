/*
 * server.h
 *		Starting and stopping civetweb, and each worker thread's own state.
 *
 * server_start and server_stop run in the main thread. A struct worker
 * belongs to one civetweb worker thread from its start hook to its exit
 * hook and is never shared.
 */
#ifndef QR_GATEWAY_SERVER_H
#define QR_GATEWAY_SERVER_H

#include <stddef.h>

#include "config.h"

struct worker
{
	struct db_conn *db;			/* the primary */
	struct redis_conn *redis;
	struct replica_set *replicas;	/* shared; NULL without replicas */
	struct db_conn **replica_db;	/* one per replica, in the set's order */
	unsigned	replica_turn;	/* where the next read starts looking */
	struct cache *cache;		/* shared; NULL when caching is off */
	struct breaker *pg_breaker; /* shared: guards calls to the primary */
	struct changes *changes;	/* shared: the leaderboard change poller */
	struct ratelimit *ratelimit;	/* shared; NULL when limits are off */
	struct metrics_shard *metrics;	/* this thread's own counters */
};

struct server;

extern struct server *server_start(const struct config *cfg, char *err, size_t errlen);
extern void server_address(const struct server *srv, char *out, size_t outlen);
extern void server_stop(struct server *srv);

#endif
