/*
 * changes.h
 *		The leaderboard change signal, polled once per gateway.
 *
 * One thread polls qr_event.leaderboard_changes; any thread may read a
 * game's version (a read lock) or wait for it to change (a condition).
 */
#ifndef QR_GATEWAY_CHANGES_H
#define QR_GATEWAY_CHANGES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct changes;

extern struct changes *changes_start(const struct config *cfg, char *err, size_t errlen);
extern void changes_stop(struct changes *ch);
extern int64_t changes_version(struct changes *ch, int64_t game_id);
extern bool changes_known(struct changes *ch, int64_t game_id, int64_t *version);
extern void changes_learn(struct changes *ch, int64_t game_id, int64_t version);
extern int64_t changes_wait(struct changes *ch, int64_t game_id, int64_t seen, int timeout_ms);
extern bool changes_polling(struct changes *ch);

#endif
