/*
 * json_keys_fuzz.c
 *		libFuzzer target of json_object_shape (gateway/json.c). The
 *		input runs as it is (no crash, no read past it); then its lines are
 *		taken as keys, written into a JSON object here (each ASCII byte plain or
 *		as a \u escape, chosen by the input; nested values that name the same
 *		keys; strings holding braces, commas and quotes), and the answer must be
 *		whether two of the keys of at most 64 bytes are equal, as counted here.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_KEYS 40
#define TRACKED_BYTES 64

/* Appends key as a JSON string: escapes where needed, or where bit says so */
static size_t
put_key(char *out, const uint8_t *key, size_t len, unsigned bits)
{
	size_t		n = 0;

	out[n++] = '"';
	for (size_t i = 0; i < len; i++)
	{
		uint8_t		c = key[i];

		if (c < 0x20 || c == '"' || c == '\\' || (c < 0x80 && ((bits >> (i % 8)) & 1)))
			n += (size_t) sprintf(out + n, "\\u%04x", c);
		else
			out[n++] = (char) c;
	}
	out[n++] = '"';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *keys[MAX_KEYS];
	size_t		lens[MAX_KEYS];
	size_t		nkeys = 0;
	size_t		start = 0;
	char	   *text;
	size_t		n = 0;
	bool		expect = false;
	unsigned	bits = size > 0 ? data[0] : 0;

	(void) json_object_shape((const char *) data, size, 64);

	for (size_t i = 1; i <= size && nkeys < MAX_KEYS; i++)
	{
		if (i == size || data[i] == '\n')
		{
			keys[nkeys] = data + start + (start == 0 && size > 0 ? 1 : 0);
			lens[nkeys] = i - start - (start == 0 && size > 0 ? 1 : 0);
			nkeys++;
			start = i + 1;
		}
	}
	for (size_t a = 0; a < nkeys && !expect; a++)
		for (size_t b = a + 1; b < nkeys && !expect; b++)
			expect = lens[a] <= TRACKED_BYTES && lens[a] == lens[b] &&
				memcmp(keys[a], keys[b], lens[a]) == 0;

	/* every key at most 6 bytes per input byte, twice, plus the values */
	text = malloc(16 + size * 14 + nkeys * 64);
	if (text == NULL)
		abort();
	text[n++] = '{';
	for (size_t k = 0; k < nkeys; k++)
	{
		if (k > 0)
			text[n++] = ',';
		n += put_key(text + n, keys[k], lens[k], bits + (unsigned) k);
		if (k % 2 == 0)
			n += (size_t) sprintf(text + n, ":\"v,\\\"x\\\":{[\"");
		else
		{
			n += (size_t) sprintf(text + n, ":{");
			n += put_key(text + n, keys[k], lens[k], ~bits);
			n += (size_t) sprintf(text + n, ":[1,\"}\",{\"a\":2}]}");
		}
	}
	text[n++] = '}';
	if ((json_object_shape(text, n, INT_MAX) == JSON_OBJECT_DUPLICATE_KEY) != expect)
	{
		fprintf(stderr, "duplicate key: expected %d for %.*s\n", expect, (int) n, text);
		abort();
	}
	free(text);
	return 0;
}
