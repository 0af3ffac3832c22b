/*
 * jwt.c
 *		HS256 JSON Web Tokens: strict verification and signing.
 *
 * A token is three base64url segments (no padding, no other characters, no
 * stray bits) of a header, a claims object and a 32-byte HMAC-SHA256.  The
 * header may hold only "alg" (which must be "HS256") and "typ" ("JWT"); the
 * signature is checked, in constant time, before the claims are read; the
 * claims are a flat JSON object in which a duplicate key, a nested value or
 * a non-integer time makes the token malformed.  Pure: safe in any thread.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "jwt.h"

#define HS256_LEN 32
/* Longest header or claims object decoded */
#define JWT_MAX_JSON ((JWT_MAX_TOKEN / 4) * 3)
/* Longest key or string value of a header or claims member */
#define JWT_MAX_STRING 256
/* Most members in a header or claims object */
#define JWT_MAX_MEMBERS 32

static const char b64url_alphabet[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* --- base64url ------------------------------------------------------------ */

/* The value of a base64url character, or -1 */
static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decodes unpadded base64url into out (room for outcap bytes); false for any
 * character outside the alphabet, an impossible length, or set bits in the
 * unused end of the last character (two texts never decode to one value).
 */
static bool
b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
			  size_t *outlen)
{
	uint32_t	acc = 0;
	int			bits = 0;
	size_t		n = 0;

	if (len % 4 == 1)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		int			v = b64url_value((unsigned char) in[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (n >= outcap)
				return false;
			out[n++] = (unsigned char) (acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return false;
	*outlen = n;
	return true;
}

/* Encodes len bytes as unpadded base64url; false when out is too small */
static bool
b64url_encode(const unsigned char *in, size_t len, char *out, size_t outcap)
{
	size_t		n = 0;
	uint32_t	acc = 0;
	int			bits = 0;

	for (size_t i = 0; i < len; i++)
	{
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6)
		{
			bits -= 6;
			if (n + 1 >= outcap)
				return false;
			out[n++] = b64url_alphabet[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
	{
		if (n + 1 >= outcap)
			return false;
		out[n++] = b64url_alphabet[(acc << (6 - bits)) & 63];
	}
	out[n] = '\0';
	return true;
}

/* --- a flat JSON object ----------------------------------------------------- */

enum member_kind
{
	MEMBER_STRING,
	MEMBER_INTEGER,
	MEMBER_OTHER				/* true, false, null or a non-integer number */
};

struct member
{
	char		key[JWT_MAX_STRING + 1];
	enum member_kind kind;
	char		text[JWT_MAX_STRING + 1];	/* MEMBER_STRING */
	int64_t		integer;		/* MEMBER_INTEGER */
};

struct object
{
	struct member members[JWT_MAX_MEMBERS];
	int			count;
};

struct reader
{
	const char *p;
	const char *end;
};

static void
skip_space(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* Four hex digits of a \u escape */
static bool
read_hex4(struct reader *r, unsigned *value)
{
	*value = 0;
	for (int i = 0; i < 4; i++)
	{
		char		c;

		if (r->p >= r->end)
			return false;
		c = *r->p++;
		*value <<= 4;
		if (c >= '0' && c <= '9')
			*value |= (unsigned) (c - '0');
		else if (c >= 'a' && c <= 'f')
			*value |= (unsigned) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*value |= (unsigned) (c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/* Appends a code point as UTF-8 */
static bool
put_utf8(char *out, size_t cap, size_t *n, unsigned cp)
{
	unsigned char buf[4];
	size_t		len;

	if (cp < 0x80)
	{
		buf[0] = (unsigned char) cp;
		len = 1;
	}
	else if (cp < 0x800)
	{
		buf[0] = (unsigned char) (0xC0 | (cp >> 6));
		buf[1] = (unsigned char) (0x80 | (cp & 0x3F));
		len = 2;
	}
	else if (cp < 0x10000)
	{
		buf[0] = (unsigned char) (0xE0 | (cp >> 12));
		buf[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		buf[2] = (unsigned char) (0x80 | (cp & 0x3F));
		len = 3;
	}
	else
	{
		buf[0] = (unsigned char) (0xF0 | (cp >> 18));
		buf[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
		buf[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
		buf[3] = (unsigned char) (0x80 | (cp & 0x3F));
		len = 4;
	}
	if (*n + len > cap)
		return false;
	memcpy(out + *n, buf, len);
	*n += len;
	return true;
}

/* The code point of a \u escape, joining a surrogate pair */
static bool
read_escape_u(struct reader *r, unsigned *cp)
{
	unsigned	lo;

	if (!read_hex4(r, cp))
		return false;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return false;
	if (*cp < 0xD800 || *cp > 0xDBFF)
		return true;
	if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
		return false;
	r->p += 2;
	if (!read_hex4(r, &lo) || lo < 0xDC00 || lo > 0xDFFF)
		return false;
	*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
	return true;
}

/* A JSON string into out (NUL-terminated, at most JWT_MAX_STRING bytes) */
static bool
read_string(struct reader *r, char *out)
{
	size_t		n = 0;

	if (r->p >= r->end || *r->p != '"')
		return false;
	r->p++;
	while (r->p < r->end && *r->p != '"')
	{
		unsigned char c = (unsigned char) *r->p++;
		unsigned	cp;

		if (c < 0x20)
			return false;
		if (c != '\\')
		{
			if (n >= JWT_MAX_STRING)
				return false;
			out[n++] = (char) c;
			continue;
		}
		if (r->p >= r->end)
			return false;
		c = (unsigned char) *r->p++;
		switch (c)
		{
			case '"':
			case '\\':
			case '/':
				cp = c;
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				if (!read_escape_u(r, &cp) || cp == 0)
					return false;
				break;
			default:
				return false;
		}
		if (!put_utf8(out, JWT_MAX_STRING, &n, cp))
			return false;
	}
	if (r->p >= r->end)
		return false;
	r->p++;
	out[n] = '\0';
	return json_utf8_valid(out, n);
}

/* A JSON number: an integer that fits int64_t, or MEMBER_OTHER */
static bool
read_number(struct reader *r, struct member *m)
{
	const char *start = r->p;
	bool		negative = false;
	bool		integer = true;
	uint64_t	value = 0;

	if (r->p < r->end && *r->p == '-')
	{
		negative = true;
		r->p++;
	}
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return false;
	if (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' && r->p[1] <= '9')
		return false;
	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
	{
		unsigned	d = (unsigned) (*r->p++ - '0');

		if (value > (UINT64_C(9223372036854775807) - d) / 10)
			integer = false;
		else
			value = value * 10 + d;
	}
	if (r->p < r->end && *r->p == '.')
	{
		integer = false;
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return false;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
	{
		integer = false;
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return false;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	m->kind = integer ? MEMBER_INTEGER : MEMBER_OTHER;
	m->integer = negative ? -(int64_t) value : (int64_t) value;
	return r->p > start;
}

/* A literal: true, false or null */
static bool
read_literal(struct reader *r, struct member *m)
{
	static const char *const literals[] = {"true", "false", "null"};

	for (size_t i = 0; i < sizeof(literals) / sizeof(literals[0]); i++)
	{
		size_t		len = strlen(literals[i]);

		if ((size_t) (r->end - r->p) >= len && memcmp(r->p, literals[i], len) == 0)
		{
			r->p += len;
			m->kind = MEMBER_OTHER;
			return true;
		}
	}
	return false;
}

/* One member value: a string, a number or a literal (nothing nested) */
static bool
read_value(struct reader *r, struct member *m)
{
	if (r->p >= r->end)
		return false;
	if (*r->p == '"')
	{
		m->kind = MEMBER_STRING;
		return read_string(r, m->text);
	}
	if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
		return read_number(r, m);
	return read_literal(r, m);
}

/* A flat JSON object, nothing after it; a key seen twice makes it invalid */
static bool
read_object(const char *text, size_t len, struct object *obj)
{
	struct reader r = {text, text + len};

	obj->count = 0;
	skip_space(&r);
	if (r.p >= r.end || *r.p++ != '{')
		return false;
	skip_space(&r);
	if (r.p < r.end && *r.p == '}')
		r.p++;
	else
	{
		for (;;)
		{
			struct member *m;

			if (obj->count >= JWT_MAX_MEMBERS)
				return false;
			m = &obj->members[obj->count];
			skip_space(&r);
			if (!read_string(&r, m->key))
				return false;
			for (int i = 0; i < obj->count; i++)
				if (strcmp(obj->members[i].key, m->key) == 0)
					return false;
			skip_space(&r);
			if (r.p >= r.end || *r.p++ != ':')
				return false;
			skip_space(&r);
			if (!read_value(&r, m))
				return false;
			obj->count++;
			skip_space(&r);
			if (r.p < r.end && *r.p == ',')
			{
				r.p++;
				continue;
			}
			if (r.p < r.end && *r.p == '}')
			{
				r.p++;
				break;
			}
			return false;
		}
	}
	skip_space(&r);
	return r.p == r.end;
}

/* The member named key, or NULL */
static const struct member *
find_member(const struct object *obj, const char *key)
{
	for (int i = 0; i < obj->count; i++)
		if (strcmp(obj->members[i].key, key) == 0)
			return &obj->members[i];
	return NULL;
}

/* --- the token ---------------------------------------------------------------- */

/* Decodes a base64url segment holding a flat JSON object */
static bool
decode_object(const char *seg, size_t len, struct object *obj)
{
	unsigned char json[JWT_MAX_JSON];
	size_t		json_len;

	return b64url_decode(seg, len, json, sizeof(json), &json_len) &&
		read_object((const char *) json, json_len, obj);
}

/* The header: only "alg" ("HS256") and "typ" ("JWT") may appear */
static enum jwt_status
check_header(const struct object *header)
{
	const struct member *alg = find_member(header, "alg");
	const struct member *typ = find_member(header, "typ");

	if (header->count != (alg != NULL) + (typ != NULL))
		return JWT_MALFORMED;
	if (typ != NULL && (typ->kind != MEMBER_STRING || strcmp(typ->text, "JWT") != 0))
		return JWT_MALFORMED;
	if (alg == NULL || alg->kind != MEMBER_STRING || strcmp(alg->text, "HS256") != 0)
		return JWT_BAD_ALGORITHM;
	return JWT_OK;
}

/* HMAC-SHA256 of the signing input, compared in constant time with the third segment */
static enum jwt_status
check_signature(const char *token, size_t signed_len, const char *sig, size_t sig_len,
				const unsigned char *secret, size_t secret_len)
{
	unsigned char expected[EVP_MAX_MD_SIZE];
	unsigned int expected_len = 0;
	unsigned char given[HS256_LEN + 3];
	size_t		given_len;

	if (!b64url_decode(sig, sig_len, given, sizeof(given), &given_len))
		return JWT_MALFORMED;
	if (HMAC(EVP_sha256(), secret, (int) secret_len, (const unsigned char *) token,
			 signed_len, expected, &expected_len) == NULL || expected_len != HS256_LEN)
		return JWT_BAD_SIGNATURE;
	if (given_len != HS256_LEN || CRYPTO_memcmp(expected, given, HS256_LEN) != 0)
		return JWT_BAD_SIGNATURE;
	return JWT_OK;
}

/* An integer claim: absent is allowed only when not required */
static bool
integer_claim(const struct object *obj, const char *key, bool required, int64_t *out)
{
	const struct member *m = find_member(obj, key);

	*out = 0;
	if (m == NULL)
		return !required;
	if (m->kind != MEMBER_INTEGER)
		return false;
	*out = m->integer;
	return true;
}

/* sub: a non-empty string or a non-negative integer, kept as text */
static bool
sub_claim(const struct object *obj, char *out)
{
	const struct member *m = find_member(obj, "sub");

	if (m == NULL)
		return false;
	if (m->kind == MEMBER_INTEGER && m->integer >= 0)
	{
		snprintf(out, JWT_MAX_SUB + 1, "%lld", (long long) m->integer);
		return true;
	}
	if (m->kind != MEMBER_STRING || m->text[0] == '\0' || strlen(m->text) > JWT_MAX_SUB)
		return false;
	strcpy(out, m->text);
	return true;
}

/* role and tier: one of their names */
static bool
name_claim(const struct object *obj, const char *key, const char *const *names, int n,
		   int *out)
{
	const struct member *m = find_member(obj, key);

	if (m == NULL || m->kind != MEMBER_STRING)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(m->text, names[i]) == 0)
		{
			*out = i;
			return true;
		}
	return false;
}

static const char *const role_names[] = {"organizer", "staff", "guest"};
static const char *const tier_names[] = {"standard", "premium"};

/* Reads and checks the claims against the clock */
static enum jwt_status
check_claims(const struct object *obj, time_t now, struct jwt_claims *claims)
{
	int			role;
	int			tier;

	memset(claims, 0, sizeof(*claims));
	if (!sub_claim(obj, claims->sub) ||
		!name_claim(obj, "role", role_names, 3, &role) ||
		!name_claim(obj, "tier", tier_names, 2, &tier) ||
		!integer_claim(obj, "exp", true, &claims->exp) ||
		!integer_claim(obj, "iat", true, &claims->iat) ||
		!integer_claim(obj, "nbf", false, &claims->nbf) ||
		!integer_claim(obj, "event", role == JWT_ROLE_GUEST, &claims->event))
		return JWT_BAD_CLAIMS;
	if (role == JWT_ROLE_GUEST && claims->event <= 0)
		return JWT_BAD_CLAIMS;
	claims->role = (enum jwt_role) role;
	claims->tier = (enum jwt_tier) tier;
	if ((int64_t) now > claims->exp + JWT_LEEWAY_SECONDS)
		return JWT_EXPIRED;
	if (claims->nbf > (int64_t) now + JWT_LEEWAY_SECONDS ||
		claims->iat > (int64_t) now + JWT_LEEWAY_SECONDS)
		return JWT_NOT_YET_VALID;
	return JWT_OK;
}

/* Verifies a token; fills claims only when it answers JWT_OK */
enum jwt_status
jwt_verify(const char *token, size_t len, const unsigned char *secret,
		   size_t secret_len, time_t now, struct jwt_claims *claims)
{
	const char *dot1;
	const char *dot2;
	struct object header;
	struct object payload;
	enum jwt_status status;
	struct jwt_claims checked;

	if (len > JWT_MAX_TOKEN)
		return JWT_TOO_LONG;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return JWT_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));
	if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL)
		return JWT_MALFORMED;
	if (!decode_object(token, (size_t) (dot1 - token), &header))
		return JWT_MALFORMED;
	if ((status = check_header(&header)) != JWT_OK)
		return status;
	status = check_signature(token, (size_t) (dot2 - token), dot2 + 1,
							 len - (size_t) (dot2 + 1 - token), secret, secret_len);
	if (status != JWT_OK)
		return status;
	if (!decode_object(dot1 + 1, (size_t) (dot2 - dot1 - 1), &payload))
		return JWT_MALFORMED;
	if ((status = check_claims(&payload, now, &checked)) != JWT_OK)
		return status;
	*claims = checked;
	return JWT_OK;
}

/* Signs claims into out as header.claims.signature; false when out is too small */
bool
jwt_sign(const struct jwt_claims *claims, const unsigned char *secret,
		 size_t secret_len, char *out, size_t outlen)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	struct json_buf body;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t		n;
	bool		ok;

	json_buf_init(&body);
	json_buf_puts(&body, "{\"sub\":");
	json_buf_cstring(&body, claims->sub);
	json_buf_printf(&body, ",\"role\":\"%s\",\"tier\":\"%s\",\"iat\":%lld,\"exp\":%lld",
					jwt_role_name(claims->role), jwt_tier_name(claims->tier),
					(long long) claims->iat, (long long) claims->exp);
	if (claims->nbf != 0)
		json_buf_printf(&body, ",\"nbf\":%lld", (long long) claims->nbf);
	if (claims->event != 0)
		json_buf_printf(&body, ",\"event\":%lld", (long long) claims->event);
	ok = json_buf_puts(&body, "}") && !body.failed &&
		b64url_encode((const unsigned char *) header, strlen(header), out, outlen);
	if (ok)
	{
		n = strlen(out);
		ok = n + 1 < outlen;
		if (ok)
		{
			out[n++] = '.';
			ok = b64url_encode((const unsigned char *) body.data, body.len, out + n, outlen - n);
		}
	}
	json_buf_free(&body);
	if (!ok)
		return false;
	n = strlen(out);
	if (HMAC(EVP_sha256(), secret, (int) secret_len, (const unsigned char *) out, n,
			 mac, &mac_len) == NULL || n + 1 >= outlen)
		return false;
	out[n++] = '.';
	return b64url_encode(mac, mac_len, out + n, outlen - n);
}

/* A short reason, for logs (never sent to clients beyond "invalid token") */
const char *
jwt_status_text(enum jwt_status status)
{
	switch (status)
	{
		case JWT_OK:
			return "ok";
		case JWT_MALFORMED:
			return "malformed token";
		case JWT_TOO_LONG:
			return "token too long";
		case JWT_BAD_ALGORITHM:
			return "algorithm not HS256";
		case JWT_BAD_SIGNATURE:
			return "bad signature";
		case JWT_EXPIRED:
			return "token expired";
		case JWT_NOT_YET_VALID:
			return "token not yet valid";
		case JWT_BAD_CLAIMS:
			return "bad claims";
	}
	return "unknown";
}

const char *
jwt_role_name(enum jwt_role role)
{
	return role_names[role];
}

const char *
jwt_tier_name(enum jwt_tier tier)
{
	return tier_names[tier];
}
