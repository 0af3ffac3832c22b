/*
 * db.h
 *		Postgres access with a deadline on every call, connecting included.
 *
 * One struct db_conn per worker thread, never shared: created empty by the
 * thread's start hook, connected on first use, dropped after any failure and
 * reconnected on the next call.
 */
#ifndef QR_GATEWAY_DB_H
#define QR_GATEWAY_DB_H

#include <stdint.h>

#include <libpq-fe.h>

enum db_status
{
	DB_OK,
	DB_TIMEOUT,					/* the deadline passed; the call was cancelled */
	DB_UNAVAILABLE,				/* cannot connect, or the connection broke */
	DB_SQL_ERROR,				/* the server refused the statement (SQLSTATE) */
	DB_CIRCUIT_OPEN				/* not tried: the circuit breaker is open */
};

#define DB_MESSAGE_SIZE 512

struct db_result
{
	PGresult   *res;			/* when DB_OK; the caller PQclear()s it */
	char		sqlstate[6];	/* when DB_SQL_ERROR */
	char		message[DB_MESSAGE_SIZE];	/* its primary message, cut to fit */
	char		hint[DB_MESSAGE_SIZE];	/* its hint, "" when none */
};

struct db_conn;
struct breaker;

extern struct db_conn *db_conn_create(const char *conninfo, int timeout_ms);
extern void db_conn_set_quiet(struct db_conn *dc);
extern void db_conn_set_breaker(struct db_conn *dc, struct breaker *breaker);
extern void db_conn_destroy(struct db_conn *dc);
extern enum db_status db_query(struct db_conn *dc, const char *sql, int nparams,
							   const char *const *params, struct db_result *result);
extern enum db_status db_query_lsn(struct db_conn *dc, const char *sql, int nparams,
								   const char *const *params, struct db_result *result,
								   uint64_t *lsn);
extern enum db_status db_ping(struct db_conn *dc);
extern int	db_open_connections(void);
extern const char *db_status_name(enum db_status status);

#endif
