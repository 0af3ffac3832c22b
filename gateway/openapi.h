/*
 * openapi.h
 *		The OpenAPI 3 document of the API, generated from the route table.
 *
 * Pure: builds into a caller-owned buffer from constant data.
 */
#ifndef QR_GATEWAY_OPENAPI_H
#define QR_GATEWAY_OPENAPI_H

#include <stdbool.h>

#include "json.h"

extern bool openapi_build(struct json_buf *out);

#endif
