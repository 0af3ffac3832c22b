/*
 * audit_verify.c
 *		Verification of the QR audit event store: qr_event.verify_audit, which
 *		walks every chain and recomputes every hash, and qr_event.audit_digest,
 *		the digest of the chain heads as of a seq (see audit.h and README.md).
 *
 * Both read qr_event.qr_code_events once, in (qr_code_id, version) order,
 * through an SPI cursor fetched in batches, in the caller's snapshot.  Each
 * row is encoded straight from its tuple into buffers reused for the whole
 * walk; whatever a row allocates (detoasted values, the payload's text) goes
 * to a memory context reset after the row.  The digest is computed in the
 * same walk: a code's head as of N is the last of its events with
 * seq <= N in version order.
 */
#include "postgres.h"

#include <openssl/evp.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "audit.h"

PG_FUNCTION_INFO_V1(qr_event_verify_audit);
PG_FUNCTION_INFO_V1(qr_event_audit_digest);

/* Rows per cursor fetch */
#define AUDIT_FETCH_ROWS 10000

static const char *const walk_sql =
"SELECT seq, event_id, qr_code_id, version, type, payload, actor, gate, device,"
" occurred_at, recorded_at, prev_hash, hash"
" FROM qr_event.qr_code_events ORDER BY qr_code_id, version";

static const char *const heads_sql =
"SELECT qr_code_id, version, seq, hash FROM qr_event.qr_code_events"
" WHERE seq OPERATOR(pg_catalog.<=) $1 ORDER BY qr_code_id, version";

static const char *const max_seq_sql =
"SELECT COALESCE(pg_catalog.max(seq), 0) FROM qr_event.qr_code_events";

struct AuditDigest
{
	EVP_MD_CTX *ctx;
	int64		up_to;
	bool		have_head;		/* head_* hold the current code's head */
	int64		head_code;
	int32		head_version;
	char		head_hex[AUDIT_HEX_LEN];
	int64		chains;
	int64		events;
};

/* Frees the OpenSSL state with the memory context holding the digest */
static void
digest_free(void *arg)
{
	AuditDigest *digest = (AuditDigest *) arg;

	EVP_MD_CTX_free(digest->ctx);
	digest->ctx = NULL;
}

AuditDigest *
AuditDigestCreate(int64 up_to)
{
	AuditDigest *digest = palloc0(sizeof(AuditDigest));
	MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

	digest->up_to = up_to;
	digest->ctx = EVP_MD_CTX_new();
	if (digest->ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	cb->func = digest_free;
	cb->arg = digest;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);

	if (EVP_DigestInit_ex(digest->ctx, EVP_sha256(), NULL) != 1)
		elog(ERROR, "audit: SHA-256 failed");
	return digest;
}

/* Adds the line of the current head, if any */
static void
digest_flush_head(AuditDigest *digest)
{
	char		line[2 * MAXINT8LEN + AUDIT_HEX_LEN + 8];
	int			len;

	if (!digest->have_head)
		return;
	len = pg_lltoa(digest->head_code, line);
	line[len++] = ':';
	len += pg_ltoa(digest->head_version, line + len);
	line[len++] = ':';
	memcpy(line + len, digest->head_hex, AUDIT_HEX_LEN);
	len += AUDIT_HEX_LEN;
	line[len++] = '\n';
	if (EVP_DigestUpdate(digest->ctx, line, len) != 1)
		elog(ERROR, "audit: SHA-256 failed");
	digest->chains++;
	digest->have_head = false;
}

void
AuditDigestAdd(AuditDigest *digest, int64 qr_code_id, int32 version,
			   int64 seq, const unsigned char *hash, size_t hash_len)
{
	if (seq > digest->up_to)
		return;
	if (hash_len != AUDIT_HASH_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("event seq " INT64_FORMAT " has a hash of %zu bytes, not %d",
						seq, hash_len, AUDIT_HASH_LEN)));
	if (digest->have_head && digest->head_code != qr_code_id)
		digest_flush_head(digest);
	digest->have_head = true;
	digest->head_code = qr_code_id;
	digest->head_version = version;
	AuditHex(hash, hash_len, digest->head_hex);
	digest->events++;
}

void
AuditDigestFinish(AuditDigest *digest, char hex[AUDIT_HEX_LEN + 1],
				  int64 *chains, int64 *events)
{
	unsigned char md[AUDIT_HASH_LEN];
	unsigned int mdlen = 0;

	digest_flush_head(digest);
	if (EVP_DigestFinal_ex(digest->ctx, md, &mdlen) != 1 || mdlen != AUDIT_HASH_LEN)
		elog(ERROR, "audit: SHA-256 failed");
	AuditHex(md, AUDIT_HASH_LEN, hex);
	hex[AUDIT_HEX_LEN] = '\0';
	*chains = digest->chains;
	*events = digest->events;
}

/* Runs under an SPI connection */
static int64
max_seq_connected(void)
{
	bool		isnull;
	Datum		d;
	int			rc = SPI_execute(max_seq_sql, true, 1);

	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "audit: reading the greatest seq failed: %s",
			 SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

int64
AuditMaxSeq(void)
{
	int64		result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	result = max_seq_connected();
	SPI_finish();
	return result;
}

/* Opens a read-only, forward-only cursor over sql, planned for all its rows */
static Portal
open_walk(const char *sql, int nargs, Oid *argtypes, Datum *args)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_NO_SCROLL);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, args, NULL, true);
	if (portal == NULL)
		elog(ERROR, "SPI_cursor_open failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	return portal;
}

/* The bytes of a bytea Datum */
static inline void
bytea_bytes(Datum d, const unsigned char **bytes, size_t *len)
{
	bytea	   *b = DatumGetByteaPP(d);

	*bytes = (const unsigned char *) VARDATA_ANY(b);
	*len = VARSIZE_ANY_EXHDR(b);
}

/* Parses 64 hex digits (either case) into 32 bytes; false if malformed */
static bool
parse_digest(const char *s, size_t len, char hex[AUDIT_HEX_LEN + 1])
{
	if (len != AUDIT_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char) (c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		hex[i] = c;
	}
	hex[AUDIT_HEX_LEN] = '\0';
	return true;
}

/* The chain state of verify_audit: the previous row, when of the same code */
typedef struct WalkState
{
	bool		have_prev;
	int64		prev_code;
	int32		prev_version;
	StringInfoData prev_hash;	/* stored hash of the previous row */
} WalkState;

/* Adds one problem row to the result */
static void
report(ReturnSetInfo *rsinfo, const AuditRow *row, const char *problem)
{
	Datum		values[4];
	bool		nulls[4];

	values[0] = row ? row->values[AUDIT_SEQ] : (Datum) 0;
	nulls[0] = row ? row->isnull[AUDIT_SEQ] : true;
	values[1] = row ? row->values[AUDIT_QR_CODE_ID] : (Datum) 0;
	nulls[1] = row ? row->isnull[AUDIT_QR_CODE_ID] : true;
	values[2] = row ? row->values[AUDIT_VERSION] : (Datum) 0;
	nulls[2] = row ? row->isnull[AUDIT_VERSION] : true;
	values[3] = CStringGetTextDatum(problem);
	nulls[3] = false;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static bool
bytes_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Checks one row of the walk against its hash and the previous row */
static void
verify_row(ReturnSetInfo *rsinfo, WalkState *st, const AuditRow *row,
		   StringInfo enc, StringInfo scratch, AuditDigest *digest)
{
	unsigned char computed[AUDIT_HASH_LEN];
	const unsigned char *hash = NULL;
	size_t		hash_len = 0;
	const unsigned char *prev = NULL;
	size_t		prev_len = 0;
	bool		placed;
	int64		code = 0;
	int32		version = 0;

	resetStringInfo(enc);
	AuditEncode(enc, scratch, row);
	AuditSha256(enc->data, enc->len, computed);
	if (!row->isnull[AUDIT_HASH])
		bytea_bytes(row->values[AUDIT_HASH], &hash, &hash_len);
	if (hash == NULL || !bytes_equal(hash, hash_len, computed, AUDIT_HASH_LEN))
		report(rsinfo, row, "hash mismatch");

	/* a row without code or version (NOT NULL dropped) has no place in a chain */
	placed = !row->isnull[AUDIT_QR_CODE_ID] && !row->isnull[AUDIT_VERSION];
	if (placed)
	{
		code = DatumGetInt64(row->values[AUDIT_QR_CODE_ID]);
		version = DatumGetInt32(row->values[AUDIT_VERSION]);
	}
	if (!row->isnull[AUDIT_PREV_HASH])
		bytea_bytes(row->values[AUDIT_PREV_HASH], &prev, &prev_len);

	if (!placed)
		report(rsinfo, row, "version gap");
	else if (!st->have_prev || st->prev_code != code)
	{
		/* the first event of a code: version 1, starting the chain */
		if (version == 1 && prev != NULL)
			report(rsinfo, row, "broken link");
		if (version != 1)
			report(rsinfo, row, "version gap");
	}
	else
	{
		if (prev == NULL ||
			!bytes_equal(prev, prev_len, (const unsigned char *) st->prev_hash.data,
						 st->prev_hash.len))
			report(rsinfo, row, "broken link");
		if ((int64) version != (int64) st->prev_version + 1)
			report(rsinfo, row, "version gap");
	}

	st->have_prev = placed;
	st->prev_code = code;
	st->prev_version = version;
	resetStringInfo(&st->prev_hash);
	if (hash != NULL)
		appendBinaryStringInfo(&st->prev_hash, (const char *) hash, hash_len);

	if (digest != NULL && placed && !row->isnull[AUDIT_SEQ])
	{
		if (hash == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("event seq " INT64_FORMAT " has no hash",
							DatumGetInt64(row->values[AUDIT_SEQ]))));
		AuditDigestAdd(digest, code, version, DatumGetInt64(row->values[AUDIT_SEQ]),
					   hash, hash_len);
	}
}

/*
 * qr_event.verify_audit(saved_digest text DEFAULT NULL, saved_up_to bigint
 * DEFAULT NULL) RETURNS TABLE (seq, qr_code_id, version, problem)
 */
Datum
qr_event_verify_audit(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		check_digest = !PG_ARGISNULL(0);
	char		saved_hex[AUDIT_HEX_LEN + 1];
	int64		saved_up_to = 0;
	MemoryContext walk_cxt;
	MemoryContext row_cxt;
	MemoryContext oldcxt;
	AuditDigest *digest = NULL;
	StringInfoData enc;
	StringInfoData scratch;
	WalkState	st;
	AuditColumns cols;
	bool		cols_mapped = false;
	bool		cols_identity = false;
	Portal		portal;

	if (check_digest && PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("saved_up_to is required with saved_digest"),
				 errhint("Pass the up_to_seq that qr_event.audit_digest() returned with the digest.")));
	if (!check_digest && !PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("saved_digest is required with saved_up_to")));
	if (check_digest)
	{
		text	   *t = PG_GETARG_TEXT_PP(0);

		if (!parse_digest(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), saved_hex))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("saved_digest must be 64 hexadecimal digits")));
		saved_up_to = PG_GETARG_INT64(1);
		if (saved_up_to < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("saved_up_to must not be negative")));
	}

	InitMaterializedSRF(fcinfo, 0);

	/* everything of the walk lives here; deleted (and the digest freed) at the end */
	walk_cxt = AllocSetContextCreate(CurrentMemoryContext, "verify_audit",
									 ALLOCSET_DEFAULT_SIZES);
	row_cxt = AllocSetContextCreate(walk_cxt, "verify_audit row",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(walk_cxt);
	initStringInfo(&enc);
	initStringInfo(&scratch);
	memset(&st, 0, sizeof(st));
	initStringInfo(&st.prev_hash);
	if (check_digest)
		digest = AuditDigestCreate(saved_up_to);
	MemoryContextSwitchTo(oldcxt);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = open_walk(walk_sql, 0, NULL, NULL);

	for (;;)
	{
		SPITupleTable *tt;

		SPI_cursor_fetch(portal, true, AUDIT_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		if (!cols_mapped)
		{
			AuditMapColumns(tt->tupdesc, &cols);
			cols_mapped = true;
			cols_identity = tt->tupdesc->natts == AUDIT_NFIELDS;
			for (int f = 0; f < AUDIT_NFIELDS && cols_identity; f++)
				cols_identity = cols.attnum[f] == f + 1;
		}

		for (uint64 i = 0; i < SPI_processed; i++)
		{
			AuditRow	row;

			CHECK_FOR_INTERRUPTS();
			oldcxt = MemoryContextSwitchTo(row_cxt);
			if (cols_identity)
				heap_deform_tuple(tt->vals[i], tt->tupdesc, row.values, row.isnull);
			else
				AuditReadRow(tt->vals[i], tt->tupdesc, &cols, &row);
			verify_row(rsinfo, &st, &row, &enc, &scratch, digest);
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(row_cxt);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	if (check_digest)
	{
		char		hex[AUDIT_HEX_LEN + 1];
		int64		chains;
		int64		events;

		AuditDigestFinish(digest, hex, &chains, &events);
		if (strcmp(hex, saved_hex) != 0)
		{
			char		problem[128];

			snprintf(problem, sizeof(problem),
					 "digest mismatch: events up to seq " INT64_FORMAT
					 " changed, were deleted or were truncated", saved_up_to);
			report(rsinfo, NULL, problem);
		}
	}

	MemoryContextDelete(walk_cxt);
	return (Datum) 0;
}

/*
 * qr_event.audit_digest(up_to bigint DEFAULT NULL) RETURNS TABLE (digest,
 * up_to_seq, chains, events)
 */
Datum
qr_event_audit_digest(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	MemoryContext walk_cxt;
	MemoryContext oldcxt;
	AuditDigest *digest;
	int64		up_to;
	Portal		portal;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	char		hex[AUDIT_HEX_LEN + 1];
	int64		chains;
	int64		events;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (!PG_ARGISNULL(0) && PG_GETARG_INT64(0) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("up_to must not be negative")));

	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	walk_cxt = AllocSetContextCreate(CurrentMemoryContext, "audit_digest",
									 ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	up_to = PG_ARGISNULL(0) ? max_seq_connected() : PG_GETARG_INT64(0);

	oldcxt = MemoryContextSwitchTo(walk_cxt);
	digest = AuditDigestCreate(up_to);
	MemoryContextSwitchTo(oldcxt);

	args[0] = Int64GetDatum(up_to);
	portal = open_walk(heads_sql, 1, argtypes, args);
	for (;;)
	{
		SPITupleTable *tt;

		SPI_cursor_fetch(portal, true, AUDIT_FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		tt = SPI_tuptable;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			Datum		v[4];
			bool		n[4];
			const unsigned char *hash;
			size_t		hash_len;

			CHECK_FOR_INTERRUPTS();
			heap_deform_tuple(tt->vals[i], tt->tupdesc, v, n);
			/* NOT NULL columns; a row without them has no place in a chain */
			if (n[0] || n[1] || n[2])
				continue;
			if (n[3])
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("event seq " INT64_FORMAT " has no hash",
								DatumGetInt64(v[2]))));
			bytea_bytes(v[3], &hash, &hash_len);
			AuditDigestAdd(digest, DatumGetInt64(v[0]), DatumGetInt32(v[1]),
						   DatumGetInt64(v[2]), hash, hash_len);
		}
		SPI_freetuptable(tt);
	}
	SPI_cursor_close(portal);
	SPI_finish();

	AuditDigestFinish(digest, hex, &chains, &events);
	values[0] = CStringGetTextDatum(hex);
	values[1] = Int64GetDatum(up_to);
	values[2] = Int64GetDatum(chains);
	values[3] = Int64GetDatum(events);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	MemoryContextDelete(walk_cxt);
	PG_RETURN_VOID();
}
