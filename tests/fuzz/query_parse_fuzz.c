/*
 * query_parse_fuzz.c
 *		libFuzzer target of query_parse (gateway/query.c). Each input is parsed
 *		twice: whole, the way the gateway calls it (QUERY_MAX_PARAMS pairs into
 *		QUERY_MAX_TEXT bytes), and, past its first three bytes, with a pair
 *		limit and a buffer size that those bytes choose. Every array is
 *		allocated to its exact size, so that a byte written or read past one
 *		is caught. Answers are checked against a decoding written here; pairs
 *		that parse must percent-encode into a query string that parses back
 *		into the same pairs.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "utf8_oracle.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The pairs a query string must decode into, by the decoding written here */
struct expected
{
	int			count;			/* non-empty '&'-separated pieces */
	bool		valid;			/* every piece decodes and is allowed */
	size_t		needed;			/* decoded bytes, NULs included */
	char	  **names;
	char	  **values;
	size_t	   *value_lens;		/* up to an escaped NUL, if any */
};

/* The value of a hex digit, or -1 */
static int
oracle_hex(char c)
{
	static const char digits[] = "0123456789abcdef0123456789ABCDEF";
	const char *at = c != '\0' ? strchr(digits, c) : NULL;

	return at == NULL ? -1 : (int) ((at - digits) % 16);
}

/*
 * Percent-decodes len bytes of in ('+' is a space) into a new NUL-terminated
 * string, its length (a %00 included) at *outlen; NULL for a bad escape.
 */
static char *
oracle_decode(const char *in, size_t len, size_t *outlen)
{
	char	   *out = malloc(len + 1);
	size_t		n = 0;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len; i++)
	{
		if (in[i] == '%')
		{
			if (len - i < 3 || oracle_hex(in[i + 1]) < 0 || oracle_hex(in[i + 2]) < 0)
			{
				free(out);
				return NULL;
			}
			out[n++] = (char) (oracle_hex(in[i + 1]) * 16 + oracle_hex(in[i + 2]));
			i += 2;
		}
		else
			out[n++] = in[i] == '+' ? ' ' : in[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

/* Whether a name is 1 to QUERY_MAX_NAME (32, as query.c documents) bytes of [a-z0-9_] */
static bool
oracle_name(const char *name, size_t len)
{
	if (len == 0 || len > QUERY_MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
			  name[i] == '_'))
			return false;
	return true;
}

/* Decodes qs into e with the rules of query.h, apart from any limit */
static void
expect(const char *qs, struct expected *e)
{
	size_t		len = strlen(qs);
	size_t		start = 0;

	memset(e, 0, sizeof(*e));
	e->valid = true;
	e->names = calloc(len + 1, sizeof(char *));
	e->values = calloc(len + 1, sizeof(char *));
	e->value_lens = calloc(len + 1, sizeof(size_t));
	if (e->names == NULL || e->values == NULL || e->value_lens == NULL)
		abort();
	while (start < len)
	{
		const char *piece = qs + start;
		size_t		plen = strcspn(piece, "&");
		const char *eq = memchr(piece, '=', plen);
		size_t		nlen = eq ? (size_t) (eq - piece) : plen;
		size_t		name_len = 0;
		size_t		value_len = 0;
		char	   *name;
		char	   *value;

		start += plen + 1;
		if (plen == 0)
			continue;
		name = oracle_decode(piece, nlen, &name_len);
		value = eq ? oracle_decode(eq + 1, plen - nlen - 1, &value_len) : oracle_decode("", 0, &value_len);
		if (name == NULL || value == NULL || strlen(name) != name_len ||
			strlen(value) != value_len || !oracle_name(name, name_len) ||
			!utf8_oracle_valid((const unsigned char *) value, value_len))
			e->valid = false;
		for (int i = 0; name != NULL && i < e->count; i++)
			if (e->names[i] != NULL && strcmp(e->names[i], name) == 0)
				e->valid = false;
		e->names[e->count] = name;
		e->values[e->count] = value;
		e->value_lens[e->count] = value_len;
		e->needed += name_len + value_len + 2;
		e->count++;
	}
}

/* Frees what expect made */
static void
expect_free(struct expected *e)
{
	for (int i = 0; i < e->count; i++)
	{
		free(e->names[i]);
		free(e->values[i]);
	}
	free(e->names);
	free(e->values);
	free(e->value_lens);
}

/* Aborts unless s is a NUL-terminated string inside buf[0..buflen) */
static void
check_inside(const char *s, const char *buf, size_t buflen)
{
	if (s < buf || s >= buf + buflen || memchr(s, '\0', (size_t) (buf + buflen - s)) == NULL)
		abort();
}

/* Appends the percent-encoding of s at out, varying the forms it uses */
static size_t
encode_part(const char *s, char *out)
{
	static const char upper[] = "0123456789ABCDEF";
	static const char lower[] = "0123456789abcdef";
	size_t		n = 0;

	for (const unsigned char *p = (const unsigned char *) s; *p != '\0'; p++)
	{
		const char *hex = (*p & 1) ? upper : lower;

		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			*p == '-' || *p == '.' || *p == '_' || *p == '~')
		{
			if (*p % 7 == 0)
			{
				out[n++] = '%';
				out[n++] = hex[*p >> 4];
				out[n++] = hex[*p & 15];
			}
			else
				out[n++] = (char) *p;
		}
		else if (*p == ' ')
			out[n++] = '+';
		else
		{
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	return n;
}

/* Aborts unless the pairs, percent-encoded again, parse back into themselves */
static void
check_reencodes(const struct query_param *params, int count, size_t needed)
{
	size_t		cap = 1;
	char	   *qs;
	char	   *buf;
	struct query_param *again;
	size_t		n = 0;
	const char *error = NULL;

	for (int i = 0; i < count; i++)
		cap += 3 * (strlen(params[i].name) + strlen(params[i].value)) + 3;
	qs = malloc(cap);
	buf = malloc(needed);
	again = malloc(sizeof(*again) * (size_t) count);
	if (qs == NULL || buf == NULL || again == NULL)
		abort();
	for (int i = 0; i < count; i++)
	{
		if (i > 0)
			qs[n++] = '&';
		n += encode_part(params[i].name, qs + n);
		if (params[i].value[0] != '\0' || i % 2 == 1)
		{
			qs[n++] = '=';
			n += encode_part(params[i].value, qs + n);
		}
	}
	qs[n] = '\0';
	if (query_parse(qs, again, count, buf, needed, &error) != count)
		abort();
	for (int i = 0; i < count; i++)
		if (strcmp(again[i].name, params[i].name) != 0 ||
			strcmp(again[i].value, params[i].value) != 0)
			abort();
	free(again);
	free(buf);
	free(qs);
}

/* Parses qs with a limit of max pairs into buflen bytes and checks the answer */
static void
fuzz_parse(const char *qs, int max, size_t buflen)
{
	struct query_param *params = malloc(sizeof(*params) * (size_t) max);
	char	   *buf = malloc(buflen);
	const char *error = NULL;
	struct expected e;
	int			n;

	if ((params == NULL && max > 0) || buf == NULL)
		abort();
	expect(qs, &e);
	n = query_parse(qs, params, max, buf, buflen, &error);
	if (n < -1 || n > max)
		abort();
	if (n == -1)
	{
		/* A refusal needs a reason, and a cause in the text or the limits */
		if (error == NULL || error[0] == '\0')
			abort();
		if (e.valid && e.count <= max && e.needed <= buflen)
			abort();
	}
	else
	{
		size_t		needed = 0;

		if (error != NULL || !e.valid || n != e.count)
			abort();
		for (int i = 0; i < n; i++)
		{
			check_inside(params[i].name, buf, buflen);
			check_inside(params[i].value, buf, buflen);
			if (!oracle_name(params[i].name, strlen(params[i].name)) ||
				strcmp(params[i].name, e.names[i]) != 0 ||
				strlen(params[i].value) != e.value_lens[i] ||
				memcmp(params[i].value, e.values[i], e.value_lens[i]) != 0 ||
				!utf8_oracle_valid((const unsigned char *) params[i].value, strlen(params[i].value)))
				abort();
			for (int j = 0; j < i; j++)
				if (strcmp(params[i].name, params[j].name) == 0)
					abort();
			needed += strlen(params[i].name) + strlen(params[i].value) + 2;
		}
		if (n > 0)
			check_reencodes(params, n, needed);
	}
	expect_free(&e);
	free(buf);
	free(params);
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *qs = malloc(size + 1);

	if (qs == NULL)
		return 0;
	memcpy(qs, data, size);
	qs[size] = '\0';
	fuzz_parse(qs, QUERY_MAX_PARAMS, QUERY_MAX_TEXT);
	if (size >= 3)
	{
		size_t		len = strlen(qs + 3);

		fuzz_parse(qs + 3, data[0] % (QUERY_MAX_PARAMS + 2),
				   1 + (((size_t) data[1] << 8) | data[2]) % (2 * len + 4));
	}
	free(qs);
	return 0;
}
