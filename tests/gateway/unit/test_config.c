/*
 * test_config.c
 *		Unit tests of gateway/config.c: defaults, the config file, the
 *		environment and flags in their order, and every kind of bad value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

#define DB_OK "QR_GATEWAY_DB=host=/tmp dbname=qr"
#define SECRET_OK "QR_GATEWAY_JWT_SECRET=0123456789abcdef0123456789abcdef"
#define MAX_ARGS 16

struct loaded
{
	struct config cfg;
	char		err[1024];
	int			rc;
};

/* Load with a NULL-terminated argv (program name added) and envp */
static void
load(struct loaded *l, const char *const *args, const char *const *env)
{
	char	   *argv[MAX_ARGS + 2];
	int			argc = 0;

	argv[argc++] = "qr_gateway";
	while (args != NULL && args[argc - 1] != NULL)
	{
		argv[argc] = (char *) args[argc - 1];
		argc++;
	}
	argv[argc] = NULL;
	l->rc = config_load(&l->cfg, argc, argv, (char **) env, l->err, sizeof(l->err));
}

/* Write a config file and return its path (the caller unlinks and frees it) */
static char *
write_file(const char *text)
{
	char	   *path = strdup("/tmp/qr_gateway_test_XXXXXX");
	int			fd = mkstemp(path);
	size_t		len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t) len);
	close(fd);
	return path;
}

/* Load env plus one flag and expect the exact error message */
static void
assert_flag_error(const char *flag, const char *value, const char *expected)
{
	const char *args[] = {flag, value, NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;

	load(&l, args, env);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, expected);
	config_free(&l.cfg);
}

/* Load env plus one flag and expect success */
static void
assert_flag_ok(const char *flag, const char *value)
{
	const char *args[] = {flag, value, NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;

	load(&l, args, env);
	if (l.rc != 0)
		fail_msg("%s %s: %s", flag, value, l.err);
	config_free(&l.cfg);
}

/* With only the required settings every other one has its default */
static void
test_defaults(void **state)
{
	const char *env[] = {DB_OK, SECRET_OK, "UNRELATED=1", NULL};
	struct loaded l;

	(void) state;
	load(&l, NULL, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.action, CONFIG_ACTION_RUN);
	assert_string_equal(l.cfg.listen.host, "127.0.0.1");
	assert_int_equal(l.cfg.listen.port, 8080);
	assert_false(l.cfg.listen.ipv6);
	assert_string_equal(l.cfg.redis.host, "127.0.0.1");
	assert_int_equal(l.cfg.redis.port, 6379);
	assert_string_equal(l.cfg.db, "host=/tmp dbname=qr");
	assert_int_equal(l.cfg.db_replica_count, 0);
	assert_string_equal(l.cfg.jwt_secret, "0123456789abcdef0123456789abcdef");
	assert_null(l.cfg.config_path);
	assert_int_equal(l.cfg.threads, 32);
	assert_int_equal(l.cfg.max_body_bytes, 1048576);
	assert_int_equal(l.cfg.db_timeout_ms, 2000);
	assert_int_equal(l.cfg.redis_timeout_ms, 200);
	assert_int_equal(l.cfg.request_timeout_ms, 10000);
	assert_int_equal(l.cfg.log_level, LOG_INFO);
	assert_true(l.cfg.access_log);
	assert_int_equal(l.cfg.source[CONFIG_LISTEN], CONFIG_SOURCE_DEFAULT);
	assert_int_equal(l.cfg.source[CONFIG_DB], CONFIG_SOURCE_ENV);
	config_free(&l.cfg);
}

/* A missing or empty required setting is named */
static void
test_required_missing(void **state)
{
	const char *no_db[] = {SECRET_OK, NULL};
	const char *empty_db[] = {"QR_GATEWAY_DB=", SECRET_OK, NULL};
	const char *no_secret[] = {DB_OK, NULL};
	struct loaded l;

	(void) state;
	load(&l, NULL, no_db);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, "setting db (QR_GATEWAY_DB) is required");
	config_free(&l.cfg);
	load(&l, NULL, empty_db);
	assert_string_equal(l.err, "setting db (QR_GATEWAY_DB) is required");
	config_free(&l.cfg);
	load(&l, NULL, no_secret);
	assert_string_equal(l.err, "setting jwt_secret (QR_GATEWAY_JWT_SECRET) is required");
	config_free(&l.cfg);
	load(&l, NULL, NULL);
	assert_int_equal(l.rc, -1);
	config_free(&l.cfg);
}

/* jwt_secret needs 32 bytes and its value is never echoed */
static void
test_short_secret(void **state)
{
	const char *env[] = {DB_OK, "QR_GATEWAY_JWT_SECRET=short", NULL};
	struct loaded l;

	(void) state;
	load(&l, NULL, env);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, "invalid setting jwt_secret (QR_GATEWAY_JWT_SECRET): "
						"must be at least 32 bytes long (got 5)");
	config_free(&l.cfg);
	assert_flag_ok("--jwt-secret", "0123456789abcdef0123456789abcdeX");
	assert_flag_error("--jwt-secret", "0123456789abcdef0123456789abcde",
					  "invalid setting jwt_secret (QR_GATEWAY_JWT_SECRET): "
					  "must be at least 32 bytes long (got 31)");
}

/* A config file with a BOM, CRLF, comments and quoted values */
static void
test_file_parsing(void **state)
{
	char	   *path = write_file("\xEF\xBB\xBF# a comment\n"
								  "\n"
								  "   # indented comment\n"
								  "threads = 8\r\n"
								  "listen=127.0.0.1:9000\n"
								  "  log_level   =   debug   # trailing comment\n"
								  "db = \"host=/tmp dbname=a#b\"  # quoted keeps the #\n"
								  "redis = \"r.example:7000\"\n"
								  "access_log = off\n"
								  "jwt_secret = \"with \\\"quote\\\" and \\\\ 0123456789abcdef\"\n");
	const char *args[] = {"--config", path, NULL};
	struct loaded l;

	(void) state;
	load(&l, args, NULL);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.threads, 8);
	assert_int_equal(l.cfg.listen.port, 9000);
	assert_int_equal(l.cfg.log_level, LOG_DEBUG);
	assert_string_equal(l.cfg.db, "host=/tmp dbname=a#b");
	assert_string_equal(l.cfg.redis.host, "r.example");
	assert_int_equal(l.cfg.redis.port, 7000);
	assert_false(l.cfg.access_log);
	assert_string_equal(l.cfg.jwt_secret, "with \"quote\" and \\ 0123456789abcdef");
	assert_int_equal(l.cfg.source[CONFIG_THREADS], CONFIG_SOURCE_FILE);
	assert_int_equal(l.cfg.source[CONFIG_CONFIG], CONFIG_SOURCE_FLAG);
	assert_string_equal(l.cfg.config_path, path);
	config_free(&l.cfg);
	unlink(path);
	free(path);
}

/* Load a config file holding text and expect the error "<path>:<suffix>" */
static void
assert_file_error(const char *text, const char *suffix)
{
	char	   *path = write_file(text);
	const char *args[] = {"--config", path, NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	char		expected[1024];
	struct loaded l;

	load(&l, args, env);
	assert_int_equal(l.rc, -1);
	snprintf(expected, sizeof(expected), "%s:%s", path, suffix);
	assert_string_equal(l.err, expected);
	config_free(&l.cfg);
	unlink(path);
	free(path);
}

/* Bad config file lines are reported with file and line */
static void
test_file_errors(void **state)
{
	(void) state;
	assert_file_error("threads = 4\n# ok\nbogus = 1\n", "3: unknown setting \"bogus\"");
	assert_file_error("threads = 4\njust words\n", "2: expected name = value");
	assert_file_error("= 4\n", "1: expected name = value");
	assert_file_error("db = \"host=x\n", "1: unterminated quoted value");
	assert_file_error("db = \"host=x\" tail\n", "1: unexpected text after the quoted value");
	assert_file_error("config = /etc/other\n",
					  "1: the config setting cannot be set inside a config file");
	assert_file_error("\nlisten = \xFF\n", "2: not valid UTF-8");
}

/* An invalid value from the file names the setting and the line */
static void
test_file_value_error_names_line(void **state)
{
	char	   *path = write_file("# settings\nthreads = many\n");
	const char *args[] = {"--config", path, NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	char		expected[1024];
	struct loaded l;

	(void) state;
	load(&l, args, env);
	assert_int_equal(l.rc, -1);
	snprintf(expected, sizeof(expected),
			 "invalid setting threads (QR_GATEWAY_THREADS): expected an integer "
			 "from 1 to 1024, got \"many\" (%s line 2)", path);
	assert_string_equal(l.err, expected);
	config_free(&l.cfg);
	unlink(path);
	free(path);
}

/* An unreadable config file is an invalid config setting */
static void
test_missing_file(void **state)
{
	const char *args[] = {"--config", "/nonexistent/qr.conf", NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;

	(void) state;
	load(&l, args, env);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, "invalid setting config (QR_GATEWAY_CONFIG): "
						"cannot read /nonexistent/qr.conf: No such file or directory");
	config_free(&l.cfg);
}

/* The environment beats the file and flags beat the environment */
static void
test_precedence(void **state)
{
	char	   *path = write_file("threads = 8\nredis_timeout_ms = 300\n"
								  "db_timeout_ms = 100\n");
	char		config_env[128];
	const char *env[] = {DB_OK, SECRET_OK, config_env, "QR_GATEWAY_THREADS=9",
	"QR_GATEWAY_DB_TIMEOUT_MS=150", NULL};
	const char *args[] = {"--threads=10", "--db-timeout-ms", "175", NULL};
	const char *args_space[] = {"--threads", "11", NULL};
	struct loaded l;

	(void) state;
	snprintf(config_env, sizeof(config_env), "QR_GATEWAY_CONFIG=%s", path);
	load(&l, NULL, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.threads, 9);
	assert_int_equal(l.cfg.source[CONFIG_THREADS], CONFIG_SOURCE_ENV);
	assert_int_equal(l.cfg.redis_timeout_ms, 300);
	assert_int_equal(l.cfg.source[CONFIG_REDIS_TIMEOUT_MS], CONFIG_SOURCE_FILE);
	assert_int_equal(l.cfg.db_timeout_ms, 150);
	config_free(&l.cfg);

	load(&l, args, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.threads, 10);
	assert_int_equal(l.cfg.source[CONFIG_THREADS], CONFIG_SOURCE_FLAG);
	assert_int_equal(l.cfg.db_timeout_ms, 175);
	assert_int_equal(l.cfg.redis_timeout_ms, 300);
	config_free(&l.cfg);

	load(&l, args_space, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.threads, 11);
	config_free(&l.cfg);
	unlink(path);
	free(path);
}

/* Every invalid value names its setting and variable */
static void
test_invalid_values_name_setting(void **state)
{
	static const struct
	{
		const char *flag;
		const char *value;
		const char *expected;
	}			cases[] = {
		{"--threads", "0", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"0\""},
		{"--threads", "1025", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"1025\""},
		{"--threads", "-1", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"-1\""},
		{"--threads", "+4", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"+4\""},
		{"--threads", "", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"\""},
		{"--threads", "99999999999999999999", "invalid setting threads (QR_GATEWAY_THREADS): expected an integer from 1 to 1024, got \"99999999999999999999\""},
		{"--max-body-bytes", "67108865", "invalid setting max_body_bytes (QR_GATEWAY_MAX_BODY_BYTES): expected an integer from 1 to 67108864, got \"67108865\""},
		{"--db-timeout-ms", "0", "invalid setting db_timeout_ms (QR_GATEWAY_DB_TIMEOUT_MS): expected an integer from 1 to 600000, got \"0\""},
		{"--redis-timeout-ms", "60001", "invalid setting redis_timeout_ms (QR_GATEWAY_REDIS_TIMEOUT_MS): expected an integer from 1 to 60000, got \"60001\""},
		{"--request-timeout-ms", "1s", "invalid setting request_timeout_ms (QR_GATEWAY_REQUEST_TIMEOUT_MS): expected an integer from 1 to 3600000, got \"1s\""},
		{"--log-level", "verbose", "invalid setting log_level (QR_GATEWAY_LOG_LEVEL): expected error, warn, info or debug, got \"verbose\""},
		{"--access-log", "maybe", "invalid setting access_log (QR_GATEWAY_ACCESS_LOG): expected on or off, got \"maybe\""},
		{"--listen", "localhost:80", "invalid setting listen (QR_GATEWAY_LISTEN): expected IPv4:port or [IPv6]:port with a port from 0 to 65535, got \"localhost:80\""},
		{"--redis", "redis", "invalid setting redis (QR_GATEWAY_REDIS): expected host:port with a port from 1 to 65535, got \"redis\""},
		{"--db", "nokey", "invalid setting db (QR_GATEWAY_DB): not a valid libpq connection string: missing \"=\" after \"nokey\" in connection info string"},
		{"--db", "colour=blue", "invalid setting db (QR_GATEWAY_DB): not a valid libpq connection string: invalid connection option \"colour\""},
		{"--db-replicas", "host=a, nokey", "invalid setting db_replicas (QR_GATEWAY_DB_REPLICAS): not a valid libpq connection string: missing \"=\" after \"nokey\" in connection info string"},
		{"--db-replicas", ",host=a", "invalid setting db_replicas (QR_GATEWAY_DB_REPLICAS): entry 1 is empty"},
	};
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_flag_error(cases[i].flag, cases[i].value, cases[i].expected);
}

/* listen takes IPv4:port or [IPv6]:port, port 0 included */
static void
test_listen_addresses(void **state)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:8x", "256.0.0.1:80", "::1:80", "[::1]80", "[::1:80", "[]:80",
		"[nothost]:80", "1.2.3.4:80:90", "example.com:80", "",
	};
	const char *args[] = {"--listen", "[::1]:0", NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		const char *a[] = {"--listen", bad[i], NULL};

		load(&l, a, env);
		if (l.rc != -1)
			fail_msg("listen \"%s\" was accepted", bad[i]);
		assert_non_null(strstr(l.err, "invalid setting listen (QR_GATEWAY_LISTEN): "));
		config_free(&l.cfg);
	}
	load(&l, args, env);
	assert_int_equal(l.rc, 0);
	assert_true(l.cfg.listen.ipv6);
	assert_string_equal(l.cfg.listen.host, "::1");
	assert_int_equal(l.cfg.listen.port, 0);
	config_free(&l.cfg);
	assert_flag_ok("--listen", "0.0.0.0:65535");
}

/* redis takes host:port with a host name, IPv4 or [IPv6] */
static void
test_redis_addresses(void **state)
{
	static const char *const bad[] = {
		"redis", "redis:0", "redis:65536", ":6379", "re dis:6379", "-redis:1",
		"redis:port", "::1:6379", "[::1]",
	};
	size_t		i;
	char		expected[256];

	(void) state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		snprintf(expected, sizeof(expected),
				 "invalid setting redis (QR_GATEWAY_REDIS): expected host:port with a "
				 "port from 1 to 65535, got \"%s\"", bad[i]);
		assert_flag_error("--redis", bad[i], expected);
	}
	assert_flag_ok("--redis", "redis.internal:6380");
	assert_flag_ok("--redis", "10.0.0.5:1");
	assert_flag_ok("--redis", "[::1]:6379");
}

/* Both libpq connection string forms are accepted */
static void
test_conninfo_forms(void **state)
{
	(void) state;
	assert_flag_ok("--db", "postgresql://user:pw@db.example:5433/qr?sslmode=disable");
	assert_flag_ok("--db", "host=a,b port=5432,5433 dbname=qr");
	assert_flag_ok("--db", "dbname='with space' password='p w'");
}

/* Replicas split on commas that start a new connection string */
static void
test_replica_list(void **state)
{
	const char *args[] = {"--db-replicas",
		" host=r1 port=5432 , host=r2,r3 port=1,2 dbname=x,postgresql://h1,h2/db ", NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;

	(void) state;
	load(&l, args, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.db_replica_count, 3);
	assert_string_equal(l.cfg.db_replicas[0], "host=r1 port=5432");
	assert_string_equal(l.cfg.db_replicas[1], "host=r2,r3 port=1,2 dbname=x");
	assert_string_equal(l.cfg.db_replicas[2], "postgresql://h1,h2/db");
	config_free(&l.cfg);
}

/* Load one flag and return the rate limit it set */
static struct config_rate
load_rate(const char *value, enum rate_scope scope)
{
	const char *args[] = {"--rate-leaderboard", value, NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct config_rate rate;
	struct loaded l;

	load(&l, args, env);
	if (l.rc != 0)
		fail_msg("%s: %s", value, l.err);
	rate = l.cfg.rate[scope];
	config_free(&l.cfg);
	return rate;
}

/* Rate limits: the defaults of DESIGN §5, units, burst, concurrency, and refusals */
static void
test_rates(void **state)
{
	static const char *const bad[] = {
		"", "10", "10/", "10/m", "10/min,", "10/min,burst=", "10/min,burst=0", "0/min",
		"-1/min", "10/min,concurrent=2,burst=1", "10/min,burst=2x", "10/min burst=2",
		"1000000001/s", "10/min,size=3", "10/day", NULL
	};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct config_rate r;
	struct loaded l;

	(void) state;
	load(&l, NULL, env);
	assert_int_equal(l.rc, 0);
	assert_true(l.cfg.rate_limits);
	assert_float_equal(l.cfg.rate[RATE_PREMIUM].per_second, 1000.0 / 60, 1e-9);
	assert_int_equal(l.cfg.rate[RATE_PREMIUM].burst, 100);
	assert_int_equal(l.cfg.rate[RATE_PREMIUM].concurrent, 50);
	assert_int_equal(l.cfg.rate[RATE_AUTHENTICATED].concurrent, 10);
	assert_float_equal(l.cfg.rate[RATE_ANONYMOUS].per_second, 1.0, 1e-9);
	assert_int_equal(l.cfg.rate[RATE_ANONYMOUS].concurrent, 5);
	assert_int_equal(l.cfg.rate[RATE_LOGIN].burst, 3);
	assert_int_equal(l.cfg.rate[RATE_LOGIN].concurrent, 0);
	assert_float_equal(l.cfg.rate[RATE_PLAY].per_second, 5.0 / 60, 1e-9);
	assert_int_equal(l.cfg.rate[RATE_EVENTS].burst, 20);
	assert_int_equal(l.cfg.cache_ttl_s[CACHE_REALTIME], 30);
	assert_int_equal(l.cfg.cache_ttl_s[CACHE_COMPUTED], 600);
	assert_float_equal(l.cfg.cache_beta[CACHE_STATIC], 1.0, 1e-9);
	assert_int_equal(l.cfg.breaker_failures, 5);
	assert_int_equal(l.cfg.breaker_open_ms, 60000);
	config_free(&l.cfg);

	r = load_rate("7/s", RATE_LEADERBOARD);
	assert_float_equal(r.per_second, 7.0, 1e-9);
	assert_int_equal(r.burst, 1);
	assert_int_equal(r.concurrent, 0);
	r = load_rate("3600/h,burst=5,concurrent=2", RATE_LEADERBOARD);
	assert_float_equal(r.per_second, 1.0, 1e-9);
	assert_int_equal(r.burst, 5);
	assert_int_equal(r.concurrent, 2);
	r = load_rate("90/min,concurrent=0", RATE_LEADERBOARD);
	assert_float_equal(r.per_second, 1.5, 1e-9);
	for (int i = 0; bad[i] != NULL; i++)
	{
		const char *a[] = {"--rate-leaderboard", bad[i], NULL};

		load(&l, a, env);
		if (l.rc == 0)
			fail_msg("accepted rate \"%s\"", bad[i]);
		assert_non_null(strstr(l.err, "invalid setting rate_leaderboard (QR_GATEWAY_RATE_LEADERBOARD)"));
		config_free(&l.cfg);
	}
}

/* XFetch betas are decimals */
static void
test_betas(void **state)
{
	(void) state;
	assert_flag_ok("--cache-beta-realtime", "0");
	assert_flag_ok("--cache-beta-realtime", "2.5");
	assert_flag_error("--cache-beta-realtime", "1e2",
					  "invalid setting cache_beta_realtime (QR_GATEWAY_CACHE_BETA_REALTIME): "
					  "expected a decimal from 0 to 100, got \"1e2\"");
	assert_flag_error("--cache-beta-realtime", "-1",
					  "invalid setting cache_beta_realtime (QR_GATEWAY_CACHE_BETA_REALTIME): "
					  "expected a decimal from 0 to 100, got \"-1\"");
	assert_flag_error("--cache-beta-realtime", "101",
					  "invalid setting cache_beta_realtime (QR_GATEWAY_CACHE_BETA_REALTIME): "
					  "expected a decimal from 0 to 100, got \"101\"");
	assert_flag_error("--cache-beta-realtime", "nan",
					  "invalid setting cache_beta_realtime (QR_GATEWAY_CACHE_BETA_REALTIME): "
					  "expected a decimal from 0 to 100, got \"nan\"");
}

/* access_log takes on/off spellings; log_level its four names */
static void
test_bool_and_levels(void **state)
{
	static const char *const yes[] = {"on", "ON", "true", "yes", "1"};
	static const char *const no[] = {"off", "False", "no", "0"};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;
	size_t		i;

	(void) state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
	{
		const char *a[] = {"--access-log", yes[i], NULL};

		load(&l, a, env);
		assert_int_equal(l.rc, 0);
		assert_true(l.cfg.access_log);
		config_free(&l.cfg);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
	{
		const char *a[] = {"--access-log", no[i], NULL};

		load(&l, a, env);
		assert_int_equal(l.rc, 0);
		assert_false(l.cfg.access_log);
		config_free(&l.cfg);
	}
	assert_flag_ok("--log-level", "error");
	assert_flag_ok("--log-level", "warn");
}

/* An empty environment variable is a value, and here a bad one */
static void
test_empty_env_is_invalid(void **state)
{
	const char *env[] = {DB_OK, SECRET_OK, "QR_GATEWAY_THREADS=", NULL};
	struct loaded l;

	(void) state;
	load(&l, NULL, env);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, "invalid setting threads (QR_GATEWAY_THREADS): "
						"expected an integer from 1 to 1024, got \"\"");
	config_free(&l.cfg);
}

/* Unknown options, stray arguments and missing values are refused */
static void
test_bad_options(void **state)
{
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	const char *unknown[] = {"--x", NULL};
	const char *unknown_eq[] = {"--nope=1", NULL};
	const char *positional[] = {"serve", NULL};
	const char *missing[] = {"--threads", NULL};
	struct loaded l;

	(void) state;
	load(&l, unknown, env);
	assert_int_equal(l.rc, -1);
	assert_string_equal(l.err, "unknown option --x (see --help)");
	config_free(&l.cfg);
	load(&l, unknown_eq, env);
	assert_string_equal(l.err, "unknown option --nope (see --help)");
	config_free(&l.cfg);
	load(&l, positional, env);
	assert_string_equal(l.err, "unexpected argument \"serve\" (see --help)");
	config_free(&l.cfg);
	load(&l, missing, env);
	assert_string_equal(l.err, "option --threads needs a value (see --help)");
	config_free(&l.cfg);
}

/* --help and --version need no settings; --check-config validates them */
static void
test_actions(void **state)
{
	const char *help[] = {"--threads=1", "--help", "--bogus", NULL};
	const char *version[] = {"--version", NULL};
	const char *check[] = {"--check-config", NULL};
	const char *env[] = {DB_OK, SECRET_OK, NULL};
	struct loaded l;

	(void) state;
	/* help and version need no valid settings */
	load(&l, help, NULL);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.action, CONFIG_ACTION_HELP);
	config_free(&l.cfg);
	load(&l, version, NULL);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.action, CONFIG_ACTION_VERSION);
	config_free(&l.cfg);
	load(&l, check, NULL);
	assert_int_equal(l.rc, -1);
	config_free(&l.cfg);
	load(&l, check, env);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.cfg.action, CONFIG_ACTION_CHECK);
	config_free(&l.cfg);
}

/* --check-config shows every setting and its source, secrets masked */
static void
test_check_config_masks_secrets(void **state)
{
	const char *env[] = {"QR_GATEWAY_DB=host=/tmp user=qr password=hunter2 dbname=qr",
		"QR_GATEWAY_JWT_SECRET=0123456789abcdef0123456789abcdef",
	"QR_GATEWAY_DB_REPLICAS=postgresql://u:topsecret@r1/qr", NULL};
	const char *args[] = {"--check-config", "--threads", "4", NULL};
	struct loaded l;
	char	   *out = NULL;
	size_t		len = 0;
	FILE	   *f;

	(void) state;
	load(&l, args, env);
	assert_int_equal(l.rc, 0);
	f = open_memstream(&out, &len);
	config_print(&l.cfg, f);
	fclose(f);
	assert_null(strstr(out, "hunter2"));
	assert_null(strstr(out, "topsecret"));
	assert_null(strstr(out, "0123456789abcdef"));
	assert_non_null(strstr(out, "listen = 127.0.0.1:8080 (default)\n"));
	assert_non_null(strstr(out, "db = \"user='qr' password='********' dbname='qr' host='/tmp'\" (env)\n"));
	assert_non_null(strstr(out, "db_replicas = \"user='u' password='********' dbname='qr' host='r1'\" (env)\n"));
	assert_non_null(strstr(out, "jwt_secret = ******** (env)\n"));
	assert_non_null(strstr(out, "threads = 4 (flag)\n"));
	assert_non_null(strstr(out, "access_log = on (default)\n"));
	free(out);
	config_free(&l.cfg);
}

/* Run the tests; TAP output with CMOCKA_MESSAGE_OUTPUT=TAP */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_required_missing),
		cmocka_unit_test(test_short_secret),
		cmocka_unit_test(test_file_parsing),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_value_error_names_line),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_invalid_values_name_setting),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_redis_addresses),
		cmocka_unit_test(test_conninfo_forms),
		cmocka_unit_test(test_replica_list),
		cmocka_unit_test(test_bool_and_levels),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_betas),
		cmocka_unit_test(test_empty_env_is_invalid),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_check_config_masks_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
