/*
 * password.h
 *		Salted PBKDF2-HMAC-SHA256 password hashes in the text form stored in
 *		qr_event.accounts.password_hash, and their verification.
 */
#ifndef QR_EVENT_PASSWORD_H
#define QR_EVENT_PASSWORD_H

#define PASSWORD_SALT_LEN	16
#define PASSWORD_KEY_LEN	32

/* Outcome of PasswordHash; the caller reports failures */
typedef enum PasswordStatus
{
	PASSWORD_OK,
	PASSWORD_NO_RANDOM,			/* the strong random source failed */
	PASSWORD_KDF_FAILED			/* OpenSSL could not derive the key */
} PasswordStatus;

extern PasswordStatus PasswordHash(const char *password, int len,
								   int iterations, char **hash);
extern PasswordStatus PasswordVerify(const char *password, int len,
									 const char *hash, bool *match);
extern PasswordStatus PasswordDummyVerify(const char *password, int len,
										  int iterations);

#endif							/* QR_EVENT_PASSWORD_H */
