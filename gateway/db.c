/*
 * db.c
 *		Postgres access with a deadline on every call, connecting included.
 *
 * One struct db_conn per worker thread, never shared. Cancel requests run in
 * short-lived detached threads (at most DB_MAX_CANCELS at once), because
 * PQcancel blocks without a deadline when the server itself is hung.
 */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "deadline.h"
#include "json.h"
#include "log.h"
#include "lsn.h"

#define DB_MAX_CANCELS 8

struct db_conn
{
	const char *conninfo;
	int			timeout_ms;
	bool		quiet;			/* the caller logs failures itself */
	struct breaker *breaker;	/* guards every call; NULL for none */
	PGconn	   *conn;			/* NULL until connected, and after a failure */
};

/* Asks, after a write commits, where the primary's WAL now ends */
#define DB_LSN_SQL "SELECT pg_current_wal_insert_lsn()::text"


static atomic_int cancels_in_flight;
static atomic_int open_connections;	/* over every db_conn, for metrics */

/* Make an unconnected handle; the connection is opened on first use */
struct db_conn *
db_conn_create(const char *conninfo, int timeout_ms)
{
	struct db_conn *dc = calloc(1, sizeof(*dc));

	if (dc == NULL)
		return NULL;
	dc->conninfo = conninfo;
	dc->timeout_ms = timeout_ms;
	return dc;
}

/* Guard every call of this connection with a (shared) circuit breaker */
void
db_conn_set_breaker(struct db_conn *dc, struct breaker *breaker)
{
	if (dc != NULL)
		dc->breaker = breaker;
}

/* Leave logging of this connection's failures to its caller */
void
db_conn_set_quiet(struct db_conn *dc)
{
	if (dc != NULL)
		dc->quiet = true;
}

/* Close the connection, if any, and free the handle */
void
db_conn_destroy(struct db_conn *dc)
{
	if (dc == NULL)
		return;
	if (dc->conn != NULL)
		atomic_fetch_sub(&open_connections, 1);
	PQfinish(dc->conn);
	free(dc);
}

/* How many Postgres connections the process has open */
int
db_open_connections(void)
{
	return atomic_load(&open_connections);
}

/* The name of a status as it appears in logs and answers */
const char *
db_status_name(enum db_status status)
{
	static const char *const names[] = {"ok", "timeout", "unavailable", "sql_error",
	"circuit_open"};

	return names[status];
}

/* Log a Postgres problem with libpq's text (never sent to clients) */
static void
log_db_problem(const char *msg, const char *detail)
{
	struct json_buf fields;
	size_t		len = detail ? strlen(detail) : 0;

	while (len > 0 && (detail[len - 1] == '\n' || detail[len - 1] == ' '))
		len--;
	json_buf_init(&fields);
	json_buf_puts(&fields, "\"error\":");
	json_buf_string(&fields, detail ? detail : "", len);
	log_event(LOG_WARN, msg, json_buf_text(&fields));
	json_buf_free(&fields);
}

/* Route the server's notices into the log instead of stderr */
static void
log_notice(void *arg, const char *message)
{
	(void) arg;
	log_db_problem("postgres notice", message);
}

/* Send a cancel request for one backend, then exit */
static void *
cancel_thread_main(void *arg)
{
	PGcancel   *cancel = arg;
	char		errbuf[256];

	if (!PQcancel(cancel, errbuf, sizeof(errbuf)))
		log_db_problem("postgres cancel request failed", errbuf);
	PQfreeCancel(cancel);
	atomic_fetch_sub(&cancels_in_flight, 1);
	return NULL;
}

/* Ask the server to cancel what the connection runs, without waiting */
static void
cancel_in_background(PGconn *conn)
{
	pthread_attr_t attr;
	pthread_t	thread;
	PGcancel   *cancel;

	if (atomic_fetch_add(&cancels_in_flight, 1) >= DB_MAX_CANCELS)
	{
		atomic_fetch_sub(&cancels_in_flight, 1);
		log_event(LOG_WARN, "too many postgres cancel requests pending; one skipped", NULL);
		return;
	}
	cancel = PQgetCancel(conn);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (cancel == NULL ||
		pthread_create(&thread, &attr, cancel_thread_main, cancel) != 0)
	{
		PQfreeCancel(cancel);
		atomic_fetch_sub(&cancels_in_flight, 1);
		log_event(LOG_WARN, "could not send a postgres cancel request", NULL);
	}
	pthread_attr_destroy(&attr);
}

/* Close the connection after a failure; a timed-out call is cancelled first */
static void
db_drop(struct db_conn *dc, enum db_status why)
{
	if (why == DB_TIMEOUT)
	{
		if (!dc->quiet)
			log_event(LOG_WARN, "postgres call timed out; connection dropped", NULL);
		cancel_in_background(dc->conn);
	}
	else if (!dc->quiet)
		log_db_problem("postgres connection lost", PQerrorMessage(dc->conn));
	PQfinish(dc->conn);
	dc->conn = NULL;
	atomic_fetch_sub(&open_connections, 1);
}

/* Wait for the socket to be ready for events, or the deadline */
static enum db_status
wait_socket(PGconn *conn, short events, const struct deadline *deadline)
{
	struct pollfd pfd;
	int			rc;

	pfd.fd = PQsocket(conn);
	pfd.events = events;
	if (pfd.fd < 0)
		return DB_UNAVAILABLE;
	for (;;)
	{
		rc = poll(&pfd, 1, deadline_ms_left(deadline));
		if (rc > 0)
			return DB_OK;
		if (rc == 0)
			return DB_TIMEOUT;
		if (errno != EINTR)
			return DB_UNAVAILABLE;
	}
}

/* Open the connection with PQconnectPoll, within the deadline */
static enum db_status
db_connect(struct db_conn *dc, const struct deadline *deadline)
{
	const char *const keywords[] = {"dbname", "fallback_application_name", NULL};
	const char *const values[] = {dc->conninfo, "qr_gateway", NULL};
	PostgresPollingStatusType state = PGRES_POLLING_WRITING;
	enum db_status status;
	PGconn	   *conn;

	if ((conn = PQconnectStartParams(keywords, values, 1)) == NULL)
		return DB_UNAVAILABLE;
	while (state != PGRES_POLLING_OK)
	{
		if (state == PGRES_POLLING_FAILED || PQstatus(conn) == CONNECTION_BAD)
		{
			if (!dc->quiet)
				log_db_problem("cannot connect to postgres", PQerrorMessage(conn));
			PQfinish(conn);
			return DB_UNAVAILABLE;
		}
		status = wait_socket(conn, state == PGRES_POLLING_WRITING ? POLLOUT : POLLIN,
							 deadline);
		if (status != DB_OK)
		{
			if (!dc->quiet)
				log_event(LOG_WARN, status == DB_TIMEOUT ?
						  "connecting to postgres timed out" : "cannot connect to postgres",
						  NULL);
			PQfinish(conn);
			return status;
		}
		state = PQconnectPoll(conn);
	}
	PQsetNoticeProcessor(conn, log_notice, NULL);
	if (PQsetnonblocking(conn, 1) != 0)
	{
		PQfinish(conn);
		return DB_UNAVAILABLE;
	}
	dc->conn = conn;
	atomic_fetch_add(&open_connections, 1);
	return DB_OK;
}

/*
 * Whether an idle connection is still usable. The server says nothing
 * unasked to an idle connection of ours unless it is going away: a restart
 * or an idle session timeout leaves a goodbye message or EOF to read (libpq
 * would buffer the message and still call the connection OK). Anything
 * readable drops the connection, so the call reconnects instead of failing.
 */
static bool
db_idle_ok(PGconn *conn)
{
	struct pollfd pfd;

	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	return pfd.fd >= 0 && poll(&pfd, 1, 0) == 0;
}

/*
 * Send the statement and flush it out within the deadline. With want_lsn
 * the LSN query follows it in the same pipeline, each in its own
 * transaction: one round trip, and the LSN is read after the commit.
 */
static enum db_status
db_send(PGconn *conn, const char *sql, int nparams, const char *const *params,
		bool want_lsn, const struct deadline *deadline)
{
	enum db_status status;
	int			pending;

	if (want_lsn)
	{
		if (!PQenterPipelineMode(conn) ||
			!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) ||
			!PQpipelineSync(conn) ||
			!PQsendQueryParams(conn, DB_LSN_SQL, 0, NULL, NULL, NULL, NULL, 0) ||
			!PQpipelineSync(conn))
			return DB_UNAVAILABLE;
	}
	else if (!PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0))
		return DB_UNAVAILABLE;
	while ((pending = PQflush(conn)) == 1)
	{
		if ((status = wait_socket(conn, POLLIN | POLLOUT, deadline)) != DB_OK)
			return status;
		if (!PQconsumeInput(conn))
			return DB_UNAVAILABLE;
	}
	return pending == 0 ? DB_OK : DB_UNAVAILABLE;
}

/* Wait, within the deadline, until PQgetResult will not block; then call it */
static enum db_status
db_next_result(PGconn *conn, const struct deadline *deadline, PGresult **res)
{
	enum db_status status;

	*res = NULL;
	while (PQisBusy(conn))
	{
		if ((status = wait_socket(conn, POLLIN, deadline)) != DB_OK)
			return status;
		if (!PQconsumeInput(conn))
			return DB_UNAVAILABLE;
	}
	*res = PQgetResult(conn);
	return DB_OK;
}

/* Copies an error field of res into out, cut at a UTF-8 character boundary */
static void
copy_field(const PGresult *res, int field, char *out, size_t size)
{
	const char *text = PQresultErrorField(res, field);
	size_t		len = text ? strlen(text) : 0;

	if (len >= size)
	{
		len = size - 1;
		while (len > 0 && ((unsigned char) text[len] & 0xC0) == 0x80)
			len--;
	}
	if (len > 0)
		memcpy(out, text, len);
	out[len] = '\0';
}

/* Keep the first result, or the SQLSTATE and messages of the first error */
static void
db_take_result(const struct db_conn *dc, PGresult *res, struct db_result *result,
			   bool *failed)
{
	const char *state;

	if (*failed || result->res != NULL)
	{
		PQclear(res);
		return;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
	{
		result->res = res;
		return;
	}
	*failed = true;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state != NULL)
		strncpy(result->sqlstate, state, sizeof(result->sqlstate) - 1);
	copy_field(res, PG_DIAG_MESSAGE_PRIMARY, result->message, sizeof(result->message));
	copy_field(res, PG_DIAG_MESSAGE_HINT, result->hint, sizeof(result->hint));
	if (!dc->quiet)
		log_db_problem("postgres statement failed", PQresultErrorMessage(res));
	PQclear(res);
}

/* Read every result of the statement within the deadline */
static enum db_status
db_collect(const struct db_conn *dc, const struct deadline *deadline,
		   struct db_result *result)
{
	enum db_status status;
	PGresult   *res;
	bool		failed = false;

	for (;;)
	{
		if ((status = db_next_result(dc->conn, deadline, &res)) != DB_OK)
			return status;
		if (res == NULL)
			break;
		db_take_result(dc, res, result, &failed);
	}
	if (PQstatus(dc->conn) != CONNECTION_OK || (failed && result->sqlstate[0] == '\0'))
		return DB_UNAVAILABLE;
	return failed ? DB_SQL_ERROR : DB_OK;
}

/* Read the next result, which must be a pipeline's sync point */
static enum db_status
db_expect_sync(PGconn *conn, const struct deadline *deadline)
{
	enum db_status status;
	PGresult   *res;
	bool		sync;

	if ((status = db_next_result(conn, deadline, &res)) != DB_OK)
		return status;
	sync = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
	PQclear(res);
	return sync ? DB_OK : DB_UNAVAILABLE;
}

/*
 * After the statement's results: its sync point, the LSN query's answer
 * into *lsn (0 when it had none), its sync point, and out of pipeline mode.
 */
static enum db_status
db_collect_lsn(PGconn *conn, const struct deadline *deadline, uint64_t *lsn)
{
	enum db_status status;
	PGresult   *res;

	*lsn = 0;
	if ((status = db_expect_sync(conn, deadline)) != DB_OK)
		return status;
	for (;;)
	{
		if ((status = db_next_result(conn, deadline, &res)) != DB_OK)
			return status;
		if (res == NULL)
			break;
		if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
			!lsn_parse(PQgetvalue(res, 0, 0), lsn))
			*lsn = 0;
		PQclear(res);
	}
	if ((status = db_expect_sync(conn, deadline)) != DB_OK)
		return status;
	return PQexitPipelineMode(conn) ? DB_OK : DB_UNAVAILABLE;
}

/*
 * Run one statement with text parameters, connecting first if needed, all
 * within the connection's deadline; with lsn, also read where the WAL ends
 * once it has committed (0 when that could not be read). On DB_OK
 * result->res holds the result. On a timeout or a broken connection the
 * connection is dropped (and the statement cancelled); the next call
 * reconnects.
 */
static enum db_status
db_run(struct db_conn *dc, const char *sql, int nparams, const char *const *params,
	   struct db_result *result, uint64_t *lsn)
{
	struct deadline deadline;
	enum db_status status;

	memset(result, 0, sizeof(*result));
	if (lsn != NULL)
		*lsn = 0;
	if (dc == NULL)
		return DB_UNAVAILABLE;
	deadline = deadline_in(dc->timeout_ms);
	if (dc->conn != NULL && !db_idle_ok(dc->conn))
		db_drop(dc, DB_UNAVAILABLE);
	if (dc->conn == NULL && (status = db_connect(dc, &deadline)) != DB_OK)
		return status;
	status = db_send(dc->conn, sql, nparams, params, lsn != NULL, &deadline);
	if (status == DB_OK)
		status = db_collect(dc, &deadline, result);
	if (lsn != NULL && (status == DB_OK || status == DB_SQL_ERROR))
	{
		enum db_status tail = db_collect_lsn(dc->conn, &deadline, lsn);

		if (tail != DB_OK)
			status = tail;
	}
	if (status == DB_TIMEOUT || status == DB_UNAVAILABLE)
	{
		PQclear(result->res);
		result->res = NULL;
		db_drop(dc, status);
	}
	return status;
}

/*
 * Whether a call's outcome says the server is in trouble: no answer, or a
 * refusal of class 08 (connection), 53 (resources), 57P (shutting down,
 * starting) or 58 (system). Errors a statement causes are answers.
 */
static bool
db_failed(enum db_status status, const struct db_result *result)
{
	if (status == DB_TIMEOUT || status == DB_UNAVAILABLE)
		return true;
	return status == DB_SQL_ERROR &&
		(strncmp(result->sqlstate, "08", 2) == 0 || strncmp(result->sqlstate, "53", 2) == 0 ||
		 strncmp(result->sqlstate, "57P", 3) == 0 || strncmp(result->sqlstate, "58", 2) == 0);
}

/* db_run behind the connection's circuit breaker, if any */
static enum db_status
db_guarded(struct db_conn *dc, const char *sql, int nparams, const char *const *params,
		   struct db_result *result, uint64_t *lsn)
{
	struct breaker_ticket ticket;
	enum db_status status;

	if (dc == NULL || dc->breaker == NULL)
		return db_run(dc, sql, nparams, params, result, lsn);
	ticket = breaker_admit(dc->breaker, monotonic_ms());
	if (ticket.kind == BREAKER_DENIED)
	{
		memset(result, 0, sizeof(*result));
		if (lsn != NULL)
			*lsn = 0;
		return DB_CIRCUIT_OPEN;
	}
	status = db_run(dc, sql, nparams, params, result, lsn);
	breaker_report(dc->breaker, ticket, !db_failed(status, result), monotonic_ms());
	return status;
}

/* Run one statement; see db_run */
enum db_status
db_query(struct db_conn *dc, const char *sql, int nparams,
		 const char *const *params, struct db_result *result)
{
	return db_guarded(dc, sql, nparams, params, result, NULL);
}

/* SELECT 1 past the breaker: readiness asks the server itself */
enum db_status
db_ping(struct db_conn *dc)
{
	struct db_result result;
	enum db_status status = db_run(dc, "SELECT 1", 0, NULL, &result, NULL);

	PQclear(result.res);
	return status;
}

/*
 * Run one write statement and learn the primary's WAL position after its
 * commit: a replica that has replayed *lsn shows the write.
 */
enum db_status
db_query_lsn(struct db_conn *dc, const char *sql, int nparams,
			 const char *const *params, struct db_result *result, uint64_t *lsn)
{
	return db_guarded(dc, sql, nparams, params, result, lsn);
}
