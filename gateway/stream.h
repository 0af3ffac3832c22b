/*
 * stream.h
 *		GET /api/games/{id}/leaderboard/stream: live leaderboards as
 *		Server-Sent Events.
 *
 * Each stream holds the worker thread that serves it; the top pages sent
 * are computed once per game, version and size and shared by the streams.
 */
#ifndef QR_GATEWAY_STREAM_H
#define QR_GATEWAY_STREAM_H

#include "request.h"

extern void handle_leaderboard_stream(struct request *rq);
extern int	stream_clients(void);
extern void stream_shutdown(void);

#endif
