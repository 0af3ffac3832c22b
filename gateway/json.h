/*
 * json.h
 *		A growable text buffer, JSON string escaping and RFC 3339 timestamps.
 *
 * Pure functions on caller-owned buffers: no shared state, safe in any thread.
 */
#ifndef QR_GATEWAY_JSON_H
#define QR_GATEWAY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* "2026-11-25T23:59:00.123Z" plus its terminating NUL, with room to spare */
#define JSON_TIMESTAMP_SIZE 32

struct json_buf
{
	char	   *data;			/* NUL-terminated once anything was appended */
	size_t		len;
	size_t		cap;
	bool		failed;			/* an allocation failed: the text is incomplete */
};

extern void json_buf_init(struct json_buf *buf);
extern void json_buf_free(struct json_buf *buf);
extern const char *json_buf_text(const struct json_buf *buf);
extern bool json_buf_append(struct json_buf *buf, const char *text, size_t len);
extern bool json_buf_puts(struct json_buf *buf, const char *text);
extern bool json_buf_printf(struct json_buf *buf, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern bool json_buf_string(struct json_buf *buf, const char *text, size_t len);
extern bool json_buf_cstring(struct json_buf *buf, const char *text);
extern bool json_utf8_valid(const char *text, size_t len);
/* What json_object_shape finds */
enum json_object_shape
{
	JSON_OBJECT_OK,
	JSON_OBJECT_NOT_OBJECT,
	JSON_OBJECT_TOO_DEEP,
	JSON_OBJECT_DUPLICATE_KEY
};

extern enum json_object_shape json_object_shape(const char *text, size_t len, int max_depth);
extern void json_format_timestamp(char *out, size_t outlen,
								  const struct timespec *when);

#endif
