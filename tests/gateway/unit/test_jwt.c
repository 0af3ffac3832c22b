/*
 * test_jwt.c
 *		Unit tests of gateway/jwt.c: the RFC 7515 HS256 example, signing and
 *		verifying, and every refusal of the token table (other algorithms,
 *		flipped signature bits, segment counts, bad base64url, duplicate
 *		keys, times, sizes, malformed JSON, bad claims).
 *
 * Tokens with arbitrary headers and claims are made by make_token below,
 * with its own base64url encoder and OpenSSL's HMAC: an oracle independent
 * of the code under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"
#include "../../fuzz/b64url_oracle.h"

static const unsigned char secret[] = "an-example-secret-of-at-least-32-bytes!";
#define SECRET_LEN (sizeof(secret) - 1)
#define NOW 1800000000

/* Appends the unpadded base64url of len bytes to the NUL-terminated out */
static void
b64url(const unsigned char *in, size_t len, char *out)
{
	size_t		n = strlen(out);

	n += b64url_oracle(in, len, out + n);
	out[n] = '\0';
}

/* header.claims.HMAC-SHA256 with the test secret (or key), into out */
static void
make_token_key(const char *header, const char *claims, const unsigned char *key,
			   size_t key_len, char *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len;

	out[0] = '\0';
	b64url((const unsigned char *) header, strlen(header), out);
	strcat(out, ".");
	b64url((const unsigned char *) claims, strlen(claims), out);
	HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) out, strlen(out), mac, &mac_len);
	strcat(out, ".");
	b64url(mac, mac_len, out);
}

static void
make_token(const char *header, const char *claims, char *out)
{
	make_token_key(header, claims, secret, SECRET_LEN, out);
}

static const char *const hs256 = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char *const good_claims =
"{\"sub\":\"42\",\"role\":\"organizer\",\"tier\":\"premium\",\"iat\":1799999000,\"exp\":1800003600}";

static enum jwt_status
verify(const char *token)
{
	struct jwt_claims claims;

	return jwt_verify(token, strlen(token), secret, SECRET_LEN, NOW, &claims);
}

/* Signs header and claims with the oracle and verifies */
static enum jwt_status
verify_made(const char *header, const char *claims)
{
	char		token[8192];

	make_token(header, claims, token);
	return verify(token);
}

/* RFC 7515 appendix A.1: the signature verifies; the claims are not ours */
static void
test_rfc7515_example(void **state)
{
	static const unsigned char key[64] = {
		0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
		0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
		0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
		0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
	char		token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
		".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
		".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
	struct jwt_claims claims;

	(void) state;
	assert_int_equal(jwt_verify(token, strlen(token), key, sizeof(key), NOW, &claims), JWT_BAD_CLAIMS);
	token[strlen(token) - 2] = 'Y';
	assert_int_equal(jwt_verify(token, strlen(token), key, sizeof(key), NOW, &claims), JWT_BAD_SIGNATURE);
}

/* jwt_sign's tokens verify and carry the claims; the oracle agrees */
static void
test_sign_and_verify(void **state)
{
	struct jwt_claims in = {.role = JWT_ROLE_GUEST, .tier = JWT_TIER_STANDARD,
	.iat = NOW - 10, .exp = NOW + 3600, .event = 7};
	struct jwt_claims out;
	char		token[JWT_MAX_TOKEN];

	(void) state;
	strcpy(in.sub, "guest:17");
	assert_true(jwt_sign(&in, secret, SECRET_LEN, token, sizeof(token)));
	assert_int_equal(jwt_verify(token, strlen(token), secret, SECRET_LEN, NOW, &out), JWT_OK);
	assert_string_equal(out.sub, "guest:17");
	assert_int_equal(out.role, JWT_ROLE_GUEST);
	assert_int_equal(out.tier, JWT_TIER_STANDARD);
	assert_int_equal(out.exp, NOW + 3600);
	assert_int_equal(out.event, 7);
	assert_int_equal(verify_made(hs256, good_claims), JWT_OK);
	assert_false(jwt_sign(&in, secret, SECRET_LEN, token, 40));
	/* integer sub, header without typ, whitespace, escapes, unknown claims */
	assert_int_equal(verify_made("{\"alg\":\"HS256\"}",
								 " { \"sub\" : 42 , \"role\":\"st\\u0061ff\", \"tier\":\"standard\","
								 " \"iat\":1799999000, \"exp\":1800003600, \"jti\":\"x\\n\\\"y\" } "), JWT_OK);
}

/* alg none, HS512, RS256, missing: refused before the signature */
static void
test_other_algorithms(void **state)
{
	char		token[8192];

	(void) state;
	assert_int_equal(verify_made("{\"alg\":\"none\",\"typ\":\"JWT\"}", good_claims), JWT_BAD_ALGORITHM);
	assert_int_equal(verify_made("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", good_claims), JWT_BAD_ALGORITHM);
	assert_int_equal(verify_made("{\"alg\":\"RS256\"}", good_claims), JWT_BAD_ALGORITHM);
	assert_int_equal(verify_made("{\"alg\":\"hs256\"}", good_claims), JWT_BAD_ALGORITHM);
	assert_int_equal(verify_made("{\"typ\":\"JWT\"}", good_claims), JWT_BAD_ALGORITHM);
	assert_int_equal(verify_made("{\"alg\":256}", good_claims), JWT_BAD_ALGORITHM);
	/* an unsigned token: alg none with an empty signature */
	token[0] = '\0';
	b64url((const unsigned char *) "{\"alg\":\"none\"}", 14, token);
	strcat(token, ".");
	b64url((const unsigned char *) good_claims, strlen(good_claims), token);
	strcat(token, ".");
	assert_int_equal(verify(token), JWT_BAD_ALGORITHM);
	/* other header members, and a typ that is not JWT */
	assert_int_equal(verify_made("{\"alg\":\"HS256\",\"kid\":\"1\"}", good_claims), JWT_MALFORMED);
	assert_int_equal(verify_made("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", good_claims), JWT_MALFORMED);
	assert_int_equal(verify_made("{\"alg\":\"HS256\",\"typ\":\"JWS\"}", good_claims), JWT_MALFORMED);
}

/* Every single flipped bit of the signature, a short one, another secret */
static void
test_bad_signatures(void **state)
{
	char		token[8192];
	char		copy[8192];
	size_t		sig;
	struct jwt_claims claims;
	static const unsigned char other[] = "another-secret-of-at-least-32-bytes-long";

	(void) state;
	make_token(hs256, good_claims, token);
	sig = (size_t) (strrchr(token, '.') - token) + 1;
	for (size_t i = sig; i < strlen(token) - 1; i++)
		for (int bit = 0; bit < 6; bit++)
		{
			static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
			int			v = (int) (strchr(a, token[i]) - a);

			strcpy(copy, token);
			copy[i] = a[v ^ (1 << bit)];
			assert_int_equal(verify(copy), JWT_BAD_SIGNATURE);
		}
	strcpy(copy, token);
	copy[strlen(copy) - 4] = '\0';	/* 30 bytes of signature */
	assert_int_not_equal(verify(copy), JWT_OK);
	make_token_key(hs256, good_claims, other, sizeof(other) - 1, token);
	assert_int_equal(verify(token), JWT_BAD_SIGNATURE);
	/* a changed claim under the old signature */
	make_token(hs256, good_claims, token);
	strcpy(copy, token);
	copy[sig - 3] = copy[sig - 3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(jwt_verify(copy, strlen(copy), secret, SECRET_LEN, NOW, &claims), JWT_OK);
}

/* One, two, four segments; empty parts */
static void
test_segment_counts(void **state)
{
	char		token[8192];
	char		copy[8300];

	(void) state;
	make_token(hs256, good_claims, token);
	assert_int_equal(verify(""), JWT_MALFORMED);
	assert_int_equal(verify("abc"), JWT_MALFORMED);
	assert_int_equal(verify(".."), JWT_MALFORMED);
	*strrchr(token, '.') = '\0';
	assert_int_equal(verify(token), JWT_MALFORMED);
	make_token(hs256, good_claims, token);
	snprintf(copy, sizeof(copy), "%s.", token);
	assert_int_equal(verify(copy), JWT_MALFORMED);
	snprintf(copy, sizeof(copy), "%s.e30", token);
	assert_int_equal(verify(copy), JWT_MALFORMED);
}

/* Padding, the standard alphabet, spaces and stray bits are not base64url */
static void
test_bad_base64url(void **state)
{
	char		token[8192];
	char		copy[8300];
	char	   *sig;

	(void) state;
	make_token(hs256, good_claims, token);
	sig = strrchr(token, '.') + 1;
	snprintf(copy, sizeof(copy), "%s=", token);
	assert_int_equal(verify(copy), JWT_MALFORMED);
	strcpy(copy, token);
	copy[sig - token + 3] = '+';
	assert_int_equal(verify(copy), JWT_MALFORMED);
	strcpy(copy, token);
	copy[sig - token + 3] = '/';
	assert_int_equal(verify(copy), JWT_MALFORMED);
	strcpy(copy, token);
	copy[2] = ' ';
	assert_int_equal(verify(copy), JWT_MALFORMED);
	/* a 32-byte signature ends in a character with 2 unused bits: set them */
	strcpy(copy, token);
	{
		static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		size_t		last = strlen(copy) - 1;
		int			v = (int) (strchr(a, copy[last]) - a);

		copy[last] = a[v | 1];
		if (copy[last] != token[last])
			assert_int_equal(verify(copy), JWT_MALFORMED);
	}
}

/* A key twice, in the claims or in the header */
static void
test_duplicate_keys(void **state)
{
	(void) state;
	assert_int_equal(verify_made(hs256,
								 "{\"sub\":\"42\",\"role\":\"organizer\",\"tier\":\"premium\","
								 "\"iat\":1799999000,\"exp\":1800003600,\"role\":\"guest\"}"), JWT_MALFORMED);
	assert_int_equal(verify_made(hs256,
								 "{\"sub\":\"42\",\"role\":\"organizer\",\"tier\":\"premium\","
								 "\"iat\":1799999000,\"exp\":1800003600,\"exp\":1900000000}"), JWT_MALFORMED);
	assert_int_equal(verify_made("{\"alg\":\"HS256\",\"alg\":\"none\"}", good_claims), JWT_MALFORMED);
	/* the same key spelt with an escape is the same key */
	assert_int_equal(verify_made(hs256,
								 "{\"sub\":\"42\",\"role\":\"organizer\",\"tier\":\"premium\","
								 "\"iat\":1799999000,\"exp\":1800003600,\"\\u0065xp\":1900000000}"), JWT_MALFORMED);
}

/* exp, nbf and iat against the clock, with the leeway */
static void
test_times(void **state)
{
	char		claims[512];

	(void) state;
	assert_int_equal(verify_made(hs256, "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":1}"),
					 JWT_BAD_CLAIMS);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"exp\":%d}", NOW + 60);
	assert_int_equal(verify_made(hs256, claims), JWT_BAD_CLAIMS);	/* no iat */
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d}",
			 NOW - 3600, NOW - JWT_LEEWAY_SECONDS - 1);
	assert_int_equal(verify_made(hs256, claims), JWT_EXPIRED);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d}",
			 NOW - 3600, NOW - JWT_LEEWAY_SECONDS);
	assert_int_equal(verify_made(hs256, claims), JWT_OK);
	snprintf(claims, sizeof(claims),
			 "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d,\"nbf\":%d}",
			 NOW, NOW + 3600, NOW + JWT_LEEWAY_SECONDS + 1);
	assert_int_equal(verify_made(hs256, claims), JWT_NOT_YET_VALID);
	snprintf(claims, sizeof(claims),
			 "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d,\"nbf\":%d}",
			 NOW, NOW + 3600, NOW + JWT_LEEWAY_SECONDS);
	assert_int_equal(verify_made(hs256, claims), JWT_OK);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d}",
			 NOW + 600, NOW + 3600);
	assert_int_equal(verify_made(hs256, claims), JWT_NOT_YET_VALID);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":%d.5}",
			 NOW, NOW + 3600);
	assert_int_equal(verify_made(hs256, claims), JWT_BAD_CLAIMS);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,\"exp\":\"%d\"}",
			 NOW, NOW + 3600);
	assert_int_equal(verify_made(hs256, claims), JWT_BAD_CLAIMS);
	snprintf(claims, sizeof(claims), "{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":%d,"
			 "\"exp\":99999999999999999999999}", NOW);
	assert_int_equal(verify_made(hs256, claims), JWT_BAD_CLAIMS);
}

/* Over the size cap: refused before anything is decoded */
static void
test_oversized(void **state)
{
	static char big[JWT_MAX_TOKEN + 2];

	(void) state;
	memset(big, 'A', sizeof(big) - 1);
	big[10] = '.';
	big[20] = '.';
	assert_int_equal(jwt_verify(big, strlen(big), secret, SECRET_LEN, NOW, &(struct jwt_claims) {0}),
					 JWT_TOO_LONG);
}

/* JSON that is not a flat object of scalars */
static void
test_malformed_json(void **state)
{
	static const char *const bad[] = {
		"", "[]", "null", "{", "{\"sub\":\"1\",}", "{\"sub\" \"1\"}", "{\"sub\":\"1\"} x",
		"{\"sub\":{\"id\":1}}", "{\"sub\":[1]}", "{\"sub\":\"a\x01\"}", "{\"sub\":\"\\x\"}",
		"{\"sub\":\"\\ud800\"}", "{\"sub\":\"\\udc00\"}", "{\"sub\":\"\\u0000\"}", "{\"sub\":\"\xff\"}",
		"{\"exp\":01}", "{\"exp\":-}", "{\"exp\":1.}", "{\"exp\":1e}", "{sub:1}", "{\"sub\":tru}",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify_made(hs256, bad[i]), JWT_MALFORMED);
	assert_int_equal(verify_made("{\"alg\":\"HS256\"", good_claims), JWT_MALFORMED);
}

/* Claims of the wrong kind */
static void
test_bad_claims(void **state)
{
	static const char *const bad[] = {
		"{\"role\":\"staff\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"\",\"role\":\"staff\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":-1,\"role\":\"staff\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"1\",\"role\":\"admin\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"1\",\"role\":\"staff\",\"tier\":\"gold\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"1\",\"role\":\"staff\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"1\",\"role\":\"guest\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
		"{\"sub\":\"1\",\"role\":\"guest\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600,\"event\":0}",
		"{\"sub\":\"1\",\"role\":\"guest\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600,\"event\":\"3\"}",
		"{\"sub\":true,\"role\":\"staff\",\"tier\":\"standard\",\"iat\":1799999000,\"exp\":1800003600}",
	};

	(void) state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(verify_made(hs256, bad[i]), JWT_BAD_CLAIMS);
	assert_string_equal(jwt_status_text(JWT_BAD_SIGNATURE), "bad signature");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7515_example),
		cmocka_unit_test(test_sign_and_verify),
		cmocka_unit_test(test_other_algorithms),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_segment_counts),
		cmocka_unit_test(test_bad_base64url),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_bad_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
