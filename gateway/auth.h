/*
 * auth.h
 *		The authentication step of the request pipeline: the bearer token.
 *
 * Runs in the worker thread serving the request, on that request only.
 */
#ifndef QR_GATEWAY_AUTH_H
#define QR_GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "jwt.h"

struct request;

/* What an Authorization header holds */
enum auth_header
{
	AUTH_HEADER_NONE,			/* no header: anonymous */
	AUTH_HEADER_BEARER,			/* "Bearer <token>": *token, *len set */
	AUTH_HEADER_INVALID			/* another scheme, or no token after Bearer */
};

extern enum auth_header auth_parse_header(const char *value, const char **token, size_t *len);
extern bool auth_request(struct request *rq);
extern bool auth_admits(struct request *rq);

#endif
