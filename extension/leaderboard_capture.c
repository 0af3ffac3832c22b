/*
 * leaderboard_capture.c
 *		The write path of the rank structure: qr_event.leaderboard_capture(),
 *		the row-level AFTER trigger of qr_event.game_participations.
 *
 * For each row whose completed score changed, the trigger appends -1 for the
 * old completed (game_id, total_score) and +1 for the new one to
 * qr_event.leaderboard_deltas, through plans prepared once per backend.  No
 * row is updated, so concurrent writers of one game never wait for each
 * other.  The trigger's WHEN clauses keep rows that change no completed score
 * (an update of updated_at only) from reaching this function at all.
 *
 * With probability (deltas appended to the game) /
 * qr_event.leaderboard_compact_every a row marks its game due for compaction;
 * the statement-level AFTER trigger (the same function) then compacts the due
 * games once each, after the statement's rows.  Compaction thus costs every
 * delta the same on average, pending deltas stay around that many per game,
 * and a bulk statement compacts a game once, at its end, instead of folding
 * its own uncommitted deltas over and over.
 *
 * The SQL function is SECURITY DEFINER: the deltas table is the extension
 * owner's, and writers such as qr_gateway_role hold no privilege on it.  Its
 * search_path is pinned, and the statements below qualify every name anyway.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "guc.h"

PG_FUNCTION_INFO_V1(qr_event_leaderboard_capture);

static const char *const append_one_sql =
"INSERT INTO qr_event.leaderboard_deltas (game_id, score, delta) VALUES ($1, $2, $3)";

static const char *const append_two_sql =
"INSERT INTO qr_event.leaderboard_deltas (game_id, score, delta)"
" VALUES ($1, $2, $3), ($4, $5, $6)";

static const char *const game_exists_sql =
"SELECT 1 FROM qr_event.games WHERE id OPERATOR(pg_catalog.=) $1";

static const char *const compact_sql =
"SELECT qr_event.leaderboard_compact($1)";

static SPIPlanPtr append_one_plan;
static SPIPlanPtr append_two_plan;
static SPIPlanPtr game_exists_plan;
static SPIPlanPtr compact_plan;

/*
 * Games due for compaction at the end of the current statement, in
 * TopTransactionContext; forgotten when the transaction ends.
 */
static List *due_games = NIL;
static bool xact_callback_registered = false;

/* A row's part in the ranking */
typedef struct CapturedRow
{
	bool		completed;
	int64		game_id;
	int64		score;
} CapturedRow;

static SPIPlanPtr
prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

static void
prepare_plans(void)
{
	Oid			types[6] = {INT8OID, INT8OID, INT4OID, INT8OID, INT8OID, INT4OID};

	if (append_one_plan == NULL)
		append_one_plan = prepare_kept(append_one_sql, 3, types);
	if (append_two_plan == NULL)
		append_two_plan = prepare_kept(append_two_sql, 6, types);
	if (game_exists_plan == NULL)
		game_exists_plan = prepare_kept(game_exists_sql, 1, types);
	if (compact_plan == NULL)
		compact_plan = prepare_kept(compact_sql, 1, types);
}

static int
column_number(TupleDesc tupdesc, const char *name)
{
	int			attnum = SPI_fnumber(tupdesc, name);

	if (attnum <= 0)
		elog(ERROR, "leaderboard_capture: relation has no column \"%s\"", name);
	return attnum;
}

/* Reads game_id, total_score and is_completed; NULLs count as not completed */
static CapturedRow
read_row(HeapTuple tuple, TupleDesc tupdesc)
{
	CapturedRow row = {false, 0, 0};
	bool		isnull;
	Datum		d;

	d = heap_getattr(tuple, column_number(tupdesc, "is_completed"), tupdesc, &isnull);
	if (isnull || !DatumGetBool(d))
		return row;
	d = heap_getattr(tuple, column_number(tupdesc, "game_id"), tupdesc, &isnull);
	if (isnull)
		return row;
	row.game_id = DatumGetInt64(d);
	d = heap_getattr(tuple, column_number(tupdesc, "total_score"), tupdesc, &isnull);
	if (isnull)
		return row;
	row.score = DatumGetInt64(d);
	row.completed = true;
	return row;
}

static bool
game_exists(int64 game_id)
{
	Datum		values[1] = {Int64GetDatum(game_id)};
	int			rc = SPI_execute_plan(game_exists_plan, values, NULL, false, 1);

	if (rc != SPI_OK_SELECT)
		elog(ERROR, "leaderboard_capture: game lookup failed: %s",
			 SPI_result_code_string(rc));
	return SPI_processed > 0;
}

static void
forget_due_games(XactEvent event, void *arg)
{
	/* the list lived in TopTransactionContext, which goes with the transaction */
	due_games = NIL;
}

/* Marks the game due with probability n / qr_event.leaderboard_compact_every */
static void
maybe_due(int64 game_id, int n)
{
	int			every = qr_event_leaderboard_compact_every;
	MemoryContext old;
	ListCell   *lc;

	if (every <= 0 || pg_prng_double(&pg_global_prng_state) * every >= n)
		return;
	foreach(lc, due_games)
	{
		if (*(int64 *) lfirst(lc) == game_id)
			return;
	}
	if (!xact_callback_registered)
	{
		RegisterXactCallback(forget_due_games, NULL);
		xact_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	{
		int64	   *g = palloc(sizeof(int64));

		*g = game_id;
		due_games = lappend(due_games, g);
	}
	MemoryContextSwitchTo(old);
}

/* The statement trigger: compacts the games marked due, once each */
static void
compact_due_games(void)
{
	List	   *games = due_games;
	ListCell   *lc;
	int			rc;

	if (games == NIL)
		return;
	due_games = NIL;
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	prepare_plans();
	foreach(lc, games)
	{
		Datum		values[1] = {Int64GetDatum(*(int64 *) lfirst(lc))};

		rc = SPI_execute_plan(compact_plan, values, NULL, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "leaderboard_capture: compaction failed: %s",
				 SPI_result_code_string(rc));
	}
	SPI_finish();
}

Datum
qr_event_leaderboard_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	CapturedRow old_row = {false, 0, 0};
	CapturedRow new_row = {false, 0, 0};
	Datum		values[6];
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "leaderboard_capture: not called by the trigger manager");
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		elog(ERROR, "leaderboard_capture: must be fired AFTER");
	if (TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
	{
		compact_due_games();
		return PointerGetDatum(NULL);
	}

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		new_row = read_row(trigdata->tg_trigtuple, tupdesc);
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		old_row = read_row(trigdata->tg_trigtuple, tupdesc);
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		old_row = read_row(trigdata->tg_trigtuple, tupdesc);
		new_row = read_row(trigdata->tg_newtuple, tupdesc);
	}
	else
		elog(ERROR, "leaderboard_capture: must be fired by INSERT, UPDATE or DELETE");

	/* the same completed score: nothing changed in the ranking */
	if (old_row.completed && new_row.completed &&
		old_row.game_id == new_row.game_id && old_row.score == new_row.score)
		return PointerGetDatum(NULL);
	if (!old_row.completed && !new_row.completed)
		return PointerGetDatum(NULL);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	prepare_plans();

	/*
	 * A deleted row of a game being deleted (the foreign key's cascade runs
	 * after the game row is gone): the game takes its structure along.
	 */
	if (old_row.completed && !new_row.completed &&
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) &&
		!game_exists(old_row.game_id))
		old_row.completed = false;

	if (old_row.completed && new_row.completed)
	{
		values[0] = Int64GetDatum(old_row.game_id);
		values[1] = Int64GetDatum(old_row.score);
		values[2] = Int32GetDatum(-1);
		values[3] = Int64GetDatum(new_row.game_id);
		values[4] = Int64GetDatum(new_row.score);
		values[5] = Int32GetDatum(1);
		rc = SPI_execute_plan(append_two_plan, values, NULL, false, 0);
	}
	else if (old_row.completed || new_row.completed)
	{
		CapturedRow *row = old_row.completed ? &old_row : &new_row;

		values[0] = Int64GetDatum(row->game_id);
		values[1] = Int64GetDatum(row->score);
		values[2] = Int32GetDatum(old_row.completed ? -1 : 1);
		rc = SPI_execute_plan(append_one_plan, values, NULL, false, 0);
	}
	else
		rc = SPI_OK_INSERT;
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "leaderboard_capture: appending deltas failed: %s",
			 SPI_result_code_string(rc));

	if (old_row.completed && new_row.completed && old_row.game_id == new_row.game_id)
		maybe_due(old_row.game_id, 2);
	else
	{
		if (old_row.completed)
			maybe_due(old_row.game_id, 1);
		if (new_row.completed)
			maybe_due(new_row.game_id, 1);
	}

	SPI_finish();
	return PointerGetDatum(NULL);
}
