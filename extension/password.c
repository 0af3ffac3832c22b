/*
 * password.c
 *		Password hashing: PBKDF2-HMAC-SHA256 from OpenSSL with a fresh 16-byte
 *		salt and a 32-byte key, stored as
 *		$pbkdf2-sha256$i=<iterations>$<salt>$<key>
 *		with salt and key in standard base64 without '=' padding.
 *
 * Returns status codes; errors are raised by the SQL-callable callers.
 */
#include "postgres.h"

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
