/*
 * config.h
 *		The gateway's settings: defaults < config file < environment < flags.
 *
 * Loaded once by the main thread before any other thread starts; read-only
 * afterwards, so any thread may read it without locking.
 */
#ifndef QR_GATEWAY_CONFIG_H
#define QR_GATEWAY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

enum config_setting
{
	CONFIG_LISTEN,
	CONFIG_DB,
	CONFIG_DB_REPLICAS,
	CONFIG_REPLICA_MAX_LAG_MS,
	CONFIG_REPLICA_CHECK_MS,
	CONFIG_REDIS,
	CONFIG_JWT_SECRET,
	CONFIG_CONFIG,
	CONFIG_THREADS,
	CONFIG_MAX_BODY_BYTES,
	CONFIG_DB_TIMEOUT_MS,
	CONFIG_REDIS_TIMEOUT_MS,
	CONFIG_REQUEST_TIMEOUT_MS,
	CONFIG_LOG_LEVEL,
	CONFIG_ACCESS_LOG,
	CONFIG_SLOW_REQUEST_MS,
	CONFIG_CACHE,
	CONFIG_CACHE_TTL_STATIC_S,
	CONFIG_CACHE_TTL_FREQUENT_S,
	CONFIG_CACHE_TTL_REALTIME_S,
	CONFIG_CACHE_TTL_COMPUTED_S,
	CONFIG_CACHE_BETA_STATIC,
	CONFIG_CACHE_BETA_FREQUENT,
	CONFIG_CACHE_BETA_REALTIME,
	CONFIG_CACHE_BETA_COMPUTED,
	CONFIG_CACHE_STALE_S,
	CONFIG_CACHE_LOCK_MS,
	CONFIG_CACHE_MEMORY_MB,
	CONFIG_RATE_LIMITS,
	CONFIG_RATE_PREMIUM,
	CONFIG_RATE_AUTHENTICATED,
	CONFIG_RATE_ANONYMOUS,
	CONFIG_RATE_LOGIN,
	CONFIG_RATE_LEADERBOARD,
	CONFIG_RATE_PLAY,
	CONFIG_RATE_EVENTS,
	CONFIG_BREAKER_FAILURES,
	CONFIG_BREAKER_OPEN_MS,
	CONFIG_BREAKER_PROBE_MS,
	CONFIG_CHANGE_POLL_MS,
	CONFIG_STREAM_MAX_CLIENTS,
	CONFIG_STREAM_INTERVAL_MS,
	CONFIG_STREAM_HEARTBEAT_MS,
	CONFIG_SETTING_COUNT
};

enum config_source
{
	CONFIG_SOURCE_DEFAULT,
	CONFIG_SOURCE_FILE,
	CONFIG_SOURCE_ENV,
	CONFIG_SOURCE_FLAG
};

/* What the command line asked for */
enum config_action
{
	CONFIG_ACTION_RUN,
	CONFIG_ACTION_HELP,
	CONFIG_ACTION_VERSION,
	CONFIG_ACTION_CHECK
};

/* host:port; host holds an IPv6 address without its brackets */
struct config_address
{
	char		host[256];
	int			port;
	bool		ipv6;
};

/* A rate limit: requests per second on average, at most burst at once, and
 * at most concurrent in flight (0: no cap) */
struct config_rate
{
	double		per_second;
	int			burst;
	int			concurrent;
};

/* The cache classes of DESIGN §5, in this order everywhere */
enum cache_class
{
	CACHE_STATIC,
	CACHE_FREQUENT,
	CACHE_REALTIME,
	CACHE_COMPUTED,
	CACHE_CLASS_COUNT
};

/* The rate limits: one per tier, then one per limited endpoint */
enum rate_scope
{
	RATE_PREMIUM,
	RATE_AUTHENTICATED,
	RATE_ANONYMOUS,
	RATE_LOGIN,
	RATE_LEADERBOARD,
	RATE_PLAY,
	RATE_EVENTS,
	RATE_SCOPE_COUNT
};

struct config
{
	enum config_action action;

	/* every setting's text as given (owned, NULL when unset) and its source */
	char	   *text[CONFIG_SETTING_COUNT];
	enum config_source source[CONFIG_SETTING_COUNT];
	int			file_line[CONFIG_SETTING_COUNT];

	/* the parsed values; strings point into text[] */
	struct config_address listen;
	const char *db;
	char	  **db_replicas;	/* one conninfo each; owned */
	size_t		db_replica_count;
	int			replica_max_lag_ms;
	int			replica_check_ms;
	struct config_address redis;
	const char *jwt_secret;
	const char *config_path;
	int			threads;
	int			max_body_bytes;
	int			db_timeout_ms;
	int			redis_timeout_ms;
	int			request_timeout_ms;
	enum log_level log_level;
	bool		access_log;
	int			slow_request_ms;
	bool		cache;
	int			cache_ttl_s[CACHE_CLASS_COUNT];
	double		cache_beta[CACHE_CLASS_COUNT];
	int			cache_stale_s;
	int			cache_lock_ms;
	int			cache_memory_mb;
	bool		rate_limits;
	struct config_rate rate[RATE_SCOPE_COUNT];
	int			breaker_failures;
	int			breaker_open_ms;
	int			breaker_probe_ms;
	int			change_poll_ms;
	int			stream_max_clients;
	int			stream_interval_ms;
	int			stream_heartbeat_ms;
};

extern int	config_load(struct config *cfg, int argc, char **argv, char **envp,
						char *err, size_t errlen);
extern void config_free(struct config *cfg);
extern void config_usage(FILE *out);
extern void config_print(const struct config *cfg, FILE *out);
extern void config_format_address(const struct config_address *addr,
								  char *out, size_t outlen);

#endif
