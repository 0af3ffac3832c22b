/*
 * audit_append.h
 *		Appending a scan's event to qr_event.qr_code_events without the
 *		executor (audit_append.c), for scan_qr.c.
 */
#ifndef QR_EVENT_AUDIT_APPEND_H
#define QR_EVENT_AUDIT_APPEND_H

#include "utils/timestamp.h"

/* Longest gate, device and actor, in characters (as the table's CHECKs) */
#define SCAN_TEXT_MAX	200

/* What a scan decided and appended */
typedef struct ScanEvent
{
	int64		code_id;
	int64		event_id;
	int32		version;		/* of the new event */
	bool		accepted;
	Datum		prev_hash;		/* the code's head_hash, or NULL */
	bool		prev_hash_null;
	Datum		payload;
	Datum		hash;			/* out: the new event's hash */
	TimestampTz recorded_at;	/* out */
} ScanEvent;

extern void AuditAppendScanEvent(ScanEvent *ev, Datum actor, bool actor_null, Datum gate,
								 Datum device, bool device_null, TimestampTz occurred_at);

#endif							/* QR_EVENT_AUDIT_APPEND_H */
