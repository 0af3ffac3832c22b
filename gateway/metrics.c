/*
 * metrics.c
 *		Prometheus metrics: request counts and latencies, cache outcomes and
 *		rate-limit refusals, rendered as text exposition format 0.0.4.
 *
 * A shard's table is guarded by the shard's mutex, which its worker takes
 * for each recording and a scrape takes while it reads the table.
 * registry_lock guards the list of shards and the sources, and serializes
 * scrapes; gauge sources run under it. Label pointers are kept, not copied.
 */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_BUCKETS 15		/* 14 upper bounds and +Inf */
#define METRICS_MIN_SLOTS 32
#define METRICS_MAX_SOURCES 32

enum metrics_kind
{
	METRICS_REQUEST,
	METRICS_CACHE,
	METRICS_RATE_LIMITED
};

/* One series: its label tuple, which is its key, and what it counted */
struct metrics_series
{
	enum metrics_kind kind;
	const char *labels[3];		/* method, route, tier; class, result, "";
								 * tier, scope, "" */
	int			status;			/* 0 but for requests */
	uint32_t	hash;			/* of kind, labels and status */
	uint64_t	count;
	double		sum;			/* of durations in seconds */
	uint64_t	buckets[METRICS_BUCKETS];	/* per bucket, not cumulative */
};

/* An open-addressing table of series; a slot with labels[0] NULL is free */
struct metrics_table
{
	struct metrics_series *slots;
	size_t		count;
	size_t		nslots;			/* 0 or a power of two, at least 2 * count */
};

struct metrics_shard
{
	pthread_mutex_t lock;
	struct metrics_table table;
	struct metrics_shard *next;	/* set before the shard is listed */
};

static const double bucket_bounds[METRICS_BUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
static const char *const bucket_text[METRICS_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
	"0.25", "0.5", "1", "2.5", "5", "10", "+Inf"
};

static const char *const request_labels[] = {"method", "route", "status", "tier", "le"};
static const char *const cache_labels[] = {"class", "result"};
static const char *const rate_labels[] = {"tier", "scope"};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_shard *shards;
static struct
{
	metrics_gauge_fn fn;
	void	   *arg;
}			sources[METRICS_MAX_SOURCES];
static int	nsources;

/* Whether two series have the same key */
static bool
series_equal(const struct metrics_series *x, const struct metrics_series *y)
{
	int			i;

	if (x->hash != y->hash || x->kind != y->kind || x->status != y->status)
		return false;
	for (i = 0; i < 3; i++)
		if (x->labels[i] != y->labels[i] && strcmp(x->labels[i], y->labels[i]) != 0)
			return false;
	return true;
}

/* Order of series in the output: by kind, then labels in output order */
static int
series_cmp(const void *a, const void *b)
{
	const struct metrics_series *x = a;
	const struct metrics_series *y = b;
	int			c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = strcmp(x->labels[0], y->labels[0])) != 0 ||
		(c = strcmp(x->labels[1], y->labels[1])) != 0)
		return c;
	if (x->status != y->status)
		return x->status < y->status ? -1 : 1;
	return strcmp(x->labels[2], y->labels[2]);
}

/* The slot of slots holding key's series, or the free slot where it goes */
static struct metrics_series *
table_slot(struct metrics_series *slots, size_t nslots,
		   const struct metrics_series *key)
{
	size_t		mask = nslots - 1;
	size_t		i;

	for (i = key->hash & mask; slots[i].labels[0] != NULL; i = (i + 1) & mask)
		if (series_equal(&slots[i], key))
			break;
	return &slots[i];
}

/* The series of t with key's labels, added with no counts if new; NULL on OOM */
static struct metrics_series *
table_get(struct metrics_table *t, const struct metrics_series *key)
{
	struct metrics_series *slot;
	struct metrics_series *grown;
	size_t		n;
	size_t		i;

	if (t->nslots > 0 && (slot = table_slot(t->slots, t->nslots, key))->labels[0] != NULL)
		return slot;
	if ((t->count + 1) * 2 > t->nslots)
	{
		n = t->nslots ? t->nslots * 2 : METRICS_MIN_SLOTS;
		if ((grown = calloc(n, sizeof(*grown))) == NULL)
			return NULL;
		for (i = 0; i < t->nslots; i++)
			if (t->slots[i].labels[0] != NULL)
				*table_slot(grown, n, &t->slots[i]) = t->slots[i];
		free(t->slots);
		t->slots = grown;
		t->nslots = n;
	}
	slot = table_slot(t->slots, t->nslots, key);
	*slot = *key;
	slot->count = 0;
	slot->sum = 0;
	memset(slot->buckets, 0, sizeof(slot->buckets));
	t->count++;
	return slot;
}

/* A new, empty shard for the calling thread, listed for scrapes; NULL on OOM */
struct metrics_shard *
metrics_shard_new(void)
{
	struct metrics_shard *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
	{
		free(s);
		return NULL;
	}
	pthread_mutex_lock(&registry_lock);
	s->next = shards;
	shards = s;
	pthread_mutex_unlock(&registry_lock);
	return s;
}

/*
 * Count one event in the series of a shard with these labels, and for
 * requests its duration (negative or NaN counts as 0). A NULL shard records
 * nothing; a failed allocation loses the event.
 */
static void
record(struct metrics_shard *s, enum metrics_kind kind, const char *a,
	   const char *b, const char *c, int status, double seconds)
{
	struct metrics_series key;
	struct metrics_series *series;
	const unsigned char *p;
	int			i;

	if (s == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.kind = kind;
	key.labels[0] = a ? a : "";
	key.labels[1] = b ? b : "";
	key.labels[2] = c ? c : "";
	key.status = status;
	key.hash = (2166136261u ^ (uint32_t) kind) * 16777619u;
	key.hash = (key.hash ^ (uint32_t) status) * 16777619u;
	for (i = 0; i < 3; i++)
	{
		for (p = (const unsigned char *) key.labels[i]; *p != '\0'; p++)
			key.hash = (key.hash ^ *p) * 16777619u;
		key.hash = (key.hash ^ 0xFFu) * 16777619u;	/* ends the label */
	}
	if (!(seconds >= 0))
		seconds = 0;
	for (i = 0; i < METRICS_BUCKETS - 1 && seconds > bucket_bounds[i]; i++)
		;
	pthread_mutex_lock(&s->lock);
	if ((series = table_get(&s->table, &key)) != NULL)
	{
		series->count++;
		series->sum += seconds;
		series->buckets[i]++;
	}
	pthread_mutex_unlock(&s->lock);
}

/* Count one finished request and its duration in seconds */
void
metrics_request(struct metrics_shard *s, const char *method, const char *route,
				int status, const char *tier, double seconds)
{
	record(s, METRICS_REQUEST, method, route, tier, status, seconds);
}

/* Count the outcome of one cache lookup */
void
metrics_cache(struct metrics_shard *s, const char *cache_class, const char *result)
{
	record(s, METRICS_CACHE, cache_class, result, "", 0, 0);
}

/* Count one request refused by the rate limit of a scope */
void
metrics_rate_limited(struct metrics_shard *s, const char *tier, const char *scope)
{
	record(s, METRICS_RATE_LIMITED, tier, scope, "", 0, 0);
}

/*
 * Have fn append gauge lines to every render, after the counters, in the
 * order added. False when METRICS_MAX_SOURCES are already added.
 */
bool
metrics_add_source(metrics_gauge_fn fn, void *arg)
{
	bool		ok;

	pthread_mutex_lock(&registry_lock);
	if ((ok = nsources < METRICS_MAX_SOURCES))
	{
		sources[nsources].fn = fn;
		sources[nsources++].arg = arg;
	}
	pthread_mutex_unlock(&registry_lock);
	return ok;
}

/* Append a label value with backslash, double quote and newline escaped */
static void
append_escaped(struct json_buf *out, const char *text)
{
	const char *run = text;
	const char *p;

	for (p = text; *p != '\0'; p++)
	{
		if (*p != '\\' && *p != '"' && *p != '\n')
			continue;
		json_buf_append(out, run, (size_t) (p - run));
		json_buf_puts(out, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n");
		run = p + 1;
	}
	json_buf_puts(out, run);
}

/* Append one sample line whose value is already text */
static void
put_line(struct json_buf *out, const char *name, const char *suffix,
		 const char *const *names, const char *const *values, int n,
		 const char *value)
{
	int			i;

	json_buf_puts(out, name);
	json_buf_puts(out, suffix);
	for (i = 0; i < n; i++)
	{
		json_buf_printf(out, "%s%s=\"", i == 0 ? "{" : ",", names[i]);
		append_escaped(out, values[i] ? values[i] : "");
		json_buf_puts(out, "\"");
	}
	json_buf_printf(out, "%s %s\n", n > 0 ? "}" : "", value);
}

/* A float as Prometheus reads it: shortest of %.15g/%.17g that round-trips */
static void
format_double(char out[32], double v)
{
	if (isnan(v))
		snprintf(out, 32, "NaN");
	else if (isinf(v))
		snprintf(out, 32, v > 0 ? "+Inf" : "-Inf");
	else
	{
		snprintf(out, 32, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, 32, "%.17g", v);
	}
}

/* Append one sample line: name{label="value",...} value */
void
metrics_append_sample(struct json_buf *out, const char *name,
					  const char *const *label_names,
					  const char *const *label_values, int nlabels, double value)
{
	char		text[32];

	format_double(text, value);
	put_line(out, name, "", label_names, label_values, nlabels, text);
}

/*
 * Append the family of one kind of series from n sorted ones: a counter of
 * each series, or for a histogram its cumulative buckets, sum and count.
 */
static void
render_family(struct json_buf *out, const struct metrics_series *series, size_t n,
			  enum metrics_kind kind, const char *name, const char *type,
			  const char *help, const char *const *names)
{
	const struct metrics_series *s;
	const char *values[5];
	char		status[16];
	char		number[32];
	bool		histogram = strcmp(type, "histogram") == 0;
	uint64_t	below;
	int			nvalues;
	int			b;

	json_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (s = series; s < series + n; s++)
	{
		if (s->kind != kind)
			continue;
		values[0] = s->labels[0];
		values[1] = s->labels[1];
		nvalues = 2;
		if (kind == METRICS_REQUEST)
		{
			snprintf(status, sizeof(status), "%d", s->status);
			values[nvalues++] = status;
			values[nvalues++] = s->labels[2];
		}
		for (below = 0, b = 0; histogram && b < METRICS_BUCKETS; b++)
		{
			below += s->buckets[b];
			values[4] = bucket_text[b];
			snprintf(number, sizeof(number), "%" PRIu64, below);
			put_line(out, name, "_bucket", names, values, 5, number);
		}
		if (histogram)
		{
			format_double(number, s->sum);
			put_line(out, name, "_sum", names, values, nvalues, number);
		}
		snprintf(number, sizeof(number), "%" PRIu64, s->count);
		put_line(out, name, histogram ? "_count" : "", names, values,
				 nvalues, number);
	}
}

/* Sum every listed shard into merged; false on OOM */
static bool
merge_shards(struct metrics_table *merged)
{
	struct metrics_shard *s;
	const struct metrics_series *from;
	struct metrics_series *into;
	bool		ok = true;
	int			b;

	for (s = shards; s != NULL && ok; s = s->next)
	{
		pthread_mutex_lock(&s->lock);
		for (from = s->table.slots; from < s->table.slots + s->table.nslots; from++)
		{
			if (from->labels[0] == NULL)
				continue;
			if ((into = table_get(merged, from)) == NULL)
			{
				ok = false;
				break;
			}
			into->count += from->count;
			into->sum += from->sum;
			for (b = 0; b < METRICS_BUCKETS; b++)
				into->buckets[b] += from->buckets[b];
		}
		pthread_mutex_unlock(&s->lock);
	}
	return ok;
}

/*
 * Append the whole exposition: every family's HELP and TYPE lines, the sum
 * of all shards in a stable order, then each source's lines. False on OOM.
 */
bool
metrics_render(struct json_buf *out)
{
	struct metrics_table merged = {NULL, 0, 0};
	struct metrics_series *all = NULL;
	size_t		n = 0;
	size_t		i;

	pthread_mutex_lock(&registry_lock);
	if (!merge_shards(&merged))
		out->failed = true;
	else
	{
		/* the table is done with: pack its series to the front and sort */
		for (all = merged.slots, i = 0; i < merged.nslots; i++)
			if (all[i].labels[0] != NULL)
				all[n++] = all[i];
		if (n > 0)
			qsort(all, n, sizeof(*all), series_cmp);
		render_family(out, all, n, METRICS_REQUEST, "qr_gateway_requests_total",
					  "counter", "Requests answered, by method, route pattern, status and tier.",
					  request_labels);
		render_family(out, all, n, METRICS_REQUEST, "qr_gateway_request_duration_seconds",
					  "histogram", "Time from a request's arrival to its response, in seconds.",
					  request_labels);
		render_family(out, all, n, METRICS_CACHE, "qr_gateway_cache_total", "counter",
					  "Cache lookups, by cache class and outcome.", cache_labels);
		render_family(out, all, n, METRICS_RATE_LIMITED, "qr_gateway_rate_limited_total",
					  "counter", "Requests refused by a rate limit, by tier and limit scope.",
					  rate_labels);
		for (i = 0; i < (size_t) nsources; i++)
			sources[i].fn(out, sources[i].arg);
	}
	pthread_mutex_unlock(&registry_lock);
	free(merged.slots);
	return !out->failed;
}

/* Free every shard and forget every source; the registry is empty again */
void
metrics_shutdown(void)
{
	struct metrics_shard *s;

	pthread_mutex_lock(&registry_lock);
	while ((s = shards) != NULL)
	{
		shards = s->next;
		free(s->table.slots);
		pthread_mutex_destroy(&s->lock);
		free(s);
	}
	nsources = 0;
	pthread_mutex_unlock(&registry_lock);
}
