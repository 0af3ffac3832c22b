/*
 * cursor_seeds.c
 *		Writes the seed corpus of the cursor_decode fuzz target into the
 *		directory named on the command line (make fuzz-seeds): authentic
 *		cursors under the fuzz secret, their payloads without the MAC (for the
 *		target's payload mode), and a few refused texts. Output is deterministic.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cursor_codec.h"
#include "cursor_fuzz.h"

#define MAX_RAW		(CURSOR_MAX_TEXT / 4 * 3)

/* Writes len bytes to dir/name; false on failure */
static int
WriteSeed(const char *dir, const char *name, const void *data, size_t len)
{
	char		path[4096];
	FILE	   *f;
	int			ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
	{
		perror(path);
		return 0;
	}
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

/* Raw bytes of base64url text, through OpenSSL's standard base64 */
static size_t
RawFromText(const char *text, size_t len, unsigned char *raw)
{
	unsigned char std[CURSOR_MAX_TEXT + 4];
	size_t		padded = len;
	size_t		i;

	for (i = 0; i < len; i++)
		std[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : (unsigned char) text[i];
	while (padded % 4 != 0)
		std[padded++] = '=';
	return (size_t) EVP_DecodeBlock(raw, std, (int) padded) - (padded - len);
}

/* Fills c with nkeys values; every third one is NULL, the second is empty */
static void
MakeCursor(Cursor *c, int nkeys, CursorDirection direction, uint32_t page)
{
	static const char *const values[CURSOR_MAX_KEYS] = {
		"1500", "", "2024-06-01 20:15:00+00", "Zo\xC3\xAB", "42", "x", "-7", "id-9"
	};
	int			i;

	memset(c, 0, sizeof(*c));
	c->direction = direction;
	c->page = page;
	c->nkeys = nkeys;
	cursor_list_id("game:1:leaderboard", 18, c->list_id);
	for (i = 0; i < nkeys; i++)
	{
		c->keys[i].isnull = i % 3 == 2;
		c->keys[i].data = c->keys[i].isnull ? NULL : values[i];
		c->keys[i].len = (uint16_t) (c->keys[i].isnull ? 0 : strlen(values[i]));
	}
}

/* Writes the cursor as text and its payload as bytes, named after prefix */
static int
WriteCursorSeeds(const char *dir, const char *prefix, const Cursor *c, char *text, size_t *len)
{
	unsigned char raw[MAX_RAW];
	char		name[256];
	size_t		n;

	if (cursor_encode(c, (const uint8_t *) CURSOR_FUZZ_SECRET, CURSOR_FUZZ_SECRET_LEN,
					  text, CURSOR_MAX_TEXT + 1, len) != CURSOR_OK)
		return 0;
	n = RawFromText(text, *len, raw);
	snprintf(name, sizeof(name), "%s.txt", prefix);
	if (!WriteSeed(dir, name, text, *len))
		return 0;
	snprintf(name, sizeof(name), "%s.payload", prefix);
	return WriteSeed(dir, name, raw, n - CURSOR_MAC_LEN);
}

/* Writes every seed into argv[1] */
int
main(int argc, char **argv)
{
	char		text[CURSOR_MAX_TEXT + 1];
	char		bad[CURSOR_MAX_TEXT + 1];
	size_t		len = 0;
	Cursor		c;
	int			ok = 1;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
		return 2;
	}
	MakeCursor(&c, 1, CURSOR_FORWARD, 2);
	ok &= WriteCursorSeeds(argv[1], "valid-1key", &c, text, &len);
	MakeCursor(&c, 3, CURSOR_BACKWARD, 4294967295u);
	c.nkeys = 2;
	c.keys[1].isnull = true;
	c.keys[1].len = 0;
	ok &= WriteCursorSeeds(argv[1], "valid-2keys-null", &c, text, &len);
	MakeCursor(&c, CURSOR_MAX_KEYS, CURSOR_FORWARD, 3);
	ok &= WriteCursorSeeds(argv[1], "valid-8keys-nulls", &c, text, &len);

	/* refused forms of the last cursor */
	memcpy(bad, text, len);
	bad[len / 2] = bad[len / 2] == 'A' ? 'B' : 'A';
	ok &= WriteSeed(argv[1], "bad-mac.txt", bad, len);
	ok &= WriteSeed(argv[1], "truncated.txt", text, 40);
	bad[0] = 'B';
	memcpy(bad + 1, text + 1, len - 1);
	ok &= WriteSeed(argv[1], "bad-version.txt", bad, len);
	memcpy(bad, text, len);
	memcpy(bad + len, "==", 2);
	ok &= WriteSeed(argv[1], "bad-padding.txt", bad, len + 2);
	ok &= WriteSeed(argv[1], "bad-alphabet.txt", "AQAA+/AA", 8);
	return ok ? 0 : 1;
}
