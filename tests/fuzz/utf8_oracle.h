/*
 * utf8_oracle.h
 *		UTF-8 as RFC 3629 defines it, for fuzz targets: written apart from
 *		gateway/json.c, by decoding code points rather than checking byte
 *		ranges, so that the two only agree when both are right.
 */
#ifndef QR_UTF8_ORACLE_H
#define QR_UTF8_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the sequence at s (avail bytes): its length, with its code point at
 * *cp, or 0 when no well-formed sequence starts there.
 */
static inline size_t
utf8_oracle_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
	static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t		len;
	uint32_t	v;

	if (avail == 0)
		return 0;
	if ((s[0] & 0x80) == 0)
	{
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
	{
		len = 2;
		v = s[0] & 0x1F;
	}
	else if ((s[0] & 0xF0) == 0xE0)
	{
		len = 3;
		v = s[0] & 0x0F;
	}
	else if ((s[0] & 0xF8) == 0xF0)
	{
		len = 4;
		v = s[0] & 0x07;
	}
	else
		return 0;
	if (len > avail)
		return 0;
	for (size_t i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < least[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

/* Whether len bytes at s are UTF-8 by RFC 3629 */
static inline bool
utf8_oracle_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0;
	uint32_t	cp;

	while (i < len)
	{
		size_t		n = utf8_oracle_decode(s + i, len - i, &cp);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Writes code point cp as UTF-8 at out; returns its length */
static inline size_t
utf8_oracle_encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (unsigned char) (0xC0 | (cp >> 6));
		out[1] = (unsigned char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (unsigned char) (0xE0 | (cp >> 12));
		out[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (unsigned char) (0xF0 | (cp >> 18));
	out[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char) (0x80 | (cp & 0x3F));
	return 4;
}

#endif
