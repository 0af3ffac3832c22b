/*
 * cursor_codec.h
 *		Opaque keyset cursors: their binary layout, base64url text and
 *		HMAC-SHA256 authentication.
 *
 * Pure C with OpenSSL, no backend headers: the same source builds into the
 * extension, the unit tests and the libFuzzer harness. Functions return
 * status codes; the SQL boundary (cursor.c) turns them into errors.
 *
 * Layout before base64url (no padding), all integers big-endian:
 *   [0]       format version (CURSOR_FORMAT_VERSION)
 *   [1]       flags: bit 0 = direction (0 forward, 1 backward); others 0
 *   [2..5]    page number the cursor leads to (1 = first page)
 *   [6..21]   list id: the first 16 bytes of SHA-256 over the list identity
 *   [22]      number of key values (1..CURSOR_MAX_KEYS)
 *   then per key value: a 2-byte length (0xFFFF = SQL NULL) and that many
 *             bytes of the value's text form
 *   last 32   HMAC-SHA256 under the server secret of every byte before it
 */
#ifndef QR_EVENT_CURSOR_CODEC_H
#define QR_EVENT_CURSOR_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_FORMAT_VERSION	1
#define CURSOR_LIST_ID_LEN		16
#define CURSOR_MAC_LEN			32
#define CURSOR_MAX_KEYS			8
#define CURSOR_NULL_LEN			0xFFFF
#define CURSOR_MAX_VALUE_LEN	1024	/* longest text form of one key value */
#define CURSOR_MAX_TEXT			4096	/* longest cursor text accepted */
#define CURSOR_MIN_SECRET_LEN	32

typedef enum CursorDirection
{
	CURSOR_FORWARD = 0,
	CURSOR_BACKWARD = 1
} CursorDirection;

/* One key value of the boundary row, in its text form */
typedef struct CursorValue
{
	bool		isnull;
	const char *data;			/* not NUL-terminated; NULL when isnull */
	uint16_t	len;
} CursorValue;

typedef struct Cursor
{
	uint8_t		version;
	CursorDirection direction;
	uint32_t	page;
	uint8_t		list_id[CURSOR_LIST_ID_LEN];
	int			nkeys;
	CursorValue keys[CURSOR_MAX_KEYS];
} Cursor;

typedef enum CursorStatus
{
	CURSOR_OK = 0,
	CURSOR_EMPTY,				/* zero-length text */
	CURSOR_TOO_LONG,			/* text longer than CURSOR_MAX_TEXT */
	CURSOR_BAD_BASE64,			/* a character outside base64url, or impossible length */
	CURSOR_TRUNCATED,			/* shorter than the smallest cursor */
	CURSOR_BAD_VERSION,			/* unknown format version */
	CURSOR_BAD_MAC,				/* forged, altered or signed under another secret */
	CURSOR_MALFORMED,			/* authentic bytes that do not parse (bad flags, counts, lengths) */
	CURSOR_BAD_SECRET,			/* secret shorter than CURSOR_MIN_SECRET_LEN */
	CURSOR_BAD_INPUT,			/* nkeys, page, direction or a value out of range,
								 * text too long, or a NULL pointer */
	CURSOR_NO_SPACE,			/* encode's out or decode's buf too small */
	CURSOR_CRYPTO_FAILED		/* OpenSSL failed (cannot happen in practice) */
} CursorStatus;

/* A fixed English sentence fragment describing status, e.g. "cursor was altered or forged" */
extern const char *cursor_status_message(CursorStatus status);

/* First CURSOR_LIST_ID_LEN bytes of SHA-256 over identity */
extern CursorStatus cursor_list_id(const char *identity, size_t len,
								   uint8_t out[CURSOR_LIST_ID_LEN]);

/*
 * Encodes c as NUL-terminated base64url text into out (outsize bytes,
 * CURSOR_MAX_TEXT + 1 always suffices); *outlen gets the text length.
 * c->version is ignored: the text always carries CURSOR_FORMAT_VERSION.
 * Values whose sum makes the text longer than CURSOR_MAX_TEXT are
 * CURSOR_BAD_INPUT (two values of CURSOR_MAX_VALUE_LEN fit, three do not).
 * On any status but CURSOR_OK, out and *outlen are left untouched.
 */
extern CursorStatus cursor_encode(const Cursor *c, const uint8_t *secret, size_t secret_len,
								  char *out, size_t outsize, size_t *outlen);

/*
 * Decodes and authenticates text (len bytes, need not be NUL-terminated)
 * into c. Key values point into buf, which must hold at least
 * CURSOR_MAX_TEXT bytes and outlive c. Nothing is parsed before the MAC
 * has been checked in constant time. c is written only on CURSOR_OK; a
 * decoded cursor encodes back to exactly the same text.
 */
extern CursorStatus cursor_decode(const char *text, size_t len,
								  const uint8_t *secret, size_t secret_len,
								  Cursor *c, uint8_t *buf, size_t bufsize);

#endif
