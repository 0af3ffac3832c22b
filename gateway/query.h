/*
 * query.h
 *		The query string of a request, decoded into name/value pairs.
 *
 * Pure: works on caller-owned memory, safe in any thread.
 */
#ifndef QR_GATEWAY_QUERY_H
#define QR_GATEWAY_QUERY_H

#include <stddef.h>

#define QUERY_MAX_PARAMS 16
#define QUERY_MAX_NAME 32
#define QUERY_MAX_TEXT 8192		/* the whole query string, decoded: a cursor (at most
								 * 4096 characters) and the other parameters */

struct query_param
{
	const char *name;			/* NUL-terminated, in the caller's buffer */
	const char *value;			/* NUL-terminated, in the caller's buffer */
};

extern int	query_parse(const char *qs, struct query_param *params, int max,
						char *buf, size_t buflen, const char **error);

#endif
