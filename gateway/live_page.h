/*
 * live_page.h
 *		GET /live/games/{id}: the self-contained live leaderboard page, served
 *		from memory.
 */
#ifndef QR_GATEWAY_LIVE_PAGE_H
#define QR_GATEWAY_LIVE_PAGE_H

#include "request.h"

extern void handle_live_page(struct request *rq);

#endif
