/*
 * query.c
 *		The query string of a request, decoded into name/value pairs.
 *
 * "a=1&b=x%20y": percent escapes and '+' decoded; names are 1 to 32 of
 * [a-z0-9_]; a name given twice, an empty name, a bad escape, a NUL byte
 * or text that is not UTF-8 makes the whole query string invalid, so a
 * request never means two things.  Pure: safe in any thread.
 */
#include "query.h"

#include <stdbool.h>
#include <string.h>

#include "json.h"

/* The value of a hex digit, or -1 */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes in[0..len) into out (NUL-terminated); false for a bad escape,
 * a NUL byte or no room.
 */
static bool
decode_part(const char *in, size_t len, char *out, size_t room, size_t *used)
{
	size_t		n = 0;

	if (room == 0)
		return false;			/* not even the NUL fits */
	for (size_t i = 0; i < len; i++)
	{
		char		c = in[i];

		if (c == '%')
		{
			int			hi;
			int			lo;

			if (i + 2 >= len)
				return false;
			hi = hex_value(in[i + 1]);
			lo = hex_value(in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = (char) (hi * 16 + lo);
			i += 2;
		}
		else if (c == '+')
			c = ' ';
		if (n + 1 >= room)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	*used = n + 1;
	return true;
}

/* Whether a decoded name is 1 to QUERY_MAX_NAME of [a-z0-9_] */
static bool
valid_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len > QUERY_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	return true;
}

/*
 * Parses qs (NULL or "" for none) into at most max params, decoded into buf.
 * Returns how many, or -1 with *error set to a message for the client.
 */
int
query_parse(const char *qs, struct query_param *params, int max, char *buf,
			size_t buflen, const char **error)
{
	const char *p = qs;
	size_t		off = 0;
	int			count = 0;

	*error = NULL;
	if (qs == NULL || *qs == '\0')
		return 0;
	while (*p != '\0')
	{
		const char *end = strchr(p, '&');
		const char *eq;
		size_t		len = end ? (size_t) (end - p) : strlen(p);
		size_t		used;

		if (len > 0)
		{
			if (count == max)
				return *error = "too many query parameters", -1;
			eq = memchr(p, '=', len);
			params[count].name = buf + off;
			if (!decode_part(p, eq ? (size_t) (eq - p) : len, buf + off, buflen - off, &used))
				return *error = "malformed query string", -1;
			off += used;
			params[count].value = buf + off;
			if (!decode_part(eq ? eq + 1 : p + len, eq ? len - (size_t) (eq - p) - 1 : 0,
							 buf + off, buflen - off, &used))
				return *error = "malformed query string", -1;
			off += used;
			if (!valid_name(params[count].name))
				return *error = "invalid query parameter name", -1;
			if (!json_utf8_valid(params[count].value, strlen(params[count].value)))
				return *error = "query parameter values must be UTF-8", -1;
			for (int i = 0; i < count; i++)
				if (strcmp(params[i].name, params[count].name) == 0)
					return *error = "a query parameter appears more than once", -1;
			count++;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return count;
}
