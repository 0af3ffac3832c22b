/*
 * server.c
 *		Starting and stopping civetweb, and each worker thread's own state.
 *
 * Start and stop run in the main thread. Each worker thread owns one struct
 * worker (its Postgres and Redis connections), made by the start hook and
 * freed by the exit hook; the stop flag and in-flight count are atomics.
 */
#include "server.h"

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "breaker.h"
#include "cache.h"
#include "changes.h"
#include "db.h"
#include "deadline.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "redis.h"
#include "replicas.h"
#include "request.h"
#include "respond.h"
#include "stream.h"

/* civetweb's thread_type of the threads that serve connections */
#define CIVETWEB_WORKER_THREAD 1
/* mg_check_feature bit of IPv6 support */
#define CIVETWEB_FEATURE_IPV6 8

#define KEEP_ALIVE_TIMEOUT_MS "5000"
#define MAX_REQUEST_HEADER_BYTES "16384"
#define DRAIN_POLL_NS 10000000L
#define STOP_WAKE_NS 20000000L

struct server
{
	struct mg_context *ctx;
	const struct config *cfg;
	struct replica_set *replicas;	/* NULL without replicas */
	struct changes *changes;	/* the leaderboard change poller */
	struct cache *cache;		/* NULL when caching is off */
	struct breaker pg_breaker;	/* calls to the primary */
	struct breaker redis_breaker;	/* calls to Redis */
	struct ratelimit *ratelimit;	/* NULL when limits are off */
	atomic_bool stopping;		/* new requests get 503, answers close */
	atomic_int	in_flight;		/* requests inside request_handle */
	atomic_flag first_message_taken;
	char		first_message[256];	/* civetweb's first complaint, why a start failed */
};

/*
 * Every request, from civetweb's begin_request callback: the pipeline,
 * counted for the drain. A callback set before civetweb starts, unlike a
 * request handler registered once mg_start2 has returned, is in place for
 * the first connection: a request that arrived in between would otherwise
 * get civetweb's own 404. Returns the status (> 0: civetweb does nothing more).
 */
static int
server_begin_request(struct mg_connection *conn)
{
	struct server *srv = mg_get_user_data(mg_get_context(conn));
	int			status;

	atomic_fetch_add(&srv->in_flight, 1);
	status = request_handle(conn, srv->cfg, &srv->stopping);
	atomic_fetch_sub(&srv->in_flight, 1);
	return status > 0 ? status : 500;
}

/* Spreads the workers' first reads over the replicas */
static atomic_uint next_replica_turn;

/* Give a new worker thread its own, not yet connected, connections */
static void *
server_init_thread(const struct mg_context *ctx, int thread_type)
{
	struct server *srv = mg_get_user_data(ctx);
	const struct config *cfg = srv->cfg;
	struct worker *w;

	if (thread_type != CIVETWEB_WORKER_THREAD)
		return NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
	{
		log_event(LOG_ERROR, "out of memory starting a worker thread", NULL);
		return NULL;
	}
	w->db = db_conn_create(cfg->db, cfg->db_timeout_ms);
	w->cache = srv->cache;
	w->changes = srv->changes;
	w->ratelimit = srv->ratelimit;
	w->metrics = metrics_shard_new();
	w->pg_breaker = &srv->pg_breaker;
	db_conn_set_breaker(w->db, w->pg_breaker);
	w->redis = redis_conn_create(cfg->redis.host, cfg->redis.port,
								 cfg->redis_timeout_ms);
	redis_conn_set_breaker(w->redis, &srv->redis_breaker);
	if (srv->replicas != NULL &&
		(w->replica_db = calloc(cfg->db_replica_count, sizeof(struct db_conn *))) != NULL)
	{
		w->replicas = srv->replicas;
		for (size_t i = 0; i < cfg->db_replica_count; i++)
			w->replica_db[i] = db_conn_create(cfg->db_replicas[i], cfg->db_timeout_ms);
		w->replica_turn = (unsigned) atomic_fetch_add(&next_replica_turn, 1);
	}
	return w;
}

/* Close a finished worker thread's connections */
static void
server_exit_thread(const struct mg_context *ctx, int thread_type, void *thread_pointer)
{
	struct worker *w = thread_pointer;

	(void) ctx;
	if (thread_type != CIVETWEB_WORKER_THREAD || w == NULL)
		return;
	db_conn_destroy(w->db);
	redis_conn_destroy(w->redis);
	for (size_t i = 0; w->replica_db != NULL && i < replica_set_count(w->replicas); i++)
		db_conn_destroy(w->replica_db[i]);
	free(w->replica_db);
	free(w);
}

/* Write civetweb's own messages into the JSON log; keep the first one */
static int
server_log_message(const struct mg_connection *conn, const char *message)
{
	struct server *srv = conn ? mg_get_user_data(mg_get_context(conn)) : NULL;
	size_t		len = strlen(message);
	struct json_buf msg;

	while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == '\r'))
		len--;
	if (srv != NULL && !atomic_flag_test_and_set(&srv->first_message_taken))
		snprintf(srv->first_message, sizeof(srv->first_message), "%.*s", (int) len, message);
	json_buf_init(&msg);
	json_buf_append(&msg, message, len);
	log_event(LOG_ERROR, json_buf_text(&msg), "\"source\":\"civetweb\"");
	json_buf_free(&msg);
	return 1;
}

/*
 * Make civetweb's own error answers JSON envelopes too; its wording, never
 * sent to clients, goes to the log
 */
static int
server_http_error(struct mg_connection *conn, int status, const char *errmsg)
{
	struct json_buf fields;

	json_buf_init(&fields);
	json_buf_printf(&fields, "\"status\":%d,\"reason\":", status);
	json_buf_cstring(&fields, errmsg != NULL ? errmsg : "");
	log_event(LOG_INFO, "request refused before routing", json_buf_text(&fields));
	json_buf_free(&fields);
	respond_early_error(conn, status);
	return 0;
}

/* Run mg_start2 with the gateway's options; NULL with the reason in err */
static struct mg_context *
server_start_civetweb(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;
	char		ports[300];
	char		threads[16];
	char		request_timeout[16];
	const char *options[] = {
		"listening_ports", ports,
		"num_threads", threads,
		"enable_keep_alive", "yes",
		"tcp_nodelay", "1",
		"request_timeout_ms", request_timeout,
		"keep_alive_timeout_ms", KEEP_ALIVE_TIMEOUT_MS,
		"max_request_size", MAX_REQUEST_HEADER_BYTES,
		"decode_url", "no",
		"access_control_allow_origin", "",
		NULL
	};
	struct mg_callbacks callbacks;
	struct mg_init_data init;
	struct mg_error_data error;
	unsigned	error_code = 0;

	config_format_address(&cfg->listen, ports, sizeof(ports));
	snprintf(threads, sizeof(threads), "%d", cfg->threads);
	snprintf(request_timeout, sizeof(request_timeout), "%d", cfg->request_timeout_ms);
	memset(&callbacks, 0, sizeof(callbacks));
	callbacks.init_thread = server_init_thread;
	callbacks.exit_thread = server_exit_thread;
	callbacks.log_message = server_log_message;
	callbacks.http_error = server_http_error;
	callbacks.begin_request = server_begin_request;
	init.callbacks = &callbacks;
	init.user_data = srv;
	init.configuration_options = options;
	error.code = &error_code;
	error.text = err;
	error.text_buffer_size = errlen;
	return mg_start2(&init, &error);
}

/* Log a circuit breaker's change of state (called under its lock) */
static void
server_log_breaker(const struct breaker *b, enum breaker_state from, enum breaker_state to,
				   void *arg)
{
	char		fields[128];

	(void) arg;
	snprintf(fields, sizeof(fields), "\"breaker\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"",
			 b->name, breaker_state_name(from), breaker_state_name(to));
	log_event(to == BREAKER_CLOSED ? LOG_INFO : LOG_WARN, "circuit breaker state changed", fields);
}

/* Append one breaker's state and transition counters */
static void
server_breaker_metrics(struct json_buf *out, struct breaker *b)
{
	static const char *const names[] = {"breaker"};
	static const char *const tnames[] = {"breaker", "from", "to"};
	static const char *const moves[BREAKER_N_TRANSITIONS][2] = {
		{"closed", "open"}, {"open", "half_open"}, {"half_open", "closed"}, {"half_open", "open"}
	};
	uint64_t	counts[BREAKER_N_TRANSITIONS];
	const char *values[3] = {b->name, NULL, NULL};

	metrics_append_sample(out, "qr_gateway_breaker_state", names, values, 1,
						  breaker_state(b, monotonic_ms()));
	breaker_transitions(b, counts);
	for (int i = 0; i < BREAKER_N_TRANSITIONS; i++)
	{
		values[1] = moves[i][0];
		values[2] = moves[i][1];
		metrics_append_sample(out, "qr_gateway_breaker_transitions_total", tnames, values, 3,
							  (double) counts[i]);
	}
}

/* The gauges of /metrics: breakers, connections, streams, the cache, the poller */
static void
server_metrics(struct json_buf *out, void *arg)
{
	struct server *srv = arg;

	json_buf_puts(out, "# HELP qr_gateway_breaker_state Circuit breaker state: 0 closed, 1 open, 2 half-open.\n"
				  "# TYPE qr_gateway_breaker_state gauge\n");
	json_buf_puts(out, "# HELP qr_gateway_breaker_transitions_total Circuit breaker state changes.\n"
				  "# TYPE qr_gateway_breaker_transitions_total counter\n");
	server_breaker_metrics(out, &srv->pg_breaker);
	server_breaker_metrics(out, &srv->redis_breaker);
	json_buf_printf(out, "# HELP qr_gateway_requests_in_flight Requests being served.\n"
					"# TYPE qr_gateway_requests_in_flight gauge\nqr_gateway_requests_in_flight %d\n"
					"# HELP qr_gateway_db_connections Open Postgres connections.\n"
					"# TYPE qr_gateway_db_connections gauge\nqr_gateway_db_connections %d\n"
					"# HELP qr_gateway_redis_connections Open Redis connections.\n"
					"# TYPE qr_gateway_redis_connections gauge\nqr_gateway_redis_connections %d\n"
					"# HELP qr_gateway_stream_clients Open live leaderboard streams.\n"
					"# TYPE qr_gateway_stream_clients gauge\nqr_gateway_stream_clients %d\n"
					"# HELP qr_gateway_change_poller_up Whether the last poll of leaderboard changes worked.\n"
					"# TYPE qr_gateway_change_poller_up gauge\nqr_gateway_change_poller_up %d\n",
					atomic_load(&srv->in_flight), db_open_connections(), redis_open_connections(),
					stream_clients(), changes_polling(srv->changes) ? 1 : 0);
}

/* Start what the workers share: breakers, replica monitors, change poller, cache */
static bool
server_start_shared(struct server *srv, char *err, size_t errlen)
{
	const struct config *cfg = srv->cfg;

	breaker_init(&srv->pg_breaker, "postgres", cfg->breaker_failures, cfg->breaker_open_ms,
				 cfg->breaker_probe_ms, server_log_breaker, NULL);
	breaker_init(&srv->redis_breaker, "redis", cfg->breaker_failures, cfg->breaker_open_ms,
				 cfg->breaker_probe_ms, server_log_breaker, NULL);

	srv->replicas = replica_set_start(cfg, err, errlen);
	if (err[0] != '\0' || (srv->changes = changes_start(cfg, err, errlen)) == NULL)
		return false;
	if ((cfg->cache && (srv->cache = cache_new(cfg, srv->changes)) == NULL) ||
		(cfg->rate_limits && (srv->ratelimit = ratelimit_new(cfg)) == NULL) ||
		!metrics_add_source(server_metrics, srv))
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	return true;
}

/* Stop what server_start_shared started (any part may be missing) */
static void
server_stop_shared(struct server *srv)
{
	metrics_shutdown();
	stream_shutdown();
	ratelimit_free(srv->ratelimit);
	cache_free(srv->cache);
	changes_stop(srv->changes);
	replica_set_stop(srv->replicas);
	breaker_destroy(&srv->redis_breaker);
	breaker_destroy(&srv->pg_breaker);
}

/*
 * Start civetweb on the listen address with every request going to the
 * pipeline (server_begin_request), so that every answer is the gateway's
 * JSON. No document_root: civetweb never serves files. Returns NULL with the
 * reason in err.
 */
struct server *
server_start(const struct config *cfg, char *err, size_t errlen)
{
	struct server *srv;

	err[0] = '\0';
	if (cfg->listen.ipv6 && !mg_check_feature(CIVETWEB_FEATURE_IPV6))
	{
		snprintf(err, errlen, "this civetweb build has no IPv6 support; use an IPv4 address");
		return NULL;
	}
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->cfg = cfg;
	if (!server_start_shared(srv, err, errlen))
	{
		server_stop_shared(srv);
		free(srv);
		return NULL;
	}
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->in_flight, 0);
	atomic_flag_clear(&srv->first_message_taken);
	mg_init_library(0);
	if ((srv->ctx = server_start_civetweb(srv, err, errlen)) == NULL)
	{
		if (srv->first_message[0] != '\0')
			snprintf(err, errlen, "%s", srv->first_message);
		mg_exit_library();
		server_stop_shared(srv);
		free(srv);
		return NULL;
	}
	return srv;
}

/* The address actually listened on (the real port when listen asked for 0) */
void
server_address(const struct server *srv, char *out, size_t outlen)
{
	struct mg_server_port port;
	struct config_address addr = srv->cfg->listen;

	if (mg_get_server_ports(srv->ctx, 1, &port) == 1)
		addr.port = port.port;
	config_format_address(&addr, out, outlen);
}

/* mg_stop in a thread of its own, so that server_stop can wake civetweb meanwhile */
struct stopper
{
	struct mg_context *ctx;
	atomic_bool done;
};

static void *
stopper_main(void *arg)
{
	struct stopper *st = arg;

	mg_stop(st->ctx);
	atomic_store(&st->done, true);
	return NULL;
}

/*
 * Open a connection to the listening socket and drop it at once. civetweb's
 * master thread waits for connections in poll() for up to 2 s at a time and
 * sees that it is to stop only when poll returns: without a connection every
 * stop would last that long.
 */
static void
wake_listener(const struct config_address *listen, int port)
{
	struct addrinfo hints;
	struct addrinfo *res;
	char		service[16];
	const char *host = listen->host;
	int			fd;

	if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	if (getaddrinfo(host, service, &hints, &res) != 0)
		return;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0)
	{
		(void) connect(fd, res->ai_addr, res->ai_addrlen);
		close(fd);
	}
	freeaddrinfo(res);
}

/*
 * Stop civetweb: mg_stop runs in a thread of its own while this one wakes
 * the listener every STOP_WAKE_NS until it has returned.
 */
static void
server_stop_civetweb(struct server *srv)
{
	struct stopper st = {.ctx = srv->ctx};
	struct mg_server_port port;
	struct timespec pause = {0, STOP_WAKE_NS};
	pthread_t	thread;

	atomic_init(&st.done, false);
	if (mg_get_server_ports(srv->ctx, 1, &port) != 1 ||
		pthread_create(&thread, NULL, stopper_main, &st) != 0)
	{
		mg_stop(srv->ctx);
		return;
	}
	while (!atomic_load(&st.done))
	{
		wake_listener(&srv->cfg->listen, port.port);
		nanosleep(&pause, NULL);
	}
	pthread_join(thread, NULL);
}

/*
 * Let the requests in flight finish, then stop civetweb and free everything.
 * civetweb drops any answer written after mg_stop begins, so the drain comes
 * first; meanwhile new requests get a 503 and every answer closes its
 * connection. The wait is bounded by the longest a request may take.
 */
void
server_stop(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct deadline limit = deadline_in(cfg->request_timeout_ms +
										cfg->db_timeout_ms + cfg->redis_timeout_ms);
	struct timespec pause = {0, DRAIN_POLL_NS};

	atomic_store(&srv->stopping, true);
	while (atomic_load(&srv->in_flight) > 0 && deadline_ms_left(&limit) > 0)
		nanosleep(&pause, NULL);
	server_stop_civetweb(srv);
	mg_exit_library();
	server_stop_shared(srv);
	free(srv);
}
