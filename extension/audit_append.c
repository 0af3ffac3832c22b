/*
 * audit_append.c
 *		Appending a scan's event to qr_event.qr_code_events without the
 *		executor, for scan_qr.c.
 *
 * The event goes straight to the heap of qr_code_events and into each of its
 * indexes, as leaderboard_capture.c appends deltas: no executor, no CHECK
 * expressions to load, no trigger calls, no foreign key query.  What those
 * would have done is done here instead:
 *
 * - the BEFORE INSERT trigger qr_code_events_chain: prev_hash is the locked
 *	 row's head_hash (or, when that is NULL, read from version - 1 exactly as
 *	 the trigger does, AuditLinkRow) and hash = SHA-256 of the encoding v1
 *	 (AuditHashRow; audit_hash.c is the only encoder);
 * - the table's CHECK constraints: checked in C for the row built here
 *	 (check_event_row);
 * - the foreign key (event_id, qr_code_id) -> qr_codes: both come from the
 *	 qr_codes row the caller holds FOR UPDATE, a stronger lock than the RI
 *	 check's FOR KEY SHARE;
 * - unique indexes are inserted into with UNIQUE_CHECK_YES, so the unique
 *	 (qr_code_id, version) still makes a fork impossible.
 *
 * Before appending, the table's shape is checked and anything the direct
 * append would silently bypass is refused (55000): a trigger other than the
 * extension's three and the foreign key's RI triggers, a CHECK constraint
 * that is not one of the table's own (by name and deparsed expression), a
 * rule, row level security, a column layout other than the expected one, and
 * an index with expressions, a predicate, exclusion or deferred uniqueness.
 * The relation-level part of that check is kept per backend and redone after
 * every relcache invalidation of the table (any ALTER TABLE, CREATE TRIGGER,
 * CREATE RULE, CREATE INDEX sends one); the index part is done on each call,
 * as the indexes are opened anyway.
 *
 * The heap insert is WAL-logged as any insert, so logical decoding and
 * replicas see it.
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
#include "heap_append.h"

/* qr_code_events, column by column, in this order */
#define EVENTS_NATTS	14

typedef struct EventColumn
{
	const char *name;
	Oid			type;
	bool		notnull;
} EventColumn;

static const EventColumn event_columns[EVENTS_NATTS] =
{
	{"seq", INT8OID, true},
	{"event_id", INT8OID, true},
	{"qr_code_id", INT8OID, true},
	{"version", INT4OID, true},
	{"type", TEXTOID, true},
	{"payload", JSONBOID, true},
	{"actor", TEXTOID, false},
	{"gate", TEXTOID, false},
	{"device", TEXTOID, false},
	{"occurred_at", TIMESTAMPTZOID, true},
	{"recorded_at", TIMESTAMPTZOID, true},
	{"txid", XID8OID, true},
	{"prev_hash", BYTEAOID, false},
	{"hash", BYTEAOID, true},
};

/* 1-based attribute numbers of the columns above */
enum
{
	EV_SEQ = 1, EV_EVENT_ID, EV_QR_CODE_ID, EV_VERSION, EV_TYPE, EV_PAYLOAD,
	EV_ACTOR, EV_GATE, EV_DEVICE, EV_OCCURRED_AT, EV_RECORDED_AT, EV_TXID,
	EV_PREV_HASH, EV_HASH
};

/*
 * The CHECK constraints of qr_code_events (qr_event--0.1.0.sql), as
 * deparse_expression prints them with search_path = pg_catalog, pg_temp.
 * check_event_row checks each for the row scan_qr builds.
 */
typedef struct EventCheck
{
	const char *name;
	const char *expr;
} EventCheck;

static const EventCheck event_checks[] =
{
	{"qr_code_events_version_check", "(version > 0)"},
	{"qr_code_events_type_check",
	"(type = ANY (ARRAY['issued'::text, 'scan_accepted'::text, 'scan_rejected'::text, 'revoked'::text, 'reissued'::text]))"},
	{"qr_code_events_payload_object", "(jsonb_typeof(payload) = 'object'::text)"},
	{"qr_code_events_actor_length", "(length(actor) <= 200)"},
	{"qr_code_events_gate_length", "(length(gate) <= 200)"},
	{"qr_code_events_device_length", "(length(device) <= 200)"},
	{"qr_code_events_prev_hash_check", "((version = 1) = (prev_hash IS NULL))"},
	{"qr_code_events_prev_hash_length", "(octet_length(prev_hash) = 32)"},
	{"qr_code_events_hash_length", "(octet_length(hash) = 32)"},
};

/* The extension's own triggers on qr_code_events */
typedef struct EventTrigger
{
	const char *name;
	const char *function;
	int16		tgtype;
} EventTrigger;

static const EventTrigger event_triggers[] =
{
	{"qr_code_events_chain", "audit_chain",
	TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_INSERT},
	{"qr_code_events_append_only", "audit_append_only",
	TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_DELETE | TRIGGER_TYPE_UPDATE},
	{"qr_code_events_no_truncate", "audit_append_only",
	TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_TRUNCATE},
};

#define EVENTS_FKEY_NAME "qr_code_events_qr_code_fkey"

/*
 * The relation-level shape check, kept per backend: valid while no relcache
 * invalidation of the table (or of every relation) arrived since.
 */
static bool shape_checked = false;
static Oid	shape_relid = InvalidOid;
static Oid	shape_seqid = InvalidOid;
static uint64 shape_checked_at = 0;
static uint64 shape_invalidations = 0;
static bool shape_callback_registered = false;

/* ---------------------------------------------------------------------------
 * The shape of qr_code_events
 * ---------------------------------------------------------------------------
 */

static void
shape_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == shape_relid)
		shape_invalidations++;
}

static void
refuse(Relation rel, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("qr_event.scan_qr cannot append to qr_event.%s: %s",
					RelationGetRelationName(rel), what),
			 errdetail("scan_qr writes events straight to the table and its indexes, "
					   "so it would bypass what was added to the table."),
			 errhint("Remove it, or record scans another way.")));
}

/* Refuses a column layout other than event_columns */
static void
check_columns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	if (desc->natts != EVENTS_NATTS)
		refuse(rel, psprintf("it has %d columns, expected %d", desc->natts, EVENTS_NATTS));
	for (int i = 0; i < EVENTS_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const EventColumn *col = &event_columns[i];

		if (att->attisdropped || strcmp(NameStr(att->attname), col->name) != 0 ||
			att->atttypid != col->type || att->attnotnull != col->notnull ||
			att->attgenerated != '\0' ||
			att->attidentity != (i == EV_SEQ - 1 ? ATTRIBUTE_IDENTITY_ALWAYS : '\0'))
			refuse(rel, psprintf("column %d is not %s %s%s", i + 1, col->name,
								 format_type_be(col->type), col->notnull ? " NOT NULL" : ""));
	}
}

/*
 * Refuses any trigger but the extension's three and the RI triggers of the
 * foreign key to qr_codes.  trigdesc is a copy: the lookups below may
 * process invalidations.
 */
static void
check_triggers(Relation rel, TriggerDesc *trigdesc)
{
	Oid			fkey = InvalidOid;
	Oid			nsp = get_namespace_oid("qr_event", false);

	if (trigdesc == NULL)
		return;
	for (int i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &trigdesc->triggers[i];
		bool		ok = false;

		if (tg->tgisinternal)
		{
			if (!OidIsValid(fkey))
				fkey = get_relation_constraint_oid(RelationGetRelid(rel), EVENTS_FKEY_NAME, true);
			ok = OidIsValid(fkey) && tg->tgconstraint == fkey &&
				(tg->tgfoid == F_RI_FKEY_CHECK_INS || tg->tgfoid == F_RI_FKEY_CHECK_UPD);
		}
		else
		{
			for (int t = 0; t < lengthof(event_triggers); t++)
			{
				char	   *fname;

				if (strcmp(tg->tgname, event_triggers[t].name) != 0)
					continue;
				fname = get_func_name(tg->tgfoid);
				ok = tg->tgtype == event_triggers[t].tgtype &&
					tg->tgnargs == 0 && tg->tgnattr == 0 && tg->tgqual == NULL &&
					fname != NULL && strcmp(fname, event_triggers[t].function) == 0 &&
					get_func_namespace(tg->tgfoid) == nsp;
				break;
			}
		}
		if (!ok)
			refuse(rel, psprintf("it has trigger \"%s\"", tg->tgname));
	}
}

/*
 * Refuses a CHECK constraint that is not one of event_checks, by name and
 * deparsed expression.  names and exprs are copies (deparsing may process
 * invalidations).
 */
static void
check_checks(Relation rel, int n, char **names, char **exprs)
{
	List	   *context = NIL;

	for (int i = 0; i < n; i++)
	{
		bool		ok = false;

		for (int c = 0; c < lengthof(event_checks); c++)
		{
			char	   *text;

			if (strcmp(names[i], event_checks[c].name) != 0)
				continue;
			if (context == NIL)
				context = deparse_context_for(RelationGetRelationName(rel), RelationGetRelid(rel));
			text = deparse_expression(stringToNode(exprs[i]), context, false, false);
			ok = strcmp(text, event_checks[c].expr) == 0;
			break;
		}
		if (!ok)
			refuse(rel, psprintf("it has check constraint \"%s\"", names[i]));
	}
}

/*
 * Checks the relation-level shape of qr_code_events (once per relcache
 * invalidation of it) and finds its identity sequence.
 */
static void
check_shape(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	uint64		at;
	TriggerDesc *trigdesc;
	TupleConstr *constr;
	int			nchecks = 0;
	char	  **names = NULL;
	char	  **exprs = NULL;

	if (!shape_callback_registered)
	{
		CacheRegisterRelcacheCallback(shape_invalidate, (Datum) 0);
		shape_callback_registered = true;
	}
	if (shape_checked && shape_relid == relid && shape_checked_at == shape_invalidations)
		return;

	shape_checked = false;
	shape_relid = relid;
	at = shape_invalidations;

	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		refuse(rel, "it is not a heap table");
	if (rel->rd_rules != NULL)
		refuse(rel, "it has a rule");
	if (rel->rd_rel->relrowsecurity)
		refuse(rel, "it has row level security");
	check_columns(rel);

	/* copies first: the catalog lookups of the checks may rebuild rel */
	trigdesc = CopyTriggerDesc(rel->trigdesc);
	constr = RelationGetDescr(rel)->constr;
	if (constr != NULL && constr->num_check > 0)
	{
		nchecks = constr->num_check;
		names = palloc(sizeof(char *) * nchecks);
		exprs = palloc(sizeof(char *) * nchecks);
		for (int i = 0; i < nchecks; i++)
		{
			names[i] = pstrdup(constr->check[i].ccname);
			exprs[i] = pstrdup(constr->check[i].ccbin);
		}
	}
	check_triggers(rel, trigdesc);
	check_checks(rel, nchecks, names, exprs);
	if (trigdesc != NULL)
		FreeTriggerDesc(trigdesc);

	shape_seqid = getIdentitySequence(relid, EV_SEQ, false);
	shape_checked_at = at;
	shape_checked = true;
}

/* ---------------------------------------------------------------------------
 * The append
 * ---------------------------------------------------------------------------
 */

static void
check_violation(Relation rel, const char *constraint)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
					RelationGetRelationName(rel), constraint),
			 errtableconstraint(rel, constraint)));
}

/* Length of a text in characters */
static int
text_chars(Datum d)
{
	text	   *t = DatumGetTextPP(d);

	return pg_mbstrlen_with_len(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* The table's CHECK constraints (event_checks) for the row built here */
static void
check_event_row(Relation rel, const Datum *values, const bool *nulls)
{
	int32		version = DatumGetInt32(values[EV_VERSION - 1]);
	const char *type = TextDatumGetCString(values[EV_TYPE - 1]);
	Jsonb	   *payload = DatumGetJsonbP(values[EV_PAYLOAD - 1]);

	for (int i = 0; i < EVENTS_NATTS; i++)
		if (nulls[i] && event_columns[i].notnull)
			elog(ERROR, "scan_qr: column \"%s\" of the event is null", event_columns[i].name);

	if (version <= 0)
		check_violation(rel, "qr_code_events_version_check");
	if (strcmp(type, "scan_accepted") != 0 && strcmp(type, "scan_rejected") != 0)
		check_violation(rel, "qr_code_events_type_check");
	if (!JB_ROOT_IS_OBJECT(payload))
		check_violation(rel, "qr_code_events_payload_object");
	if (!nulls[EV_ACTOR - 1] && text_chars(values[EV_ACTOR - 1]) > SCAN_TEXT_MAX)
		check_violation(rel, "qr_code_events_actor_length");
	if (!nulls[EV_GATE - 1] && text_chars(values[EV_GATE - 1]) > SCAN_TEXT_MAX)
		check_violation(rel, "qr_code_events_gate_length");
	if (!nulls[EV_DEVICE - 1] && text_chars(values[EV_DEVICE - 1]) > SCAN_TEXT_MAX)
		check_violation(rel, "qr_code_events_device_length");
	if ((version == 1) != nulls[EV_PREV_HASH - 1])
		check_violation(rel, "qr_code_events_prev_hash_check");
	if (!nulls[EV_PREV_HASH - 1] &&
		VARSIZE_ANY_EXHDR(DatumGetByteaPP(values[EV_PREV_HASH - 1])) != AUDIT_HASH_LEN)
		check_violation(rel, "qr_code_events_prev_hash_length");
	if (VARSIZE_ANY_EXHDR(DatumGetByteaPP(values[EV_HASH - 1])) != AUDIT_HASH_LEN)
		check_violation(rel, "qr_code_events_hash_length");
}

/* INSERT on the table, or on every column inserted, as the executor checks */
static void
check_insert_privilege(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			userid = GetUserId();

	if (pg_class_aclcheck(relid, userid, ACL_INSERT) == ACLCHECK_OK)
		return;
	/* the commands' INSERT names every column but seq, hash and txid */
	for (AttrNumber a = EV_EVENT_ID; a <= EV_PREV_HASH; a++)
	{
		if (a == EV_RECORDED_AT || a == EV_TXID)
			continue;
		if (pg_attribute_aclcheck(relid, a, userid, ACL_INSERT) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(rel));
	}
}

/*
 * Appends the scan's event to qr_code_events: one heap tuple and its entry
 * in every index; sets ev->hash and ev->recorded_at.
 */
void
AuditAppendScanEvent(ScanEvent *ev, Datum actor, bool actor_null, Datum gate,
					 Datum device, bool device_null, TimestampTz occurred_at)
{
	RangeVar   *rv = makeRangeVar("qr_event", "qr_code_events", -1);
	Oid			relid = RangeVarGetRelidExtended(rv, RowExclusiveLock, 0, NULL, NULL);
	Relation	rel = table_open(relid, NoLock);
	HeapAppender appender;
	Relation	bad;
	Datum		values[EVENTS_NATTS];
	bool		nulls[EVENTS_NATTS];
	AuditRow	row;
	bytea	   *hash;

	check_shape(rel);
	check_insert_privilege(rel);

	if ((bad = HeapAppendBegin(&appender, rel, true)) != NULL)
		refuse(rel, psprintf("index \"%s\" is not a plain, immediately checked column index",
							 RelationGetRelationName(bad)));

	/* the row, as the commands' INSERT and the chain trigger make it */
	memset(nulls, false, sizeof(nulls));
	values[EV_SEQ - 1] = Int64GetDatum(nextval_internal(shape_seqid, false));
	values[EV_EVENT_ID - 1] = Int64GetDatum(ev->event_id);
	values[EV_QR_CODE_ID - 1] = Int64GetDatum(ev->code_id);
	values[EV_VERSION - 1] = Int32GetDatum(ev->version);
	values[EV_TYPE - 1] = CStringGetTextDatum(ev->accepted ? "scan_accepted" : "scan_rejected");
	values[EV_PAYLOAD - 1] = ev->payload;
	values[EV_ACTOR - 1] = actor;
	nulls[EV_ACTOR - 1] = actor_null;
	values[EV_GATE - 1] = gate;
	values[EV_DEVICE - 1] = device;
	nulls[EV_DEVICE - 1] = device_null;
	values[EV_OCCURRED_AT - 1] = TimestampTzGetDatum(occurred_at);
	values[EV_RECORDED_AT - 1] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[EV_TXID - 1] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[EV_PREV_HASH - 1] = ev->prev_hash;
	nulls[EV_PREV_HASH - 1] = ev->prev_hash_null;

	/* the chain trigger's part: link, then hash the encoding */
	row.values[AUDIT_SEQ] = values[EV_SEQ - 1];
	row.values[AUDIT_EVENT_ID] = values[EV_EVENT_ID - 1];
	row.values[AUDIT_QR_CODE_ID] = values[EV_QR_CODE_ID - 1];
	row.values[AUDIT_VERSION] = values[EV_VERSION - 1];
	row.values[AUDIT_TYPE] = values[EV_TYPE - 1];
	row.values[AUDIT_PAYLOAD] = values[EV_PAYLOAD - 1];
	row.values[AUDIT_ACTOR] = values[EV_ACTOR - 1];
	row.values[AUDIT_GATE] = values[EV_GATE - 1];
	row.values[AUDIT_DEVICE] = values[EV_DEVICE - 1];
	row.values[AUDIT_OCCURRED_AT] = values[EV_OCCURRED_AT - 1];
	row.values[AUDIT_RECORDED_AT] = values[EV_RECORDED_AT - 1];
	row.values[AUDIT_PREV_HASH] = values[EV_PREV_HASH - 1];
	row.values[AUDIT_HASH] = (Datum) 0;
	for (int f = 0; f < AUDIT_NFIELDS; f++)
		row.isnull[f] = false;
	row.isnull[AUDIT_ACTOR] = nulls[EV_ACTOR - 1];
	row.isnull[AUDIT_DEVICE] = nulls[EV_DEVICE - 1];
	row.isnull[AUDIT_PREV_HASH] = nulls[EV_PREV_HASH - 1];
	row.isnull[AUDIT_HASH] = true;
	AuditLinkRow(&row);
	values[EV_PREV_HASH - 1] = row.values[AUDIT_PREV_HASH];
	nulls[EV_PREV_HASH - 1] = row.isnull[AUDIT_PREV_HASH];

	hash = palloc(VARHDRSZ + AUDIT_HASH_LEN);
	SET_VARSIZE(hash, VARHDRSZ + AUDIT_HASH_LEN);
	AuditHashRow(&row, (unsigned char *) VARDATA(hash));
	values[EV_HASH - 1] = PointerGetDatum(hash);

	check_event_row(rel, values, nulls);

	HeapAppendRow(&appender, values, nulls);
	HeapAppendEnd(&appender);
	table_close(rel, NoLock);

	ev->hash = PointerGetDatum(hash);
	ev->recorded_at = DatumGetTimestampTz(values[EV_RECORDED_AT - 1]);
}
