/*
 * password.c
 *		Password hashing: PBKDF2-HMAC-SHA256 from OpenSSL with a fresh 16-byte
 *		salt and a 32-byte key, stored as
 *		$pbkdf2-sha256$i=<iterations>$<salt>$<key>
 *		with salt and key in standard base64 without '=' padding, and its
 *		verification (constant-time comparison of the derived key).
 *
 * Returns status codes; errors are raised by the SQL-callable callers.
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/base64.h"
#include "lib/stringinfo.h"

#include "password.h"

/* Appends len bytes of src to buf in base64, without padding */
static void
AppendBase64(StringInfo buf, const unsigned char *src, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *enc = palloc(enclen);
	int			n;

	n = pg_b64_encode((const char *) src, len, enc, enclen);
	if (n < 0)
		elog(ERROR, "could not encode %d bytes in base64", len);
	while (n > 0 && enc[n - 1] == '=')
		n--;
	appendBinaryStringInfo(buf, enc, n);
	pfree(enc);
}

/* Hashes len bytes of password into *hash (palloc'd) with a new salt */
PasswordStatus
PasswordHash(const char *password, int len, int iterations, char **hash)
{
	unsigned char salt[PASSWORD_SALT_LEN];
	unsigned char key[PASSWORD_KEY_LEN];
	StringInfoData buf;

	if (!pg_strong_random(salt, sizeof(salt)))
		return PASSWORD_NO_RANDOM;
	if (PKCS5_PBKDF2_HMAC(password, len, salt, sizeof(salt), iterations,
						  EVP_sha256(), sizeof(key), key) != 1)
		return PASSWORD_KDF_FAILED;

	initStringInfo(&buf);
	appendStringInfo(&buf, "$pbkdf2-sha256$i=%d$", iterations);
	AppendBase64(&buf, salt, sizeof(salt));
	appendStringInfoChar(&buf, '$');
	AppendBase64(&buf, key, sizeof(key));
	explicit_bzero(key, sizeof(key));

	*hash = buf.data;
	return PASSWORD_OK;
}

/*
 * Decodes exactly nchars characters of standard base64 without padding at
 * src into out, which must receive exactly outlen bytes; false when the text
 * is not that.
 */
static bool
DecodeBase64(const char *src, int nchars, unsigned char *out, int outlen)
{
	char		padded[64];
	char		decoded[48];
	int			i,
				n;

	if (nchars + 3 > (int) sizeof(padded))
		return false;
	for (i = 0; i < nchars; i++)
	{
		char		c = src[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
		padded[i] = c;
	}
	while (i % 4 != 0)
		padded[i++] = '=';
	n = pg_b64_decode(padded, i, decoded, sizeof(decoded));
	if (n != outlen)
		return false;
	memcpy(out, decoded, outlen);
	explicit_bzero(decoded, sizeof(decoded));
	return true;
}

/*
 * Parses "$pbkdf2-sha256$i=<iterations>$<salt>$<key>" exactly as the CHECK of
 * accounts.password_hash allows it (iterations 1000 to 99999999 without
 * leading zeros, 22 characters of salt, 43 of key); false for anything else.
 */
static bool
ParseHash(const char *hash, int *iterations, unsigned char *salt, unsigned char *key)
{
	static const char prefix[] = "$pbkdf2-sha256$i=";
	const char *p = hash;
	const char *digits;
	long		iter = 0;

	if (strncmp(p, prefix, sizeof(prefix) - 1) != 0)
		return false;
	p += sizeof(prefix) - 1;
	digits = p;
	while (*p >= '0' && *p <= '9' && p - digits < 8)
		iter = iter * 10 + (*p++ - '0');
	if (p - digits < 4 || *digits == '0' || *p != '$')
		return false;
	p++;
	if (strlen(p) != 22 + 1 + 43 || p[22] != '$')
		return false;
	if (!DecodeBase64(p, 22, salt, PASSWORD_SALT_LEN) ||
		!DecodeBase64(p + 23, 43, key, PASSWORD_KEY_LEN))
		return false;
	*iterations = (int) iter;
	return true;
}

/*
 * Whether len bytes of password match the stored hash: *match is false for a
 * malformed hash (without any key derivation).  The keys are compared in
 * constant time.
 */
PasswordStatus
PasswordVerify(const char *password, int len, const char *hash, bool *match)
{
	unsigned char salt[PASSWORD_SALT_LEN];
	unsigned char stored[PASSWORD_KEY_LEN];
	unsigned char derived[PASSWORD_KEY_LEN];
	int			iterations;

	*match = false;
	if (!ParseHash(hash, &iterations, salt, stored))
		return PASSWORD_OK;
	if (PKCS5_PBKDF2_HMAC(password, len, salt, sizeof(salt), iterations,
						  EVP_sha256(), sizeof(derived), derived) != 1)
		return PASSWORD_KDF_FAILED;
	*match = CRYPTO_memcmp(derived, stored, sizeof(derived)) == 0;
	explicit_bzero(derived, sizeof(derived));
	return PASSWORD_OK;
}

/*
 * The work of a verification that cannot succeed: one derivation of iterations
 * rounds against a fixed dummy hash, so that a sign-in with an unknown email
 * costs what one with a known email does.
 */
PasswordStatus
PasswordDummyVerify(const char *password, int len, int iterations)
{
	static const unsigned char salt[PASSWORD_SALT_LEN] = {
		'q', 'r', '_', 'e', 'v', 'e', 'n', 't', '/', 'd', 'u', 'm', 'm', 'y', '/', '/'
	};
	static const unsigned char stored[PASSWORD_KEY_LEN] = {0};
	unsigned char derived[PASSWORD_KEY_LEN];
	volatile int same;

	if (PKCS5_PBKDF2_HMAC(password, len, salt, sizeof(salt), iterations,
						  EVP_sha256(), sizeof(derived), derived) != 1)
		return PASSWORD_KDF_FAILED;
	same = CRYPTO_memcmp(derived, stored, sizeof(derived));
	(void) same;
	explicit_bzero(derived, sizeof(derived));
	return PASSWORD_OK;
}
