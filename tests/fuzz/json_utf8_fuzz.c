/*
 * json_utf8_fuzz.c
 *		libFuzzer target of json_utf8_valid and json_buf_string (gateway/json.c).
 *		json_utf8_valid must agree with the RFC 3629 decoder of utf8_oracle.h
 *		on every input. json_buf_string must write one JSON string that the
 *		decoder here reads back into the input itself when it is UTF-8, and
 *		otherwise into the input with each maximal ill-formed subpart replaced
 *		by U+FFFD (Unicode's "substitution of maximal subparts").
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "utf8_oracle.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Whether the k bytes at s are the start of some well-formed sequence longer
 * than k, found by trying every completion with the decoder
 */
static bool
begins_sequence_by_trial(const unsigned char *s, size_t k)
{
	unsigned char t[4];
	uint32_t	cp;

	for (size_t len = k + 1; len <= 4; len++)
	{
		for (unsigned int c = 0x80; c <= 0xBF; c++)
		{
			memcpy(t, s, k);
			t[k] = (unsigned char) c;
			for (size_t i = k + 1; i < len; i++)
				t[i] = 0x80;
			if (utf8_oracle_decode(t, len, &cp) == len)
				return true;
		}
	}
	return false;
}

/* begins_sequence_by_trial, remembered for prefixes of one and two bytes */
static bool
begins_sequence(const unsigned char *s, size_t k)
{
	static signed char known1[256];
	static signed char known2[256][256];
	signed char *known = k == 1 ? &known1[s[0]] : k == 2 ? &known2[s[0]][s[1]] : NULL;
	bool		begins;

	if (known != NULL && *known != 0)
		return *known > 0;
	begins = begins_sequence_by_trial(s, k);
	if (known != NULL)
		*known = begins ? 1 : -1;
	return begins;
}

/*
 * Writes len bytes of s at out with each maximal ill-formed subpart replaced
 * by U+FFFD; returns the length written (at most 3 * len).
 */
static size_t
substitute(const unsigned char *s, size_t len, unsigned char *out)
{
	size_t		i = 0;
	size_t		n = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		seq = utf8_oracle_decode(s + i, len - i, &cp);
		size_t		bad = 1;

		if (seq > 0)
		{
			memcpy(out + n, s + i, seq);
			n += seq;
			i += seq;
			continue;
		}
		while (bad < 3 && i + bad < len && begins_sequence(s + i, bad + 1))
			bad++;
		n += utf8_oracle_encode(0xFFFD, out + n);
		i += bad;
	}
	return n;
}

/* The value of four hex digits at s, or -1 */
static long
hex4(const char *s)
{
	long		v = 0;

	for (int i = 0; i < 4; i++)
	{
		const char *digits = "0123456789abcdef0123456789ABCDEF";
		const char *at = s[i] != '\0' ? strchr(digits, s[i]) : NULL;

		if (at == NULL)
			return -1;
		v = v * 16 + (at - digits) % 16;
	}
	return v;
}

/*
 * Decodes the JSON string text[0..len), quotes included, into out (RFC 8259:
 * no raw control character, quote or lone backslash; \u escapes with paired
 * surrogates). Returns the length written, or -1 when it is no JSON string.
 */
static long
json_decode_string(const char *text, size_t len, unsigned char *out)
{
	size_t		n = 0;

	if (len < 2 || text[0] != '"' || text[len - 1] != '"')
		return -1;
	for (size_t i = 1; i < len - 1; i++)
	{
		unsigned char c = (unsigned char) text[i];
		long		cp;

		if (c < 0x20 || c == '"')
			return -1;
		if (c != '\\')
		{
			out[n++] = c;
			continue;
		}
		if (++i >= len - 1)
			return -1;
		switch (text[i])
		{
			case '"':
			case '\\':
			case '/':
				out[n++] = (unsigned char) text[i];
				continue;
			case 'b':
				out[n++] = '\b';
				continue;
			case 'f':
				out[n++] = '\f';
				continue;
			case 'n':
				out[n++] = '\n';
				continue;
			case 'r':
				out[n++] = '\r';
				continue;
			case 't':
				out[n++] = '\t';
				continue;
			case 'u':
				break;
			default:
				return -1;
		}
		if (len - 1 - (i + 1) < 4 || (cp = hex4(text + i + 1)) < 0)
			return -1;
		i += 4;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -1;
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			long		low;

			if (len - 1 - (i + 1) < 6 || text[i + 1] != '\\' || text[i + 2] != 'u' ||
				(low = hex4(text + i + 3)) < 0xDC00 || low > 0xDFFF)
				return -1;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			i += 6;
		}
		n += utf8_oracle_encode((uint32_t) cp, out + n);
	}
	return (long) n;
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy = malloc(size > 0 ? size : 1);
	unsigned char *want = malloc(3 * size + 1);
	unsigned char *got;
	size_t		want_len;
	long		got_len;
	bool		valid;
	struct json_buf buf;

	if (copy == NULL || want == NULL)
		abort();
	memcpy(copy, data, size);
	valid = json_utf8_valid(copy, size);
	if (valid != utf8_oracle_valid(data, size))
		abort();

	json_buf_init(&buf);
	if (!json_buf_string(&buf, copy, size) || buf.failed || buf.data == NULL ||
		strlen(buf.data) != buf.len ||
		!utf8_oracle_valid((const unsigned char *) buf.data, buf.len))
		abort();
	got = malloc(buf.len);
	if (got == NULL)
		abort();
	want_len = substitute(data, size, want);
	if (valid && (want_len != size || memcmp(want, data, size) != 0))
		abort();
	got_len = json_decode_string(buf.data, buf.len, got);
	if (got_len < 0 || (size_t) got_len != want_len || memcmp(got, want, want_len) != 0)
		abort();
	free(got);
	json_buf_free(&buf);
	free(want);
	free(copy);
	return 0;
}
