/*
 * log.c
 *		Leveled logging: one JSON object per line on stderr.
 *
 * The threshold is set once before any thread starts and only read after.
 * The current request id is thread-local; each line is one write(2).
 */
#include "log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static enum log_level log_threshold = LOG_INFO;

/* The request this thread is serving, "" when none */
static _Thread_local char current_request_id[72];

/* Look up a level by its name (error, warn, info, debug) */
bool
log_level_parse(const char *name, enum log_level *level)
{
	int			i;

	for (i = LOG_ERROR; i <= LOG_DEBUG; i++)
	{
		if (strcmp(name, level_names[i]) == 0)
		{
			*level = (enum log_level) i;
			return true;
		}
	}
	return false;
}

/* Set the most verbose level that is written */
void
log_init(enum log_level threshold)
{
	log_threshold = threshold;
}

/* Whether lines of this level are written */
static bool
log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

/* Tag this thread's following lines with a request id (NULL clears it) */
void
log_set_request_id(const char *request_id)
{
	if (request_id == NULL)
		current_request_id[0] = '\0';
	else
	{
		strncpy(current_request_id, request_id, sizeof(current_request_id) - 1);
		current_request_id[sizeof(current_request_id) - 1] = '\0';
	}
}

/* Write the whole line, retrying only when the kernel takes part of it */
static void
log_write_line(const char *line, size_t len)
{
	ssize_t		n;

	while (len > 0)
	{
		n = write(STDERR_FILENO, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t) n;
	}
}

/* Build and write one line, whatever the threshold */
static void
log_line(enum log_level level, const char *msg, const char *fields)
{
	struct json_buf line;
	struct timespec now;
	char		ts[JSON_TIMESTAMP_SIZE];

	clock_gettime(CLOCK_REALTIME, &now);
	json_format_timestamp(ts, sizeof(ts), &now);
	json_buf_init(&line);
	json_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\"", ts, level_names[level]);
	if (current_request_id[0] != '\0')
	{
		json_buf_puts(&line, ",\"request_id\":");
		json_buf_cstring(&line, current_request_id);
	}
	json_buf_puts(&line, ",\"msg\":");
	json_buf_cstring(&line, msg);
	if (fields != NULL && fields[0] != '\0')
	{
		json_buf_puts(&line, ",");
		json_buf_puts(&line, fields);
	}
	json_buf_puts(&line, "}\n");
	if (!line.failed)
		log_write_line(line.data, line.len);
	json_buf_free(&line);
}

/*
 * Log msg at level; fields, when not NULL, are further JSON members without
 * the braces (e.g. "\"status\":200") appended after msg.
 */
void
log_event(enum log_level level, const char *msg, const char *fields)
{
	if (log_enabled(level))
		log_line(level, msg, fields);
}

/* Log a request's access line; access_log, not log_level, decides */
void
log_access(const char *fields)
{
	log_line(LOG_INFO, "access", fields);
}
