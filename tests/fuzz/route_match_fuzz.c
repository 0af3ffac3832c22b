/*
 * route_match_fuzz.c
 *		libFuzzer target of router_find (gateway/router.c) on the gateway's own
 *		route table. An input is "METHOD PATH" (no space: a GET of the whole
 *		input). Each answer is checked against a matcher written here over the
 *		same table: the first route whose pattern and method fit is found, with
 *		every {param} captured as the exact path segment and id params as the
 *		segment's decimal value; 405 only when some route has that path.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The '/'-separated pieces of a path or pattern */
struct pieces
{
	int			count;
	const char *text[ROUTE_MAX_SEGMENTS];
	size_t		len[ROUTE_MAX_SEGMENTS];
};

/*
 * Splits an absolute path into its pieces; false for one no route may name:
 * no leading '/', an empty piece, "." or "..", or more than ROUTE_MAX_SEGMENTS.
 */
static bool
oracle_split(const char *path, struct pieces *out)
{
	const char *p = path;

	out->count = 0;
	if (p[0] != '/')
		return false;
	do
	{
		size_t		len;

		p++;
		len = strcspn(p, "/");
		if (len == 0 || strncmp(p, ".", len) == 0 || strncmp(p, "..", len) == 0 ||
			out->count == ROUTE_MAX_SEGMENTS)
			return false;
		out->text[out->count] = p;
		out->len[out->count] = len;
		out->count++;
		p += len;
	} while (*p == '/');
	return true;
}

/* Whether a pattern piece is a {param} */
static bool
is_param(const char *text, size_t len)
{
	return len > 2 && text[0] == '{' && text[len - 1] == '}';
}

/* Whether a {param}'s name (braces excluded) is id or ends in _id */
static bool
is_id_name(const char *name, size_t len)
{
	return (len == 2 && memcmp(name, "id", 2) == 0) ||
		(len > 3 && memcmp(name + len - 3, "_id", 3) == 0);
}

/*
 * The value of a positive int64 in plain decimal without a leading zero
 * (compared as text with INT64_MAX, not computed with overflow checks), or -1.
 */
static int64_t
oracle_id(const char *text, size_t len)
{
	static const char max[] = "9223372036854775807";
	uint64_t	v = 0;

	if (len == 0 || len > sizeof(max) - 1 || text[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (text[i] < '0' || text[i] > '9')
			return -1;
	if (len == sizeof(max) - 1 && memcmp(text, max, len) > 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (uint64_t) (text[i] - '0');
	return (int64_t) v;
}

/* Whether the path's pieces fit a pattern, params included */
static bool
oracle_fits(const char *pattern, const struct pieces *path)
{
	struct pieces pat;

	if (!oracle_split(pattern, &pat) || pat.count != path->count)
		return false;
	for (int i = 0; i < pat.count; i++)
	{
		if (is_param(pat.text[i], pat.len[i]))
		{
			if (is_id_name(pat.text[i] + 1, pat.len[i] - 2) &&
				oracle_id(path->text[i], path->len[i]) < 0)
				return false;
		}
		else if (pat.len[i] != path->len[i] ||
				 memcmp(pat.text[i], path->text[i], pat.len[i]) != 0)
			return false;
	}
	return true;
}

/* Aborts unless a found route captured exactly the path's pieces under its params */
static void
check_params(const struct route_match *m, const struct pieces *path)
{
	struct pieces pat;
	int			k = 0;

	if (!oracle_split(m->route->pattern, &pat) || pat.count != path->count)
		abort();
	for (int i = 0; i < pat.count; i++)
	{
		const struct route_param *p;

		if (!is_param(pat.text[i], pat.len[i]))
			continue;
		if (k >= m->param_count)
			abort();
		p = &m->params[k++];
		if (p->name_len != pat.len[i] - 2 || memcmp(p->name, pat.text[i] + 1, p->name_len) != 0 ||
			p->value != path->text[i] || p->value_len != path->len[i])
			abort();
		if (is_id_name(p->name, p->name_len) ?
			(p->id <= 0 || p->id != oracle_id(p->value, p->value_len)) : p->id != 0)
			abort();
	}
	if (k != m->param_count)
		abort();
}

/* Whether method is one item of a "GET, HEAD, POST" list */
static bool
allow_has(const char *allow, const char *method)
{
	size_t		len = strlen(method);

	for (const char *p = allow; *p != '\0'; p += strcspn(p, ","), p += strspn(p, ", "))
		if (strcspn(p, ",") == len && strncmp(p, method, len) == 0)
			return true;
	return false;
}

/* Aborts unless a 405's Allow list names each method of the path once, and only those */
static void
check_allow(const char *allow, const struct route *table, size_t count, const struct pieces *path)
{
	size_t		items = 0;
	size_t		wanted = 0;
	const char *seen[64];

	if (memchr(allow, '\0', ROUTE_ALLOW_SIZE) == NULL || allow[0] == '\0')
		abort();
	for (const char *p = allow; *p != '\0'; p += strcspn(p, ","), p += strspn(p, ", "))
		items++;
	for (size_t i = 0; i < count; i++)
	{
		const char *methods[2] = {table[i].method, strcmp(table[i].method, "GET") == 0 ? "HEAD" : NULL};

		if (!oracle_fits(table[i].pattern, path))
			continue;
		for (int j = 0; j < 2 && methods[j] != NULL; j++)
		{
			bool		dup = false;

			for (size_t s = 0; s < wanted; s++)
				dup = dup || strcmp(seen[s], methods[j]) == 0;
			if (dup)
				continue;
			if (!allow_has(allow, methods[j]) || wanted == 64)
				abort();
			seen[wanted++] = methods[j];
		}
	}
	if (items != wanted)
		abort();
}

/* Routes method and path, and checks the answer against the matcher here */
static void
fuzz_route(const char *method, const char *path)
{
	size_t		count;
	const struct route *table = router_routes(&count);
	struct route_match m;
	struct pieces pieces;
	bool		plain = oracle_split(path, &pieces);
	bool		head = strcmp(method, "HEAD") == 0;
	size_t		want = count;
	bool		has_path = false;
	enum route_result r = router_find(method, path, &m);

	for (size_t i = 0; plain && i < count; i++)
	{
		if (!oracle_fits(table[i].pattern, &pieces))
			continue;
		has_path = true;
		if (strcmp(table[i].method, method) == 0 ||
			(head && strcmp(table[i].method, "GET") == 0))
		{
			want = i;
			break;
		}
	}
	switch (r)
	{
		case ROUTE_FOUND:
			if (!plain || want == count || m.route != &table[want] || m.allow[0] != '\0')
				abort();
			check_params(&m, &pieces);
			break;
		case ROUTE_METHOD_NOT_ALLOWED:
			if (want != count || !has_path || m.route != NULL || m.param_count != 0)
				abort();
			check_allow(m.allow, table, count, &pieces);
			break;
		case ROUTE_NOT_FOUND:
			if (want != count || has_path || m.route != NULL || m.param_count != 0 ||
				m.allow[0] != '\0')
				abort();
			break;
		default:
			abort();
	}
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *space = memchr(data, ' ', size);
	size_t		mlen = space ? (size_t) (space - data) : 0;
	char	   *method = malloc(mlen + 1);
	char	   *path = malloc(size - (space ? mlen + 1 : 0) + 1);

	if (method == NULL || path == NULL)
		abort();
	if (space != NULL)
	{
		memcpy(method, data, mlen);
		method[mlen] = '\0';
		memcpy(path, space + 1, size - mlen - 1);
		path[size - mlen - 1] = '\0';
		fuzz_route(method, path);
	}
	else
	{
		memcpy(path, data, size);
		path[size] = '\0';
		fuzz_route("GET", path);
	}
	free(path);
	free(method);
	return 0;
}
