/*
 * audit.h
 *		The hash chain of the QR audit event store, qr_event.qr_code_events:
 *		the canonical encoding v1 of one event, its SHA-256, and the digest
 *		of the chain heads.
 *
 * Encoding v1 of one event is this UTF-8 text, one line per field in this
 * order, each line "<name>:<len>:<value>\n", or "<name>:-\n" for a NULL:
 *
 *		qr_event/audit/v1
 *		seq, event_id, qr_code_id, version, type, payload, actor, gate,
 *		device, occurred_at, recorded_at, prev_hash
 *
 * <len> is the decimal byte length of <value>.  Integers are decimal, text
 * is its bytes, payload is jsonb's text form (jsonb_out), timestamps are
 * UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" and prev_hash is 64 lowercase hex
 * digits.  The hash column and txid are not part of it.  An event's hash is
 * SHA-256 of its encoding.  README.md ("QR audit: hash chain") has the full
 * specification for auditors.
 *
 * The digest as of seq N is the lowercase hex SHA-256 over the lines
 * "<qr_code_id>:<version>:<hex hash>\n" of each code's head as of N (its
 * event of the highest version among those with seq <= N), in qr_code_id
 * order.
 */
#ifndef QR_EVENT_AUDIT_H
#define QR_EVENT_AUDIT_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "lib/stringinfo.h"

#define AUDIT_HASH_LEN		32
#define AUDIT_HEX_LEN		(2 * AUDIT_HASH_LEN)
#define AUDIT_ENCODING_TAG	"qr_event/audit/v1"

/* The fields of the encoding, in its order; AUDIT_HASH is not encoded */
typedef enum AuditField
{
	AUDIT_SEQ,
	AUDIT_EVENT_ID,
	AUDIT_QR_CODE_ID,
	AUDIT_VERSION,
	AUDIT_TYPE,
	AUDIT_PAYLOAD,
	AUDIT_ACTOR,
	AUDIT_GATE,
	AUDIT_DEVICE,
	AUDIT_OCCURRED_AT,
	AUDIT_RECORDED_AT,
	AUDIT_PREV_HASH,
	AUDIT_HASH,
	AUDIT_NFIELDS
} AuditField;

/* Number of fields the encoding covers (all but the hash) */
#define AUDIT_NENCODED		AUDIT_HASH

/*
 * Where each field is in a tuple descriptor: 1-based attribute numbers,
 * found by column name and checked for the column's type.
 */
typedef struct AuditColumns
{
	AttrNumber	attnum[AUDIT_NFIELDS];
} AuditColumns;

/* One event's fields, as Datums in AuditField order */
typedef struct AuditRow
{
	Datum		values[AUDIT_NFIELDS];
	bool		isnull[AUDIT_NFIELDS];
} AuditRow;

/*
 * Finds every field in desc by name; elog(ERROR) naming what is missing or
 * of another type than qr_code_events has.
 */
extern void AuditMapColumns(TupleDesc desc, AuditColumns *cols);

/* Reads the fields of tuple (described by desc, mapped by cols) into row */
extern void AuditReadRow(HeapTuple tuple, TupleDesc desc,
						 const AuditColumns *cols, AuditRow *row);

/*
 * Appends the encoding v1 of row to out.  scratch is a work buffer (reset
 * here); both are reused across rows by bulk callers.  Detoasted values and
 * the payload's text are allocated in the current memory context.
 */
extern void AuditEncode(StringInfo out, StringInfo scratch, const AuditRow *row);

/*
 * Links row to its code's chain, as the BEFORE INSERT trigger of
 * qr_code_events does: version 1 with a prev_hash is 23514; a version > 1
 * without one gets the hash of version - 1, read through SPI (23503 when it
 * is missing); a NULL recorded_at becomes the clock.
 */
extern void AuditLinkRow(AuditRow *row);

/* SHA-256 of the encoding v1 of row: the hash the event must carry */
extern void AuditHashRow(const AuditRow *row, unsigned char out[AUDIT_HASH_LEN]);

/* SHA-256 of len bytes of data into out */
extern void AuditSha256(const char *data, size_t len,
						unsigned char out[AUDIT_HASH_LEN]);

/* Writes len bytes as lowercase hex (2 * len characters, no terminator) */
extern void AuditHex(const unsigned char *bytes, size_t len, char *out);

/*
 * The digest of chain heads, fed with the events of every code in
 * (qr_code_id, version) order.  Its OpenSSL state is freed with the memory
 * context it was created in, also on error.
 */
typedef struct AuditDigest AuditDigest;

extern AuditDigest *AuditDigestCreate(int64 up_to);

/* Feeds one event; events with seq > up_to are ignored */
extern void AuditDigestAdd(AuditDigest *digest, int64 qr_code_id, int32 version,
						   int64 seq, const unsigned char *hash, size_t hash_len);

/* Ends the digest: 64 lowercase hex digits and a terminator into hex */
extern void AuditDigestFinish(AuditDigest *digest, char hex[AUDIT_HEX_LEN + 1],
							  int64 *chains, int64 *events);

/* up_to when NULL is passed: the greatest seq visible, 0 when empty */
extern int64 AuditMaxSeq(void);

#endif							/* QR_EVENT_AUDIT_H */
