/*
 * cursor_decode_fuzz.c
 *		libFuzzer target of cursor_decode. Each input is tried twice: as cursor
 *		text, and as a payload that gets a valid HMAC and base64url, so that the
 *		parser behind the MAC check sees arbitrary bytes too. Whatever decodes
 *		must encode back to the very same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cursor_codec.h"
#include "cursor_fuzz.h"

#define MAX_RAW		(CURSOR_MAX_TEXT / 4 * 3)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless c encodes to exactly len bytes of text */
static void
CheckReencodes(const Cursor *c, const char *text, size_t len)
{
	char		out[CURSOR_MAX_TEXT + 1];
	size_t		outlen = 0;

	if (cursor_encode(c, (const uint8_t *) CURSOR_FUZZ_SECRET, CURSOR_FUZZ_SECRET_LEN,
					  out, sizeof(out), &outlen) != CURSOR_OK ||
		outlen != len || memcmp(out, text, len) != 0)
		abort();
}

/* Decodes text under the fuzz secret into c */
static CursorStatus
Decode(const char *text, size_t len, Cursor *c)
{
	static uint8_t buf[CURSOR_MAX_TEXT];

	return cursor_decode(text, len, (const uint8_t *) CURSOR_FUZZ_SECRET,
						 CURSOR_FUZZ_SECRET_LEN, c, buf, sizeof(buf));
}

/* Base64url text of len raw bytes, through OpenSSL's standard base64 */
static size_t
TextFromRaw(const uint8_t *raw, size_t len, char *text)
{
	int			n = EVP_EncodeBlock((unsigned char *) text, raw, (int) len);
	int			i;

	while (n > 0 && text[n - 1] == '=')
		n--;
	for (i = 0; i < n; i++)
	{
		if (text[i] == '+')
			text[i] = '-';
		else if (text[i] == '/')
			text[i] = '_';
	}
	return (size_t) n;
}

/* The input as cursor text */
static void
FuzzText(const uint8_t *data, size_t size)
{
	Cursor		c;

	if (Decode((const char *) data, size, &c) == CURSOR_OK)
		CheckReencodes(&c, (const char *) data, size);
}

/*
 * The input as an authentic payload: only the size, version and parse checks
 * may refuse it; a MAC or base64url refusal means encoder and decoder disagree.
 */
static void
FuzzPayload(const uint8_t *data, size_t size)
{
	uint8_t		raw[MAX_RAW];
	char		text[MAX_RAW / 3 * 4 + 1];
	unsigned int mac_len = 0;
	size_t		len;
	Cursor		c;

	if (size > MAX_RAW - CURSOR_MAC_LEN)
		return;
	if (size > 0)
		memcpy(raw, data, size);
	if (HMAC(EVP_sha256(), CURSOR_FUZZ_SECRET, CURSOR_FUZZ_SECRET_LEN, data, size,
			 raw + size, &mac_len) == NULL || mac_len != CURSOR_MAC_LEN)
		abort();
	len = TextFromRaw(raw, size + CURSOR_MAC_LEN, text);
	switch (Decode(text, len, &c))
	{
		case CURSOR_OK:
			CheckReencodes(&c, text, len);
			break;
		case CURSOR_TRUNCATED:
		case CURSOR_BAD_VERSION:
		case CURSOR_MALFORMED:
			break;
		default:
			abort();
	}
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzText(data, size);
	FuzzPayload(data, size);
	return 0;
}
