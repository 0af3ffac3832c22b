/*
 * cursor_codec.c
 *		Encodes and decodes keyset cursors: the binary layout described in
 *		cursor_codec.h, HMAC-SHA256 under the server secret, and a strict
 *		base64url text form in which every cursor has exactly one spelling.
 *
 * Pure C11 with OpenSSL and no global state: safe to call from any thread.
 */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "cursor_codec.h"

/* Offsets of the fixed header fields */
#define OFFSET_VERSION		0
#define OFFSET_FLAGS		1
#define OFFSET_PAGE			2
#define OFFSET_LIST_ID		6
#define OFFSET_NKEYS		(OFFSET_LIST_ID + CURSOR_LIST_ID_LEN)
#define HEADER_LEN			(OFFSET_NKEYS + 1)

#define FLAG_BACKWARD		0x01
#define VALUE_LEN_SIZE		2

/* One key value's length field and a MAC: no cursor is shorter */
#define MIN_CURSOR_BYTES	(HEADER_LEN + VALUE_LEN_SIZE + CURSOR_MAC_LEN)
/* The most bytes CURSOR_MAX_TEXT characters of base64url can carry */
#define MAX_CURSOR_BYTES	(CURSOR_MAX_TEXT / 4 * 3)

static const char Base64urlAlphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Returns the message of status; stable fragments the SQL boundary may quote */
const char *
cursor_status_message(CursorStatus status)
{
	switch (status)
	{
		case CURSOR_OK:
			return "cursor is valid";
		case CURSOR_EMPTY:
			return "cursor is empty";
		case CURSOR_TOO_LONG:
			return "cursor is too long";
		case CURSOR_BAD_BASE64:
			return "cursor is not valid base64url text";
		case CURSOR_TRUNCATED:
			return "cursor is truncated";
		case CURSOR_BAD_VERSION:
			return "cursor has an unknown format version";
		case CURSOR_BAD_MAC:
			return "cursor was altered or forged";
		case CURSOR_MALFORMED:
			return "cursor content is malformed";
		case CURSOR_BAD_SECRET:
			return "cursor secret is shorter than 32 bytes";
		case CURSOR_BAD_INPUT:
			return "cursor fields are out of range";
		case CURSOR_NO_SPACE:
			return "cursor buffer is too small";
		case CURSOR_CRYPTO_FAILED:
			return "cursor cryptography failed";
	}
	return "unknown cursor status";
}

/* Computes the list id: a prefix of SHA-256 over identity */
CursorStatus
cursor_list_id(const char *identity, size_t len, uint8_t out[CURSOR_LIST_ID_LEN])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	if (out == NULL || (identity == NULL && len > 0))
		return CURSOR_BAD_INPUT;
	if (EVP_Digest(identity, len, digest, &digest_len, EVP_sha256(), NULL) != 1)
		return CURSOR_CRYPTO_FAILED;
	memcpy(out, digest, CURSOR_LIST_ID_LEN);
	return CURSOR_OK;
}

/* Number of base64url characters (no padding) that carry len bytes */
static size_t
Base64urlTextLength(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

/* Writes len bytes of src as base64url into out, which has room for it */
static void
Base64urlEncode(const uint8_t *src, size_t len, char *out)
{
	size_t		i;
	uint32_t	group;

	for (i = 0; i + 3 <= len; i += 3)
	{
		group = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8 | src[i + 2];
		*out++ = Base64urlAlphabet[group >> 18];
		*out++ = Base64urlAlphabet[(group >> 12) & 0x3F];
		*out++ = Base64urlAlphabet[(group >> 6) & 0x3F];
		*out++ = Base64urlAlphabet[group & 0x3F];
	}
	if (len - i == 1)
	{
		group = (uint32_t) src[i] << 16;
		*out++ = Base64urlAlphabet[group >> 18];
		*out++ = Base64urlAlphabet[(group >> 12) & 0x3F];
	}
	else if (len - i == 2)
	{
		group = (uint32_t) src[i] << 16 | (uint32_t) src[i + 1] << 8;
		*out++ = Base64urlAlphabet[group >> 18];
		*out++ = Base64urlAlphabet[(group >> 12) & 0x3F];
		*out++ = Base64urlAlphabet[(group >> 6) & 0x3F];
	}
}

/* Value of one base64url character, or -1 for any other byte */
static int
Base64urlValue(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '-')
		return 62;
	if (ch == '_')
		return 63;
	return -1;
}

/*
 * Decodes len characters of base64url into out (room for len / 4 * 3 + 2
 * bytes). Refuses any byte outside the alphabet, a length that cannot occur,
 * and unused low bits that are not zero, so that one byte string has only
 * one text form.
 */
static bool
Base64urlDecode(const char *text, size_t len, uint8_t *out, size_t *outlen)
{
	uint32_t	group = 0;
	size_t		nbits = 0;
	size_t		n = 0;
	size_t		i;
	int			value;

	if (len % 4 == 1)
		return false;
	for (i = 0; i < len; i++)
	{
		value = Base64urlValue((unsigned char) text[i]);
		if (value < 0)
			return false;
		group = (group << 6) | (uint32_t) value;
		nbits += 6;
		if (nbits >= 8)
		{
			nbits -= 8;
			out[n++] = (uint8_t) (group >> nbits);
			group &= (1u << nbits) - 1;
		}
	}
	if (group != 0)
		return false;
	*outlen = n;
	return true;
}

/* Stores v big-endian in 2 bytes */
static void
PutUint16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

/* Stores v big-endian in 4 bytes */
static void
PutUint32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/* Reads 2 big-endian bytes */
static uint16_t
GetUint16(const uint8_t *p)
{
	return (uint16_t) (p[0] << 8 | p[1]);
}

/* Reads 4 big-endian bytes */
static uint32_t
GetUint32(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
		(uint32_t) p[2] << 8 | (uint32_t) p[3];
}

/* True when the secret is usable: present, long enough, and fits HMAC's int */
static bool
SecretIsUsable(const uint8_t *secret, size_t secret_len)
{
	return secret != NULL && secret_len >= CURSOR_MIN_SECRET_LEN &&
		secret_len <= INT_MAX;
}

/* Writes the HMAC-SHA256 of len bytes of data into mac */
static CursorStatus
ComputeMac(const uint8_t *secret, size_t secret_len,
		   const uint8_t *data, size_t len, uint8_t mac[CURSOR_MAC_LEN])
{
	unsigned int mac_len = 0;

	if (HMAC(EVP_sha256(), secret, (int) secret_len, data, len,
			 mac, &mac_len) == NULL || mac_len != CURSOR_MAC_LEN)
		return CURSOR_CRYPTO_FAILED;
	return CURSOR_OK;
}

/*
 * Checks the fields encode writes and returns the payload length (without
 * the MAC), or 0 when a field is out of range.
 */
static size_t
EncodedPayloadLength(const Cursor *c)
{
	size_t		len = HEADER_LEN;
	int			i;

	if (c->nkeys < 1 || c->nkeys > CURSOR_MAX_KEYS || c->page < 1 ||
		(c->direction != CURSOR_FORWARD && c->direction != CURSOR_BACKWARD))
		return 0;
	for (i = 0; i < c->nkeys; i++)
	{
		const CursorValue *v = &c->keys[i];

		len += VALUE_LEN_SIZE;
		if (v->isnull)
			continue;
		if (v->len > CURSOR_MAX_VALUE_LEN || (v->data == NULL && v->len > 0))
			return 0;
		len += v->len;
	}
	return len;
}

/* Lays out the payload of c (already checked) in raw */
static void
WritePayload(const Cursor *c, uint8_t *raw)
{
	uint8_t    *p = raw + HEADER_LEN;
	int			i;

	raw[OFFSET_VERSION] = CURSOR_FORMAT_VERSION;
	raw[OFFSET_FLAGS] = c->direction == CURSOR_BACKWARD ? FLAG_BACKWARD : 0;
	PutUint32(raw + OFFSET_PAGE, c->page);
	memcpy(raw + OFFSET_LIST_ID, c->list_id, CURSOR_LIST_ID_LEN);
	raw[OFFSET_NKEYS] = (uint8_t) c->nkeys;
	for (i = 0; i < c->nkeys; i++)
	{
		const CursorValue *v = &c->keys[i];

		if (v->isnull)
		{
			PutUint16(p, CURSOR_NULL_LEN);
			p += VALUE_LEN_SIZE;
			continue;
		}
		PutUint16(p, v->len);
		p += VALUE_LEN_SIZE;
		if (v->len > 0)
			memcpy(p, v->data, v->len);
		p += v->len;
	}
}

/* Encodes c as signed base64url text; see cursor_codec.h */
CursorStatus
cursor_encode(const Cursor *c, const uint8_t *secret, size_t secret_len,
			  char *out, size_t outsize, size_t *outlen)
{
	uint8_t		raw[MAX_CURSOR_BYTES];
	size_t		payload_len;
	size_t		text_len;
	CursorStatus status;

	if (c == NULL || out == NULL || outlen == NULL)
		return CURSOR_BAD_INPUT;
	if (!SecretIsUsable(secret, secret_len))
		return CURSOR_BAD_SECRET;
	payload_len = EncodedPayloadLength(c);
	if (payload_len == 0)
		return CURSOR_BAD_INPUT;
	text_len = Base64urlTextLength(payload_len + CURSOR_MAC_LEN);
	if (text_len > CURSOR_MAX_TEXT)
		return CURSOR_BAD_INPUT;
	if (outsize < text_len + 1)
		return CURSOR_NO_SPACE;

	WritePayload(c, raw);
	status = ComputeMac(secret, secret_len, raw, payload_len, raw + payload_len);
	if (status != CURSOR_OK)
		return status;
	Base64urlEncode(raw, payload_len + CURSOR_MAC_LEN, out);
	out[text_len] = '\0';
	*outlen = text_len;
	return CURSOR_OK;
}

/*
 * Parses an authentic payload of len bytes into c. Every length is checked
 * against the bytes left, and the values must end exactly at the MAC.
 */
static CursorStatus
ParsePayload(const uint8_t *raw, size_t len, Cursor *c)
{
	const uint8_t *p = raw + HEADER_LEN;
	const uint8_t *end = raw + len;
	uint16_t	vlen;
	int			i;

	memset(c, 0, sizeof(*c));
	c->version = raw[OFFSET_VERSION];
	if ((raw[OFFSET_FLAGS] & ~FLAG_BACKWARD) != 0)
		return CURSOR_MALFORMED;
	c->direction = (raw[OFFSET_FLAGS] & FLAG_BACKWARD) ? CURSOR_BACKWARD : CURSOR_FORWARD;
	c->page = GetUint32(raw + OFFSET_PAGE);
	if (c->page < 1)
		return CURSOR_MALFORMED;
	memcpy(c->list_id, raw + OFFSET_LIST_ID, CURSOR_LIST_ID_LEN);
	c->nkeys = raw[OFFSET_NKEYS];
	if (c->nkeys < 1 || c->nkeys > CURSOR_MAX_KEYS)
		return CURSOR_MALFORMED;

	for (i = 0; i < c->nkeys; i++)
	{
		if ((size_t) (end - p) < VALUE_LEN_SIZE)
			return CURSOR_MALFORMED;
		vlen = GetUint16(p);
		p += VALUE_LEN_SIZE;
		if (vlen == CURSOR_NULL_LEN)
		{
			c->keys[i].isnull = true;
			continue;
		}
		if (vlen > CURSOR_MAX_VALUE_LEN || (size_t) (end - p) < vlen)
			return CURSOR_MALFORMED;
		c->keys[i].data = (const char *) p;
		c->keys[i].len = vlen;
		p += vlen;
	}
	return p == end ? CURSOR_OK : CURSOR_MALFORMED;
}

/* Decodes and authenticates cursor text; see cursor_codec.h */
CursorStatus
cursor_decode(const char *text, size_t len,
			  const uint8_t *secret, size_t secret_len,
			  Cursor *c, uint8_t *buf, size_t bufsize)
{
	uint8_t		mac[CURSOR_MAC_LEN];
	size_t		raw_len = 0;
	size_t		payload_len;
	Cursor		parsed;
	CursorStatus status;

	if (c == NULL || buf == NULL || (text == NULL && len > 0))
		return CURSOR_BAD_INPUT;
	if (!SecretIsUsable(secret, secret_len))
		return CURSOR_BAD_SECRET;
	if (bufsize < CURSOR_MAX_TEXT)
		return CURSOR_NO_SPACE;
	if (len == 0)
		return CURSOR_EMPTY;
	if (len > CURSOR_MAX_TEXT)
		return CURSOR_TOO_LONG;
	if (!Base64urlDecode(text, len, buf, &raw_len))
		return CURSOR_BAD_BASE64;
	if (raw_len < MIN_CURSOR_BYTES)
		return CURSOR_TRUNCATED;
	if (buf[OFFSET_VERSION] != CURSOR_FORMAT_VERSION)
		return CURSOR_BAD_VERSION;

	payload_len = raw_len - CURSOR_MAC_LEN;
	status = ComputeMac(secret, secret_len, buf, payload_len, mac);
	if (status != CURSOR_OK)
		return status;
	if (CRYPTO_memcmp(mac, buf + payload_len, CURSOR_MAC_LEN) != 0)
		return CURSOR_BAD_MAC;

	status = ParsePayload(buf, payload_len, &parsed);
	if (status == CURSOR_OK)
		*c = parsed;
	return status;
}
