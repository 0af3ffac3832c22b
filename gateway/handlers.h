/*
 * handlers.h
 *		The request handlers named by the route table, one file per resource.
 *
 * Handlers run in civetweb worker threads and use only that thread's
 * connections (rq->worker).
 */
#ifndef QR_GATEWAY_HANDLERS_H
#define QR_GATEWAY_HANDLERS_H

#include "db.h"
#include "request.h"

extern void handle_healthz(struct request *rq);
extern void handle_readyz(struct request *rq);
extern void handle_metrics(struct request *rq);
extern void handle_sql_route(struct request *rq);
extern void handle_token_route(struct request *rq);
extern void handle_openapi(struct request *rq);

/* Shared by the API handlers (handlers_api.c) */
extern bool api_body_acceptable(struct request *rq);
extern void api_respond_db_failure(struct request *rq, enum db_status status,
								   const struct db_result *result);

#endif
