/*
 * leaderboard_page.c
 *		qr_event.leaderboard (one page of a game's leaderboard) and
 *		qr_event.leaderboard_around (a participation and its neighbours).
 *		Rows are read by keyset through the list machinery of paginate.h, so
 *		their cursors are those of qr_event.paginate over game_participations
 *		ordered {total_score DESC, completed_at, id}, filtered to the game's
 *		completed rows, for caller 'public'.  Display names are joined in the
 *		same query; the first row's rank comes from leaderboard.h and the
 *		others are carried down the rows.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "cursor.h"
#include "guc.h"
#include "leaderboard.h"
#include "paginate.h"

PG_FUNCTION_INFO_V1(qr_event_leaderboard);
PG_FUNCTION_INFO_V1(qr_event_leaderboard_around);

#define BOARD_NKEYS			3	/* total_score, completed_at, id */
#define BOARD_MAX_RADIUS	50
#define BOARD_MAX_PARAMS	(BOARD_NKEYS + 8)
#define BOARD_NCOLUMNS		8	/* of qr_event.leaderboard_entry */

/* One row of the leaderboard, copied out of SPI */
typedef struct BoardRow
{
	int64		id;
	bool		is_guest;
	int64		participant_id;
	char	   *display_name;
	int64		score;
	TimestampTz completed_at;
	char	   *keys[BOARD_NKEYS];	/* text forms of the key values, for cursors */
} BoardRow;

/* The list of one game and the rows read from it, in leaderboard order */
typedef struct Board
{
	int64		game_id;
	PageList   *list;
	uint8		list_id[CURSOR_LIST_ID_LEN];
	int			nparams;
	Oid			argtypes[BOARD_MAX_PARAMS];
	Datum		values[BOARD_MAX_PARAMS];
	BoardRow   *rows;
	int			nrows;
	bool		more_after;		/* some row follows the last row */
	int32		cursor_page;	/* page number written into the rows' cursors */
	bytea	   *secret;
} Board;

/* radius, within 0 .. BOARD_MAX_RADIUS */
static int
ReadRadius(FunctionCallInfo fcinfo, int argno)
{
	int32		radius;

	PageRequireArgument(fcinfo, argno, "radius");
	radius = PG_GETARG_INT32(argno);
	if (radius < 0 || radius > BOARD_MAX_RADIUS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("radius must be between 0 and %d", BOARD_MAX_RADIUS)));
	return radius;
}

/* rank_mode, through leaderboard.h */
static RankMode
ReadRankMode(FunctionCallInfo fcinfo, int argno)
{
	PageRequireArgument(fcinfo, argno, "rank_mode");
	return LeaderboardParseRankMode(PG_GETARG_TEXT_PP(argno));
}

/* The row type of qr_event.game_participations */
static Oid
ParticipationRowType(void)
{
	Oid			relid = get_relname_relid("game_participations",
										  get_namespace_oid("qr_event", false));

	if (!OidIsValid(relid))
		elog(ERROR, "relation qr_event.game_participations does not exist");
	return get_rel_type_id(relid);
}

/*
 * The list of a game's leaderboard: the list qr_event.paginate builds for
 * NULL::qr_event.game_participations, '{total_score DESC, completed_at, id}',
 * filter {"game_id": G, "is_completed": true} and caller 'public', so the
 * cursors of both are interchangeable and no other list accepts them.
 */
static Board *
BoardOpen(int64 game_id)
{
	Board	   *board = palloc0(sizeof(Board));
	Datum		order[BOARD_NKEYS];
	char	   *filter;

	order[0] = CStringGetTextDatum("total_score DESC");
	order[1] = CStringGetTextDatum("completed_at");
	order[2] = CStringGetTextDatum("id");
	filter = psprintf("{\"game_id\": " INT64_FORMAT ", \"is_completed\": true}", game_id);
	board->game_id = game_id;
	board->list = PageListBuild(ParticipationRowType(),
								construct_array(order, BOARD_NKEYS, TEXTOID, -1, false, TYPALIGN_INT),
								DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(filter))),
								"public");
	if (board->list->nkeys != BOARD_NKEYS)
		elog(ERROR, "leaderboard list has %d keys", board->list->nkeys);
	CursorListId(PageListIdentity(board->list), board->list_id);
	return board;
}

/* Adds a query parameter and returns its number */
static int
AddParam(Board *board, Oid type, Datum value)
{
	if (board->nparams == BOARD_MAX_PARAMS)
		elog(ERROR, "too many leaderboard query parameters");
	board->argtypes[board->nparams] = type;
	board->values[board->nparams] = value;
	return ++board->nparams;
}

/*
 * Numbers the parameters of the list's queries: the boundary's key values
 * (keys is NULL without boundary; a NULL value is no parameter, the query
 * says IS NULL), then the filter values.
 */
static void
BindList(Board *board, char **keys)
{
	PageList   *list = board->list;
	int			nestlevel = CursorSettingsPush();
	int			i;

	for (i = 0; i < list->nkeys; i++)
	{
		PageKey    *key = &list->keys[i];

		key->param = 0;
		if (keys != NULL && keys[i] != NULL)
			key->param = AddParam(board, key->typid,
								  PageValueFromText(keys[i], key->typid, key->typmod));
	}
	for (i = 0; i < list->nfilters; i++)
	{
		PageFilter *f = &list->filters[i];

		f->param = 0;
		if (f->value != NULL)
			f->param = AddParam(board, f->typid, PageValueFromText(f->value, f->typid, f->typmod));
	}
	CursorSettingsPop(nestlevel);
}

/*
 * The rows of source (a query of the whole row and the key values, as
 * PageQueryText makes) with their participants' names, in leaderboard order.
 * Names come from one join for all rows: a participation has exactly one
 * of guest_id and family_id.  The functions run with search_path pinned to
 * pg_catalog, so the operators here are the built-in ones.
 */
static char *
BoardQueryText(const PageList *list, const char *source)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf,
					 "SELECT (q.r).id, (q.r).guest_id IS NOT NULL,"
					 " coalesce((q.r).guest_id, (q.r).family_id),"
					 " coalesce(f.name, g.first_name || coalesce(' ' || g.last_name, '')),"
					 " (q.r).total_score, (q.r).completed_at, q.k1, q.k2, q.k3"
					 " FROM (%s) AS q (r, k1, k2, k3)"
					 " LEFT JOIN qr_event.guests AS g ON g.id = (q.r).guest_id"
					 " LEFT JOIN qr_event.families AS f ON f.id = (q.r).family_id"
					 " ORDER BY ", source);
	for (i = 0; i < list->nkeys; i++)
		appendStringInfo(&buf, "%sq.k%d %s", i > 0 ? ", " : "", i + 1,
						 list->keys[i].descending ? "DESC NULLS FIRST" : "ASC NULLS LAST");
	return buf.data;
}

/* Copies one SPI result row into row, allocating in the current context */
static void
CopyRow(BoardRow *row, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	char	   *name;
	int			i;

	row->id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	row->is_guest = DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull));
	row->participant_id = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	name = SPI_getvalue(tuple, desc, 4);
	row->display_name = name;
	row->score = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &isnull));
	row->completed_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 6, &isnull));
	for (i = 0; i < BOARD_NKEYS; i++)
		row->keys[i] = SPI_getvalue(tuple, desc, 7 + i);
}

/*
 * Runs a query of BoardQueryText read-only and copies its rows into cxt.
 * Key values are printed under the cursor settings, so that a cursor means
 * the same in every session.
 */
static void
FetchRows(Board *board, const char *sql, MemoryContext cxt)
{
	int			ret;
	int			nestlevel;
	MemoryContext old;
	uint64		i;

	ret = SPI_execute_with_args(sql, board->nparams, board->argtypes, board->values,
								NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	old = MemoryContextSwitchTo(cxt);
	board->nrows = (int) SPI_processed;
	board->rows = palloc0(sizeof(BoardRow) * Max(board->nrows, 1));
	nestlevel = CursorSettingsPush();
	for (i = 0; i < SPI_processed; i++)
		CopyRow(&board->rows[i], SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
	CursorSettingsPop(nestlevel);
	MemoryContextSwitchTo(old);
}

/* Drops count rows from the start (at_start) or the end of the rows */
static void
DropRows(Board *board, int count, bool at_start)
{
	count = Min(count, board->nrows);
	if (count <= 0)
		return;
	if (at_start)
		board->rows += count;
	board->nrows -= count;
}

/*
 * Reads one page, as qr_event.paginate does: page_size + 1 rows from the
 * cursor's boundary in its direction (from the start without one); the extra
 * row tells whether the leaderboard goes on that way.  A forward cursor to
 * page 1 means the first page.  The page paged back from exists, so after a
 * backward read a row follows the last one.
 */
static void
ReadPage(Board *board, text *cursor_text, int page_size, MemoryContext cxt)
{
	uint8	   *buf = palloc(CURSOR_MAX_TEXT);
	char	   *keys[BOARD_NKEYS];
	Cursor		c;
	bool		backward = false;
	bool		boundary = false;
	int32		page = 1;
	int32		shown;
	bool		more;
	int			limit_param;
	int			i;

	if (cursor_text != NULL)
	{
		board->secret = CursorSecretRead();
		CursorDecodeForList(cursor_text, board->secret, board->list_id, BOARD_NKEYS, &c, buf);
		backward = (c.direction == CURSOR_BACKWARD);
		page = (int32) Min(c.page, (uint32) PG_INT32_MAX);
		boundary = backward || page > 1;
		for (i = 0; i < BOARD_NKEYS; i++)
			keys[i] = c.keys[i].isnull ? NULL : pnstrdup(c.keys[i].data, c.keys[i].len);
	}
	BindList(board, boundary ? keys : NULL);
	limit_param = AddParam(board, INT8OID, Int64GetDatum((int64) page_size + 1));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	FetchRows(board, BoardQueryText(board->list,
									PageQueryText(board->list, backward, boundary, limit_param)),
			  cxt);
	SPI_finish();

	more = board->nrows > page_size;
	DropRows(board, board->nrows - page_size, backward);
	board->more_after = backward || more;
	if (backward)
		shown = more ? Max(page, 2) : 1;
	else
		shown = boundary ? Max(page, 2) : 1;
	board->cursor_page = shown < PG_INT32_MAX ? shown + 1 : shown;
}

/*
 * The key values of a participation of the board's game, in their text
 * forms; P0002 when there is none, 55000 when it is not ranked yet.
 */
static void
ReadParticipation(Board *board, int64 participation_id, char **keys, MemoryContext cxt)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	int			nestlevel;
	int			ret;
	int			i;

	values[0] = Int64GetDatum(participation_id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("SELECT p.game_id, p.is_completed, p.total_score, p.completed_at, p.id"
								" FROM qr_event.game_participations AS p WHERE p.id = $1",
								1, argtypes, values, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0 ||
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) != board->game_id)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("participation not found"),
				 errdetail("Game " INT64_FORMAT " has no participation " INT64_FORMAT ".",
						   board->game_id, participation_id)));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	if (!DatumGetBool(SPI_getbinval(tuple, desc, 2, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("participation is not completed"),
				 errdetail("Only completed participations are on the leaderboard.")));
	nestlevel = CursorSettingsPush();
	for (i = 0; i < BOARD_NKEYS; i++)
	{
		char	   *value = SPI_getvalue(tuple, desc, 3 + i);

		keys[i] = value != NULL ? MemoryContextStrdup(cxt, value) : NULL;
	}
	CursorSettingsPop(nestlevel);
	SPI_finish();
}

/*
 * Reads a participation and up to radius rows on each side of it, in one
 * query: a backward keyset read from its key, the row itself and a forward
 * read, each bounded by the leaderboard index.  The forward read takes one
 * row more, which tells whether the leaderboard goes on after the last.
 */
static void
ReadAround(Board *board, int64 participation_id, int radius, MemoryContext cxt)
{
	char	   *keys[BOARD_NKEYS];
	int			before_param;
	int			after_param;
	int			id_param;
	char	   *source;
	int			after;
	int			i;

	ReadParticipation(board, participation_id, keys, cxt);
	BindList(board, keys);
	before_param = AddParam(board, INT8OID, Int64GetDatum((int64) radius));
	after_param = AddParam(board, INT8OID, Int64GetDatum((int64) radius + 1));
	id_param = AddParam(board, INT8OID, Int64GetDatum(participation_id));
	source = psprintf("(%s) UNION ALL (SELECT %s, %s.total_score, %s.completed_at, %s.id"
					  " FROM %s AS %s WHERE %s.id = $%d) UNION ALL (%s)",
					  PageQueryText(board->list, true, true, before_param),
					  board->list->alias, board->list->alias, board->list->alias,
					  board->list->alias, board->list->relation, board->list->alias,
					  board->list->alias, id_param,
					  PageQueryText(board->list, false, true, after_param));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	FetchRows(board, BoardQueryText(board->list, source), cxt);
	SPI_finish();

	i = 0;
	while (i < board->nrows && board->rows[i].id != participation_id)
		i++;
	if (i == board->nrows)
		elog(ERROR, "participation " INT64_FORMAT " missing from its own neighbourhood",
			 participation_id);
	after = board->nrows - i - 1;
	board->more_after = after > radius;
	DropRows(board, after - radius, false);
	board->cursor_page = 2;
}

/*
 * The ranks of the rows, which are consecutive in leaderboard order: the
 * first from leaderboard.h, the others carried down.  A competition rank is
 * the row's position when its score differs from the row above, so the
 * first row's position (its ordinal rank) is read too.
 */
static int64 *
RankRows(Board *board, RankMode mode)
{
	int64	   *ranks = palloc(sizeof(int64) * Max(board->nrows, 1));
	BoardRow   *first = &board->rows[0];
	int64		position = 0;
	int			i;

	if (board->nrows == 0)
		return ranks;
	ranks[0] = LeaderboardRankOf(board->game_id, first->score, first->completed_at,
								 first->id, mode);
	if (mode == RANK_COMPETITION)
		position = LeaderboardRankOf(board->game_id, first->score, first->completed_at,
									 first->id, RANK_ORDINAL);
	for (i = 1; i < board->nrows; i++)
	{
		bool		tied = board->rows[i].score == board->rows[i - 1].score;

		if (mode == RANK_ORDINAL)
			ranks[i] = ranks[i - 1] + 1;
		else if (mode == RANK_DENSE)
			ranks[i] = ranks[i - 1] + (tied ? 0 : 1);
		else
			ranks[i] = tied ? ranks[i - 1] : position + i;
	}
	return ranks;
}

/* The cursor that continues the leaderboard after a row */
static text *
RowCursor(Board *board, const BoardRow *row)
{
	Cursor		c;
	int			i;

	memset(&c, 0, sizeof(c));
	c.version = CURSOR_FORMAT_VERSION;
	c.direction = CURSOR_FORWARD;
	c.page = (uint32) board->cursor_page;
	memcpy(c.list_id, board->list_id, CURSOR_LIST_ID_LEN);
	c.nkeys = BOARD_NKEYS;
	for (i = 0; i < BOARD_NKEYS; i++)
	{
		c.keys[i].isnull = (row->keys[i] == NULL);
		c.keys[i].data = row->keys[i];
		c.keys[i].len = row->keys[i] != NULL ? (uint16) strlen(row->keys[i]) : 0;
	}
	if (board->secret == NULL)
		board->secret = CursorSecretRead();
	return CursorEncodeText(&c, board->secret);
}

/*
 * Returns the rows as qr_event.leaderboard_entry: each with its rank and the
 * cursor after it, NULL for the last row of the leaderboard.
 */
static void
EmitRows(FunctionCallInfo fcinfo, Board *board, RankMode mode)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64	   *ranks = RankRows(board, mode);
	int			i;

	for (i = 0; i < board->nrows; i++)
	{
		BoardRow   *row = &board->rows[i];
		Datum		values[BOARD_NCOLUMNS];
		bool		nulls[BOARD_NCOLUMNS];

		memset(nulls, false, sizeof(nulls));
		values[0] = Int64GetDatum(ranks[i]);
		values[1] = Int64GetDatum(row->id);
		values[2] = CStringGetTextDatum(row->is_guest ? "guest" : "family");
		values[3] = Int64GetDatum(row->participant_id);
		nulls[4] = (row->display_name == NULL);
		values[4] = nulls[4] ? (Datum) 0 : CStringGetTextDatum(row->display_name);
		values[5] = Int64GetDatum(row->score);
		values[6] = TimestampTzGetDatum(row->completed_at);
		nulls[7] = !(board->more_after || i < board->nrows - 1);
		values[7] = nulls[7] ? (Datum) 0 : PointerGetDatum(RowCursor(board, row));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	CursorSecretForget(board->secret);
	board->secret = NULL;
}

/*
 * qr_event.leaderboard(game_id, page_size, cursor, rank_mode): one page of
 * the game's leaderboard, from the start or after the row a cursor names.
 */
Datum
qr_event_leaderboard(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			page_size;
	RankMode	mode;
	Board	   *board;

	PageRequireArgument(fcinfo, 0, "game_id");
	page_size = PageReadSize(fcinfo, 1);
	mode = ReadRankMode(fcinfo, 3);
	LeaderboardRequireGame(PG_GETARG_INT64(0));
	InitMaterializedSRF(fcinfo, 0);
	board = BoardOpen(PG_GETARG_INT64(0));
	ReadPage(board, PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2), page_size, cxt);
	EmitRows(fcinfo, board, mode);
	return (Datum) 0;
}

/*
 * qr_event.leaderboard_around(game_id, participation_id, radius, rank_mode):
 * a completed participation of the game with up to radius rows before and
 * after it, in leaderboard order.
 */
Datum
qr_event_leaderboard_around(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			radius;
	RankMode	mode;
	Board	   *board;

	PageRequireArgument(fcinfo, 0, "game_id");
	PageRequireArgument(fcinfo, 1, "participation_id");
	radius = ReadRadius(fcinfo, 2);
	mode = ReadRankMode(fcinfo, 3);
	LeaderboardRequireGame(PG_GETARG_INT64(0));
	InitMaterializedSRF(fcinfo, 0);
	board = BoardOpen(PG_GETARG_INT64(0));
	ReadAround(board, PG_GETARG_INT64(1), radius, cxt);
	EmitRows(fcinfo, board, mode);
	return (Datum) 0;
}
