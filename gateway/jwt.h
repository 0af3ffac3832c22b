/*
 * jwt.h
 *		JSON Web Tokens, HS256 only: strict verification and signing.
 *
 * Pure functions on caller-owned memory; safe in any thread.  Verification
 * decides everything about a token before any database or Redis work: the
 * algorithm is pinned (the header's "alg" must be "HS256"), base64url is
 * strict, the signature is compared in constant time, and exp / nbf / iat
 * are checked with a small leeway.
 */
#ifndef QR_GATEWAY_JWT_H
#define QR_GATEWAY_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest token accepted, in bytes (the Authorization header is capped too) */
#define JWT_MAX_TOKEN 4096
/* Clock skew tolerated on exp, nbf and iat, in seconds */
#define JWT_LEEWAY_SECONDS 30
/* Longest sub text kept */
#define JWT_MAX_SUB 64

enum jwt_status
{
	JWT_OK = 0,
	JWT_MALFORMED,				/* not three base64url segments of JSON objects */
	JWT_TOO_LONG,				/* over JWT_MAX_TOKEN bytes */
	JWT_BAD_ALGORITHM,			/* "alg" is not "HS256" (none, HS512, RS256 ...) */
	JWT_BAD_SIGNATURE,			/* the HMAC does not match */
	JWT_EXPIRED,				/* exp + leeway is past */
	JWT_NOT_YET_VALID,			/* nbf - leeway or iat - leeway is in the future */
	JWT_BAD_CLAIMS				/* a claim is missing, of the wrong type or value */
};

enum jwt_role
{
	JWT_ROLE_ORGANIZER,
	JWT_ROLE_STAFF,
	JWT_ROLE_GUEST
};

enum jwt_tier
{
	JWT_TIER_STANDARD,
	JWT_TIER_PREMIUM
};

/* The claims the gateway uses; guests also carry their event */
struct jwt_claims
{
	char		sub[JWT_MAX_SUB + 1];	/* account or guest id, as text */
	enum jwt_role role;
	enum jwt_tier tier;
	int64_t		exp;
	int64_t		iat;
	int64_t		nbf;			/* 0 when absent */
	int64_t		event;			/* guests: their event; 0 otherwise */
};

extern enum jwt_status jwt_verify(const char *token, size_t len,
								  const unsigned char *secret, size_t secret_len,
								  time_t now, struct jwt_claims *claims);
extern bool jwt_sign(const struct jwt_claims *claims,
					 const unsigned char *secret, size_t secret_len,
					 char *out, size_t outlen);
extern const char *jwt_status_text(enum jwt_status status);
extern const char *jwt_role_name(enum jwt_role role);
extern const char *jwt_tier_name(enum jwt_tier tier);

#endif
