/*
 * json.c
 *		A growable text buffer, JSON string escaping and RFC 3339 timestamps.
 *
 * Pure functions on caller-owned buffers: no shared state, safe in any thread.
 */
#include "json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_BUF_MIN_CAP 256

/* The text that replaces every invalid UTF-8 sequence: U+FFFD */
static const char replacement_char[] = "\xEF\xBF\xBD";

/* Start an empty buffer; nothing is allocated until the first append */
void
json_buf_init(struct json_buf *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->failed = false;
}

/* Release the buffer's memory and leave it empty */
void
json_buf_free(struct json_buf *buf)
{
	free(buf->data);
	json_buf_init(buf);
}

/* The buffer's text, "" when nothing was appended */
const char *
json_buf_text(const struct json_buf *buf)
{
	return buf->data ? buf->data : "";
}

/* Make room for extra more bytes plus the terminating NUL */
static bool
json_buf_reserve(struct json_buf *buf, size_t extra)
{
	size_t		need;
	size_t		newcap;
	char	   *grown;

	if (buf->failed)
		return false;
	if (extra >= SIZE_MAX / 2 - buf->len)
	{
		buf->failed = true;
		return false;
	}
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return true;
	newcap = buf->cap ? buf->cap : JSON_BUF_MIN_CAP;
	while (newcap < need)
		newcap *= 2;
	grown = realloc(buf->data, newcap);
	if (grown == NULL)
	{
		buf->failed = true;
		return false;
	}
	buf->data = grown;
	buf->cap = newcap;
	return true;
}

/* Append len bytes of text verbatim */
bool
json_buf_append(struct json_buf *buf, const char *text, size_t len)
{
	if (!json_buf_reserve(buf, len))
		return false;
	memcpy(buf->data + buf->len, text, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return true;
}

/* Append a NUL-terminated text verbatim */
bool
json_buf_puts(struct json_buf *buf, const char *text)
{
	return json_buf_append(buf, text, strlen(text));
}

/* Append printf-formatted text verbatim */
bool
json_buf_printf(struct json_buf *buf, const char *fmt,...)
{
	va_list		ap;
	int			needed;

	va_start(ap, fmt);
	needed = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (needed < 0)
	{
		buf->failed = true;
		return false;
	}
	if (!json_buf_reserve(buf, (size_t) needed))
		return false;
	va_start(ap, fmt);
	vsnprintf(buf->data + buf->len, (size_t) needed + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t) needed;
	return true;
}

/*
 * Length of the well-formed UTF-8 sequence at s (1 to 4), or minus the length
 * of its maximal ill-formed prefix, which becomes one U+FFFD.
 */
static int
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	unsigned char lead = s[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	int			trail;
	int			i;

	if (lead < 0x80)
		return 1;
	if (lead >= 0xC2 && lead <= 0xDF)
		trail = 1;
	else if (lead >= 0xE0 && lead <= 0xEF)
	{
		trail = 2;
		if (lead == 0xE0)
			lo = 0xA0;			/* overlong */
		else if (lead == 0xED)
			hi = 0x9F;			/* UTF-16 surrogates */
	}
	else if (lead >= 0xF0 && lead <= 0xF4)
	{
		trail = 3;
		if (lead == 0xF0)
			lo = 0x90;			/* overlong */
		else if (lead == 0xF4)
			hi = 0x8F;			/* above U+10FFFF */
	}
	else
		return -1;

	for (i = 1; i <= trail; i++)
	{
		if ((size_t) i >= avail || s[i] < lo || s[i] > hi)
			return -i;
		lo = 0x80;
		hi = 0xBF;
	}
	return trail + 1;
}

/* Append one byte that JSON requires escaped */
static bool
json_buf_escape_byte(struct json_buf *buf, unsigned char c)
{
	if (c == '"')
		return json_buf_append(buf, "\\\"", 2);
	if (c == '\\')
		return json_buf_append(buf, "\\\\", 2);
	return json_buf_printf(buf, "\\u%04x", (unsigned int) c);
}

/*
 * Append len bytes of text as a quoted JSON string: quotes, backslashes and
 * control characters escaped, well-formed UTF-8 kept, anything else U+FFFD.
 */
bool
json_buf_string(struct json_buf *buf, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t		i = 0;
	size_t		run = 0;		/* start of the bytes copied verbatim */
	int			seq;

	if (!json_buf_append(buf, "\"", 1))
		return false;
	while (i < len)
	{
		if (s[i] < 0x20 || s[i] == '"' || s[i] == '\\')
		{
			json_buf_append(buf, text + run, i - run);
			json_buf_escape_byte(buf, s[i]);
			run = ++i;
			continue;
		}
		seq = utf8_sequence_length(s + i, len - i);
		if (seq > 0)
		{
			i += (size_t) seq;
			continue;
		}
		json_buf_append(buf, text + run, i - run);
		json_buf_append(buf, replacement_char, sizeof(replacement_char) - 1);
		i += (size_t) -seq;
		run = i;
	}
	json_buf_append(buf, text + run, i - run);
	return json_buf_append(buf, "\"", 1);
}

/* Append a NUL-terminated text as a JSON string, or null when text is NULL */
bool
json_buf_cstring(struct json_buf *buf, const char *text)
{
	if (text == NULL)
		return json_buf_append(buf, "null", 4);
	return json_buf_string(buf, text, strlen(text));
}

/* Whether len bytes of text are well-formed UTF-8 */
bool
json_utf8_valid(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t		i = 0;
	int			seq;

	while (i < len)
	{
		seq = utf8_sequence_length(s + i, len - i);
		if (seq < 0)
			return false;
		i += (size_t) seq;
	}
	return true;
}

/* Format an instant as RFC 3339 UTC with milliseconds */
void
json_format_timestamp(char *out, size_t outlen, const struct timespec *when)
{
	struct tm	tm;
	char		date[24];

	gmtime_r(&when->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", date, (int) (when->tv_nsec / 1000000));
}

/* The value of four hex digits at s, or -1 */
static long
hex4(const char *s)
{
	long		v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/*
 * Decode the JSON string body raw[0..len) (between its quotes) into out, for
 * comparing keys: escapes resolved, \u escapes (and surrogate pairs) as UTF-8.
 * Returns the decoded length, or -1 when it would pass outcap bytes or holds
 * an escape that is not JSON (the database refuses such a body anyway).
 */
static int
key_decode(const char *raw, size_t len, char *out, size_t outcap)
{
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned long cp;
		char		buf[4];
		size_t		k = 0;

		if (raw[i] != '\\')
		{
			buf[k++] = raw[i];
		}
		else if (i + 1 < len && raw[i + 1] == 'u')
		{
			long		hi = i + 5 < len ? hex4(raw + i + 2) : -1;
			long		lo;

			if (hi < 0)
				return -1;
			cp = (unsigned long) hi;
			i += 5;
			if (hi >= 0xD800 && hi <= 0xDBFF && i + 6 < len && raw[i + 1] == '\\' &&
				raw[i + 2] == 'u' && (lo = hex4(raw + i + 3)) >= 0xDC00 && lo <= 0xDFFF)
			{
				cp = 0x10000 + (((unsigned long) hi - 0xD800) << 10) + ((unsigned long) lo - 0xDC00);
				i += 6;
			}
			if (cp < 0x80)
				buf[k++] = (char) cp;
			else if (cp < 0x800)
			{
				buf[k++] = (char) (0xC0 | (cp >> 6));
				buf[k++] = (char) (0x80 | (cp & 0x3F));
			}
			else if (cp < 0x10000)
			{
				buf[k++] = (char) (0xE0 | (cp >> 12));
				buf[k++] = (char) (0x80 | ((cp >> 6) & 0x3F));
				buf[k++] = (char) (0x80 | (cp & 0x3F));
			}
			else
			{
				buf[k++] = (char) (0xF0 | (cp >> 18));
				buf[k++] = (char) (0x80 | ((cp >> 12) & 0x3F));
				buf[k++] = (char) (0x80 | ((cp >> 6) & 0x3F));
				buf[k++] = (char) (0x80 | (cp & 0x3F));
			}
		}
		else if (i + 1 < len)
		{
			const char *from = "\"\\/bfnrt";
			const char *to = "\"\\/\b\f\n\r\t";
			const char *at = strchr(from, raw[++i]);

			if (at == NULL || raw[i] == '\0')
				return -1;
			buf[k++] = to[at - from];
		}
		else
			return -1;
		if (n + k > outcap)
			return -1;
		memcpy(out + n, buf, k);
		n += k;
	}
	return (int) n;
}

/* Keys of one object compared by json_object_shape, and their length */
#define JSON_KEYS_TRACKED 64
#define JSON_KEY_TRACKED_BYTES 64

/*
 * Whether the JSON text[0..len) may be one object the database will read as
 * its sender meant: JSON_OBJECT_NOT_OBJECT when its first value (past
 * whitespace) is not an object; JSON_OBJECT_TOO_DEEP when arrays and objects
 * nest deeper than max_depth anywhere (the database's parser would run out of
 * stack); else JSON_OBJECT_DUPLICATE_KEY when it names a key twice at its top
 * level ("a" and "\u0061" are the same key: PostgreSQL's jsonb keeps the last
 * of duplicates, while other readers of the same text, a proxy, a firewall or
 * a log, may take the first). Not a validator: the database parses the text.
 * Only the first JSON_KEYS_TRACKED distinct keys of up to
 * JSON_KEY_TRACKED_BYTES bytes are compared (the requests' fields are a few
 * short names; the database refuses any other key).
 */
enum json_object_shape
json_object_shape(const char *text, size_t len, int max_depth)
{
	char		keys[JSON_KEYS_TRACKED][JSON_KEY_TRACKED_BYTES];
	int			key_len[JSON_KEYS_TRACKED];
	int			nkeys = 0;
	int			depth = 0;
	bool		expect_key = false;
	bool		duplicate = false;
	size_t		i = 0;

	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
		i++;
	if (i == len || text[i] != '{')
		return JSON_OBJECT_NOT_OBJECT;
	for (; i < len; i++)
	{
		char		c = text[i];

		if (c == '"')
		{
			size_t		start = ++i;
			char		key[JSON_KEY_TRACKED_BYTES];
			int			n;

			while (i < len && text[i] != '"')
				i += text[i] == '\\' ? 2 : 1;
			if (i >= len)
				break;
			if (depth != 1 || !expect_key || duplicate)
				continue;
			expect_key = false;
			n = key_decode(text + start, i - start, key, sizeof(key));
			if (n < 0)
				continue;
			for (int k = 0; k < nkeys && !duplicate; k++)
				duplicate = key_len[k] == n && memcmp(keys[k], key, (size_t) n) == 0;
			if (!duplicate && nkeys < JSON_KEYS_TRACKED)
			{
				memcpy(keys[nkeys], key, (size_t) n);
				key_len[nkeys++] = n;
			}
		}
		else if (c == '{' || c == '[')
		{
			if (++depth > max_depth)
				return JSON_OBJECT_TOO_DEEP;
			expect_key = depth == 1 && c == '{';
		}
		else if (c == '}' || c == ']')
			depth--;
		else if (c == ',' && depth == 1)
			expect_key = true;
	}
	return duplicate ? JSON_OBJECT_DUPLICATE_KEY : JSON_OBJECT_OK;
}
