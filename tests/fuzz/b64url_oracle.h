/*
 * b64url_oracle.h
 *		Unpadded base64url encoding for tests and fuzz targets: written apart
 *		from the code under test, so that tokens made with it check that code
 *		rather than agree with it.
 */
#ifndef QR_B64URL_ORACLE_H
#define QR_B64URL_ORACLE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the base64url of len bytes at out (no NUL); returns its length */
static inline size_t
b64url_oracle(const unsigned char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t		n = 0;

	for (size_t i = 0; i < len; i += 3)
	{
		uint32_t	v = (uint32_t) in[i] << 16;
		size_t		chunk = len - i < 3 ? len - i : 3;

		if (chunk > 1)
			v |= (uint32_t) in[i + 1] << 8;
		if (chunk > 2)
			v |= in[i + 2];
		out[n++] = a[(v >> 18) & 63];
		out[n++] = a[(v >> 12) & 63];
		if (chunk > 1)
			out[n++] = a[(v >> 6) & 63];
		if (chunk > 2)
			out[n++] = a[v & 63];
	}
	return n;
}

#endif
