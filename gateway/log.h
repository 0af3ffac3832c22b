/*
 * log.h
 *		Leveled logging: one JSON object per line on stderr.
 *
 * Any thread may log; each line goes out in a single write(2) so lines never
 * interleave. The current request id is per thread.
 */
#ifndef QR_GATEWAY_LOG_H
#define QR_GATEWAY_LOG_H

#include <stdbool.h>

enum log_level
{
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
};

extern bool log_level_parse(const char *name, enum log_level *level);
extern void log_init(enum log_level threshold);
extern void log_set_request_id(const char *request_id);
extern void log_event(enum log_level level, const char *msg, const char *fields);
extern void log_access(const char *fields);

#endif
