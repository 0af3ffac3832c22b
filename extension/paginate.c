/*
 * paginate.c
 *		SQL boundary of keyset pagination: qr_event.paginate (a page of any
 *		table or view with its cursors and total), and paginate_query and
 *		paginate_explain, which show the query of a page and its plan.
 *		Queries run through SPI as the caller (SECURITY INVOKER), read-only,
 *		one-shot, so the planner sees the parameter values.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "cursor.h"
#include "guc.h"
#include "paginate.h"

PG_FUNCTION_INFO_V1(qr_event_paginate);
PG_FUNCTION_INFO_V1(qr_event_paginate_query);
PG_FUNCTION_INFO_V1(qr_event_paginate_explain);

typedef enum TotalKind
{
	TOTAL_NONE,
	TOTAL_EXACT,
	TOTAL_ESTIMATED
} TotalKind;

/* What one call asks for, and the parameters of its queries */
typedef struct PageRequest
{
	PageList   *list;
	uint8		list_id[CURSOR_LIST_ID_LEN];
	int			page_size;
	bool		boundary;		/* continue from a cursor's row */
	bool		backward;		/* read the rows before it */
	int32		page;			/* number of the page asked for */
	char	   *boundary_values[PAGE_MAX_KEYS]; /* text forms; NULL for SQL NULL */
	int			nparams;
	Oid		   *argtypes;
	Datum	   *values;
	int			limit_param;
	bytea	   *secret;			/* read when first needed */
} PageRequest;

/* One page read, in list order */
typedef struct PageRows
{
	Datum		items;
	int			count;
	char	   *first[PAGE_MAX_KEYS];	/* key values of the first row */
	char	   *last[PAGE_MAX_KEYS];	/* and of the last */
	bool		has_next;
	bool		has_prev;
	int32		page;
} PageRows;

/* Raises 22004 when argument argno is NULL */
void
PageRequireArgument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/* page_size, within 1 .. qr_event.max_page_size */
int
PageReadSize(FunctionCallInfo fcinfo, int argno)
{
	int32		page_size;

	PageRequireArgument(fcinfo, argno, "page_size");
	page_size = PG_GETARG_INT32(argno);
	if (page_size < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("page_size must be at least 1")));
	if (page_size > qr_event_max_page_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("page_size must be at most %d", qr_event_max_page_size),
				 errhint("The limit is the setting qr_event.max_page_size.")));
	return page_size;
}

/* total: 'none', 'exact' or 'estimated' */
static TotalKind
ReadTotalKind(FunctionCallInfo fcinfo, int argno)
{
	char	   *total;

	PageRequireArgument(fcinfo, argno, "total");
	total = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(total, "none") == 0)
		return TOTAL_NONE;
	if (strcmp(total, "exact") == 0)
		return TOTAL_EXACT;
	if (strcmp(total, "estimated") == 0)
		return TOTAL_ESTIMATED;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid total: \"%s\"", total),
			 errhint("total is \"none\", \"exact\" or \"estimated\".")));
	return TOTAL_NONE;			/* not reached */
}

/* Adds a query parameter and returns its number */
static int
AddParam(PageRequest *req, Oid type, Datum value)
{
	req->argtypes[req->nparams] = type;
	req->values[req->nparams] = value;
	return ++req->nparams;
}

/* The datum of a value's text form in a column's type */
Datum
PageValueFromText(const char *text, Oid typid, int32 typmod)
{
	Oid			infunc;
	Oid			ioparam;

	getTypeInputInfo(typid, &infunc, &ioparam);
	return OidInputFunctionCall(infunc, (char *) text, ioparam, typmod);
}

/*
 * Numbers the parameters: the boundary's key values (a NULL one is not a
 * parameter: the query says IS NULL), the filter values, then the limit,
 * one row more than a page so that the extra row tells whether more follow.
 */
static void
BindParams(PageRequest *req)
{
	PageList   *list = req->list;
	int			size = list->nkeys + list->nfilters + 1;
	int			nestlevel;
	int			i;

	req->argtypes = palloc(sizeof(Oid) * size);
	req->values = palloc(sizeof(Datum) * size);
	nestlevel = CursorSettingsPush();
	for (i = 0; i < list->nkeys; i++)
	{
		PageKey    *key = &list->keys[i];

		key->param = 0;
		if (req->boundary && req->boundary_values[i] != NULL)
			key->param = AddParam(req, key->typid,
								  PageValueFromText(req->boundary_values[i], key->typid, key->typmod));
	}
	for (i = 0; i < list->nfilters; i++)
	{
		PageFilter *f = &list->filters[i];

		f->param = 0;
		if (f->value != NULL)
			f->param = AddParam(req, f->typid, PageValueFromText(f->value, f->typid, f->typmod));
	}
	CursorSettingsPop(nestlevel);
	req->limit_param = AddParam(req, INT8OID, Int64GetDatum((int64) req->page_size + 1));
}

/*
 * Takes the boundary from a cursor of this list.  A forward cursor to page 1
 * means the first page, read from the start: it is what an empty page
 * reached backward leads to.
 */
static void
ReadCursor(PageRequest *req, text *cursor_text)
{
	uint8	   *buf = palloc(CURSOR_MAX_TEXT);
	Cursor		c;
	int			i;

	req->secret = CursorSecretRead();
	CursorDecodeForList(cursor_text, req->secret, req->list_id, req->list->nkeys, &c, buf);
	req->backward = (c.direction == CURSOR_BACKWARD);
	req->page = (int32) Min(c.page, (uint32) PG_INT32_MAX);
	req->boundary = req->backward || req->page > 1;
	for (i = 0; i < c.nkeys; i++)
		req->boundary_values[i] = c.keys[i].isnull ? NULL
			: pnstrdup(c.keys[i].data, c.keys[i].len);
}

/* Reads the arguments shared by paginate, paginate_query and paginate_explain */
static PageRequest *
ReadRequest(FunctionCallInfo fcinfo, int caller_argno)
{
	PageRequest *req = palloc0(sizeof(PageRequest));
	Oid			rowtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	char	   *caller = NULL;

	if (!OidIsValid(rowtype))
		elog(ERROR, "could not determine the type of argument relation");
	PageRequireArgument(fcinfo, 1, "order_by");
	req->page_size = PageReadSize(fcinfo, 2);
	PageRequireArgument(fcinfo, 4, "filter");
	if (!PG_ARGISNULL(caller_argno))
		caller = text_to_cstring(PG_GETARG_TEXT_PP(caller_argno));
	req->list = PageListBuild(rowtype, PG_GETARG_ARRAYTYPE_P(1), PG_GETARG_JSONB_P(4), caller);
	CursorListId(PageListIdentity(req->list), req->list_id);
	req->page = 1;
	if (!PG_ARGISNULL(3))
		ReadCursor(req, PG_GETARG_TEXT_PP(3));
	BindParams(req);
	return req;
}

/* Runs a query of the request read-only; returns SPI_processed */
static uint64
RunQuery(PageRequest *req, const char *sql)
{
	int			ret = SPI_execute_with_args(sql, req->nparams, req->argtypes, req->values,
											NULL, true, 0);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return SPI_processed;
}

/* Runs EXPLAIN of a query (a utility statement, so not read-only for SPI) */
static void
RunExplain(PageRequest *req, const char *sql)
{
	int			ret = SPI_execute_with_args(sql, req->nparams, req->argtypes, req->values,
											NULL, false, 0);

	if (ret != SPI_OK_UTILITY || SPI_tuptable == NULL)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
}

/* The text forms of the key values of SPI result row, in columns 2 .. n+1 */
static void
KeyTexts(const PageList *list, HeapTuple row, TupleDesc desc, char **out)
{
	int			i;

	for (i = 0; i < list->nkeys; i++)
	{
		bool		isnull;
		Datum		value = SPI_getbinval(row, desc, i + 2, &isnull);
		Oid			outfunc;
		bool		isvarlena;

		out[i] = NULL;
		if (isnull)
			continue;
		getTypeOutputInfo(list->keys[i].typid, &outfunc, &isvarlena);
		out[i] = OidOutputFunctionCall(outfunc, value);
	}
}

/*
 * Copies the page out of the SPI result into cxt: the rows as an array in
 * list order (a backward read comes in reverse) and the key values of the
 * first and last row.
 */
static void
CopyPage(PageRequest *req, PageRows *rows, uint64 nread, MemoryContext cxt)
{
	SPITupleTable *tuptable = SPI_tuptable;
	int			count = (int) Min(nread, (uint64) req->page_size);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum	   *elems = palloc(sizeof(Datum) * Max(count, 1));
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			nestlevel;
	int			i;

	for (i = 0; i < count; i++)
	{
		bool		isnull;
		int			from = req->backward ? count - 1 - i : i;

		elems[i] = SPI_getbinval(tuptable->vals[from], tuptable->tupdesc, 1, &isnull);
	}
	get_typlenbyvalalign(req->list->rowtype, &typlen, &typbyval, &typalign);
	rows->items = PointerGetDatum(construct_array(elems, count, req->list->rowtype,
												  typlen, typbyval, typalign));
	rows->count = count;
	if (count > 0)
	{
		nestlevel = CursorSettingsPush();
		KeyTexts(req->list, tuptable->vals[req->backward ? count - 1 : 0],
				 tuptable->tupdesc, rows->first);
		KeyTexts(req->list, tuptable->vals[req->backward ? 0 : count - 1],
				 tuptable->tupdesc, rows->last);
		CursorSettingsPop(nestlevel);
	}
	MemoryContextSwitchTo(old);
}

/*
 * Reads the page.  The extra row tells whether the list goes on in the
 * reading direction.  Page numbers count pages as the cursors saw them: a
 * page is number 1 exactly when nothing comes before it, so reading
 * backward to the start gives page 1, short if rows before the boundary
 * were deleted, and never a row shown on the page after it.
 */
static void
FetchPage(PageRequest *req, PageRows *rows, MemoryContext cxt)
{
	uint64		nread = RunQuery(req, PageQueryText(req->list, req->backward, req->boundary,
													req->limit_param));
	bool		more = nread > (uint64) req->page_size;

	CopyPage(req, rows, nread, cxt);
	if (req->backward)
	{
		rows->has_next = true;
		rows->has_prev = more;
		rows->page = more ? Max(req->page, 2) : 1;
	}
	else
	{
		rows->has_next = more;
		rows->has_prev = req->boundary;
		rows->page = req->boundary ? Max(req->page, 2) : 1;
	}
}

/* The row count of the list: exact, or the planner's estimate */
static int64
CountRows(PageRequest *req, TotalKind kind)
{
	bool		isnull;
	char	   *plan;
	char	   *rows;

	if (kind == TOTAL_EXACT)
	{
		RunQuery(req, PageCountText(req->list));
		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	RunExplain(req, PageEstimateText(req->list));
	plan = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	rows = plan != NULL ? strstr(plan, "\"Plan Rows\": ") : NULL;
	if (rows == NULL)
		elog(ERROR, "no row estimate in the plan");
	return (int64) strtod(rows + strlen("\"Plan Rows\": "), NULL);
}

/* A cursor to the rows after (or before) a row whose key values are values */
static text *
BoundaryCursor(PageRequest *req, char **values, CursorDirection direction, int32 page)
{
	Cursor		c;
	int			i;

	memset(&c, 0, sizeof(c));
	c.version = CURSOR_FORMAT_VERSION;
	c.direction = direction;
	c.page = (uint32) page;
	memcpy(c.list_id, req->list_id, CURSOR_LIST_ID_LEN);
	c.nkeys = req->list->nkeys;
	for (i = 0; i < c.nkeys; i++)
	{
		size_t		len = values[i] != NULL ? strlen(values[i]) : 0;

		c.keys[i].isnull = (values[i] == NULL);
		c.keys[i].data = values[i];
		if (len > CURSOR_MAX_VALUE_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("value of key column \"%s\" is too long for a cursor",
							req->list->keys[i].name),
					 errdetail("Its text form has %zu bytes; a cursor carries at most %d per value.",
							   len, CURSOR_MAX_VALUE_LEN),
					 errhint("Order by shorter columns, such as the primary key.")));
		c.keys[i].len = (uint16) len;
	}
	if (req->secret == NULL)
		req->secret = CursorSecretRead();
	return CursorEncodeText(&c, req->secret);
}

/*
 * The cursor past the last row of the page.  An empty page reached backward
 * has no last row: its next page is the first page, read from the start.
 */
static text *
NextCursor(PageRequest *req, PageRows *rows)
{
	if (rows->count == 0)
		return BoundaryCursor(req, req->boundary_values, CURSOR_FORWARD, 1);
	return BoundaryCursor(req, rows->last, CURSOR_FORWARD,
						  rows->page < PG_INT32_MAX ? rows->page + 1 : rows->page);
}

/*
 * The cursor before the first row of the page; before an empty page reached
 * forward, the rows before the cursor's own boundary.
 */
static text *
PrevCursor(PageRequest *req, PageRows *rows)
{
	return BoundaryCursor(req, rows->count > 0 ? rows->first : req->boundary_values,
						  CURSOR_BACKWARD, Max(rows->page - 1, 1));
}

/* Forms the result row */
static Datum
FormResult(PageRequest *req, PageRows *rows, TupleDesc desc, TotalKind kind, int64 total)
{
	Datum		values[8];
	bool		nulls[8];

	memset(nulls, true, sizeof(nulls));
	values[0] = rows->items;
	nulls[0] = false;
	if (rows->has_next)
	{
		values[1] = PointerGetDatum(NextCursor(req, rows));
		nulls[1] = false;
	}
	if (rows->has_prev)
	{
		values[2] = PointerGetDatum(PrevCursor(req, rows));
		nulls[2] = false;
	}
	values[3] = BoolGetDatum(rows->has_next);
	values[4] = BoolGetDatum(rows->has_prev);
	values[5] = Int32GetDatum(rows->page);
	nulls[3] = nulls[4] = nulls[5] = false;
	if (kind != TOTAL_NONE)
	{
		values[6] = Int64GetDatum(total);
		values[7] = CStringGetTextDatum(kind == TOTAL_EXACT ? "exact" : "estimated");
		nulls[6] = nulls[7] = false;
	}
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/*
 * qr_event.paginate(relation, order_by, page_size, cursor, filter, total,
 * caller): one page of the relation in keyset order, with the cursors to
 * the pages around it and, when asked, the total.
 */
Datum
qr_event_paginate(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	TotalKind	kind = ReadTotalKind(fcinfo, 5);
	PageRequest *req;
	PageRows	rows;
	int64		total = 0;
	Datum		result;
	MemoryContext cxt = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	req = ReadRequest(fcinfo, 6);
	memset(&rows, 0, sizeof(rows));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	FetchPage(req, &rows, cxt);
	if (kind != TOTAL_NONE)
		total = CountRows(req, kind);
	SPI_finish();

	result = FormResult(req, &rows, BlessTupleDesc(desc), kind, total);
	CursorSecretForget(req->secret);
	PG_RETURN_DATUM(result);
}

/*
 * qr_event.paginate_query(relation, order_by, page_size, cursor, filter,
 * caller): the query text paginate runs first for these arguments.
 */
Datum
qr_event_paginate_query(PG_FUNCTION_ARGS)
{
	PageRequest *req = ReadRequest(fcinfo, 5);

	PG_RETURN_TEXT_P(cstring_to_text(PageQueryText(req->list, req->backward, req->boundary,
												   req->limit_param)));
}

/*
 * qr_event.paginate_explain(relation, order_by, page_size, cursor, filter,
 * caller): EXPLAIN (COSTS OFF) of that query, planned with the same
 * parameter values as paginate plans it.
 */
Datum
qr_event_paginate_explain(PG_FUNCTION_ARGS)
{
	PageRequest *req = ReadRequest(fcinfo, 5);
	StringInfoData plan;
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunExplain(req, psprintf("EXPLAIN (COSTS OFF) %s",
							 PageQueryText(req->list, req->backward, req->boundary,
										   req->limit_param)));
	MemoryContextSwitchTo(cxt);
	initStringInfo(&plan);
	for (i = 0; i < SPI_processed; i++)
		appendStringInfo(&plan, "%s%s", i > 0 ? "\n" : "",
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(plan.data));
}
