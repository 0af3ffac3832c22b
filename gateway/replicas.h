/*
 * replicas.h
 *		Read replicas: which ones may serve a read right now.
 *
 * One struct replica_set per gateway, made by the main thread before the
 * workers start and freed after they stop. A monitor thread per replica
 * probes it every replica_check_ms; the workers read its verdicts through
 * atomics, so any thread may call replica_pick and replica_mark_down.
 */
#ifndef QR_GATEWAY_REPLICAS_H
#define QR_GATEWAY_REPLICAS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "json.h"

struct replica_set;

extern struct replica_set *replica_set_start(const struct config *cfg, char *err, size_t errlen);
extern void replica_set_stop(struct replica_set *set);
extern size_t replica_set_count(const struct replica_set *set);
extern int	replica_pick(struct replica_set *set, uint64_t min_lsn, unsigned *turn);
extern void replica_mark_down(struct replica_set *set, int index);
extern void replica_set_describe(const struct replica_set *set, struct json_buf *out);

#endif
