/*
 * stream.c
 *		GET /api/games/{id}/leaderboard/stream: live leaderboards as
 *		Server-Sent Events.
 *
 * A stream sends `retry:`, then the game's top page as a
 * `leaderboard-updated` event, and another each time the change poller
 * (changes.c) sees a new version of the game, at most one per
 * stream_interval_ms (changes in between are coalesced into the next), and
 * a comment line every stream_heartbeat_ms when there is nothing to send,
 * which also finds clients that went away. The page of a version is
 * computed once, by the first stream that needs it, and shared by the
 * others (a single flight under one mutex). At most stream_max_clients
 * streams (and never more than half the worker threads) run at once; more
 * get 503. Streams end when the gateway shuts down.
 */
#include "stream.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "changes.h"
#include "db.h"
#include "deadline.h"
#include "handlers.h"
#include "json.h"
#include "query.h"
#include "respond.h"
#include "server.h"

#define STREAM_DEFAULT_LIMIT 10
#define STREAM_MAX_LIMIT 100
#define STREAM_SLICE_MS 250		/* how often a waiting stream checks for shutdown */
#define STREAM_MAX_PAGES 1024	/* shared pages kept, over all games and sizes */
#define PAGE_SQL \
	"SELECT r->'data', qr_event.leaderboard_version($1::bigint)" \
	" FROM qr_event.http_leaderboard(NULL, jsonb_build_object('id', $1::text, 'limit', $2::text), NULL) AS r"

/* The last page computed for a game and size, shared by its streams */
struct page
{
	int64_t		game_id;
	int			limit;
	int64_t		version;		/* -1 before the first */
	char	   *event;			/* the whole event text, NULL before the first */
	bool		computing;
	struct page *next;
};

static void forget_page(struct page *p);

static pthread_mutex_t pages_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pages_done = PTHREAD_COND_INITIALIZER;
static struct page *pages;		/* newest first */
static int	page_count;
static atomic_int clients;

/* Free the shared pages (at shutdown, once no stream runs) */
void
stream_shutdown(void)
{
	pthread_mutex_lock(&pages_lock);
	while (pages != NULL)
		forget_page(pages);
	pthread_mutex_unlock(&pages_lock);
}

/* How many streams are open */
int
stream_clients(void)
{
	return atomic_load(&clients);
}

/* Unlink and free a page (lock held) */
static void
forget_page(struct page *p)
{
	struct page **at = &pages;

	while (*at != p)
		at = &(*at)->next;
	*at = p->next;
	free(p->event);
	free(p);
	page_count--;
}

/*
 * The shared page of a game and size (lock held); NULL when out of memory.
 * Pages of unknown games are forgotten when their computation fails; beyond
 * STREAM_MAX_PAGES the oldest idle page goes.
 */
static struct page *
page_of(int64_t game_id, int limit)
{
	struct page *p;
	struct page *oldest = NULL;

	for (p = pages; p != NULL; p = p->next)
	{
		if (p->game_id == game_id && p->limit == limit)
			return p;
		if (!p->computing)
			oldest = p;
	}
	if (page_count >= STREAM_MAX_PAGES && oldest != NULL)
		forget_page(oldest);
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	page_count++;
	p->game_id = game_id;
	p->limit = limit;
	p->version = -1;
	p->next = pages;
	pages = p;
	return p;
}

/* Query the top page and its version and format the event; NULL on failure */
static char *
compute_event(struct request *rq, int64_t game_id, int limit, int64_t *version,
			  enum db_status *status, struct db_result *result)
{
	char		id[24];
	char		lim[16];
	const char *values[2] = {id, lim};
	struct json_buf ev;
	char	   *text = NULL;

	snprintf(id, sizeof(id), "%" PRId64, game_id);
	snprintf(lim, sizeof(lim), "%d", limit);
	*status = db_query(rq->worker ? rq->worker->db : NULL, PAGE_SQL, 2, values, result);
	if (*status != DB_OK || PQntuples(result->res) != 1 || PQgetisnull(result->res, 0, 0))
		return NULL;
	*version = strtoll(PQgetvalue(result->res, 0, 1), NULL, 10);
	json_buf_init(&ev);
	json_buf_printf(&ev, "event: leaderboard-updated\nid: %" PRId64 "\n"
					"data: {\"game_id\":%" PRId64 ",\"version\":%" PRId64 ",\"entries\":",
					*version, game_id, *version);
	json_buf_puts(&ev, PQgetvalue(result->res, 0, 0));
	json_buf_puts(&ev, "}\n\n");
	if (!ev.failed)
		text = strdup(json_buf_text(&ev));
	json_buf_free(&ev);
	return text;
}

/*
 * The event of the game's page at version `wanted` or later: the shared one
 * when it is recent enough, else computed by this stream (the others wait).
 * A copy for the caller to free, or NULL with the failure in *status.
 */
static char *
current_event(struct request *rq, int64_t game_id, int limit, int64_t wanted,
			  int64_t *version, enum db_status *status, struct db_result *result)
{
	struct page *p;
	char	   *text = NULL;

	memset(result, 0, sizeof(*result));
	*status = DB_OK;
	pthread_mutex_lock(&pages_lock);
	for (;;)
	{
		/* found again after every wait: a failed computation forgets its page */
		if ((p = page_of(game_id, limit)) == NULL)
		{
			pthread_mutex_unlock(&pages_lock);
			*status = DB_UNAVAILABLE;
			return NULL;
		}
		if (!p->computing)
			break;
		pthread_cond_wait(&pages_done, &pages_lock);
	}
	if (p->event != NULL && p->version >= wanted)
	{
		*version = p->version;
		text = strdup(p->event);
		pthread_mutex_unlock(&pages_lock);
		return text;
	}
	p->computing = true;
	pthread_mutex_unlock(&pages_lock);
	text = compute_event(rq, game_id, limit, version, status, result);
	pthread_mutex_lock(&pages_lock);
	if (text != NULL && *version >= p->version)
	{
		free(p->event);
		p->event = strdup(text);
		p->version = *version;
	}
	p->computing = false;
	if (p->event == NULL)
		forget_page(p);
	pthread_cond_broadcast(&pages_done);
	pthread_mutex_unlock(&pages_lock);
	return text;
}

/* The ?limit= of the stream (1 to STREAM_MAX_LIMIT); false after answering 400 */
static bool
stream_limit(struct request *rq, int *limit)
{
	struct query_param params[QUERY_MAX_PARAMS];
	char		buf[QUERY_MAX_TEXT];
	const char *error = NULL;
	char	   *end;
	long		value;
	int			n = query_parse(mg_get_request_info(rq->conn)->query_string, params,
								QUERY_MAX_PARAMS, buf, sizeof(buf), &error);

	*limit = STREAM_DEFAULT_LIMIT;
	for (int i = 0; i < n; i++)
	{
		if (strcmp(params[i].name, "limit") != 0)
		{
			error = "the only parameter of a stream is limit";
			break;
		}
		value = strtol(params[i].value, &end, 10);
		if (params[i].value[0] < '1' || params[i].value[0] > '9' || *end != '\0' ||
			value > STREAM_MAX_LIMIT)
		{
			error = "limit must be a whole number from 1 to 100";
			break;
		}
		*limit = (int) value;
	}
	if (n >= 0 && error == NULL)
		return true;
	respond_error_code(rq, API_ERROR_BAD_REQUEST, error);
	return false;
}

/* Send the status line and headers of an event stream */
static void
send_stream_headers(struct request *rq)
{
	rq->responded = true;
	rq->status = 200;
	mg_printf(rq->conn, "HTTP/1.1 200 OK\r\n"
			  "Content-Type: text/event-stream; charset=utf-8\r\n"
			  "Cache-Control: no-store\r\n"
			  "X-Accel-Buffering: no\r\n"
			  "X-Request-Id: %s\r\n"
			  "Connection: close\r\n\r\n"
			  "retry: 2000\n\n", rq->id);
	mg_disable_connection_keep_alive(rq->conn);
}

/* Write text to the client; false when it went away */
static bool
send_text(struct request *rq, const char *text)
{
	size_t		len = strlen(text);

	if (mg_write(rq->conn, text, len) != (int) len)
		return false;
	rq->bytes += len;
	return true;
}

/* Sleep ms milliseconds */
static void
pause_ms(int64_t ms)
{
	struct timespec pause = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&pause, NULL);
}

/*
 * The streaming loop: events as versions change, at most one per
 * stream_interval_ms (a newer version waits out the interval asleep, and
 * what comes meanwhile is folded into it), heartbeats in between
 */
static void
stream_loop(struct request *rq, struct changes *ch, int64_t game_id, int limit, int64_t sent)
{
	const struct config *cfg = rq->cfg;
	int64_t		last_write = monotonic_ms();
	int64_t		last_event = last_write;
	int64_t		early;
	int64_t		version;
	struct db_result result;
	enum db_status status;
	char	   *event;

	while (!atomic_load(rq->stopping))
	{
		early = cfg->stream_interval_ms - (monotonic_ms() - last_event);
		if (early > 0 && changes_version(ch, game_id) > sent)
			pause_ms(early < STREAM_SLICE_MS ? early : STREAM_SLICE_MS);
		else
			changes_wait(ch, game_id, sent, STREAM_SLICE_MS);
		version = changes_version(ch, game_id);
		if (version > sent && monotonic_ms() - last_event >= cfg->stream_interval_ms)
		{
			event = current_event(rq, game_id, limit, version, &version, &status, &result);
			PQclear(result.res);
			if (event != NULL)
			{
				if (!send_text(rq, event))
				{
					free(event);
					return;
				}
				sent = version;
				last_event = last_write = monotonic_ms();
			}
			free(event);
		}
		if (monotonic_ms() - last_write >= cfg->stream_heartbeat_ms)
		{
			if (!send_text(rq, ": heartbeat\n\n"))
				return;
			last_write = monotonic_ms();
		}
	}
}

/* GET /api/games/{id}/leaderboard/stream */
void
handle_leaderboard_stream(struct request *rq)
{
	const struct config *cfg = rq->cfg;
	struct changes *ch = rq->worker ? rq->worker->changes : NULL;
	int64_t		game_id = rq->match.params[0].id;
	int			cap = cfg->stream_max_clients < cfg->threads / 2 ?
		cfg->stream_max_clients : cfg->threads / 2;
	struct db_result result;
	enum db_status status;
	int64_t		version = 0;
	char	   *event;
	int			limit;

	if (!stream_limit(rq, &limit))
		return;
	if (ch == NULL || atomic_fetch_add(&clients, 1) >= cap)
	{
		if (ch != NULL)
			atomic_fetch_sub(&clients, 1);
		respond_error_code(rq, API_ERROR_SERVICE_UNAVAILABLE, "too many live streams; retry later");
		return;
	}
	event = current_event(rq, game_id, limit, changes_version(ch, game_id), &version,
						  &status, &result);
	if (event == NULL)
		api_respond_db_failure(rq, status == DB_OK ? DB_UNAVAILABLE : status, &result);
	else
	{
		send_stream_headers(rq);
		if (send_text(rq, event))
			stream_loop(rq, ch, game_id, limit, version);
	}
	free(event);
	PQclear(result.res);
	atomic_fetch_sub(&clients, 1);
}
