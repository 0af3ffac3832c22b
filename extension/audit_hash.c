/*
 * audit_hash.c
 *		The hash chain of qr_event.qr_code_events: the canonical encoding v1
 *		of an event and its SHA-256 (see audit.h and README.md), the SQL
 *		functions qr_event.audit_encode and qr_event.audit_hash, and the
 *		triggers of the event store.
 *
 * qr_event.audit_chain() is the BEFORE INSERT row trigger that links an
 * event to its code's chain: it fills prev_hash from version - 1 when the
 * caller left it NULL (one lookup through the (qr_code_id, version) unique
 * index, a plan kept per backend) and sets hash = SHA-256 of the encoding.
 * A prev_hash the caller passes is taken as is (the commands pass the one
 * of their projection; verify_audit reports a wrong one).  Only a superuser
 * may insert a row that already carries a hash, as pg_restore does.
 *
 * qr_event.audit_append_only() refuses UPDATE, DELETE and TRUNCATE of the
 * event store to everyone but superusers.
 *
 * Neither trigger function is SECURITY DEFINER: the lookup reads the table
 * with the inserting role's privileges (the gateway role may SELECT it, the
 * commands run as the owner).
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "audit.h"
#include "kept_plan.h"

PG_FUNCTION_INFO_V1(qr_event_audit_encode);
PG_FUNCTION_INFO_V1(qr_event_audit_hash);
PG_FUNCTION_INFO_V1(qr_event_audit_chain);
PG_FUNCTION_INFO_V1(qr_event_audit_append_only);

/* A column of qr_code_events: its name and type */
typedef struct AuditFieldSpec
{
	const char *name;
	Oid			type;
} AuditFieldSpec;

/* The columns, in AuditField order */
static const AuditFieldSpec audit_fields[AUDIT_NFIELDS] =
{
	{"seq", INT8OID},
	{"event_id", INT8OID},
	{"qr_code_id", INT8OID},
	{"version", INT4OID},
	{"type", TEXTOID},
	{"payload", JSONBOID},
	{"actor", TEXTOID},
	{"gate", TEXTOID},
	{"device", TEXTOID},
	{"occurred_at", TIMESTAMPTZOID},
	{"recorded_at", TIMESTAMPTZOID},
	{"prev_hash", BYTEAOID},
	{"hash", BYTEAOID},
};

static const char hex_digits[] = "0123456789abcdef";

/* The row hashes' OpenSSL state, kept for the life of the backend */
static EVP_MD_CTX *row_md_ctx;
static const EVP_MD *sha256_md;

static const char *const prev_hash_sql =
"SELECT hash FROM qr_event.qr_code_events"
" WHERE qr_code_id OPERATOR(pg_catalog.=) $1"
" AND version OPERATOR(pg_catalog.=) $2";

static SPIPlanPtr prev_hash_plan;
static Oid	prev_hash_types[2] = {INT8OID, INT4OID};

void
AuditMapColumns(TupleDesc desc, AuditColumns *cols)
{
	for (int f = 0; f < AUDIT_NFIELDS; f++)
		cols->attnum[f] = InvalidAttrNumber;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		for (int f = 0; f < AUDIT_NFIELDS; f++)
		{
			if (strcmp(NameStr(att->attname), audit_fields[f].name) != 0)
				continue;
			if (att->atttypid != audit_fields[f].type)
				elog(ERROR, "audit: column \"%s\" has type %s, expected %s",
					 audit_fields[f].name, format_type_be(att->atttypid),
					 format_type_be(audit_fields[f].type));
			cols->attnum[f] = att->attnum;
			break;
		}
	}

	for (int f = 0; f < AUDIT_NFIELDS; f++)
		if (cols->attnum[f] == InvalidAttrNumber)
			elog(ERROR, "audit: the row has no column \"%s\"", audit_fields[f].name);
}

void
AuditReadRow(HeapTuple tuple, TupleDesc desc, const AuditColumns *cols,
			 AuditRow *row)
{
	for (int f = 0; f < AUDIT_NFIELDS; f++)
		row->values[f] = heap_getattr(tuple, cols->attnum[f], desc,
									  &row->isnull[f]);
}

void
AuditHex(const unsigned char *bytes, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++)
	{
		*out++ = hex_digits[bytes[i] >> 4];
		*out++ = hex_digits[bytes[i] & 0x0F];
	}
}

/* Writes value as width decimal digits with leading zeros */
static char *
put_digits(char *p, int value, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		p[i] = (char) ('0' + value % 10);
		value /= 10;
	}
	return p + width;
}

/*
 * Formats ts in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ (27 characters, no
 * terminator); refuses what does not fit that form.
 */
static int
format_utc(TimestampTz ts, char *buf)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char	   *p = buf;

	if (TIMESTAMP_NOT_FINITE(ts) ||
		timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range for the audit encoding"),
				 errdetail("Audit encoding v1 writes timestamps of the years 0001 to 9999 only.")));

	p = put_digits(p, tm.tm_year, 4);
	*p++ = '-';
	p = put_digits(p, tm.tm_mon, 2);
	*p++ = '-';
	p = put_digits(p, tm.tm_mday, 2);
	*p++ = 'T';
	p = put_digits(p, tm.tm_hour, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_min, 2);
	*p++ = ':';
	p = put_digits(p, tm.tm_sec, 2);
	*p++ = '.';
	p = put_digits(p, fsec, 6);
	*p++ = 'Z';
	return (int) (p - buf);
}

/* Appends "<name>:<len>:<value>\n" */
static void
append_field(StringInfo out, const char *name, const char *value, size_t len)
{
	char		lenbuf[MAXINT8LEN + 1];
	int			lenlen = pg_lltoa((int64) len, lenbuf);
	int			namelen = strlen(name);

	if (len > (size_t) (MaxAllocSize / 2))
		elog(ERROR, "audit: field \"%s\" is too long to encode", name);
	enlargeStringInfo(out, namelen + lenlen + (int) len + 3);
	memcpy(out->data + out->len, name, namelen);
	out->len += namelen;
	out->data[out->len++] = ':';
	memcpy(out->data + out->len, lenbuf, lenlen);
	out->len += lenlen;
	out->data[out->len++] = ':';
	memcpy(out->data + out->len, value, len);
	out->len += len;
	out->data[out->len++] = '\n';
	out->data[out->len] = '\0';
}

void
AuditEncode(StringInfo out, StringInfo scratch, const AuditRow *row)
{
	appendBinaryStringInfo(out, AUDIT_ENCODING_TAG "\n",
						   sizeof(AUDIT_ENCODING_TAG "\n") - 1);

	for (int f = 0; f < AUDIT_NENCODED; f++)
	{
		const char *name = audit_fields[f].name;
		Datum		d = row->values[f];
		char		buf[32];
		int			len;

		if (row->isnull[f])
		{
			appendStringInfoString(out, name);
			appendBinaryStringInfo(out, ":-\n", 3);
			continue;
		}

		switch (audit_fields[f].type)
		{
			case INT8OID:
				len = pg_lltoa(DatumGetInt64(d), buf);
				append_field(out, name, buf, len);
				break;
			case INT4OID:
				len = pg_ltoa(DatumGetInt32(d), buf);
				append_field(out, name, buf, len);
				break;
			case TEXTOID:
				{
					text	   *t = DatumGetTextPP(d);

					append_field(out, name, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
					break;
				}
			case JSONBOID:
				{
					Jsonb	   *jb = DatumGetJsonbP(d);

					resetStringInfo(scratch);
					(void) JsonbToCString(scratch, &jb->root, VARSIZE(jb));
					append_field(out, name, scratch->data, scratch->len);
					break;
				}
			case TIMESTAMPTZOID:
				len = format_utc(DatumGetTimestampTz(d), buf);
				append_field(out, name, buf, len);
				break;
			case BYTEAOID:
				{
					bytea	   *b = DatumGetByteaPP(d);
					size_t		blen = VARSIZE_ANY_EXHDR(b);

					resetStringInfo(scratch);
					enlargeStringInfo(scratch, (int) (2 * blen));
					AuditHex((const unsigned char *) VARDATA_ANY(b), blen, scratch->data);
					scratch->len = (int) (2 * blen);
					append_field(out, name, scratch->data, scratch->len);
					break;
				}
			default:
				elog(ERROR, "audit: no encoding for field \"%s\"", name);
		}
	}
}

void
AuditSha256(const char *data, size_t len, unsigned char out[AUDIT_HASH_LEN])
{
	unsigned int outlen = 0;

	if (row_md_ctx == NULL)
	{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
		/* an explicit fetch, so that every init reuses it */
		sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
#else
		sha256_md = EVP_sha256();
#endif
		if (sha256_md == NULL)
			elog(ERROR, "audit: OpenSSL has no SHA-256");
		row_md_ctx = EVP_MD_CTX_new();
		if (row_md_ctx == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}

	if (EVP_DigestInit_ex(row_md_ctx, sha256_md, NULL) != 1 ||
		EVP_DigestUpdate(row_md_ctx, data, len) != 1 ||
		EVP_DigestFinal_ex(row_md_ctx, out, &outlen) != 1 ||
		outlen != AUDIT_HASH_LEN)
		elog(ERROR, "audit: SHA-256 failed");
}

/* Reads the fields of a qr_code_events row value */
static void
row_from_composite(HeapTupleHeader th, AuditRow *row)
{
	TupleDesc	desc;
	HeapTupleData tuple;
	AuditColumns cols;

	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(th),
								  HeapTupleHeaderGetTypMod(th));
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;

	AuditMapColumns(desc, &cols);
	AuditReadRow(&tuple, desc, &cols, row);
	ReleaseTupleDesc(desc);
}

/* The encoding of row as a bytea */
static bytea *
encode_row(const AuditRow *row)
{
	StringInfoData out;
	StringInfoData scratch;
	bytea	   *result;

	initStringInfo(&out);
	initStringInfo(&scratch);
	/* room for the varlena header in front of the text */
	appendStringInfoSpaces(&out, VARHDRSZ);
	AuditEncode(&out, &scratch, row);
	result = (bytea *) out.data;
	SET_VARSIZE(result, out.len);
	pfree(scratch.data);
	return result;
}

/* qr_event.audit_encode(e qr_event.qr_code_events): encoding v1 of e */
Datum
qr_event_audit_encode(PG_FUNCTION_ARGS)
{
	AuditRow	row;

	row_from_composite(PG_GETARG_HEAPTUPLEHEADER(0), &row);
	PG_RETURN_BYTEA_P(encode_row(&row));
}

/* qr_event.audit_hash(e qr_event.qr_code_events): SHA-256 of the encoding */
Datum
qr_event_audit_hash(PG_FUNCTION_ARGS)
{
	AuditRow	row;
	bytea	   *enc;
	bytea	   *result = palloc(VARHDRSZ + AUDIT_HASH_LEN);

	row_from_composite(PG_GETARG_HEAPTUPLEHEADER(0), &row);
	enc = encode_row(&row);
	AuditSha256(VARDATA(enc), VARSIZE(enc) - VARHDRSZ,
				(unsigned char *) VARDATA(result));
	SET_VARSIZE(result, VARHDRSZ + AUDIT_HASH_LEN);
	pfree(enc);
	PG_RETURN_BYTEA_P(result);
}

/*
 * The hash of version of qr_code_id, read with a fresh snapshot (so that
 * events committed meanwhile, and earlier rows of the same statement, are
 * seen); NULL when there is no such event.
 */
static Datum
lookup_hash(int64 qr_code_id, int32 version, bool *found)
{
	Datum		args[2] = {Int64GetDatum(qr_code_id), Int32GetDatum(version)};
	Datum		hash = (Datum) 0;
	bool		isnull = true;
	int			rc;

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(KeptPlan(&prev_hash_plan, prev_hash_sql, 2, prev_hash_types, 0),
						  args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "audit_chain: lookup of the previous event failed: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		hash = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
							 &isnull);
		if (!isnull)
			hash = SPI_datumTransfer(hash, false, -1);
	}
	SPI_finish();

	*found = !isnull;
	return hash;
}

/*
 * Links row to its chain as the trigger does: version 1 must have no
 * prev_hash (23514); a version > 1 without one gets the hash of version - 1
 * (23503 when that event is missing); recorded_at NULL becomes the clock.
 */
void
AuditLinkRow(AuditRow *row)
{
	if (!row->isnull[AUDIT_VERSION] && !row->isnull[AUDIT_QR_CODE_ID])
	{
		int64		qr_code_id = DatumGetInt64(row->values[AUDIT_QR_CODE_ID]);
		int32		version = DatumGetInt32(row->values[AUDIT_VERSION]);

		if (version == 1 && !row->isnull[AUDIT_PREV_HASH])
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("version 1 of QR code " INT64_FORMAT " cannot have a prev_hash",
							qr_code_id),
					 errdetail("The first event of a code starts its chain.")));
		if (version > 1 && row->isnull[AUDIT_PREV_HASH])
		{
			bool		found;
			Datum		prev = lookup_hash(qr_code_id, version - 1, &found);

			if (!found)
				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("previous event of QR code " INT64_FORMAT " version %d not found",
								qr_code_id, version),
						 errdetail("Version %d of QR code " INT64_FORMAT " must be recorded first.",
								   version - 1, qr_code_id)));
			row->values[AUDIT_PREV_HASH] = prev;
			row->isnull[AUDIT_PREV_HASH] = false;
		}
	}

	/* the column default has normally set it already */
	if (row->isnull[AUDIT_RECORDED_AT])
	{
		row->values[AUDIT_RECORDED_AT] = TimestampTzGetDatum(GetCurrentTimestamp());
		row->isnull[AUDIT_RECORDED_AT] = false;
	}
}

/* SHA-256 of the encoding v1 of row */
void
AuditHashRow(const AuditRow *row, unsigned char out[AUDIT_HASH_LEN])
{
	StringInfoData enc;
	StringInfoData scratch;

	initStringInfo(&enc);
	initStringInfo(&scratch);
	AuditEncode(&enc, &scratch, row);
	AuditSha256(enc.data, enc.len, out);
	pfree(enc.data);
	pfree(scratch.data);
}

/*
 * qr_event.audit_chain(): BEFORE INSERT FOR EACH ROW on qr_code_events.
 * Links the new event to its chain and sets its hash.
 */
Datum
qr_event_audit_chain(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	tuple;
	AuditColumns cols;
	AuditRow	row;
	bytea	   *hash;
	int			replace[3];
	Datum		values[3];
	bool		isnull[3];

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		elog(ERROR, "audit_chain must fire BEFORE INSERT FOR EACH ROW");

	tuple = trigdata->tg_trigtuple;
	desc = RelationGetDescr(trigdata->tg_relation);
	AuditMapColumns(desc, &cols);
	AuditReadRow(tuple, desc, &cols, &row);

	/* a row that carries its hash: restored from a dump, taken as is */
	if (!row.isnull[AUDIT_HASH])
	{
		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("hash is computed by the database"),
					 errdetail("Only a superuser may insert an event with its hash, as pg_restore does."),
					 errhint("Insert the event with hash NULL.")));
		return PointerGetDatum(tuple);
	}

	AuditLinkRow(&row);

	hash = palloc(VARHDRSZ + AUDIT_HASH_LEN);
	SET_VARSIZE(hash, VARHDRSZ + AUDIT_HASH_LEN);
	AuditHashRow(&row, (unsigned char *) VARDATA(hash));

	replace[0] = cols.attnum[AUDIT_PREV_HASH];
	values[0] = row.values[AUDIT_PREV_HASH];
	isnull[0] = row.isnull[AUDIT_PREV_HASH];
	replace[1] = cols.attnum[AUDIT_RECORDED_AT];
	values[1] = row.values[AUDIT_RECORDED_AT];
	isnull[1] = false;
	replace[2] = cols.attnum[AUDIT_HASH];
	values[2] = PointerGetDatum(hash);
	isnull[2] = false;

	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, desc, 3, replace,
													 values, isnull));
}

/*
 * qr_event.audit_append_only(): BEFORE UPDATE OR DELETE FOR EACH ROW and
 * BEFORE TRUNCATE FOR EACH STATEMENT.  Lets superusers through.
 */
Datum
qr_event_audit_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;
	const char *what;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		elog(ERROR, "audit_append_only must fire BEFORE UPDATE, DELETE or TRUNCATE");
	event = trigdata->tg_event;

	if (TRIGGER_FIRED_BY_UPDATE(event))
		what = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(event))
		what = "DELETE";
	else if (TRIGGER_FIRED_BY_TRUNCATE(event))
		what = "TRUNCATE";
	else
		elog(ERROR, "audit_append_only must fire BEFORE UPDATE, DELETE or TRUNCATE");

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s is append-only", RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("%s is refused; only a superuser may change recorded events.", what),
				 errhint("Record a correction as a new event.")));

	if (!TRIGGER_FIRED_FOR_ROW(event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}
