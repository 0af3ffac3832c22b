/*
 * cache_value_decode_fuzz.c
 *		libFuzzer target of cache_value_decode and cache_value_encode
 *		(gateway/cache_store.c), the form cached answers take in Redis. Each
 *		input is tried twice: as encoded bytes, which must decode to nothing
 *		or to a value whose strings are the bytes after the header line and
 *		that encodes into bytes decoding to an equal value; and as the numbers
 *		and strings of a new value, which must encode and decode into an equal
 *		value.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache_store.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes of an input, taken from the front; zeros once they run out */
struct reader
{
	const uint8_t *data;
	size_t		size;
};

/* Takes n bytes (n <= 8) as a big-endian number */
static uint64_t
take(struct reader *r, size_t n)
{
	uint64_t	v = 0;

	for (size_t i = 0; i < n; i++)
	{
		v <<= 8;
		if (r->size > 0)
		{
			v |= *r->data++;
			r->size--;
		}
	}
	return v;
}

/* Takes the bytes up to the next NUL (or the end) as a new string */
static char *
take_string(struct reader *r)
{
	const uint8_t *nul = memchr(r->data, '\0', r->size);
	size_t		len = nul ? (size_t) (nul - r->data) : r->size;
	char	   *s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, r->data, len);
	s[len] = '\0';
	r->data += nul ? len + 1 : len;
	r->size -= nul ? len + 1 : len;
	return s;
}

/* Whether two optional strings are both absent or equal */
static bool
same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Aborts unless a value is well made: one reference, an etag of 16 hex digits in quotes */
static void
check_value(const struct cache_value *v)
{
	if (atomic_load(&v->refs) != 1 || v->data == NULL ||
		strlen(v->etag) != CACHE_ETAG_SIZE - 2 || v->etag[0] != '"' ||
		v->etag[CACHE_ETAG_SIZE - 3] != '"' ||
		strspn(v->etag + 1, "0123456789abcdef") != CACHE_ETAG_SIZE - 4)
		abort();
}

/* Aborts unless two values hold the same numbers, strings and etag */
static void
check_equal(const struct cache_value *a, const struct cache_value *b)
{
	if (a->gen != b->gen || a->stored_ms != b->stored_ms || a->expiry_ms != b->expiry_ms ||
		a->delta_ms != b->delta_ms || a->status != b->status || a->size != b->size ||
		strcmp(a->etag, b->etag) != 0 || strcmp(a->data, b->data) != 0 ||
		!same_string(a->pagination, b->pagination) || !same_string(a->count, b->count))
		abort();
}

/*
 * Encodes v, decodes that into an equal value and encodes it again into the
 * same bytes; aborts when any step fails or differs.
 */
static void
check_round_trip(const struct cache_value *v)
{
	char	   *first;
	char	   *second;
	size_t		first_len;
	size_t		second_len;
	struct cache_value *again;

	check_value(v);
	if (!cache_value_encode(v, &first, &first_len))
		abort();
	again = cache_value_decode(first, first_len);
	if (again == NULL)
		abort();
	check_value(again);
	check_equal(v, again);
	if (!cache_value_encode(again, &second, &second_len) || second_len != first_len ||
		memcmp(first, second, first_len) != 0)
		abort();
	free(second);
	free(first);
	cache_value_release(again);
}

/*
 * Aborts unless the body of decoded bytes (what follows the header line) is
 * the value's three strings back to back; a body with a NUL is not compared,
 * since strings end at their first NUL.
 */
static void
check_body(const struct cache_value *v, const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	const uint8_t *body;
	size_t		body_len;
	size_t		dlen = strlen(v->data);
	size_t		plen = v->pagination ? strlen(v->pagination) : 0;
	size_t		clen = v->count ? strlen(v->count) : 0;

	if (nl == NULL)
		abort();
	body = nl + 1;
	body_len = size - (size_t) (body - data);
	if (memchr(body, '\0', body_len) != NULL)
		return;
	if (body_len != dlen + plen + clen || memcmp(body, v->data, dlen) != 0 ||
		memcmp(body + dlen, v->pagination ? v->pagination : "", plen) != 0 ||
		memcmp(body + dlen + plen, v->count ? v->count : "", clen) != 0)
		abort();
}

/* The input as encoded bytes, in a buffer of its exact size */
static void
fuzz_decode(const uint8_t *data, size_t size)
{
	char	   *copy = malloc(size > 0 ? size : 1);
	struct cache_value *v;

	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	v = cache_value_decode(copy, size);
	free(copy);
	if (v != NULL)
	{
		check_body(v, data, size);
		check_round_trip(v);
		cache_value_release(v);
	}
}

/* The input as the numbers and strings of a new value */
static void
fuzz_encode(const uint8_t *data, size_t size)
{
	struct reader r = {data, size};
	int64_t		gen = (int64_t) take(&r, 8);
	int64_t		stored_ms = (int64_t) take(&r, 8);
	int64_t		expiry_ms = (int64_t) take(&r, 8);
	int			delta_ms = (int) (int32_t) take(&r, 4);
	int			status = (int) (int32_t) take(&r, 4);
	unsigned int absent = (unsigned int) take(&r, 1);
	char	   *strings[3];
	struct cache_value *v;

	for (int i = 0; i < 3; i++)
		strings[i] = take_string(&r);
	v = cache_value_new(gen, stored_ms, expiry_ms, delta_ms, status, strings[0],
						(absent & 1) ? NULL : strings[1], (absent & 2) ? NULL : strings[2]);
	if (v == NULL)
		abort();
	if (v->gen != gen || v->stored_ms != stored_ms || v->expiry_ms != expiry_ms ||
		v->delta_ms != delta_ms || v->status != status || strcmp(v->data, strings[0]) != 0 ||
		!same_string(v->pagination, (absent & 1) ? NULL : strings[1]) ||
		!same_string(v->count, (absent & 2) ? NULL : strings[2]))
		abort();
	check_round_trip(v);
	cache_value_release(v);
	for (int i = 0; i < 3; i++)
		free(strings[i]);
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_decode(data, size);
	fuzz_encode(data, size);
	return 0;
}
