/*
 * cursor.c
 *		SQL boundary of the keyset cursors: qr_event.rotate_cursor_secret, the
 *		secret read straight from qr_event.cursor_keys (the bytes never leave
 *		C, so callers need no privilege on the table), and every status of
 *		cursor_codec turned into an error here, never in the codec.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "cursor.h"

#define CURSOR_SECRET_LEN	32

PG_FUNCTION_INFO_V1(qr_event_rotate_cursor_secret);

/* Raises the error of a database without a cursor secret */
static void
ReportSecretMissing(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cursor secret is missing"),
			 errdetail("Table qr_event.cursor_keys holds no secret to sign cursors with."),
			 errhint("A superuser can create one with SELECT qr_event.rotate_cursor_secret().")));
}

/* Raises "invalid cursor" with the codec's reason as the detail */
static void
ReportInvalidCursor(CursorStatus status)
{
	const char *reason = cursor_status_message(status);

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid cursor"),
			 errdetail("The %s.", reason),
			 errhint("Start again from the first page with a NULL cursor.")));
}

/* First CURSOR_LIST_ID_LEN bytes of SHA-256 over the list identity */
void
CursorListId(const char *identity, uint8 list_id[CURSOR_LIST_ID_LEN])
{
	CursorStatus status = cursor_list_id(identity, strlen(identity), list_id);

	if (status != CURSOR_OK)
		elog(ERROR, "could not hash the list identity: %s", cursor_status_message(status));
}

/* The relation qr_event.cursor_keys, or InvalidOid when it is gone */
static Oid
CursorKeysRelid(void)
{
	Oid			nsp = get_namespace_oid("qr_event", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return get_relname_relid("cursor_keys", nsp);
}

/*
 * Reads the secret of row 1 under the statement's snapshot.  The table is
 * opened directly, without an ACL check: the caller only ever gets what the
 * secret signs, never the secret.
 */
bytea *
CursorSecretRead(void)
{
	Oid			relid = CursorKeysRelid();
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	AttrNumber	attnum;
	bytea	   *secret = NULL;

	if (!OidIsValid(relid) || (attnum = get_attnum(relid, "secret")) <= 0)
		ReportSecretMissing();
	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false,
							  ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(),
							  0, NULL);
	while (secret == NULL && (tuple = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		value = heap_getattr(tuple, attnum, RelationGetDescr(rel), &isnull);

		if (!isnull)
			secret = DatumGetByteaPCopy(value);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (secret == NULL)
		ReportSecretMissing();
	return secret;
}

/* Overwrites the secret's bytes and frees it */
void
CursorSecretForget(bytea *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(VARDATA(secret), VARSIZE(secret) - VARHDRSZ);
	pfree(secret);
}

/* Decodes and authenticates a cursor of the list list_id */
void
CursorDecodeForList(text *cursor_text, const bytea *secret, const uint8 *list_id,
					int nkeys, Cursor *c, uint8 *buf)
{
	CursorStatus status;

	status = cursor_decode(VARDATA_ANY(cursor_text), VARSIZE_ANY_EXHDR(cursor_text),
						   (const uint8 *) VARDATA(secret), VARSIZE(secret) - VARHDRSZ,
						   c, buf, CURSOR_MAX_TEXT);
	if (status == CURSOR_BAD_SECRET || status == CURSOR_CRYPTO_FAILED)
		elog(ERROR, "could not decode a cursor: %s", cursor_status_message(status));
	if (status != CURSOR_OK)
		ReportInvalidCursor(status);
	if (memcmp(c->list_id, list_id, CURSOR_LIST_ID_LEN) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cursor belongs to another list"),
				 errdetail("The cursor was issued for another relation, order, filter or caller."),
				 errhint("Start again from the first page with a NULL cursor.")));
	if (c->nkeys != nkeys)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cursor"),
				 errdetail("The cursor carries %d key values; the list has %d key columns.",
						   c->nkeys, nkeys),
				 errhint("Start again from the first page with a NULL cursor.")));
}

/*
 * Encodes c under the secret as cursor text.  The caller has checked the
 * count, the page and each value's length, so the codec refusing its input
 * means the values together exceed the longest cursor.
 */
text *
CursorEncodeText(const Cursor *c, const bytea *secret)
{
	char		out[CURSOR_MAX_TEXT + 1];
	size_t		outlen = 0;
	CursorStatus status;

	status = cursor_encode(c, (const uint8 *) VARDATA(secret), VARSIZE(secret) - VARHDRSZ,
						   out, sizeof(out), &outlen);
	if (status == CURSOR_BAD_INPUT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("key values are too long for a cursor"),
				 errdetail("The key values of the boundary row need more than %d characters of cursor.",
						   CURSOR_MAX_TEXT),
				 errhint("Order by shorter columns, such as the primary key.")));
	if (status != CURSOR_OK)
		elog(ERROR, "could not encode a cursor: %s", cursor_status_message(status));
	return cstring_to_text_with_len(out, outlen);
}

/* Sets one parameter for the current GUC nest level */
static void
SetForConversion(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * Fixes the settings that change the text form of values, so that a key
 * value written into a cursor in one session reads back identically in
 * another: a float printed with fewer digits, or a date read day-first,
 * would move the boundary.
 */
int
CursorSettingsPush(void)
{
	int			nestlevel = NewGUCNestLevel();

	SetForConversion("datestyle", "ISO, YMD");
	SetForConversion("intervalstyle", "postgres");
	SetForConversion("extra_float_digits", "3");
	return nestlevel;
}

/* Restores the settings CursorSettingsPush changed */
void
CursorSettingsPop(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

/*
 * qr_event.rotate_cursor_secret(): a new random secret in row 1 of
 * qr_event.cursor_keys.  Every cursor signed under the old one stops working.
 */
Datum
qr_event_rotate_cursor_secret(PG_FUNCTION_ARGS)
{
	bytea	   *secret = palloc(VARHDRSZ + CURSOR_SECRET_LEN);
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	int			ret;

	SET_VARSIZE(secret, VARHDRSZ + CURSOR_SECRET_LEN);
	if (!pg_strong_random(VARDATA(secret), CURSOR_SECRET_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random cursor secret")));
	values[0] = PointerGetDatum(secret);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args("INSERT INTO qr_event.cursor_keys (id, secret, created_at)"
								" VALUES (1, $1, pg_catalog.now())"
								" ON CONFLICT (id) DO UPDATE"
								" SET secret = excluded.secret, created_at = excluded.created_at",
								1, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	SPI_finish();

	CursorSecretForget(secret);
	PG_RETURN_VOID();
}
