/*
 * guc.c
 *		Defines the qr_event.* configuration parameters.
 *
 * Only superusers may change them (PGC_SUSET): they set the strength of the
 * password hashes that create_account stores, how much work one page of
 * qr_event.paginate may cost, the score range of a play, how often the
 * leaderboard write trigger compacts and how early doors open.  The plpgsql
 * functions read the last ones with current_setting(name, true) and fall
 * back to the defaults here.
 */
#include "postgres.h"

#include <limits.h>

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "guc.h"

int			qr_event_password_iterations = 210000;
int			qr_event_min_password_length = 10;
int			qr_event_max_page_size = 100;
int			qr_event_max_score = 1000000000;
int			qr_event_leaderboard_compact_every = 256;
int			qr_event_scan_opens_before = 180;

/* Registers every qr_event.* parameter */
void
QrEventDefineGucs(void)
{
	DefineCustomIntVariable("qr_event.password_iterations",
							"PBKDF2-HMAC-SHA256 iterations used to hash new account passwords.",
							"More iterations make stolen hashes costlier to crack and every "
							"hash slower to compute. Each stored hash records its own count, "
							"so changing this setting does not invalidate existing passwords.",
							&qr_event_password_iterations,
							210000, 1000, 10000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("qr_event.min_password_length",
							"Minimum length, in characters, of a new account password.",
							"create_account refuses shorter passwords.",
							&qr_event_min_password_length,
							10, 8, 1024,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("qr_event.max_page_size",
							"Largest page_size qr_event.paginate and the list functions accept.",
							"Bounds the rows one call reads and returns.",
							&qr_event_max_page_size,
							100, 1, 10000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("qr_event.max_score",
							"Largest score qr_event.record_play accepts for one play.",
							"Scores range from 0 to this value.",
							&qr_event_max_score,
							1000000000, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("qr_event.leaderboard_compact_every",
							"Pending leaderboard deltas per game between compactions, on average.",
							"Each delta marks its game for compaction at the end of "
							"the statement with probability 1 / this value; 0 leaves "
							"compaction to qr_event.leaderboard_compact.",
							&qr_event_leaderboard_compact_every,
							256, 0, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("qr_event.scan_opens_before",
							"Minutes before an event starts from which qr_event.scan_qr accepts its codes.",
							"Scans earlier than this, or after the event ends, are rejected "
							"as outside_window.",
							&qr_event_scan_opens_before,
							180, 0, 10080,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/*
 * The settings as SQL functions.  plpgsql must not read them with
 * current_setting(): before this library is loaded in a session, any role
 * may SET a qr_event.* placeholder, and current_setting returns it.  Calling
 * into the library defines the parameters first, which discards a
 * placeholder set without the privilege.
 */
PG_FUNCTION_INFO_V1(qr_event_setting_max_score);
PG_FUNCTION_INFO_V1(qr_event_setting_scan_opens_before);

Datum
qr_event_setting_max_score(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) qr_event_max_score);
}

Datum
qr_event_setting_scan_opens_before(PG_FUNCTION_ARGS)
{
	Interval   *result = palloc0(sizeof(Interval));

	result->time = (int64) qr_event_scan_opens_before * USECS_PER_MINUTE;
	PG_RETURN_INTERVAL_P(result);
}
