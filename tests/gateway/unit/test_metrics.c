/*
 * test_metrics.c
 *		Unit tests of gateway/metrics.c: the exposition text, sums across
 *		shards, histogram buckets, label escaping, gauge sources, table
 *		growth, and recording on many threads during scrapes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "metrics.h"

#define REQUESTS "qr_gateway_requests_total"
#define DURATION "qr_gateway_request_duration_seconds"
#define LEADERBOARD "/api/games/{id}/leaderboard"
#define THREADS 8
#define PER_THREAD 100000

static const char empty_text[] =
"# HELP qr_gateway_requests_total Requests answered, by method, route pattern, status and tier.\n"
"# TYPE qr_gateway_requests_total counter\n"
"# HELP qr_gateway_request_duration_seconds Time from a request's arrival to its response, in seconds.\n"
"# TYPE qr_gateway_request_duration_seconds histogram\n"
"# HELP qr_gateway_cache_total Cache lookups, by cache class and outcome.\n"
"# TYPE qr_gateway_cache_total counter\n"
"# HELP qr_gateway_rate_limited_total Requests refused by a rate limit, by tier and limit scope.\n"
"# TYPE qr_gateway_rate_limited_total counter\n";

/* Every test starts from an empty registry */
static int
reset(void **state)
{
	(void) state;
	metrics_shutdown();
	return 0;
}

/* Render everything into buf, which the caller frees */
static const char *
render(struct json_buf *buf)
{
	json_buf_init(buf);
	assert_true(metrics_render(buf));
	return json_buf_text(buf);
}

/* Where line occurs as a whole line of text, or NULL */
static const char *
find_line(const char *text, const char *line)
{
	size_t		len = strlen(line);
	const char *p;

	for (p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return p;
	return NULL;
}

/* Fail unless line occurs as a whole line of text */
static void
assert_line(const char *text, const char *line)
{
	if (find_line(text, line) == NULL)
		fail_msg("missing line: %s\nin:\n%s", line, text);
}

/*
 * The sum of the values of the lines that start with prefix and hold part
 * (any line when part is NULL); -1 when text does not end in a newline.
 * Safe on any thread: it asserts nothing.
 */
static double
sum_values(const char *text, const char *prefix, const char *part)
{
	double		total = 0;
	const char *line;
	const char *end;
	const char *found;
	const char *value;

	for (line = text; *line != '\0'; line = end + 1)
	{
		if ((end = strchr(line, '\n')) == NULL)
			return -1;
		if (strncmp(line, prefix, strlen(prefix)) != 0)
			continue;
		found = part ? strstr(line, part) : line;
		if (found == NULL || found > end)
			continue;
		for (value = end; value > line && value[-1] != ' '; value--)
			;
		total += strtod(value, NULL);
	}
	return total;
}

/* An empty registry still renders each family's HELP and TYPE lines */
static void
test_empty(void **state)
{
	struct json_buf buf;

	(void) state;
	assert_string_equal(render(&buf), empty_text);
	json_buf_free(&buf);
	/* shards with nothing recorded change nothing */
	assert_non_null(metrics_shard_new());
	assert_non_null(metrics_shard_new());
	assert_string_equal(render(&buf), empty_text);
	json_buf_free(&buf);
}

/* Equal labels from two shards make one series; series come out sorted */
static void
test_two_shards(void **state)
{
	static const char get_copy[] = "GET";	/* equal text, another pointer */
	struct metrics_shard *a = metrics_shard_new();
	struct metrics_shard *b = metrics_shard_new();
	struct json_buf buf;
	const char *text;
	const char *first;
	const char *second;
	const char *third;

	(void) state;
	metrics_request(a, "GET", LEADERBOARD, 200, "standard", 0.003);
	metrics_request(a, "GET", LEADERBOARD, 200, "standard", 0.003);
	metrics_request(b, get_copy, LEADERBOARD, 200, "standard", 0.003);
	metrics_request(b, "POST", "/api/scans", 201, "premium", 0.02);
	metrics_request(a, "GET", LEADERBOARD, 404, "standard", 0.001);
	metrics_request(NULL, "GET", LEADERBOARD, 200, "standard", 0.003);
	text = render(&buf);
	assert_line(text, REQUESTS "{method=\"GET\",route=\"" LEADERBOARD
				"\",status=\"200\",tier=\"standard\"} 3");
	assert_line(text, REQUESTS "{method=\"GET\",route=\"" LEADERBOARD
				"\",status=\"404\",tier=\"standard\"} 1");
	assert_line(text, REQUESTS "{method=\"POST\",route=\"/api/scans\","
				"status=\"201\",tier=\"premium\"} 1");
	assert_int_equal((int) sum_values(text, REQUESTS "{", NULL), 5);
	first = strstr(text, REQUESTS "{method=\"GET\",route=\"" LEADERBOARD "\",status=\"200\"");
	second = strstr(text, REQUESTS "{method=\"GET\",route=\"" LEADERBOARD "\",status=\"404\"");
	third = strstr(text, REQUESTS "{method=\"POST\"");
	assert_true(first != NULL && first < second && second < third);
	assert_true(third < strstr(text, "# HELP " DURATION));
	json_buf_free(&buf);
}

/* Buckets are cumulative; _count is the request count, _sum the seconds */
static void
test_histogram(void **state)
{
	static const double seconds[] = {0.0001, 0.003, 0.003, 0.02, 0.75, 3, 20, 0.07};
	struct metrics_shard *a = metrics_shard_new();
	struct metrics_shard *b = metrics_shard_new();
	struct json_buf buf;
	const char *text;
	double		sum_a = 0;
	double		sum_b = 0;
	double		shown;

	(void) state;
	for (int i = 0; i < 8; i++)
	{
		metrics_request(i % 2 ? b : a, "GET", "/health", 200, "anonymous", seconds[i]);
		if (i % 2)
			sum_b += seconds[i];
		else
			sum_a += seconds[i];
	}
	text = render(&buf);
#define SERIES "{method=\"GET\",route=\"/health\",status=\"200\",tier=\"anonymous\""
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.0005\"} 1");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.001\"} 1");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.0025\"} 1");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.005\"} 3");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.01\"} 3");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.025\"} 4");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.05\"} 4");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.1\"} 5");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.25\"} 5");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"0.5\"} 5");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"1\"} 6");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"2.5\"} 6");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"5\"} 7");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"10\"} 7");
	assert_line(text, DURATION "_bucket" SERIES ",le=\"+Inf\"} 8");
	assert_line(text, DURATION "_count" SERIES "} 8");
	assert_line(text, REQUESTS SERIES "} 8");
	/* the bucket lines come in order, then _sum, then _count */
	assert_true(strstr(text, "le=\"0.0005\"") < strstr(text, "le=\"+Inf\""));
	assert_true(strstr(text, "le=\"+Inf\"") < strstr(text, DURATION "_sum"));
	assert_true(strstr(text, DURATION "_sum") < strstr(text, DURATION "_count"));
	/* the sum is exact: the shards' sums added, printed so it reads back */
	shown = sum_values(text, DURATION "_sum" SERIES "}", NULL);
	assert_true(shown == sum_a + sum_b);
#undef SERIES
	json_buf_free(&buf);
}

/* le is inclusive: a duration on a bound is in that bucket */
static void
test_bucket_bounds(void **state)
{
	struct metrics_shard *s = metrics_shard_new();
	struct json_buf buf;
	const char *text;

	(void) state;
	metrics_request(s, "GET", "/a", 200, "standard", 0.005);
	metrics_request(s, "GET", "/b", 200, "standard", 10);
	metrics_request(s, "GET", "/c", 200, "standard", 10.000001);
	metrics_request(s, "GET", "/d", 200, "standard", 0.0005);
	metrics_request(s, "GET", "/e", 200, "standard", -1);	/* counts as 0 */
	text = render(&buf);
#define ROUTE(r) "{method=\"GET\",route=\"" r "\",status=\"200\",tier=\"standard\""
	assert_line(text, DURATION "_bucket" ROUTE("/a") ",le=\"0.0025\"} 0");
	assert_line(text, DURATION "_bucket" ROUTE("/a") ",le=\"0.005\"} 1");
	assert_line(text, DURATION "_sum" ROUTE("/a") "} 0.005");
	assert_line(text, DURATION "_bucket" ROUTE("/b") ",le=\"5\"} 0");
	assert_line(text, DURATION "_bucket" ROUTE("/b") ",le=\"10\"} 1");
	assert_line(text, DURATION "_bucket" ROUTE("/c") ",le=\"10\"} 0");
	assert_line(text, DURATION "_bucket" ROUTE("/c") ",le=\"+Inf\"} 1");
	assert_line(text, DURATION "_bucket" ROUTE("/d") ",le=\"0.0005\"} 1");
	assert_line(text, DURATION "_bucket" ROUTE("/e") ",le=\"0.0005\"} 1");
	assert_line(text, DURATION "_sum" ROUTE("/e") "} 0");
#undef ROUTE
	json_buf_free(&buf);
}

/* Backslash, double quote and newline in label values are escaped */
static void
test_escaping(void **state)
{
	static const char *const names[] = {"name", "plain"};
	static const char *const values[] = {"x\\\"\n", "ok"};
	struct metrics_shard *s = metrics_shard_new();
	struct json_buf buf;
	const char *text;

	(void) state;
	metrics_request(s, "GET", "/odd\"route\\with\nnewline", 500, "premium", 0.01);
	metrics_cache(s, "static\"", "hit\\");
	text = render(&buf);
	assert_line(text, REQUESTS "{method=\"GET\",route=\"/odd\\\"route\\\\with\\nnewline\","
				"status=\"500\",tier=\"premium\"} 1");
	assert_line(text, "qr_gateway_cache_total{class=\"static\\\"\",result=\"hit\\\\\"} 1");
	json_buf_free(&buf);
	json_buf_init(&buf);
	metrics_append_sample(&buf, "g", names, values, 2, 1);
	assert_string_equal(json_buf_text(&buf), "g{name=\"x\\\\\\\"\\n\",plain=\"ok\"} 1\n");
	json_buf_free(&buf);
}

/* Cache outcomes and rate-limit refusals are counted per label pair */
static void
test_counters(void **state)
{
	struct metrics_shard *a = metrics_shard_new();
	struct metrics_shard *b = metrics_shard_new();
	struct json_buf buf;
	const char *text;

	(void) state;
	for (int i = 0; i < 5; i++)
		metrics_cache(a, "frequent", "hit");
	metrics_cache(b, "frequent", "hit");
	metrics_cache(b, "frequent", "miss");
	metrics_cache(a, "computed", "refresh");
	metrics_cache(a, "static", "stale");
	metrics_rate_limited(a, "anonymous", "anonymous");
	metrics_rate_limited(b, "anonymous", "anonymous");
	metrics_rate_limited(b, "standard", "leaderboard");
	metrics_rate_limited(a, "premium", "concurrency");
	metrics_cache(NULL, "static", "hit");
	metrics_rate_limited(NULL, "premium", "concurrency");
	text = render(&buf);
	assert_line(text, "qr_gateway_cache_total{class=\"frequent\",result=\"hit\"} 6");
	assert_line(text, "qr_gateway_cache_total{class=\"frequent\",result=\"miss\"} 1");
	assert_line(text, "qr_gateway_cache_total{class=\"computed\",result=\"refresh\"} 1");
	assert_line(text, "qr_gateway_cache_total{class=\"static\",result=\"stale\"} 1");
	assert_line(text, "qr_gateway_rate_limited_total{tier=\"anonymous\",scope=\"anonymous\"} 2");
	assert_line(text, "qr_gateway_rate_limited_total{tier=\"standard\",scope=\"leaderboard\"} 1");
	assert_line(text, "qr_gateway_rate_limited_total{tier=\"premium\",scope=\"concurrency\"} 1");
	/* sorted by class, then result */
	assert_true(strstr(text, "class=\"computed\"") < strstr(text, "class=\"frequent\",result=\"hit\""));
	assert_true(strstr(text, "result=\"hit\"") < strstr(text, "result=\"miss\""));
	assert_true(strstr(text, "class=\"static\"") < strstr(text, "# HELP qr_gateway_rate_limited_total"));
	/* no request was recorded: those families are still there, empty */
	assert_non_null(find_line(text, "# TYPE " REQUESTS " counter"));
	assert_null(strstr(text, REQUESTS "{"));
	assert_null(strstr(text, DURATION "_"));
	json_buf_free(&buf);
}

/* A gauge source: one unlabelled and some labelled samples */
static void
pool_gauges(struct json_buf *out, void *arg)
{
	static const char *const names[] = {"pool"};
	static const char *const primary[] = {"primary"};
	static const char *const replica[] = {"replica"};

	json_buf_puts(out, "# HELP qr_gateway_db_idle Idle connections.\n"
				  "# TYPE qr_gateway_db_idle gauge\n");
	metrics_append_sample(out, "qr_gateway_db_idle", names, primary, 1, *(double *) arg);
	metrics_append_sample(out, "qr_gateway_db_idle", names, replica, 1, 0.1);
}

/* Another gauge source, with values that need special forms */
static void
odd_gauges(struct json_buf *out, void *arg)
{
	(void) arg;
	json_buf_puts(out, "# HELP qr_gateway_odd Odd values.\n# TYPE qr_gateway_odd gauge\n");
	metrics_append_sample(out, "qr_gateway_odd", NULL, NULL, 0, 1e21);
	metrics_append_sample(out, "qr_gateway_up", NULL, NULL, 0, INFINITY);
	metrics_append_sample(out, "qr_gateway_down", NULL, NULL, 0, -INFINITY);
	metrics_append_sample(out, "qr_gateway_nan", NULL, NULL, 0, NAN);
	metrics_append_sample(out, "qr_gateway_third", NULL, NULL, 0, 1.0 / 3.0);
}

/* Sources' lines come after the counters, in the order they were added */
static void
test_gauge_source(void **state)
{
	double		idle = 7;
	struct json_buf buf;
	const char *text;

	(void) state;
	assert_true(metrics_add_source(pool_gauges, &idle));
	assert_true(metrics_add_source(odd_gauges, NULL));
	text = render(&buf);
	assert_true(strncmp(text, empty_text, strlen(empty_text)) == 0);
	assert_line(text, "# TYPE qr_gateway_db_idle gauge");
	assert_line(text, "qr_gateway_db_idle{pool=\"primary\"} 7");
	assert_line(text, "qr_gateway_db_idle{pool=\"replica\"} 0.1");
	assert_line(text, "qr_gateway_odd 1e+21");
	assert_line(text, "qr_gateway_up +Inf");
	assert_line(text, "qr_gateway_down -Inf");
	assert_line(text, "qr_gateway_nan NaN");
	assert_line(text, "qr_gateway_third 0.33333333333333331");
	assert_true(strstr(text, "qr_gateway_db_idle") < strstr(text, "qr_gateway_odd"));
	json_buf_free(&buf);
	/* read at each render */
	idle = 3;
	text = render(&buf);
	assert_line(text, "qr_gateway_db_idle{pool=\"primary\"} 3");
	json_buf_free(&buf);
}

/* Hundreds of series grow the tables and all come out, sorted */
static void
test_many_series(void **state)
{
	static char routes[300][16];
	struct metrics_shard *a = metrics_shard_new();
	struct metrics_shard *b = metrics_shard_new();
	struct json_buf buf;
	const char *text;
	const char *at;
	const char *prev = NULL;
	char		line[128];
	double		expected = 0;

	(void) state;
	for (int i = 0; i < 300; i++)
		snprintf(routes[i], sizeof(routes[i]), "/r/%03d", i);
	for (int i = 0; i < 300; i++)
		for (int k = 0; k <= i % 7; k++)
			metrics_request(a, "GET", routes[i], 100 + i, "standard", 0.001);
	for (int i = 299; i >= 0; i--)
	{
		metrics_request(b, "GET", routes[i], 100 + i, "standard", 0.001);
		metrics_request(b, "GET", routes[0], 100 + i, "premium", 0.001);
	}
	text = render(&buf);
	for (int i = 0; i < 300; i++)
	{
		snprintf(line, sizeof(line), REQUESTS "{method=\"GET\",route=\"/r/%03d\","
				 "status=\"%d\",tier=\"standard\"} %d", i, 100 + i, i % 7 + 2);
		assert_non_null(at = find_line(text, line));
		assert_true(prev == NULL || prev < at);
		prev = at;
		snprintf(line, sizeof(line), REQUESTS "{method=\"GET\",route=\"/r/000\","
				 "status=\"%d\",tier=\"premium\"} 1", 100 + i);
		assert_line(text, line);
	}
	for (int i = 0; i < 300; i++)
		expected += i % 7 + 2;
	assert_true(sum_values(text, REQUESTS "{", "tier=\"standard\"") == expected);
	assert_true(sum_values(text, REQUESTS "{", "tier=\"premium\"") == 300);
	assert_true(sum_values(text, REQUESTS "{", NULL) ==
				sum_values(text, DURATION "_count{", NULL));
	json_buf_free(&buf);
}

static atomic_int writers_left;

/* A worker: its own shard, PER_THREAD requests over a few series */
static void *
writer(void *arg)
{
	static const char *const routes[] = {"/a", LEADERBOARD, "/c"};
	struct metrics_shard *s = metrics_shard_new();
	int			n = *(int *) arg;

	if (s == NULL)
		return "no shard";
	for (int i = 0; i < PER_THREAD; i++)
		metrics_request(s, i % 5 ? "GET" : "POST", routes[(i + n) % 3],
						i % 11 ? 200 : 503, n % 2 ? "premium" : "standard",
						(i % 1000) * 0.0001);
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

/* A scraper: renders until the writers are done; every total is consistent */
static void *
scraper(void *arg)
{
	struct json_buf buf;
	double		last = 0;
	double		total;
	int		   *renders = arg;

	while (atomic_load(&writers_left) > 0)
	{
		json_buf_init(&buf);
		if (!metrics_render(&buf))
			return "render failed";
		total = sum_values(json_buf_text(&buf), REQUESTS "{", NULL);
		if (total < last || total > THREADS * PER_THREAD)
			return "total went back or too far";
		if (total != sum_values(json_buf_text(&buf), DURATION "_count{", NULL) ||
			total != sum_values(json_buf_text(&buf), DURATION "_bucket{", "le=\"+Inf\""))
			return "counts disagree within one render";
		last = total;
		json_buf_free(&buf);
		(*renders)++;
	}
	return NULL;
}

/* Eight threads record while another renders; nothing is lost */
static void
test_threads(void **state)
{
	pthread_t	writers[THREADS];
	pthread_t	scrape;
	int			ids[THREADS];
	int			renders = 0;
	void	   *result;
	struct json_buf buf;
	const char *text;

	(void) state;
	atomic_store(&writers_left, THREADS);
	assert_int_equal(pthread_create(&scrape, NULL, scraper, &renders), 0);
	for (int i = 0; i < THREADS; i++)
	{
		ids[i] = i;
		assert_int_equal(pthread_create(&writers[i], NULL, writer, &ids[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
	{
		assert_int_equal(pthread_join(writers[i], &result), 0);
		assert_null(result);
	}
	assert_int_equal(pthread_join(scrape, &result), 0);
	if (result != NULL)
		fail_msg("%s", (const char *) result);
	text = render(&buf);
	assert_true(sum_values(text, REQUESTS "{", NULL) == THREADS * PER_THREAD);
	assert_true(sum_values(text, DURATION "_count{", NULL) == THREADS * PER_THREAD);
	assert_true(sum_values(text, DURATION "_bucket{", "le=\"+Inf\"") == THREADS * PER_THREAD);
	assert_true(sum_values(text, REQUESTS "{", "status=\"503\"") ==
				THREADS * (PER_THREAD / 11 + 1));
	print_message("%d renders during the writes\n", renders);
	json_buf_free(&buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_empty, reset),
		cmocka_unit_test_teardown(test_two_shards, reset),
		cmocka_unit_test_teardown(test_histogram, reset),
		cmocka_unit_test_teardown(test_bucket_bounds, reset),
		cmocka_unit_test_teardown(test_escaping, reset),
		cmocka_unit_test_teardown(test_counters, reset),
		cmocka_unit_test_teardown(test_gauge_source, reset),
		cmocka_unit_test_teardown(test_many_series, reset),
		cmocka_unit_test_teardown(test_threads, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
