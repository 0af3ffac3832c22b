/*
 * replicas.c
 *		Read replicas: which ones may serve a read right now.
 *
 * Each replica has a monitor thread with two connections of its own, one to
 * the primary and one to the replica. Every replica_check_ms it samples the
 * primary's WAL position, then asks the replica whether it is a hot standby
 * and how far it has replayed. From the primary's samples (lsn.c) the lag
 * is a time: a replica that has replayed what the primary had at time t
 * holds every commit made before t. A replica is usable when it answered,
 * is in recovery and lags at most replica_max_lag_ms.
 *
 * The replay position a probe saw is a lower bound for every later read,
 * since replay only moves forward: a read that must see a write at LSN w
 * (read-your-writes) may use a replica whose known position is >= w.
 *
 * When the primary cannot be sampled, the lag is measured against its last
 * sample: a replica that had replayed everything the primary had then keeps
 * serving reads while the primary is away.
 */
#include "replicas.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "deadline.h"
#include "log.h"
#include "lsn.h"

enum replica_state
{
	REPLICA_UNKNOWN,			/* not probed yet */
	REPLICA_OK,
	REPLICA_LAGGING,			/* further behind than replica_max_lag_ms */
	REPLICA_DOWN,				/* no answer, or a read on it failed */
	REPLICA_NOT_STANDBY			/* answers, but is not in recovery */
};

static const char *const state_names[] = {"unknown", "ok", "lagging", "down", "not_standby"};

struct replica
{
	struct replica_set *set;
	int			index;
	atomic_int	state;			/* enum replica_state */
	atomic_uint_least64_t replayed; /* a lower bound of its replay position */
	atomic_int_least64_t lag_ms;	/* -1 when unknown */

	/* the monitor thread's own */
	struct db_conn *primary;
	struct db_conn *standby;
	struct lsn_history history;
	char		reason[64];		/* why it is not usable, for the log */
	pthread_t	thread;
	bool		started;
};

struct replica_set
{
	int			check_ms;
	int			max_lag_ms;
	size_t		count;
	struct replica *replicas;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool		stopping;		/* under lock */
};

/* Run one probe query on c; the result, or NULL with r->reason set */
static PGresult *
probe(struct replica *r, struct db_conn *c, const char *what, const char *sql)
{
	struct db_result result;
	enum db_status status = db_query(c, sql, 0, NULL, &result);

	if (status == DB_OK && PQntuples(result.res) == 1 && !PQgetisnull(result.res, 0, 0))
		return result.res;
	if (status == DB_SQL_ERROR)
		snprintf(r->reason, sizeof(r->reason), "%s: SQLSTATE %s", what, result.sqlstate);
	else
		snprintf(r->reason, sizeof(r->reason), "%s: %s", what,
				 status == DB_OK ? "no answer" : db_status_name(status));
	PQclear(result.res);
	return NULL;
}

/* Sample the primary's position; without an answer the history stays as it was */
static void
sample_primary(struct replica *r)
{
	PGresult   *res = probe(r, r->primary, "primary", "SELECT pg_current_wal_lsn()::text");
	uint64_t	lsn;

	if (res != NULL && lsn_parse(PQgetvalue(res, 0, 0), &lsn))
		lsn_history_add(&r->history, monotonic_ms(), lsn);
	PQclear(res);
}

/* Ask the replica where its replay is and judge it */
static enum replica_state
probe_standby(struct replica *r)
{
	PGresult   *res = probe(r, r->standby, "replica",
							"SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text");
	enum replica_state state;
	uint64_t	replayed;
	int64_t		lag;

	if (res == NULL)
		return REPLICA_DOWN;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		state = REPLICA_NOT_STANDBY;
	else if (PQgetisnull(res, 0, 1) || !lsn_parse(PQgetvalue(res, 0, 1), &replayed))
	{
		snprintf(r->reason, sizeof(r->reason), "replica: no WAL replayed yet");
		state = REPLICA_DOWN;
	}
	else
	{
		lag = lsn_history_lag_ms(&r->history, replayed);
		atomic_store(&r->replayed, replayed);
		atomic_store(&r->lag_ms, lag);
		state = (lag >= 0 && lag <= r->set->max_lag_ms) ? REPLICA_OK : REPLICA_LAGGING;
		if (state == REPLICA_LAGGING)
			snprintf(r->reason, sizeof(r->reason), lag < 0 ?
					 "behind every sample of the primary" : "lag over replica_max_lag_ms");
	}
	PQclear(res);
	return state;
}

/* Log a replica's change of state */
static void
log_transition(const struct replica *r, enum replica_state from, enum replica_state to)
{
	char		fields[256];
	int			len;

	len = snprintf(fields, sizeof(fields), "\"replica\":%d,\"from\":\"%s\",\"to\":\"%s\"",
				   r->index, state_names[from], state_names[to]);
	if (to != REPLICA_OK)
		snprintf(fields + len, sizeof(fields) - len, ",\"reason\":\"%s\"", r->reason);
	log_event(to == REPLICA_OK ? LOG_INFO : LOG_WARN, "read replica state changed", fields);
}

/* Sleep until the next probe is due; false once the set is stopping */
static bool
wait_next_probe(struct replica_set *set, int64_t due_ms)
{
	int64_t		left = due_ms - monotonic_ms();
	struct timespec until = realtime_in(left > 0 ? (int) left : 0);
	bool		stopping;

	pthread_mutex_lock(&set->lock);
	while (!set->stopping && monotonic_ms() < due_ms)
		if (pthread_cond_timedwait(&set->wake, &set->lock, &until) != 0)
			break;
	stopping = set->stopping;
	pthread_mutex_unlock(&set->lock);
	return !stopping;
}

/* The monitor thread of one replica */
static void *
monitor_main(void *arg)
{
	struct replica *r = arg;
	enum replica_state before;
	enum replica_state after;
	int64_t		due;

	do
	{
		due = monotonic_ms() + r->set->check_ms;
		sample_primary(r);
		after = probe_standby(r);
		if (after == REPLICA_DOWN || after == REPLICA_NOT_STANDBY)
			atomic_store(&r->lag_ms, -1);
		before = atomic_exchange(&r->state, after);
		if (before != after)
			log_transition(r, before, after);
	} while (wait_next_probe(r->set, due));
	return NULL;
}

/* Free the set; its monitor threads must have stopped */
static void
replica_set_free(struct replica_set *set)
{
	for (size_t i = 0; i < set->count; i++)
	{
		db_conn_destroy(set->replicas[i].primary);
		db_conn_destroy(set->replicas[i].standby);
	}
	pthread_cond_destroy(&set->wake);
	pthread_mutex_destroy(&set->lock);
	free(set->replicas);
	free(set);
}

/*
 * Start a monitor per configured replica. NULL when none are configured,
 * or, with the reason in err, when the set could not be made.
 */
struct replica_set *
replica_set_start(const struct config *cfg, char *err, size_t errlen)
{
	struct replica_set *set;
	struct replica *r;

	err[0] = '\0';
	if (cfg->db_replica_count == 0)
		return NULL;
	if ((set = calloc(1, sizeof(*set))) == NULL ||
		(set->replicas = calloc(cfg->db_replica_count, sizeof(struct replica))) == NULL)
	{
		free(set);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	set->check_ms = cfg->replica_check_ms;
	set->max_lag_ms = cfg->replica_max_lag_ms;
	set->count = cfg->db_replica_count;
	pthread_mutex_init(&set->lock, NULL);
	pthread_cond_init(&set->wake, NULL);
	for (size_t i = 0; i < set->count; i++)
	{
		r = &set->replicas[i];
		r->set = set;
		r->index = (int) i;
		atomic_init(&r->state, REPLICA_UNKNOWN);
		atomic_init(&r->replayed, 0);
		atomic_init(&r->lag_ms, -1);
		r->primary = db_conn_create(cfg->db, cfg->db_timeout_ms);
		r->standby = db_conn_create(cfg->db_replicas[i], cfg->db_timeout_ms);
		db_conn_set_quiet(r->primary);
		db_conn_set_quiet(r->standby);
		if (r->primary == NULL || r->standby == NULL ||
			pthread_create(&r->thread, NULL, monitor_main, r) != 0)
		{
			snprintf(err, errlen, "cannot start the monitor of read replica %zu", i);
			replica_set_stop(set);
			return NULL;
		}
		r->started = true;
	}
	return set;
}

/* Stop the monitors (a probe in progress ends within its deadline) and free the set */
void
replica_set_stop(struct replica_set *set)
{
	if (set == NULL)
		return;
	pthread_mutex_lock(&set->lock);
	set->stopping = true;
	pthread_cond_broadcast(&set->wake);
	pthread_mutex_unlock(&set->lock);
	for (size_t i = 0; i < set->count; i++)
		if (set->replicas[i].started)
			pthread_join(set->replicas[i].thread, NULL);
	replica_set_free(set);
}

/* How many replicas are configured (0 for no set) */
size_t
replica_set_count(const struct replica_set *set)
{
	return set ? set->count : 0;
}

/*
 * A usable replica known to have replayed min_lsn, taking turns from *turn
 * (the caller's own counter); -1 when there is none and the primary must
 * serve the read.
 */
int
replica_pick(struct replica_set *set, uint64_t min_lsn, unsigned *turn)
{
	struct replica *r;
	size_t		i;

	for (size_t k = 0; set != NULL && k < set->count; k++)
	{
		i = (*turn + k) % set->count;
		r = &set->replicas[i];
		if (atomic_load(&r->state) == REPLICA_OK && atomic_load(&r->replayed) >= min_lsn)
		{
			*turn = (unsigned) i + 1;
			return (int) i;
		}
	}
	return -1;
}

/* A read on the replica failed: skip it until its monitor has seen it well again */
void
replica_mark_down(struct replica_set *set, int index)
{
	struct replica *r = &set->replicas[index];
	int			expected = REPLICA_OK;
	char		fields[32];

	if (atomic_compare_exchange_strong(&r->state, &expected, REPLICA_DOWN))
	{
		snprintf(fields, sizeof(fields), "\"replica\":%d", index);
		log_event(LOG_WARN, "read replica skipped after a failed read", fields);
	}
}

/* Append [{"state":…,"lag_ms":…,"replayed":…},…] */
void
replica_set_describe(const struct replica_set *set, struct json_buf *out)
{
	char		lsn[LSN_TEXT_SIZE];
	const struct replica *r;

	json_buf_puts(out, "[");
	for (size_t i = 0; i < replica_set_count(set); i++)
	{
		r = &set->replicas[i];
		lsn_format(atomic_load(&r->replayed), lsn);
		json_buf_printf(out, "%s{\"state\":\"%s\",\"lag_ms\":", i ? "," : "",
						state_names[atomic_load(&r->state)]);
		if (atomic_load(&r->lag_ms) < 0)
			json_buf_puts(out, "null");
		else
			json_buf_printf(out, "%lld", (long long) atomic_load(&r->lag_ms));
		json_buf_printf(out, ",\"replayed\":\"%s\"}", lsn);
	}
	json_buf_puts(out, "]");
}
