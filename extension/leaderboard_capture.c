/*
 * leaderboard_capture.c
 *		The write path of the rank structure: qr_event.leaderboard_capture(),
 *		the trigger of qr_event.game_participations.
 *
 * As a row-level AFTER trigger, for each row whose completed score changed it
 * appends -1 for the old completed (game_id, total_score) and +1 for the new
 * one to qr_event.leaderboard_deltas.  The append goes straight to the heap
 * and the table's indexes, as a catalog update does, without SPI or the
 * executor: building and running an INSERT plan per row cost more than the
 * insert itself.  No row is updated, so concurrent writers of one game never
 * wait for each other.  The deltas table is the extension's own; the append
 * refuses to run when a check constraint, trigger, rule or non-plain index
 * has been added to it, as it would bypass them.
 *
 * With probability (deltas appended to the game) /
 * qr_event.leaderboard_compact_every a row marks its game due for compaction;
 * as the statement-level AFTER trigger, the same function then compacts the
 * due games once each, after the statement's rows.  Compaction thus costs
 * every delta the same on average, pending deltas stay around that many per
 * game, and a bulk statement compacts a game once, at its end, instead of
 * folding its own uncommitted deltas over and over.
 *
 * The function is not SECURITY DEFINER (a definer function pays for a GUC
 * nest level on every call): the direct append needs no privilege, and
 * compaction runs qr_event.leaderboard_compact() as the owner of the deltas
 * table, the extension's owner, for that one call only.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/xid8.h"

#include "guc.h"
#include "heap_append.h"
#include "kept_plan.h"

PG_FUNCTION_INFO_V1(qr_event_leaderboard_capture);

/* leaderboard_deltas (game_id, score, delta, xid), in this column order */
#define DELTAS_NATTS 4

static const char *const game_exists_sql =
"SELECT 1 FROM qr_event.games WHERE id OPERATOR(pg_catalog.=) $1";

static const char *const compact_sql =
"SELECT qr_event.leaderboard_compact($1)";

static SPIPlanPtr game_exists_plan;
static SPIPlanPtr compact_plan;
static Oid int8_arg[1] = {INT8OID};

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

static void
connect_spi(void)
{
	int			rc;

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
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
	bool		found;
	int			rc;

	connect_spi();
	rc = SPI_execute_plan(KeptPlan(&game_exists_plan, game_exists_sql, 1, int8_arg, 0),
						  values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "leaderboard_capture: game lookup failed: %s",
			 SPI_result_code_string(rc));
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

static Oid
deltas_relid(void)
{
	Oid			nsp = get_namespace_oid("qr_event", false);
	Oid			relid = get_relname_relid("leaderboard_deltas", nsp);

	if (!OidIsValid(relid))
		elog(ERROR, "leaderboard_capture: qr_event.leaderboard_deltas is missing");
	return relid;
}

/* Refuses a deltas table whose shape the direct append would not honour */
static void
check_deltas_shape(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	static const Oid types[DELTAS_NATTS] = {INT8OID, INT8OID, INT4OID, XID8OID};

	if (desc->natts != DELTAS_NATTS)
		elog(ERROR, "leaderboard_capture: qr_event.leaderboard_deltas has %d columns, expected %d",
			 desc->natts, DELTAS_NATTS);
	for (int i = 0; i < DELTAS_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != types[i])
			elog(ERROR, "leaderboard_capture: column %d of qr_event.leaderboard_deltas has an unexpected type", i + 1);
	}
	if ((desc->constr && desc->constr->num_check > 0) || rel->trigdesc != NULL ||
		rel->rd_rules != NULL || rel->rd_rel->relkind != RELKIND_RELATION)
		elog(ERROR, "leaderboard_capture: qr_event.leaderboard_deltas must have no check constraint, trigger or rule");
}

/*
 * Appends n deltas: one heap tuple each, and its entries in every index (all
 * of them plain column indexes, checked).
 */
static void
append_deltas(int n, const CapturedRow *rows, const int32 *deltas)
{
	Relation	rel = table_open(deltas_relid(), RowExclusiveLock);
	HeapAppender appender;
	Relation	bad;
	Datum		xid = FullTransactionIdGetDatum(GetTopFullTransactionId());

	check_deltas_shape(rel);
	if ((bad = HeapAppendBegin(&appender, rel, false)) != NULL)
		elog(ERROR, "leaderboard_capture: index \"%s\" of qr_event.leaderboard_deltas is not a plain column index",
			 RelationGetRelationName(bad));
	for (int r = 0; r < n; r++)
	{
		Datum		values[DELTAS_NATTS];
		bool		nulls[DELTAS_NATTS] = {false, false, false, false};

		values[0] = Int64GetDatum(rows[r].game_id);
		values[1] = Int64GetDatum(rows[r].score);
		values[2] = Int32GetDatum(deltas[r]);
		values[3] = xid;
		HeapAppendRow(&appender, values, nulls);
	}
	HeapAppendEnd(&appender);
	table_close(rel, NoLock);
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

/*
 * The statement trigger: compacts the games marked due, once each, as the
 * owner of the deltas table (leaderboard_compact is not executable by
 * PUBLIC).  An error leaves the user id to transaction abort to restore, as
 * for a SECURITY DEFINER function.
 */
static void
compact_due_games(void)
{
	List	   *games = due_games;
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec_context;
	Oid			owner;
	int			rc;

	if (games == NIL)
		return;
	due_games = NIL;
	{
		Relation	rel = table_open(deltas_relid(), AccessShareLock);

		owner = rel->rd_rel->relowner;
		table_close(rel, AccessShareLock);
	}
	connect_spi();
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	foreach(lc, games)
	{
		Datum		values[1] = {Int64GetDatum(*(int64 *) lfirst(lc))};

		rc = SPI_execute_plan(KeptPlan(&compact_plan, compact_sql, 1, int8_arg, 0),
							  values, NULL, false, 1);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "leaderboard_capture: compaction failed: %s",
				 SPI_result_code_string(rc));
	}
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();
}

Datum
qr_event_leaderboard_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	CapturedRow old_row = {false, 0, 0};
	CapturedRow new_row = {false, 0, 0};
	CapturedRow rows[2];
	int32		deltas[2];
	int			n = 0;

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

	/* the same completed score, or none: nothing changed in the ranking */
	if (old_row.completed && new_row.completed &&
		old_row.game_id == new_row.game_id && old_row.score == new_row.score)
		return PointerGetDatum(NULL);
	if (!old_row.completed && !new_row.completed)
		return PointerGetDatum(NULL);

	/*
	 * A deleted row of a game being deleted (the foreign key's cascade runs
	 * after the game row is gone): the game takes its structure along.
	 */
	if (old_row.completed && !new_row.completed &&
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) &&
		!game_exists(old_row.game_id))
		return PointerGetDatum(NULL);

	if (old_row.completed)
	{
		rows[n] = old_row;
		deltas[n++] = -1;
	}
	if (new_row.completed)
	{
		rows[n] = new_row;
		deltas[n++] = 1;
	}
	append_deltas(n, rows, deltas);

	if (n == 2 && old_row.game_id == new_row.game_id)
		maybe_due(old_row.game_id, 2);
	else
		for (int r = 0; r < n; r++)
			maybe_due(rows[r].game_id, 1);

	return PointerGetDatum(NULL);
}
