/*
 * scan_qr.c
 *		qr_event.scan_qr(), the door's hot path, in C.
 *
 * A scan locks its code's projection row (one kept SPI plan: the row of
 * qr_codes by token, joined to its event, FOR UPDATE OF the code), decides
 * the reason as the commands' rules say, appends the event to the code's
 * chain straight to the heap and indexes (audit_append.c) and moves the
 * projection (one kept SPI plan: an UPDATE of the locked row).  An unknown
 * token is logged in qr_unknown_scans (SPI too, it is the rare path).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "audit.h"
#include "audit_append.h"
#include "kept_plan.h"
#include "guc.h"

PG_FUNCTION_INFO_V1(qr_event_scan_qr);


/* The SPI plans, kept for the life of the backend */
static SPIPlanPtr lock_plan;
static SPIPlanPtr move_plan;
static SPIPlanPtr unknown_plan;

static const char *const lock_sql =
"SELECT c.id, c.event_id, c.version, c.head_hash, c.first_scan_at, c.first_scan_gate, c.status,"
" ev.starts_at, ev.ends_at"
" FROM qr_event.qr_codes c JOIN qr_event.events ev ON ev.id OPERATOR(pg_catalog.=) c.event_id"
" WHERE c.token OPERATOR(pg_catalog.=) $1"
" FOR UPDATE OF c";

/* the columns of lock_sql */
enum
{
	LK_ID = 1, LK_EVENT_ID, LK_VERSION, LK_HEAD_HASH, LK_FIRST_SCAN_AT,
	LK_FIRST_SCAN_GATE, LK_STATUS, LK_STARTS_AT, LK_ENDS_AT
};

static const char *const move_sql =
"UPDATE qr_event.qr_codes z"
" SET status = CASE WHEN $2 THEN 'used' ELSE z.status END,"
" first_scan_at = CASE WHEN $2 THEN $3 ELSE z.first_scan_at END,"
" first_scan_gate = CASE WHEN $2 THEN $4 ELSE z.first_scan_gate END,"
" version = $5, head_hash = $6, updated_at = $7"
" WHERE z.id OPERATOR(pg_catalog.=) $1"
" RETURNING z.id, z.guest_id, z.first_scan_at, z.first_scan_gate, z.version";

static const char *const unknown_sql =
"INSERT INTO qr_event.qr_unknown_scans (token_sha256, expected_event_id, actor, gate, device, occurred_at)"
" VALUES (pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')), $2, $3, $4, $5, $6)";

/* The OUT row of scan_qr */
#define SCAN_RESULT_NATTS 7


/* ---------------------------------------------------------------------------
 * The scan
 * ---------------------------------------------------------------------------
 */

/* Checks a gate, device or actor argument as qr_check_text does */
static void
check_text_arg(const char *name, FunctionCallInfo fcinfo, int argno)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		return;
	t = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(t) == 0 ||
		pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) > SCAN_TEXT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be 1 to 200 characters", name)));
}

/* A jsonb string value */
static void
push_string(JsonbParseState **state, JsonbIteratorToken token, const char *s, int len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = len;
	(void) pushJsonbValue(state, token, &v);
}

/*
 * The payload of a rejected scan, as
 * jsonb_strip_nulls(jsonb_build_object('reason', why, 'scanned_for_event', ...,
 * 'first_scan_at', ..., 'first_scan_gate', ...)): absent keys are the NULLs.
 */
static Datum
rejected_payload(const char *why, bool wrong_event, int64 door_event,
				 bool already_used, Datum first_scan_at, bool first_scan_at_null,
				 Datum first_scan_gate, bool first_scan_gate_null)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	push_string(&state, WJB_KEY, "reason", 6);
	push_string(&state, WJB_VALUE, why, strlen(why));
	if (wrong_event)
	{
		JsonbValue	v;

		push_string(&state, WJB_KEY, "scanned_for_event", 17);
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(door_event);
		(void) pushJsonbValue(&state, WJB_VALUE, &v);
	}
	if (already_used && !first_scan_at_null)
	{
		char	   *ts = JsonEncodeDateTime(NULL, first_scan_at, TIMESTAMPTZOID, NULL);

		push_string(&state, WJB_KEY, "first_scan_at", 13);
		push_string(&state, WJB_VALUE, ts, strlen(ts));
	}
	if (already_used && !first_scan_gate_null)
	{
		text	   *g = DatumGetTextPP(first_scan_gate);

		push_string(&state, WJB_KEY, "first_scan_gate", 15);
		push_string(&state, WJB_VALUE, VARDATA_ANY(g), VARSIZE_ANY_EXHDR(g));
	}
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}

/* The empty object, the payload of an accepted scan */
static Datum
empty_payload(void)
{
	JsonbParseState *state = NULL;
	JsonbValue *result;

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	result = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(result));
}

static bool
text_equals(Datum d, const char *s)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * qr_event.scan_qr(token, gate, device, event_id, actor, occurred_at,
 *	 OUT accepted, OUT reason, OUT qr_code_id, OUT guest_id,
 *	 OUT first_scan_at, OUT first_scan_gate, OUT version)
 */
Datum
qr_event_scan_qr(PG_FUNCTION_ARGS)
{
	MemoryContext caller = CurrentMemoryContext;
	TupleDesc	result_desc;
	Datum		result[SCAN_RESULT_NATTS];
	bool		result_null[SCAN_RESULT_NATTS];
	HeapTuple	result_tuple;
	Datum		token;
	Datum		gate;
	Datum		device = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	bool		door_event_null = PG_ARGISNULL(3);
	int64		door_event = door_event_null ? 0 : PG_GETARG_INT64(3);
	Datum		actor = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	TimestampTz occurred_at;
	Datum		lock_args[1];
	int			rc;

	/* the arguments, in the order and with the messages of 0.4.0 */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("token and occurred_at must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("gate must not be null")));
	check_text_arg("gate", fcinfo, 1);
	check_text_arg("device", fcinfo, 2);
	check_text_arg("actor", fcinfo, 4);
	token = PG_GETARG_DATUM(0);
	gate = PG_GETARG_DATUM(1);
	occurred_at = PG_GETARG_TIMESTAMPTZ(5);

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE ||
		result_desc->natts != SCAN_RESULT_NATTS)
		elog(ERROR, "scan_qr: return type must be a row of %d columns", SCAN_RESULT_NATTS);
	result_desc = BlessTupleDesc(result_desc);
	memset(result_null, true, sizeof(result_null));

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	{
		Oid			lock_types[1] = {TEXTOID};
		Oid			move_types[7] = {INT8OID, BOOLOID, TIMESTAMPTZOID, TEXTOID, INT4OID,
		BYTEAOID, TIMESTAMPTZOID};

		KeptPlan(&lock_plan, lock_sql, 1, lock_types, CURSOR_OPT_GENERIC_PLAN);
		KeptPlan(&move_plan, move_sql, 7, move_types, CURSOR_OPT_GENERIC_PLAN);
	}

	/* lock the code's row: a second door waits here, then reads what the first committed */
	lock_args[0] = token;
	rc = SPI_execute_plan(lock_plan, lock_args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "scan_qr: lookup of the code failed: %s", SPI_result_code_string(rc));

	if (SPI_processed == 0)
	{
		/* no code, no chain: log the scan with the token hashed */
		Datum		args[6];
		char		nulls[6] = {' ', door_event_null ? 'n' : ' ', PG_ARGISNULL(4) ? 'n' : ' ',
		' ', PG_ARGISNULL(2) ? 'n' : ' ', ' '};

		Oid			types[6] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};

		KeptPlan(&unknown_plan, unknown_sql, 6, types, CURSOR_OPT_GENERIC_PLAN);
		args[0] = token;
		args[1] = Int64GetDatum(door_event);
		args[2] = actor;
		args[3] = gate;
		args[4] = device;
		args[5] = TimestampTzGetDatum(occurred_at);
		rc = SPI_execute_plan(unknown_plan, args, nulls, false, 0);
		if (rc != SPI_OK_INSERT)
			elog(ERROR, "scan_qr: logging the unknown scan failed: %s", SPI_result_code_string(rc));

		MemoryContextSwitchTo(caller);
		result[0] = BoolGetDatum(false);
		result_null[0] = false;
		result[1] = CStringGetTextDatum("unknown");
		result_null[1] = false;
		result_tuple = heap_form_tuple(result_desc, result, result_null);
	}
	else
	{
		HeapTuple	code = SPI_tuptable->vals[0];
		TupleDesc	code_desc = SPI_tuptable->tupdesc;
		bool		isnull;
		bool		first_scan_at_null;
		bool		first_scan_gate_null;
		bool		starts_null;
		bool		ends_null;
		Datum		first_scan_at;
		Datum		first_scan_gate;
		Datum		status;
		Datum		starts_at;
		Datum		ends_at;
		int32		code_version;
		ScanEvent	ev;
		const char *why;
		bool		wrong_event = false;
		bool		already_used = false;
		Datum		move_args[7];
		char		move_nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

		ev.code_id = DatumGetInt64(SPI_getbinval(code, code_desc, LK_ID, &isnull));
		ev.event_id = DatumGetInt64(SPI_getbinval(code, code_desc, LK_EVENT_ID, &isnull));
		code_version = DatumGetInt32(SPI_getbinval(code, code_desc, LK_VERSION, &isnull));
		ev.prev_hash = SPI_getbinval(code, code_desc, LK_HEAD_HASH, &ev.prev_hash_null);
		first_scan_at = SPI_getbinval(code, code_desc, LK_FIRST_SCAN_AT, &first_scan_at_null);
		first_scan_gate = SPI_getbinval(code, code_desc, LK_FIRST_SCAN_GATE, &first_scan_gate_null);
		status = SPI_getbinval(code, code_desc, LK_STATUS, &isnull);
		starts_at = SPI_getbinval(code, code_desc, LK_STARTS_AT, &starts_null);
		ends_at = SPI_getbinval(code, code_desc, LK_ENDS_AT, &ends_null);

		/* the reason, in the order of 0.4.0 */
		if (!door_event_null && door_event != ev.event_id)
		{
			why = "wrong_event";
			wrong_event = true;
		}
		else if (text_equals(status, "revoked"))
			why = "revoked";
		else if (text_equals(status, "replaced"))
			why = "replaced";
		else if (text_equals(status, "used"))
		{
			why = "already_used";
			already_used = true;
		}
		else
		{
			Interval	opens = {0};
			bool		before = false;
			bool		after = false;

			opens.time = (int64) qr_event_scan_opens_before * USECS_PER_MINUTE;
			if (!starts_null)
				before = occurred_at < DatumGetTimestampTz(
					DirectFunctionCall2(timestamptz_mi_interval, starts_at,
										IntervalPGetDatum(&opens)));
			if (!ends_null)
				after = occurred_at > DatumGetTimestampTz(ends_at);
			why = (before || after) ? "outside_window" : "accepted";
		}
		ev.accepted = strcmp(why, "accepted") == 0;

		/* version + 1, as integer arithmetic would */
		if (code_version == PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("integer out of range")));
		ev.version = code_version + 1;
		ev.payload = ev.accepted ? empty_payload()
			: rejected_payload(why, wrong_event, door_event, already_used,
							   first_scan_at, first_scan_at_null,
							   first_scan_gate, first_scan_gate_null);

		AuditAppendScanEvent(&ev, actor, PG_ARGISNULL(4), gate, device, PG_ARGISNULL(2), occurred_at);

		/* move the projection to the new head */
		move_args[0] = Int64GetDatum(ev.code_id);
		move_args[1] = BoolGetDatum(ev.accepted);
		move_args[2] = TimestampTzGetDatum(occurred_at);
		move_args[3] = gate;
		move_args[4] = Int32GetDatum(ev.version);
		move_args[5] = ev.hash;
		move_args[6] = TimestampTzGetDatum(ev.recorded_at);
		rc = SPI_execute_plan(move_plan, move_args, move_nulls, false, 0);
		if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
			elog(ERROR, "scan_qr: update of QR code " INT64_FORMAT " failed: %s",
				 ev.code_id, SPI_result_code_string(rc));

		/* the OUT row, from the updated row, in the caller's memory */
		MemoryContextSwitchTo(caller);
		code = SPI_tuptable->vals[0];
		code_desc = SPI_tuptable->tupdesc;
		result[0] = BoolGetDatum(ev.accepted);
		result_null[0] = false;
		result[1] = CStringGetTextDatum(why);
		result_null[1] = false;
		for (int i = 0; i < 5; i++)
			result[2 + i] = SPI_getbinval(code, code_desc, i + 1, &result_null[2 + i]);
		result_tuple = heap_form_tuple(result_desc, result, result_null);
	}

	SPI_finish();
	PG_RETURN_DATUM(HeapTupleGetDatum(result_tuple));
}
