/*
 * handlers.h
 *		The request handlers named by the route table, one file per resource.
 *
 * Handlers run in civetweb worker threads and use only that thread's
 * connections (rq->worker).
 */
#ifndef QR_GATEWAY_HANDLERS_H
#define QR_GATEWAY_HANDLERS_H

#include "request.h"

extern void handle_healthz(struct request *rq);
extern void handle_readyz(struct request *rq);

#endif
