/*
 * metrics.h
 *		Prometheus metrics: request counts and latencies, cache outcomes and
 *		rate-limit refusals, rendered as text exposition format 0.0.4.
 *
 * Each worker thread records into its own shard (its mutex is contended
 * only by a scrape); any thread may render. Sources are added by the main
 * thread at start-up; metrics_shutdown runs once no other thread uses the
 * module. Label values are strings that live as long as the process.
 */
#ifndef QR_GATEWAY_METRICS_H
#define QR_GATEWAY_METRICS_H

#include <stdbool.h>

#include "json.h"

/* The Content-Type of what metrics_render writes */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_shard;

/*
 * Appends complete exposition lines (HELP and TYPE included) to out. It runs
 * inside metrics_render, under the registry's lock: it must not call
 * metrics_shard_new, metrics_add_source, metrics_render or metrics_shutdown.
 */
typedef void (*metrics_gauge_fn) (struct json_buf *out, void *arg);

extern struct metrics_shard *metrics_shard_new(void);
extern void metrics_request(struct metrics_shard *s, const char *method,
							const char *route, int status, const char *tier,
							double seconds);
extern void metrics_cache(struct metrics_shard *s, const char *cache_class,
						  const char *result);
extern void metrics_rate_limited(struct metrics_shard *s, const char *tier,
								 const char *scope);
extern bool metrics_add_source(metrics_gauge_fn fn, void *arg);
extern bool metrics_render(struct json_buf *out);
extern void metrics_shutdown(void);
extern void metrics_append_sample(struct json_buf *out, const char *name,
								  const char *const *label_names,
								  const char *const *label_values,
								  int nlabels, double value);

#endif
