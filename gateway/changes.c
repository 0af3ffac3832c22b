/*
 * changes.c
 *		The leaderboard change signal, polled once per gateway.
 *
 * qr_event.leaderboard_changes(since) answers the games whose ranking was
 * changed by transactions not visible in the snapshot since, with their
 * versions, and the snapshot to pass next time: exact, and cheap when
 * nothing changed. One thread calls it every change_poll_ms and keeps the
 * highest version seen per game. The cache treats an answer computed at an
 * older version as invalid; a live stream waits here for the next version.
 * A game the poller never reported has not changed since the gateway
 * started; its version then is read once from the primary (changes_learn),
 * since answers cached in Redis by other gateways may be older.
 * When Postgres is away the snapshot is kept, so the next poll that works
 * reports every change made meanwhile.
 */
#include "changes.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "deadline.h"
#include "log.h"

#define CHANGES_SQL \
	"SELECT game_id, version, next_since::text FROM qr_event.leaderboard_changes($1::pg_snapshot)"
#define SNAPSHOT_TEXT_MAX 4096

/* One game's version, in an open-addressing table keyed by game id */
struct game_version
{
	int64_t		game_id;		/* 0: empty slot */
	int64_t		version;
};

struct changes
{
	int			poll_ms;
	struct db_conn *db;			/* the poller's own */
	char		since[SNAPSHOT_TEXT_MAX];	/* "" before the first poll */
	atomic_bool polling;		/* the last poll worked */

	pthread_mutex_t lock;		/* guards what follows, with changed */
	pthread_cond_t changed;		/* broadcast when a version grows */
	pthread_rwlock_t table;		/* guards games, capacity and count; taken after lock */
	struct game_version *games;
	size_t		capacity;		/* a power of two */
	size_t		count;
	bool		stopping;
	pthread_t	thread;
};

/* The slot of game_id: where it is, or the empty slot where it would go */
static struct game_version *
find_slot(struct game_version *games, size_t capacity, int64_t game_id)
{
	size_t		i = (size_t) ((uint64_t) game_id * 0x9E3779B97F4A7C15ULL) & (capacity - 1);

	while (games[i].game_id != 0 && games[i].game_id != game_id)
		i = (i + 1) & (capacity - 1);
	return &games[i];
}

/* Double the table (lock held); false when out of memory */
static bool
grow(struct changes *ch)
{
	size_t		capacity = ch->capacity ? ch->capacity * 2 : 256;
	struct game_version *games = calloc(capacity, sizeof(*games));

	if (games == NULL)
		return false;
	for (size_t i = 0; i < ch->capacity; i++)
		if (ch->games[i].game_id != 0)
			*find_slot(games, capacity, ch->games[i].game_id) = ch->games[i];
	free(ch->games);
	ch->games = games;
	ch->capacity = capacity;
	return true;
}

/* Raise a game's version (lock held); versions never go down */
static void
raise_version(struct changes *ch, int64_t game_id, int64_t version)
{
	struct game_version *slot;

	if ((ch->count + 1) * 2 > ch->capacity && !grow(ch))
	{
		log_event(LOG_ERROR, "out of memory recording a leaderboard change", NULL);
		return;
	}
	slot = find_slot(ch->games, ch->capacity, game_id);
	if (slot->game_id == 0)
	{
		slot->game_id = game_id;
		ch->count++;
	}
	if (version > slot->version)
		slot->version = version;
}

/* One poll: record the changes and keep the next snapshot */
static void
poll_once(struct changes *ch)
{
	const char *params[1] = {ch->since[0] ? ch->since : NULL};
	struct db_result result;
	enum db_status status = db_query(ch->db, CHANGES_SQL, 1, params, &result);
	int			rows;
	bool		was = atomic_load(&ch->polling);

	atomic_store(&ch->polling, status == DB_OK);
	if (status != DB_OK)
	{
		if (was)
			log_event(LOG_WARN, "cannot poll leaderboard changes", NULL);
		PQclear(result.res);
		return;
	}
	if (!was)
		log_event(LOG_INFO, "polling leaderboard changes", NULL);
	rows = PQntuples(result.res);
	pthread_mutex_lock(&ch->lock);
	pthread_rwlock_wrlock(&ch->table);
	for (int i = 0; i < rows; i++)
		if (!PQgetisnull(result.res, i, 0))
			raise_version(ch, atoll(PQgetvalue(result.res, i, 0)),
						  atoll(PQgetvalue(result.res, i, 1)));
	pthread_rwlock_unlock(&ch->table);
	if (rows > 0 && !PQgetisnull(result.res, 0, 2))
		snprintf(ch->since, sizeof(ch->since), "%s", PQgetvalue(result.res, 0, 2));
	if (rows > 0 && !PQgetisnull(result.res, 0, 0))
		pthread_cond_broadcast(&ch->changed);
	pthread_mutex_unlock(&ch->lock);
	PQclear(result.res);
}

/* The poller thread: poll, sleep, until stopped */
static void *
poller_main(void *arg)
{
	struct changes *ch = arg;
	struct timespec until;
	bool		stopping = false;

	while (!stopping)
	{
		poll_once(ch);
		until = realtime_in(ch->poll_ms);
		pthread_mutex_lock(&ch->lock);
		while (!ch->stopping &&
			   pthread_cond_timedwait(&ch->changed, &ch->lock, &until) == 0)
			;
		stopping = ch->stopping;
		pthread_mutex_unlock(&ch->lock);
	}
	return NULL;
}

/* Start the poller; NULL with the reason in err */
struct changes *
changes_start(const struct config *cfg, char *err, size_t errlen)
{
	struct changes *ch = calloc(1, sizeof(*ch));

	if (ch == NULL || (ch->db = db_conn_create(cfg->db, cfg->db_timeout_ms)) == NULL)
	{
		free(ch);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db_conn_set_quiet(ch->db);
	ch->poll_ms = cfg->change_poll_ms;
	atomic_init(&ch->polling, true);
	pthread_mutex_init(&ch->lock, NULL);
	pthread_cond_init(&ch->changed, NULL);
	pthread_rwlock_init(&ch->table, NULL);
	if (pthread_create(&ch->thread, NULL, poller_main, ch) != 0)
	{
		snprintf(err, errlen, "cannot start the leaderboard change poller");
		pthread_rwlock_destroy(&ch->table);
		pthread_cond_destroy(&ch->changed);
		pthread_mutex_destroy(&ch->lock);
		db_conn_destroy(ch->db);
		free(ch);
		return NULL;
	}
	return ch;
}

/* Stop the poller (a poll in progress ends within its deadline) and free */
void
changes_stop(struct changes *ch)
{
	if (ch == NULL)
		return;
	pthread_mutex_lock(&ch->lock);
	ch->stopping = true;
	pthread_cond_broadcast(&ch->changed);
	pthread_mutex_unlock(&ch->lock);
	pthread_join(ch->thread, NULL);
	pthread_rwlock_destroy(&ch->table);
	pthread_cond_destroy(&ch->changed);
	pthread_mutex_destroy(&ch->lock);
	db_conn_destroy(ch->db);
	free(ch->games);
	free(ch);
}

/*
 * A game's version into *version (0 when none) and whether the game is in
 * the table (rdlock taken here; the caller may hold lock)
 */
static bool
read_version(struct changes *ch, int64_t game_id, int64_t *version)
{
	struct game_version *slot;
	bool		known = false;

	*version = 0;
	pthread_rwlock_rdlock(&ch->table);
	if (ch->capacity > 0 && (slot = find_slot(ch->games, ch->capacity, game_id))->game_id != 0)
	{
		known = true;
		*version = slot->version;
	}
	pthread_rwlock_unlock(&ch->table);
	return known;
}

/* The highest version seen for a game; 0 when it has not changed */
int64_t
changes_version(struct changes *ch, int64_t game_id)
{
	int64_t		version = 0;

	if (ch != NULL && game_id > 0)
		read_version(ch, game_id, &version);
	return version;
}

/*
 * The version of a game this gateway knows of, false when it knows none:
 * neither a poll reported the game nor changes_learn was told its version
 */
bool
changes_known(struct changes *ch, int64_t game_id, int64_t *version)
{
	*version = 0;
	if (ch == NULL || game_id <= 0)
		return true;
	return read_version(ch, game_id, version);
}

/*
 * Record a game's version read from the primary (leaderboard_version): a
 * gateway that started after the game's last change knows it from then on
 */
void
changes_learn(struct changes *ch, int64_t game_id, int64_t version)
{
	if (ch == NULL || game_id <= 0)
		return;
	pthread_rwlock_wrlock(&ch->table);
	raise_version(ch, game_id, version);
	pthread_rwlock_unlock(&ch->table);
}

/*
 * Wait until the game's version is above seen, at most timeout_ms or until
 * the poller stops; returns the version then
 */
int64_t
changes_wait(struct changes *ch, int64_t game_id, int64_t seen, int timeout_ms)
{
	struct timespec until = realtime_in(timeout_ms);
	int64_t		version = 0;

	pthread_mutex_lock(&ch->lock);
	for (;;)
	{
		read_version(ch, game_id, &version);
		if (version > seen || ch->stopping ||
			pthread_cond_timedwait(&ch->changed, &ch->lock, &until) != 0)
			break;
	}
	pthread_mutex_unlock(&ch->lock);
	return version;
}

/* Whether the last poll worked */
bool
changes_polling(struct changes *ch)
{
	return ch != NULL && atomic_load(&ch->polling);
}
