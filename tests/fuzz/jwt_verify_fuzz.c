/*
 * jwt_verify_fuzz.c
 *		libFuzzer target of jwt_verify. Each input is tried twice: as a token,
 *		and as the claims of a token that gets a valid HS256 header and
 *		signature, so that the claims reader behind the signature check sees
 *		arbitrary bytes too. A token that verifies must sign back into one
 *		that verifies with the same claims.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "b64url_oracle.h"

#define FUZZ_SECRET "fuzz-secret-fuzz-secret-fuzz-secret!"
#define FUZZ_NOW 1800000000

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless verified claims sign into a token with the same claims */
static void
check_resigns(const struct jwt_claims *claims)
{
	char		token[JWT_MAX_TOKEN + 1];
	struct jwt_claims again;

	if (!jwt_sign(claims, (const unsigned char *) FUZZ_SECRET, strlen(FUZZ_SECRET), token, sizeof(token)))
		abort();
	if (jwt_verify(token, strlen(token), (const unsigned char *) FUZZ_SECRET, strlen(FUZZ_SECRET),
				   FUZZ_NOW, &again) != JWT_OK ||
		memcmp(claims, &again, sizeof(again)) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char header[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";	/* {"alg":"HS256","typ":"JWT"} */
	struct jwt_claims claims;
	char	   *token;
	size_t		n;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len;

	memset(&claims, 0, sizeof(claims));
	if (jwt_verify((const char *) data, size, (const unsigned char *) FUZZ_SECRET,
				   strlen(FUZZ_SECRET), FUZZ_NOW, &claims) == JWT_OK)
		check_resigns(&claims);

	if (size > JWT_MAX_TOKEN)
		return 0;
	token = malloc(sizeof(header) + 1 + size * 4 / 3 + 4 + 1 + 64);
	if (token == NULL)
		return 0;
	memcpy(token, header, sizeof(header) - 1);
	n = sizeof(header) - 1;
	token[n++] = '.';
	n += b64url_oracle(data, size, token + n);
	HMAC(EVP_sha256(), FUZZ_SECRET, (int) strlen(FUZZ_SECRET), (const unsigned char *) token, n, mac, &mac_len);
	token[n++] = '.';
	n += b64url_oracle(mac, mac_len, token + n);
	memset(&claims, 0, sizeof(claims));
	if (jwt_verify(token, n, (const unsigned char *) FUZZ_SECRET, strlen(FUZZ_SECRET),
				   FUZZ_NOW, &claims) == JWT_OK)
		check_resigns(&claims);
	free(token);
	return 0;
}
