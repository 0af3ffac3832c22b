/*
 * leaderboard_rank.c
 *		Ranks from the per-game rank structure, and qr_event.leaderboard_rank.
 *
 * A count of the scores above s is the sum, over levels 0 to 6, of the
 * populated buckets after s's own bucket under the same parent (level 6: all
 * buckets above), plus the pending deltas above s: at most 1023 index rows a
 * level, whatever the depth of s.  Each count is one statement, so it is
 * exact for one snapshot; plans are prepared once per backend.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "kept_plan.h"
#include "leaderboard.h"

PG_FUNCTION_INFO_V1(qr_event_leaderboard_rank);

/* The populated buckets of level L after $2's, under the same parent */
#define LEVEL_N(L) \
	" + (SELECT coalesce(sum(n), 0) FROM qr_event.leaderboard_buckets" \
	" WHERE game_id = $1 AND level = " #L " AND bucket > ($2 >> (10 * " #L "))" \
	" AND bucket <= (($2 >> (10 * " #L ")) | 1023))"
#define LEVEL_D(L) \
	" + (SELECT coalesce(sum(d), 0) FROM qr_event.leaderboard_buckets" \
	" WHERE game_id = $1 AND level = " #L " AND bucket > ($2 >> (10 * " #L "))" \
	" AND bucket <= (($2 >> (10 * " #L ")) | 1023))"

/* Completed participations with a score above $2 in game $1 */
#define COUNT_ABOVE_EXPR \
	"(SELECT coalesce(sum(n), 0) FROM qr_event.leaderboard_scores" \
	" WHERE game_id = $1 AND score > $2 AND score <= ($2 | 1023))" \
	LEVEL_N(1) LEVEL_N(2) LEVEL_N(3) LEVEL_N(4) LEVEL_N(5) \
	" + (SELECT coalesce(sum(n), 0) FROM qr_event.leaderboard_buckets" \
	" WHERE game_id = $1 AND level = 6 AND bucket > ($2 >> 60))" \
	" + (SELECT coalesce(sum(delta), 0) FROM qr_event.leaderboard_deltas" \
	" WHERE game_id = $1 AND score > $2)"

static const char *const count_above_sql =
"SELECT (" COUNT_ABOVE_EXPR ")::bigint";

/* Pending deltas above $2 make a score appear (+1) or vanish (-1) */
static const char *const distinct_above_sql =
"SELECT ((SELECT count(*) FROM qr_event.leaderboard_scores"
" WHERE game_id = $1 AND score > $2 AND score <= ($2 | 1023))"
LEVEL_D(1) LEVEL_D(2) LEVEL_D(3) LEVEL_D(4) LEVEL_D(5)
" + (SELECT coalesce(sum(d), 0) FROM qr_event.leaderboard_buckets"
" WHERE game_id = $1 AND level = 6 AND bucket > ($2 >> 60))"
" + (SELECT coalesce(sum((coalesce(s.n, 0) + p.dn > 0)::integer - (coalesce(s.n, 0) > 0)::integer), 0)"
"    FROM (SELECT score, sum(delta) AS dn FROM qr_event.leaderboard_deltas"
"          WHERE game_id = $1 AND score > $2 GROUP BY score) AS p"
"    LEFT JOIN qr_event.leaderboard_scores s ON s.game_id = $1 AND s.score = p.score))::bigint";

static const char *const ranked_count_sql =
"SELECT ((SELECT coalesce(sum(n), 0) FROM qr_event.leaderboard_buckets"
" WHERE game_id = $1 AND level = 6)"
" + (SELECT coalesce(sum(delta), 0) FROM qr_event.leaderboard_deltas WHERE game_id = $1))::bigint";

/* Ordinal: the participations above, plus those tied at $2 that come first */
static const char *const ordinal_above_sql =
"SELECT (" COUNT_ABOVE_EXPR
" + (SELECT count(*) FROM qr_event.game_participations"
"    WHERE game_id = $1 AND is_completed AND total_score = $2"
"    AND (completed_at, id) < ($3, $4)))::bigint";

static const char *const game_exists_sql =
"SELECT 1 FROM qr_event.games WHERE id = $1";

static const char *const participation_sql =
"SELECT game_id, total_score, is_completed, completed_at"
" FROM qr_event.game_participations WHERE id = $1";

static SPIPlanPtr count_above_plan;
static SPIPlanPtr distinct_above_plan;
static SPIPlanPtr ranked_count_plan;
static SPIPlanPtr ordinal_above_plan;
static SPIPlanPtr game_exists_plan;
static SPIPlanPtr participation_plan;

/* Runs a read-only plan expected to return one non-null bigint */
static int64
ScalarInt64(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	bool		isnull;
	Datum		d;
	int64		result;

	SPI_connect();
	if (SPI_execute_plan(KeptPlan(plan, sql, nargs, argtypes, 0), values, NULL, true, 1) != SPI_OK_SELECT
		|| SPI_processed != 1)
		elog(ERROR, "leaderboard count returned no row");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	result = isnull ? 0 : DatumGetInt64(d);
	SPI_finish();
	return result;
}

/* Parses a rank_mode argument */
RankMode
LeaderboardParseRankMode(text *mode)
{
	char	   *s = text_to_cstring(mode);

	if (strcmp(s, "competition") == 0)
		return RANK_COMPETITION;
	if (strcmp(s, "dense") == 0)
		return RANK_DENSE;
	if (strcmp(s, "ordinal") == 0)
		return RANK_ORDINAL;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid rank_mode: \"%s\"", s),
			 errhint("Use competition (1, 1, 3), dense (1, 1, 2) or ordinal (1, 2, 3).")));
	pg_unreachable();
}

/* Raises P0002 unless the game exists */
void
LeaderboardRequireGame(int64 game_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(game_id)};
	uint64		found;

	SPI_connect();
	if (SPI_execute_plan(KeptPlan(&game_exists_plan, game_exists_sql, 1, argtypes, 0),
						 values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "game lookup failed");
	found = SPI_processed;
	SPI_finish();
	if (found == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("game not found")));
}

/* Completed participations of the game with a score above score */
int64
LeaderboardCountAbove(int64 game_id, int64 score)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(game_id), Int64GetDatum(score)};

	return ScalarInt64(&count_above_plan, count_above_sql, 2, argtypes, values);
}

/* Distinct scores of completed participations above score */
int64
LeaderboardDistinctAbove(int64 game_id, int64 score)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(game_id), Int64GetDatum(score)};

	return ScalarInt64(&distinct_above_plan, distinct_above_sql, 2, argtypes, values);
}

/* Completed participations of the game */
int64
LeaderboardRankedCount(int64 game_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(game_id)};

	return ScalarInt64(&ranked_count_plan, ranked_count_sql, 1, argtypes, values);
}

/* 1-based rank of a completed participation under mode */
int64
LeaderboardRankOf(int64 game_id, int64 score, TimestampTz completed_at,
				  int64 participation_id, RankMode mode)
{
	Oid			argtypes[4] = {INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum		values[4] = {Int64GetDatum(game_id), Int64GetDatum(score),
		TimestampTzGetDatum(completed_at), Int64GetDatum(participation_id)};

	switch (mode)
	{
		case RANK_COMPETITION:
			return LeaderboardCountAbove(game_id, score) + 1;
		case RANK_DENSE:
			return LeaderboardDistinctAbove(game_id, score) + 1;
		case RANK_ORDINAL:
			return ScalarInt64(&ordinal_above_plan, ordinal_above_sql, 4, argtypes, values) + 1;
	}
	elog(ERROR, "unknown rank mode %d", (int) mode);
	pg_unreachable();
}

/* A completed participation of the game, as leaderboard_rank needs it */
typedef struct RankedParticipation
{
	int64		score;
	TimestampTz completed_at;
} RankedParticipation;

/* Loads a participation of the game; P0002 or 55000 when it has no rank */
static RankedParticipation
LoadParticipation(int64 game_id, int64 participation_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(participation_id)};
	RankedParticipation result = {0, 0};
	bool		found = false;
	bool		completed = false;

	SPI_connect();
	if (SPI_execute_plan(KeptPlan(&participation_plan, participation_sql, 1, argtypes, 0),
						 values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "participation lookup failed");
	if (SPI_processed == 1)
	{
		HeapTuple	tuple = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		found = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull)) == game_id;
		result.score = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
		completed = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull));
		if (completed)
			result.completed_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 4, &isnull));
	}
	SPI_finish();
	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("participation not found")));
	if (!completed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("participation is not completed"),
				 errdetail("Only completed participations are ranked.")));
	return result;
}

/*
 * The share of the other ranked participations this rank is ahead of, in
 * percent rounded half up to 2 decimals; 100 for a participation alone.
 */
static Numeric
Percentile(int64 rank, int64 ranked_count)
{
	int64		hundredths;

	if (ranked_count <= 1)
		return int64_div_fast_to_numeric(10000, 2);
	hundredths = (2 * 10000 * (ranked_count - rank) + (ranked_count - 1)) /
		(2 * (ranked_count - 1));
	return int64_div_fast_to_numeric(hundredths, 2);
}

/*
 * qr_event.leaderboard_rank(game_id, participation_id, rank_mode):
 * one row (rank, total_score, ranked_count, percentile).
 */
Datum
qr_event_leaderboard_rank(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		game_id;
	int64		participation_id;
	RankMode	mode;
	RankedParticipation p;
	int64		rank;
	int64		ranked_count;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("game_id, participation_id and rank_mode must not be null")));
	game_id = PG_GETARG_INT64(0);
	participation_id = PG_GETARG_INT64(1);
	mode = LeaderboardParseRankMode(PG_GETARG_TEXT_PP(2));

	InitMaterializedSRF(fcinfo, 0);
	LeaderboardRequireGame(game_id);
	p = LoadParticipation(game_id, participation_id);
	rank = LeaderboardRankOf(game_id, p.score, p.completed_at, participation_id, mode);
	ranked_count = LeaderboardRankedCount(game_id);

	values[0] = Int64GetDatum(rank);
	values[1] = Int64GetDatum(p.score);
	values[2] = Int64GetDatum(ranked_count);
	values[3] = NumericGetDatum(Percentile(rank, ranked_count));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}
