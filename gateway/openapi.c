/*
 * openapi.c
 *		The OpenAPI 3 document of the API, generated from the route table, and
 *		GET /api/openapi.json.
 *
 * Every route but /metrics (Prometheus text) is an operation: its path parameters (ids as integers of at
 * least 1), bearer security unless it is public, the SQL function behind it
 * (x-sql-function) and the envelopes it answers with.  Being generated, the
 * document cannot drift from what the gateway serves; tests/gateway/t/
 * openapi.t checks it against the contract of DESIGN §5 in both directions.
 */
#include "openapi.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "respond.h"
#include "router.h"
#include "version.h"

/* Whether the route's path appears earlier in the table (paths are grouped) */
static bool
seen_path(const struct route *routes, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(routes[j].pattern, routes[i].pattern) == 0)
			return true;
	return false;
}

/*
 * The {name} parameters of a pattern, as OpenAPI parameter objects, and the
 * QR-Read-After header for a read
 */
static void
append_parameters(struct json_buf *out, const char *pattern, bool read)
{
	const char *p = pattern;
	bool		first = true;

	json_buf_puts(out, "\"parameters\":[");
	while ((p = strchr(p, '{')) != NULL)
	{
		const char *end = strchr(p, '}');
		size_t		len = (size_t) (end - p - 1);
		bool		id = (len == 2 && strncmp(p + 1, "id", 2) == 0) ||
			(len > 3 && strncmp(end - 3, "_id", 3) == 0);

		json_buf_puts(out, first ? "{\"name\":" : ",{\"name\":");
		json_buf_string(out, p + 1, len);
		json_buf_puts(out, ",\"in\":\"path\",\"required\":true,\"schema\":");
		json_buf_puts(out, id ? "{\"type\":\"integer\",\"format\":\"int64\",\"minimum\":1}"
					  : "{\"type\":\"string\"}");
		json_buf_puts(out, "}");
		first = false;
		p = end + 1;
	}
	if (read)
		json_buf_puts(out, first ? "{\"$ref\":\"#/components/parameters/ReadAfter\"}"
					  : ",{\"$ref\":\"#/components/parameters/ReadAfter\"}");
	json_buf_puts(out, "]");
}

/* One operation object */
static void
append_operation(struct json_buf *out, const struct route *r)
{
	char		method[8];
	size_t		i;

	for (i = 0; r->method[i] != '\0' && i + 1 < sizeof(method); i++)
		method[i] = (char) tolower((unsigned char) r->method[i]);
	method[i] = '\0';
	json_buf_cstring(out, method);
	json_buf_puts(out, ":{\"operationId\":");
	json_buf_printf(out, "\"%s %s\",", r->method, r->pattern);
	if (r->sql_function != NULL)
		json_buf_printf(out, "\"x-sql-function\":\"qr_event.%s\",", r->sql_function);
	append_parameters(out, r->pattern,
					  r->sql_function != NULL && strcmp(r->method, "GET") == 0);
	if (strcmp(r->method, "POST") == 0 && r->handler != handle_openapi)
		json_buf_puts(out, ",\"requestBody\":{\"required\":false,\"content\":{\"application/json\":"
					  "{\"schema\":{\"type\":\"object\"}}}}");
	if (r->auth != ROUTE_AUTH_ANYONE)
		json_buf_printf(out, ",\"security\":[{\"bearer\":[]}],\"x-caller\":\"%s\"",
						r->auth == ROUTE_AUTH_GUEST ? "guest" : "account");
	json_buf_puts(out, ",\"responses\":{\"200\":{\"$ref\":\"#/components/responses/Success\"},"
				  "\"201\":{\"$ref\":\"#/components/responses/Success\"},"
				  "\"default\":{\"$ref\":\"#/components/responses/Error\"}}}");
}

/* Builds the whole document */
bool
openapi_build(struct json_buf *out)
{
	size_t		count;
	const struct route *routes = router_routes(&count);

	json_buf_puts(out, "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"QR Event API\",\"version\":\""
				  QR_GATEWAY_VERSION "\"},\"paths\":{");
	for (size_t i = 0, n = 0; i < count; i++)
	{
		if (seen_path(routes, i) || routes[i].handler == handle_metrics)
			continue;
		json_buf_puts(out, n++ ? "," : "");
		json_buf_cstring(out, routes[i].pattern);
		json_buf_puts(out, ":{");
		for (size_t j = i, m = 0; j < count; j++)
		{
			if (strcmp(routes[j].pattern, routes[i].pattern) != 0)
				continue;
			json_buf_puts(out, m++ ? "," : "");
			append_operation(out, &routes[j]);
		}
		json_buf_puts(out, "}");
	}
	json_buf_puts(out, "},\"components\":{"
				  "\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":\"JWT\"}},"
				  "\"parameters\":{\"ReadAfter\":{\"name\":\"QR-Read-After\",\"in\":\"header\",\"required\":false,"
				  "\"description\":\"with read replicas: the QR-Write-LSN of an earlier write this read must see\","
				  "\"schema\":{\"type\":\"string\",\"pattern\":\"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$\"}}},"
				  "\"responses\":{"
				  "\"Success\":{\"description\":\"{\\\"success\\\":true,\\\"data\\\":…,\\\"meta\\\":{…}}; lists add pagination\","
				  "\"headers\":{\"QR-Write-LSN\":{\"description\":\"with read replicas, after a write: the primary's WAL position after its commit\","
				  "\"schema\":{\"type\":\"string\"}},"
				  "\"QR-Read-From\":{\"description\":\"with read replicas, on a read: replica or primary\","
				  "\"schema\":{\"type\":\"string\",\"enum\":[\"replica\",\"primary\"]}}},"
				  "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"required\":[\"success\",\"data\",\"meta\"]}}}},"
				  "\"Error\":{\"description\":\"{\\\"success\\\":false,\\\"error\\\":{\\\"code\\\",\\\"message\\\",\\\"details\\\",\\\"hint\\\"},\\\"meta\\\":{…}}\","
				  "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"required\":[\"success\",\"error\",\"meta\"]}}}}}}}");
	return !out->failed;
}

/* GET /api/openapi.json: the document itself, without an envelope */
void
handle_openapi(struct request *rq)
{
	struct json_buf doc;

	json_buf_init(&doc);
	if (openapi_build(&doc))
		respond_raw_json(rq, 200, json_buf_text(&doc), doc.len);
	else
		respond_error_code(rq, API_ERROR_INTERNAL, NULL);
	json_buf_free(&doc);
}
