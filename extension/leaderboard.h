/*
 * leaderboard.h
 *		Ranks in a game's leaderboard, read from the per-game rank structure
 *		(qr_event.leaderboard_scores, leaderboard_buckets and the pending
 *		leaderboard_deltas) in time independent of the participant's depth.
 *
 * Every function below runs its own SPI_connect/SPI_finish, so a caller may
 * hold an SPI connection or not (SPI nests, and SPI_finish restores the
 * caller's SPI_tuptable).  Each count is one read-only SQL statement over
 * kept plans, run in the caller's active snapshot, so the counts of one call
 * agree with each other and with what the caller reads in that snapshot.
 * The structure tables are readable only by the extension owner: SQL
 * functions calling this API must be SECURITY DEFINER.
 *
 * Order: total_score DESC, completed_at ASC, participation id ASC; only
 * completed participations are ranked.
 */
#ifndef QR_EVENT_LEADERBOARD_H
#define QR_EVENT_LEADERBOARD_H

#include "postgres.h"

#include "utils/timestamp.h"

typedef enum RankMode
{
	RANK_COMPETITION,			/* 1, 1, 3 */
	RANK_DENSE,					/* 1, 1, 2 */
	RANK_ORDINAL				/* 1, 2, 3 */
} RankMode;

/* 'competition', 'dense' or 'ordinal'; 22023 invalid rank_mode: "x" otherwise */
extern RankMode LeaderboardParseRankMode(text *mode);

/* Raises P0002 "game not found" unless the game exists */
extern void LeaderboardRequireGame(int64 game_id);

/* Completed participations of the game with a higher score than score */
extern int64 LeaderboardCountAbove(int64 game_id, int64 score);

/* Distinct scores of completed participations higher than score */
extern int64 LeaderboardDistinctAbove(int64 game_id, int64 score);

/* Completed participations of the game */
extern int64 LeaderboardRankedCount(int64 game_id);

/*
 * 1-based rank of the completed participation (participation_id, score,
 * completed_at) in the game.  Competition and dense ranks cost a fixed number
 * of index range scans; ordinal also counts the rows tied at score that come
 * first by (completed_at, id), linear in the ties at that score only.
 */
extern int64 LeaderboardRankOf(int64 game_id, int64 score,
							   TimestampTz completed_at, int64 participation_id,
							   RankMode mode);

#endif							/* QR_EVENT_LEADERBOARD_H */
