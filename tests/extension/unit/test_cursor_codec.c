/*
 * test_cursor_codec.c
 *		Unit tests of extension/cursor_codec.c: round trips, the binary layout,
 *		strict base64url, authentication, and every status.
 *
 * Payloads for the refusal tests are built and signed here with OpenSSL's own
 * base64 and HMAC, independently of the codec under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cursor_codec.h"

#define SECRET			"0123456789abcdef0123456789abcdef"
#define SECRET_LEN		32
#define HEADER_LEN		23
#define MAX_RAW			(CURSOR_MAX_TEXT / 4 * 3)
#define TEXT_SIZE		(CURSOR_MAX_TEXT + 1)

static const char Alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The codec's view of the test secret */
static const uint8_t *
secret(void)
{
	return (const uint8_t *) SECRET;
}

/* Decodes text under secret s into c, with a scratch buffer of its own */
static CursorStatus
decode_with(const char *text, size_t len, const char *s, size_t slen, Cursor *c)
{
	static uint8_t buf[CURSOR_MAX_TEXT];

	return cursor_decode(text, len, (const uint8_t *) s, slen, c, buf, sizeof(buf));
}

/* Decodes text under the test secret and returns only the status */
static CursorStatus
decode_status(const char *text, size_t len)
{
	Cursor		c;

	return decode_with(text, len, SECRET, SECRET_LEN, &c);
}

/* Fills c with nkeys values "k0", "k1", ... and a list id of "list" */
static void
make_cursor(Cursor *c, int nkeys, CursorDirection direction, uint32_t page)
{
	static const char *const values[CURSOR_MAX_KEYS] = {
		"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"
	};
	int			i;

	memset(c, 0, sizeof(*c));
	c->direction = direction;
	c->page = page;
	c->nkeys = nkeys;
	assert_int_equal(cursor_list_id("list", 4, c->list_id), CURSOR_OK);
	for (i = 0; i < nkeys && i < CURSOR_MAX_KEYS; i++)
	{
		c->keys[i].data = values[i];
		c->keys[i].len = 2;
	}
}

/* Encodes c under the test secret, asserting success, and returns the length */
static size_t
encode_ok(const Cursor *c, char text[TEXT_SIZE])
{
	size_t		len = 0;

	assert_int_equal(cursor_encode(c, secret(), SECRET_LEN, text, TEXT_SIZE, &len),
					 CURSOR_OK);
	assert_int_equal(strlen(text), len);
	return len;
}

/* Asserts that len bytes of text use only the base64url alphabet */
static void
assert_base64url(const char *text, size_t len)
{
	size_t		i;

	assert_true(len > 0 && len <= CURSOR_MAX_TEXT);
	assert_int_not_equal(len % 4, 1);
	for (i = 0; i < len; i++)
		assert_non_null(memchr(Alphabet, text[i], sizeof(Alphabet) - 1));
}

/* Asserts that two cursors carry the same fields and values */
static void
assert_same_cursor(const Cursor *a, const Cursor *b)
{
	int			i;

	assert_int_equal(a->direction, b->direction);
	assert_int_equal(a->page, b->page);
	assert_memory_equal(a->list_id, b->list_id, CURSOR_LIST_ID_LEN);
	assert_int_equal(a->nkeys, b->nkeys);
	for (i = 0; i < a->nkeys; i++)
	{
		assert_int_equal(a->keys[i].isnull, b->keys[i].isnull);
		if (a->keys[i].isnull)
			continue;
		assert_int_equal(a->keys[i].len, b->keys[i].len);
		if (a->keys[i].len > 0)
			assert_memory_equal(a->keys[i].data, b->keys[i].data, a->keys[i].len);
	}
}

/* Encodes c, checks the text, decodes it back, and re-encodes it identically */
static void
assert_round_trip(const Cursor *c)
{
	char		text[TEXT_SIZE];
	char		again[TEXT_SIZE];
	size_t		len = encode_ok(c, text);
	Cursor		back;

	assert_base64url(text, len);
	assert_int_equal(decode_with(text, len, SECRET, SECRET_LEN, &back), CURSOR_OK);
	assert_int_equal(back.version, CURSOR_FORMAT_VERSION);
	assert_same_cursor(c, &back);
	assert_int_equal(encode_ok(&back, again), len);
	assert_string_equal(again, text);
}

/* Base64url text of len raw bytes, through OpenSSL's standard base64 */
static size_t
text_from_raw(const uint8_t *raw, size_t len, char *text)
{
	unsigned char std[MAX_RAW / 3 * 4 + 8];
	int			n = EVP_EncodeBlock(std, raw, (int) len);
	int			i;

	while (n > 0 && std[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
		text[i] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : (char) std[i];
	text[n] = '\0';
	return (size_t) n;
}

/* Raw bytes of base64url text, through OpenSSL's standard base64 */
static size_t
raw_from_text(const char *text, size_t len, uint8_t *raw)
{
	unsigned char std[CURSOR_MAX_TEXT + 4];
	size_t		padded = len;
	size_t		i;
	int			n;

	for (i = 0; i < len; i++)
		std[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : (unsigned char) text[i];
	while (padded % 4 != 0)
		std[padded++] = '=';
	n = EVP_DecodeBlock(raw, std, (int) padded);
	assert_true(n >= 0);
	return (size_t) n - (padded - len);
}

/* Appends the HMAC under secret s to len payload bytes and returns the text */
static size_t
sign_with(const uint8_t *payload, size_t len, const char *s, char *text)
{
	uint8_t		raw[MAX_RAW + CURSOR_MAC_LEN];
	unsigned int mac_len = 0;

	assert_true(len <= MAX_RAW - CURSOR_MAC_LEN);
	memcpy(raw, payload, len);
	assert_non_null(HMAC(EVP_sha256(), s, (int) strlen(s), payload, len,
						 raw + len, &mac_len));
	assert_int_equal(mac_len, CURSOR_MAC_LEN);
	return text_from_raw(raw, len + CURSOR_MAC_LEN, text);
}

/* Signs payload under the test secret and decodes it, returning the status */
static CursorStatus
decode_signed(const uint8_t *payload, size_t len)
{
	char		text[TEXT_SIZE + CURSOR_MAC_LEN * 2];
	size_t		tlen = sign_with(payload, len, SECRET, text);

	return decode_status(text, tlen);
}

/* Writes a payload header with nkeys and returns its length */
static size_t
put_header(uint8_t *p, uint8_t flags, uint32_t page, uint8_t nkeys)
{
	p[0] = CURSOR_FORMAT_VERSION;
	p[1] = flags;
	p[2] = (uint8_t) (page >> 24);
	p[3] = (uint8_t) (page >> 16);
	p[4] = (uint8_t) (page >> 8);
	p[5] = (uint8_t) page;
	memset(p + 6, 0x5A, CURSOR_LIST_ID_LEN);
	p[22] = nkeys;
	return HEADER_LEN;
}

/* Writes one value length field */
static size_t
put_len(uint8_t *p, uint16_t len)
{
	p[0] = (uint8_t) (len >> 8);
	p[1] = (uint8_t) len;
	return 2;
}

/* Every count of keys round-trips in both directions, on first and last pages */
static void
test_round_trip_key_counts(void **state)
{
	static const uint32_t pages[] = {1, 2, 4294967295u};
	Cursor		c;
	int			nkeys;
	size_t		p;

	(void) state;
	for (nkeys = 1; nkeys <= CURSOR_MAX_KEYS; nkeys++)
		for (p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
		{
			make_cursor(&c, nkeys, CURSOR_FORWARD, pages[p]);
			assert_round_trip(&c);
			make_cursor(&c, nkeys, CURSOR_BACKWARD, pages[p]);
			assert_round_trip(&c);
		}
}

/* NULL values and empty strings are told apart */
static void
test_round_trip_nulls_and_empty(void **state)
{
	Cursor		c;
	char		text[TEXT_SIZE];
	Cursor		back;
	int			i;

	(void) state;
	make_cursor(&c, CURSOR_MAX_KEYS, CURSOR_FORWARD, 3);
	for (i = 0; i < CURSOR_MAX_KEYS; i++)
	{
		c.keys[i].isnull = true;
		c.keys[i].data = NULL;
		c.keys[i].len = 0;
	}
	assert_round_trip(&c);

	c.keys[1].isnull = false;
	c.keys[2].isnull = false;
	c.keys[2].data = "";
	c.keys[4].isnull = false;
	c.keys[4].data = "x";
	c.keys[4].len = 1;
	assert_round_trip(&c);

	assert_int_equal(decode_with(text, encode_ok(&c, text), SECRET, SECRET_LEN, &back),
					 CURSOR_OK);
	assert_true(back.keys[0].isnull);
	assert_null(back.keys[0].data);
	assert_false(back.keys[1].isnull);
	assert_int_equal(back.keys[1].len, 0);
	assert_false(back.keys[2].isnull);
	assert_int_equal(back.keys[2].len, 0);
}

/* Values of the largest length fit, as long as the text stays within its cap */
static void
test_round_trip_longest_values(void **state)
{
	static char big[CURSOR_MAX_VALUE_LEN + 1];
	char		text[TEXT_SIZE];
	Cursor		c;
	size_t		len;
	int			i;

	(void) state;
	for (i = 0; i < (int) sizeof(big); i++)
		big[i] = (char) (i * 7 + 1);
	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	c.keys[0].data = big;
	c.keys[0].len = CURSOR_MAX_VALUE_LEN;
	assert_round_trip(&c);

	make_cursor(&c, 3, CURSOR_BACKWARD, 9);
	for (i = 0; i < 2; i++)
	{
		c.keys[i].data = big;
		c.keys[i].len = CURSOR_MAX_VALUE_LEN;
	}
	c.keys[2].isnull = true;
	assert_round_trip(&c);

	/* a third such value would push the text past CURSOR_MAX_TEXT */
	c.keys[2].isnull = false;
	c.keys[2].data = big;
	c.keys[2].len = CURSOR_MAX_VALUE_LEN;
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
}

/* Multi-byte UTF-8 text passes through byte for byte */
static void
test_round_trip_utf8(void **state)
{
	static const char *const words[] = {
		"Zo\xC3\xAB", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x8E\x89", "caf\xC3\xA9 \xE2\x82\xAC"
	};
	Cursor		c;
	int			i;

	(void) state;
	make_cursor(&c, 4, CURSOR_BACKWARD, 12);
	for (i = 0; i < 4; i++)
	{
		c.keys[i].data = words[i];
		c.keys[i].len = (uint16_t) strlen(words[i]);
	}
	assert_round_trip(&c);
}

/* The text carries exactly the layout documented in cursor_codec.h */
static void
test_binary_layout(void **state)
{
	uint8_t		raw[MAX_RAW];
	uint8_t		mac[CURSOR_MAC_LEN];
	unsigned int mac_len = 0;
	char		text[TEXT_SIZE];
	Cursor		c;
	size_t		n;

	(void) state;
	make_cursor(&c, 2, CURSOR_BACKWARD, 0x01020304);
	c.keys[0].isnull = true;
	c.keys[1].data = "abc";
	c.keys[1].len = 3;
	n = raw_from_text(text, encode_ok(&c, text), raw);

	assert_int_equal(n, HEADER_LEN + 2 + 2 + 3 + CURSOR_MAC_LEN);
	assert_int_equal(raw[0], CURSOR_FORMAT_VERSION);
	assert_int_equal(raw[1], 0x01);
	assert_memory_equal(raw + 2, "\x01\x02\x03\x04", 4);
	assert_memory_equal(raw + 6, c.list_id, CURSOR_LIST_ID_LEN);
	assert_int_equal(raw[22], 2);
	assert_memory_equal(raw + 23, "\xFF\xFF\x00\x03" "abc", 7);
	assert_non_null(HMAC(EVP_sha256(), SECRET, SECRET_LEN, raw, n - CURSOR_MAC_LEN,
						 mac, &mac_len));
	assert_memory_equal(raw + n - CURSOR_MAC_LEN, mac, CURSOR_MAC_LEN);

	c.direction = CURSOR_FORWARD;
	raw_from_text(text, encode_ok(&c, text), raw);
	assert_int_equal(raw[1], 0x00);
}

/* No text is no cursor */
static void
test_empty(void **state)
{
	(void) state;
	assert_int_equal(decode_status("", 0), CURSOR_EMPTY);
	assert_int_equal(decode_status(NULL, 0), CURSOR_EMPTY);
	assert_int_equal(decode_status("AAAA", 0), CURSOR_EMPTY);
}

/* Text over CURSOR_MAX_TEXT is refused before it is decoded */
static void
test_too_long(void **state)
{
	static char text[CURSOR_MAX_TEXT + 2];

	(void) state;
	memset(text, 'A', sizeof(text));
	assert_int_equal(decode_status(text, CURSOR_MAX_TEXT + 1), CURSOR_TOO_LONG);
	assert_int_equal(decode_status(text, sizeof(text)), CURSOR_TOO_LONG);
	text[0] = '=';
	assert_int_equal(decode_status(text, CURSOR_MAX_TEXT + 1), CURSOR_TOO_LONG);
	/* at the cap the text is decoded: all-zero bytes carry version 0 */
	text[0] = 'A';
	assert_int_equal(decode_status(text, CURSOR_MAX_TEXT), CURSOR_BAD_VERSION);
}

/* Every byte outside the base64url alphabet is refused, wherever it stands */
static void
test_bad_base64_characters(void **state)
{
	char		text[TEXT_SIZE];
	char		bad[TEXT_SIZE];
	Cursor		c;
	size_t		len;
	size_t		pos;
	int			ch;

	(void) state;
	make_cursor(&c, 2, CURSOR_FORWARD, 1);
	len = encode_ok(&c, text);
	for (ch = 0; ch < 256; ch++)
	{
		if (memchr(Alphabet, ch, sizeof(Alphabet) - 1) != NULL)
			continue;
		for (pos = 0; pos < len; pos += len / 3)
		{
			memcpy(bad, text, len);
			bad[pos] = (char) ch;
			assert_int_equal(decode_status(bad, len), CURSOR_BAD_BASE64);
		}
	}
}

/* Padding, whitespace and the standard alphabet's '+' '/' are refused */
static void
test_bad_base64_forms(void **state)
{
	static const char *const suffixes[] = {"=", "==", "===", " ", "\n", "\r\n", "\t"};
	char		text[TEXT_SIZE + 8];
	char		padded[TEXT_SIZE + 8];
	Cursor		c;
	size_t		len;
	size_t		i;

	(void) state;
	assert_int_equal(decode_status("AA==", 4), CURSOR_BAD_BASE64);
	assert_int_equal(decode_status("AAA=", 4), CURSOR_BAD_BASE64);
	assert_int_equal(decode_status("AA+/", 4), CURSOR_BAD_BASE64);
	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	len = encode_ok(&c, text);
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
	{
		memcpy(padded, text, len);
		memcpy(padded + len, suffixes[i], strlen(suffixes[i]));
		assert_int_equal(decode_status(padded, len + strlen(suffixes[i])),
						 CURSOR_BAD_BASE64);
		padded[0] = suffixes[i][0];
		memcpy(padded + 1, text, len);
		assert_int_equal(decode_status(padded, len + 1), CURSOR_BAD_BASE64);
	}
	memcpy(padded, text, len / 2);
	padded[len / 2] = ' ';
	memcpy(padded + len / 2 + 1, text + len / 2, len - len / 2);
	assert_int_equal(decode_status(padded, len + 1), CURSOR_BAD_BASE64);
}

/* A length of 1 mod 4 cannot be base64 */
static void
test_bad_base64_length(void **state)
{
	char		text[TEXT_SIZE];
	Cursor		c;
	size_t		len;
	size_t		cut;

	(void) state;
	assert_int_equal(decode_status("A", 1), CURSOR_BAD_BASE64);
	assert_int_equal(decode_status("AAAAA", 5), CURSOR_BAD_BASE64);
	make_cursor(&c, 3, CURSOR_FORWARD, 1);
	len = encode_ok(&c, text);
	for (cut = 1; cut <= len; cut += 4)
		assert_int_equal(decode_status(text, cut), CURSOR_BAD_BASE64);
}

/*
 * Non-zero unused low bits in the last character are refused, so one cursor
 * has one text. Both partial groups are tried: raw lengths 1 and 2 mod 3.
 */
static void
test_bad_base64_trailing_bits(void **state)
{
	char		text[TEXT_SIZE];
	Cursor		c;
	size_t		len;
	size_t		vlen;
	int			seen[4] = {0, 0, 0, 0};
	const char *last;

	(void) state;
	assert_int_equal(decode_status("AB", 2), CURSOR_BAD_BASE64);
	assert_int_equal(decode_status("AAB", 3), CURSOR_BAD_BASE64);
	for (vlen = 0; vlen < 3; vlen++)
	{
		make_cursor(&c, 1, CURSOR_FORWARD, 1);
		c.keys[0].data = "abc";
		c.keys[0].len = (uint16_t) vlen;
		len = encode_ok(&c, text);
		seen[len % 4] = 1;
		if (len % 4 == 0)
			continue;
		last = strchr(Alphabet, text[len - 1]);
		assert_non_null(last);
		/* the lowest bit is always unused in a partial group */
		text[len - 1] = Alphabet[(last - Alphabet) ^ 1];
		assert_int_equal(decode_status(text, len), CURSOR_BAD_BASE64);
	}
	assert_true(seen[2] && seen[3]);
}

/* Bytes shorter than the smallest cursor, however signed */
static void
test_truncated(void **state)
{
	uint8_t		payload[HEADER_LEN + 2];

	(void) state;
	assert_int_equal(decode_status("AQ", 2), CURSOR_TRUNCATED);
	assert_int_equal(decode_status("AQAAAAE", 7), CURSOR_TRUNCATED);
	put_header(payload, 0, 1, 1);
	payload[HEADER_LEN] = 0;
	assert_int_equal(decode_signed(payload, HEADER_LEN + 1), CURSOR_TRUNCATED);
	assert_int_equal(decode_signed(payload, HEADER_LEN), CURSOR_TRUNCATED);
	payload[HEADER_LEN + 1] = 0;
	assert_int_equal(decode_signed(payload, HEADER_LEN + 2), CURSOR_OK);
}

/* Any version byte but the current one, even correctly signed */
static void
test_bad_version(void **state)
{
	uint8_t		payload[HEADER_LEN + 2];
	int			v;

	(void) state;
	put_header(payload, 0, 1, 1);
	put_len(payload + HEADER_LEN, CURSOR_NULL_LEN);
	for (v = 0; v < 256; v++)
	{
		payload[0] = (uint8_t) v;
		assert_int_equal(decode_signed(payload, sizeof(payload)),
						 v == CURSOR_FORMAT_VERSION ? CURSOR_OK : CURSOR_BAD_VERSION);
	}
}

/* Flipping any single bit of the bytes is detected */
static void
test_bit_flips(void **state)
{
	uint8_t		raw[MAX_RAW];
	char		text[TEXT_SIZE];
	char		flipped[TEXT_SIZE];
	Cursor		c;
	size_t		n;
	size_t		i;
	int			bit;

	(void) state;
	make_cursor(&c, 3, CURSOR_BACKWARD, 77);
	c.keys[1].isnull = true;
	n = raw_from_text(text, encode_ok(&c, text), raw);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++)
		{
			raw[i] ^= (uint8_t) (1 << bit);
			assert_int_equal(decode_status(flipped, text_from_raw(raw, n, flipped)),
							 i == 0 ? CURSOR_BAD_VERSION : CURSOR_BAD_MAC);
			raw[i] ^= (uint8_t) (1 << bit);
		}
	assert_int_equal(decode_status(flipped, text_from_raw(raw, n, flipped)), CURSOR_OK);
}

/* Replacing any one character of the text by any other byte is refused */
static void
test_single_character_changes(void **state)
{
	char		text[TEXT_SIZE];
	Cursor		c;
	size_t		len;
	size_t		pos;
	int			ch;
	char		orig;

	(void) state;
	make_cursor(&c, 2, CURSOR_FORWARD, 5);
	len = encode_ok(&c, text);
	for (pos = 0; pos < len; pos++)
	{
		orig = text[pos];
		for (ch = 0; ch < 256; ch++)
		{
			if ((char) ch == orig)
				continue;
			text[pos] = (char) ch;
			assert_int_not_equal(decode_status(text, len), CURSOR_OK);
		}
		text[pos] = orig;
	}
	assert_int_equal(decode_status(text, len), CURSOR_OK);
}

/* A cursor signed under another secret is refused */
static void
test_other_secret(void **state)
{
	static const char other[] = "0123456789abcdef0123456789abcdeF";
	static const char longer[] = "0123456789abcdef0123456789abcdef!";
	char		text[TEXT_SIZE];
	Cursor		c;
	Cursor		back;
	size_t		len;

	(void) state;
	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	len = encode_ok(&c, text);
	assert_int_equal(decode_with(text, len, other, SECRET_LEN, &back), CURSOR_BAD_MAC);
	assert_int_equal(decode_with(text, len, longer, sizeof(longer) - 1, &back),
					 CURSOR_BAD_MAC);
	assert_int_equal(decode_with(text, len, SECRET, SECRET_LEN, &back), CURSOR_OK);
}

/* Every prefix of a valid text, and the text with one more character, is refused */
static void
test_every_cut(void **state)
{
	char		text[TEXT_SIZE + 1];
	Cursor		c;
	size_t		len;
	size_t		cut;

	(void) state;
	make_cursor(&c, 8, CURSOR_BACKWARD, 2);
	len = encode_ok(&c, text);
	for (cut = 0; cut < len; cut++)
		assert_int_not_equal(decode_status(text, cut), CURSOR_OK);
	text[len] = 'A';
	assert_int_not_equal(decode_status(text, len + 1), CURSOR_OK);
	assert_int_equal(decode_status(text, len), CURSOR_OK);
}

/* Authentic payloads that do not parse */
static void
test_malformed(void **state)
{
	static uint8_t p[MAX_RAW];
	size_t		n;
	int			i;

	(void) state;
	/* the builder itself makes a valid cursor */
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, 2);
	memcpy(p + n, "ok", 2);
	assert_int_equal(decode_signed(p, n + 2), CURSOR_OK);

	/* no key, and one too many */
	n = put_header(p, 0, 1, 0);
	n += put_len(p + n, CURSOR_NULL_LEN);
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);
	n = put_header(p, 0, 1, CURSOR_MAX_KEYS + 1);
	for (i = 0; i < CURSOR_MAX_KEYS + 1; i++)
		n += put_len(p + n, CURSOR_NULL_LEN);
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);
	p[22] = 255;
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);

	/* flag bits other than the direction */
	for (i = 1; i < 8; i++)
	{
		n = put_header(p, (uint8_t) (1 << i), 1, 1);
		n += put_len(p + n, CURSOR_NULL_LEN);
		assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);
	}

	/* page 0 */
	n = put_header(p, 0, 0, 1);
	n += put_len(p + n, CURSOR_NULL_LEN);
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);

	/* a value running past the end, a length field cut short, a missing value */
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, 5);
	memcpy(p + n, "abc", 3);
	assert_int_equal(decode_signed(p, n + 3), CURSOR_MALFORMED);
	n = put_header(p, 0, 1, 2);
	n += put_len(p + n, CURSOR_NULL_LEN);
	p[n++] = 0;
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);
	n = put_header(p, 0, 1, 3);
	n += put_len(p + n, CURSOR_NULL_LEN);
	n += put_len(p + n, CURSOR_NULL_LEN);
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);

	/* a value longer than CURSOR_MAX_VALUE_LEN, with the bytes present */
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, CURSOR_MAX_VALUE_LEN + 1);
	memset(p + n, 'v', CURSOR_MAX_VALUE_LEN + 1);
	assert_int_equal(decode_signed(p, n + CURSOR_MAX_VALUE_LEN + 1), CURSOR_MALFORMED);
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, CURSOR_MAX_VALUE_LEN);
	assert_int_equal(decode_signed(p, n + CURSOR_MAX_VALUE_LEN), CURSOR_OK);

	/* a trailing byte after the last value */
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, CURSOR_NULL_LEN);
	p[n++] = 0;
	assert_int_equal(decode_signed(p, n), CURSOR_MALFORMED);
}

/* A secret shorter than CURSOR_MIN_SECRET_LEN, or none, is refused both ways */
static void
test_bad_secret(void **state)
{
	char		text[TEXT_SIZE];
	uint8_t		buf[CURSOR_MAX_TEXT];
	Cursor		c;
	Cursor		back;
	size_t		len = 0;

	(void) state;
	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN - 1, text, sizeof(text), &len),
					 CURSOR_BAD_SECRET);
	assert_int_equal(cursor_encode(&c, NULL, SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_SECRET);
	len = encode_ok(&c, text);
	assert_int_equal(decode_with(text, len, SECRET, SECRET_LEN - 1, &back),
					 CURSOR_BAD_SECRET);
	assert_int_equal(cursor_decode(text, len, NULL, SECRET_LEN, &back, buf, sizeof(buf)),
					 CURSOR_BAD_SECRET);
}

/* Fields out of range and missing pointers */
static void
test_bad_input(void **state)
{
	static const int bad_nkeys[] = {0, -1, CURSOR_MAX_KEYS + 1, 255};
	char		text[TEXT_SIZE];
	uint8_t		buf[CURSOR_MAX_TEXT];
	uint8_t		id[CURSOR_LIST_ID_LEN];
	Cursor		c;
	size_t		len = 0;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(bad_nkeys) / sizeof(bad_nkeys[0]); i++)
	{
		make_cursor(&c, bad_nkeys[i], CURSOR_FORWARD, 1);
		assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
						 CURSOR_BAD_INPUT);
	}
	make_cursor(&c, 1, CURSOR_FORWARD, 0);
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
	make_cursor(&c, 1, (CursorDirection) 2, 1);
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	c.keys[0].len = CURSOR_MAX_VALUE_LEN + 1;
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
	c.keys[0].data = NULL;
	c.keys[0].len = 3;
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);

	make_cursor(&c, 1, CURSOR_FORWARD, 1);
	assert_int_equal(cursor_encode(NULL, secret(), SECRET_LEN, text, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, NULL, sizeof(text), &len),
					 CURSOR_BAD_INPUT);
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, text, sizeof(text), NULL),
					 CURSOR_BAD_INPUT);
	len = encode_ok(&c, text);
	assert_int_equal(cursor_decode(text, len, secret(), SECRET_LEN, NULL, buf, sizeof(buf)),
					 CURSOR_BAD_INPUT);
	assert_int_equal(cursor_decode(text, len, secret(), SECRET_LEN, &c, NULL, sizeof(buf)),
					 CURSOR_BAD_INPUT);
	assert_int_equal(cursor_decode(NULL, len, secret(), SECRET_LEN, &c, buf, sizeof(buf)),
					 CURSOR_BAD_INPUT);
	assert_int_equal(cursor_list_id(NULL, 3, id), CURSOR_BAD_INPUT);
	assert_int_equal(cursor_list_id("abc", 3, NULL), CURSOR_BAD_INPUT);
}

/* Encode never writes past outsize and needs room for the NUL */
static void
test_no_space(void **state)
{
	char		text[TEXT_SIZE];
	char		out[TEXT_SIZE + 16];
	uint8_t		buf[CURSOR_MAX_TEXT];
	Cursor		c;
	Cursor		back;
	size_t		len;
	size_t		outlen;
	size_t		size;
	size_t		i;

	(void) state;
	make_cursor(&c, 4, CURSOR_FORWARD, 8);
	len = encode_ok(&c, text);
	for (size = 0; size <= len; size++)
	{
		memset(out, '#', sizeof(out));
		outlen = 12345;
		assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, out, size, &outlen),
						 CURSOR_NO_SPACE);
		assert_int_equal(outlen, 12345);
		for (i = 0; i < sizeof(out); i++)
			assert_int_equal(out[i], '#');
	}
	memset(out, '#', sizeof(out));
	assert_int_equal(cursor_encode(&c, secret(), SECRET_LEN, out, len + 1, &outlen),
					 CURSOR_OK);
	assert_int_equal(outlen, len);
	assert_string_equal(out, text);
	for (i = len + 1; i < sizeof(out); i++)
		assert_int_equal(out[i], '#');

	/* decode insists on a scratch buffer of CURSOR_MAX_TEXT bytes */
	assert_int_equal(cursor_decode(text, len, secret(), SECRET_LEN, &back, buf,
								   CURSOR_MAX_TEXT - 1), CURSOR_NO_SPACE);
	assert_int_equal(cursor_decode(text, len, secret(), SECRET_LEN, &back, buf,
								   CURSOR_MAX_TEXT), CURSOR_OK);
}

/* A failed decode leaves the caller's cursor as it was */
static void
test_failed_decode_leaves_cursor(void **state)
{
	uint8_t		p[HEADER_LEN + 3];
	char		text[TEXT_SIZE];
	Cursor		before;
	Cursor		c;
	size_t		n;

	(void) state;
	n = put_header(p, 0, 1, 1);
	n += put_len(p + n, CURSOR_NULL_LEN);
	p[n++] = 0;
	memset(&before, 0x33, sizeof(before));
	memcpy(&c, &before, sizeof(c));
	assert_int_equal(decode_with(text, sign_with(p, n, SECRET, text), SECRET, SECRET_LEN, &c),
					 CURSOR_MALFORMED);
	assert_memory_equal(&c, &before, sizeof(c));
}

/* The list id is the SHA-256 prefix of known test vectors */
static void
test_list_id(void **state)
{
	uint8_t		id[CURSOR_LIST_ID_LEN];

	(void) state;
	assert_int_equal(cursor_list_id("abc", 3, id), CURSOR_OK);
	assert_memory_equal(id, "\xba\x78\x16\xbf\x8f\x01\xcf\xea"
						"\x41\x41\x40\xde\x5d\xae\x22\x23", CURSOR_LIST_ID_LEN);
	assert_int_equal(cursor_list_id("", 0, id), CURSOR_OK);
	assert_memory_equal(id, "\xe3\xb0\xc4\x42\x98\xfc\x1c\x14"
						"\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24", CURSOR_LIST_ID_LEN);
	assert_int_equal(cursor_list_id(NULL, 0, id), CURSOR_OK);
	assert_memory_equal(id, "\xe3\xb0\xc4\x42", 4);
}

/* Every status has its own non-empty message */
static void
test_status_messages(void **state)
{
	const char *seen[CURSOR_CRYPTO_FAILED + 1];
	int			s;
	int			t;

	(void) state;
	for (s = CURSOR_OK; s <= CURSOR_CRYPTO_FAILED; s++)
	{
		seen[s] = cursor_status_message((CursorStatus) s);
		assert_non_null(seen[s]);
		assert_true(strlen(seen[s]) > 0);
		for (t = 0; t < s; t++)
			assert_string_not_equal(seen[s], seen[t]);
	}
	assert_string_equal(cursor_status_message(CURSOR_BAD_MAC), "cursor was altered or forged");
	assert_true(strlen(cursor_status_message((CursorStatus) 99)) > 0);
}

/* Run the tests; TAP output with CMOCKA_MESSAGE_OUTPUT=TAP */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_key_counts),
		cmocka_unit_test(test_round_trip_nulls_and_empty),
		cmocka_unit_test(test_round_trip_longest_values),
		cmocka_unit_test(test_round_trip_utf8),
		cmocka_unit_test(test_binary_layout),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_bad_base64_characters),
		cmocka_unit_test(test_bad_base64_forms),
		cmocka_unit_test(test_bad_base64_length),
		cmocka_unit_test(test_bad_base64_trailing_bits),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_single_character_changes),
		cmocka_unit_test(test_other_secret),
		cmocka_unit_test(test_every_cut),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_secret),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_failed_decode_leaves_cursor),
		cmocka_unit_test(test_list_id),
		cmocka_unit_test(test_status_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
