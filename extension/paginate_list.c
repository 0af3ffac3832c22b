/*
 * paginate_list.c
 *		Builds the description of a list from the catalogs: the relation
 *		behind a row type, the key columns of order_by (made total with the
 *		primary key), the equality filters of a jsonb object, and the
 *		canonical identity text that cursors of the list are bound to.
 *		Every user-caused error about the list is raised here.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "catalog/pg_index.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "parser/parse_type.h"
#include "parser/scansup.h"
#include "rewrite/rewriteHandler.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "paginate.h"

/* Version of the identity text; a change makes every outstanding cursor invalid */
#define PAGE_IDENTITY_VERSION	1

/* The relation whose row type is rowtype; raises 22023 for any other type */
static Relation
OpenRelationOfRowType(Oid rowtype)
{
	Oid			relid = typeidTypeRelid(getBaseType(rowtype));
	Relation	rel;
	char		kind;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation must be a table, view or materialized view"),
				 errdetail("The first argument has type %s.", format_type_be(rowtype)),
				 errhint("Pass a typed NULL, such as NULL::qr_event.guests.")));
	rel = relation_open(relid, AccessShareLock);
	kind = rel->rd_rel->relkind;
	if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE &&
		kind != RELKIND_VIEW && kind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relation must be a table, view or materialized view"),
				 errdetail("%s is neither a table nor a view.",
						   quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													  RelationGetRelationName(rel))),
				 errhint("Pass a typed NULL, such as NULL::qr_event.guests.")));
	return rel;
}

/* The live attribute called name, or NULL */
static Form_pg_attribute
LookupColumn(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att;
	}
	return NULL;
}

/* The live attribute called name; raises 42703 when there is none */
static Form_pg_attribute
FindColumn(const PageList *list, Relation rel, const char *name)
{
	Form_pg_attribute att = LookupColumn(rel, name);

	if (att == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" does not exist in %s", name, list->relation)));
	return att;
}

/* Inference of NOT NULL through views goes at most this deep */
#define NOTNULL_MAX_DEPTH	8

static bool QueryColumnNotNull(Query *query, AttrNumber attnum, int depth);

/* Whether every join of a join tree is an inner join, so none adds NULLs */
static bool
JoinTreeIsInner(Node *node)
{
	ListCell   *lc;

	if (node == NULL || IsA(node, RangeTblRef))
		return true;
	if (IsA(node, FromExpr))
	{
		foreach(lc, ((FromExpr *) node)->fromlist)
		{
			if (!JoinTreeIsInner(lfirst(lc)))
				return false;
		}
		return true;
	}
	if (IsA(node, JoinExpr))
	{
		JoinExpr   *join = (JoinExpr *) node;

		return join->jointype == JOIN_INNER &&
			JoinTreeIsInner(join->larg) && JoinTreeIsInner(join->rarg);
	}
	return false;
}

/* Whether column attnum of a relation (a table, or a view by its query) is never NULL */
static bool
RelationColumnNotNull(Oid relid, AttrNumber attnum, int depth)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	bool		notnull = false;

	if (attnum > 0 && attnum <= RelationGetDescr(rel)->natts)
	{
		if (rel->rd_rel->relkind == RELKIND_VIEW)
			notnull = QueryColumnNotNull(get_view_query(rel), attnum, depth + 1);
		else
			notnull = TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attnotnull;
	}
	relation_close(rel, NoLock);
	return notnull;
}

/* Whether column attnum of every branch of a set operation is never NULL */
static bool
SetOpColumnNotNull(Query *query, Node *node, AttrNumber attnum, int depth)
{
	if (IsA(node, RangeTblRef))
	{
		RangeTblEntry *rte = rt_fetch(((RangeTblRef *) node)->rtindex, query->rtable);

		return rte->rtekind == RTE_SUBQUERY &&
			QueryColumnNotNull(rte->subquery, attnum, depth + 1);
	}
	if (IsA(node, SetOperationStmt))
	{
		SetOperationStmt *op = (SetOperationStmt *) node;

		return SetOpColumnNotNull(query, op->larg, attnum, depth) &&
			SetOpColumnNotNull(query, op->rarg, attnum, depth);
	}
	return false;
}

/*
 * Whether output column attnum of a view's query is never NULL: a non-NULL
 * constant, or a NOT NULL column of a table read through inner joins,
 * subqueries, views and set operations only.  Anything else counts as
 * nullable, which is always safe: it only costs the keyset predicate its
 * simplest forms.
 */
static bool
QueryColumnNotNull(Query *query, AttrNumber attnum, int depth)
{
	TargetEntry *tle;
	Node	   *expr;
	Var		   *var;
	RangeTblEntry *rte;

	if (depth > NOTNULL_MAX_DEPTH || query->groupingSets != NIL ||
		!JoinTreeIsInner((Node *) query->jointree))
		return false;
	if (query->setOperations != NULL)
		return SetOpColumnNotNull(query, query->setOperations, attnum, depth);
	tle = get_tle_by_resno(query->targetList, attnum);
	if (tle == NULL || tle->resjunk)
		return false;
	expr = strip_implicit_coercions((Node *) tle->expr);
	if (IsA(expr, Const))
		return !((Const *) expr)->constisnull;
	if (!IsA(expr, Var))
		return false;
	var = (Var *) expr;
	if (var->varlevelsup != 0 || var->varattno <= 0)
		return false;
	rte = rt_fetch(var->varno, query->rtable);
	if (rte->rtekind == RTE_RELATION)
		return RelationColumnNotNull(rte->relid, var->varattno, depth);
	if (rte->rtekind == RTE_SUBQUERY)
		return QueryColumnNotNull(rte->subquery, var->varattno, depth + 1);
	return false;
}

/* Whether a column of the list's relation can never hold NULL */
static bool
ColumnNotNull(Relation rel, Form_pg_attribute att)
{
	if (rel->rd_rel->relkind == RELKIND_VIEW)
		return QueryColumnNotNull(get_view_query(rel), att->attnum, 0);
	return att->attnotnull;
}

/* "OPERATOR(schema.name)" of an operator, for query texts */
static char *
QualifiedOperator(Oid opno)
{
	HeapTuple	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	Form_pg_operator op;
	char	   *result;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	op = (Form_pg_operator) GETSTRUCT(tuple);
	result = psprintf("OPERATOR(%s.%s)",
					  quote_identifier(get_namespace_name(op->oprnamespace)),
					  NameStr(op->oprname));
	ReleaseSysCache(tuple);
	return result;
}

/* The btree operator of strategy in the default btree class of a type */
static char *
BtreeOperator(TypeCacheEntry *type, int16 strategy)
{
	Oid			opno = get_opfamily_member(type->btree_opf, type->btree_opintype,
										   type->btree_opintype, strategy);

	if (!OidIsValid(opno))
		elog(ERROR, "operator of strategy %d missing in operator family %u",
			 strategy, type->btree_opf);
	return QualifiedOperator(opno);
}

/*
 * Sets the comparison operators of a key from its type's default btree
 * class: the same class ORDER BY uses, so the keyset predicate agrees with
 * the order and can use the same indexes.
 */
static void
SetKeyOperators(PageKey *key)
{
	TypeCacheEntry *type = lookup_type_cache(getBaseType(key->typid),
											 TYPECACHE_BTREE_OPFAMILY | TYPECACHE_LT_OPR);

	if (!OidIsValid(type->btree_opf) || !OidIsValid(type->lt_opr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" cannot be used as a key", key->name),
				 errdetail("Type %s has no default btree operator class, so its values have no order.",
						   format_type_be(key->typid))));
	key->lt_op = BtreeOperator(type, BTLessStrategyNumber);
	key->le_op = BtreeOperator(type, BTLessEqualStrategyNumber);
	key->eq_op = BtreeOperator(type, BTEqualStrategyNumber);
	key->ge_op = BtreeOperator(type, BTGreaterEqualStrategyNumber);
	key->gt_op = BtreeOperator(type, BTGreaterStrategyNumber);
}

/* Adds a key column to the list, checking the limit and duplicates */
static void
AddKey(PageList *list, Relation rel, const char *name, bool descending)
{
	Form_pg_attribute att = FindColumn(list, rel, name);
	PageKey    *key;
	int			i;

	for (i = 0; i < list->nkeys; i++)
	{
		if (strcmp(list->keys[i].name, name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" appears more than once in order_by", name)));
	}
	if (list->nkeys == PAGE_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many key columns"),
				 errdetail("A list is ordered by at most %d columns, the appended primary key included.",
						   PAGE_MAX_KEYS)));
	key = &list->keys[list->nkeys++];
	key->name = pstrdup(name);
	key->quoted = pstrdup(quote_identifier(name));
	key->typid = att->atttypid;
	key->typmod = att->atttypmod;
	key->descending = descending;
	key->notnull = ColumnNotNull(rel, att);
	SetKeyOperators(key);
}

/* Raises the error of an order_by entry that does not parse */
static void
ReportBadOrderEntry(const char *entry)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid order_by entry: \"%s\"", entry),
			 errdetail("An entry is a column name, optionally followed by ASC or DESC.")));
}

/*
 * Reads the column name at the start of *p as SQL does: "quoted" exactly,
 * otherwise up to white space and folded to lower case.  Advances *p past
 * it; NULL when a quote is not closed.
 */
static char *
ReadColumnName(const char **p)
{
	const char *start = *p;
	const char *s = start;
	StringInfoData name;

	if (*s != '"')
	{
		while (*s != '\0' && !scanner_isspace(*s))
			s++;
		*p = s;
		return downcase_truncate_identifier(start, s - start, false);
	}
	initStringInfo(&name);
	for (s++; *s != '\0'; s++)
	{
		if (*s == '"')
		{
			if (s[1] != '"')
				break;
			s++;
		}
		appendStringInfoChar(&name, *s);
	}
	if (*s != '"')
		return NULL;
	*p = s + 1;
	truncate_identifier(name.data, name.len, false);
	return name.data;
}

/* Skips white space */
static const char *
SkipSpace(const char *p)
{
	while (scanner_isspace(*p))
		p++;
	return p;
}

/* Adds the key of one order_by entry: "column [ASC|DESC]" */
static void
ParseOrderEntry(PageList *list, Relation rel, const char *entry)
{
	const char *p = SkipSpace(entry);
	char	   *name = ReadColumnName(&p);
	bool		descending = false;

	if (name == NULL || name[0] == '\0')
		ReportBadOrderEntry(entry);
	p = SkipSpace(p);
	if (*p != '\0')
	{
		const char *word = p;

		while (*p != '\0' && !scanner_isspace(*p))
			p++;
		if (p - word == 4 && pg_strncasecmp(word, "desc", 4) == 0)
			descending = true;
		else if (p - word != 3 || pg_strncasecmp(word, "asc", 3) != 0)
			ReportBadOrderEntry(entry);
		if (*SkipSpace(p) != '\0')
			ReportBadOrderEntry(entry);
	}
	AddKey(list, rel, name, descending);
}

/* Adds the keys of order_by, in order */
static void
ParseOrder(PageList *list, Relation rel, ArrayType *order_by)
{
	Datum	   *entries;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(order_by, TEXTOID, -1, false, TYPALIGN_INT, &entries, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("order_by must name at least one column")));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("order_by entries must not be null")));
		ParseOrderEntry(list, rel, TextDatumGetCString(entries[i]));
	}
}

/*
 * Whether a unique index makes its key columns identify a row: immediate,
 * valid, without predicate or expressions, over columns that cannot be
 * NULL (or with NULLS NOT DISTINCT).
 */
static bool
IndexIdentifiesRows(Relation rel, HeapTuple tuple)
{
	Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);
	int			i;

	if (!index->indisunique || !index->indimmediate || !index->indisvalid ||
		!heap_attisnull(tuple, Anum_pg_index_indpred, NULL) ||
		!heap_attisnull(tuple, Anum_pg_index_indexprs, NULL))
		return false;
	for (i = 0; i < index->indnkeyatts; i++)
	{
		AttrNumber	attnum = index->indkey.values[i];

		if (attnum <= 0)
			return false;
		if (!TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attnotnull &&
			!index->indnullsnotdistinct)
			return false;
	}
	return true;
}

/* Whether every key column of the index is a key of the list */
static bool
KeysCoverIndex(const PageList *list, Relation rel, Form_pg_index index)
{
	int			i;
	int			k;

	for (i = 0; i < index->indnkeyatts; i++)
	{
		const char *column = NameStr(TupleDescAttr(RelationGetDescr(rel),
												   index->indkey.values[i] - 1)->attname);

		for (k = 0; k < list->nkeys; k++)
		{
			if (strcmp(list->keys[k].name, column) == 0)
				break;
		}
		if (k == list->nkeys)
			return false;
	}
	return true;
}

/*
 * Makes the order total: unless the keys already include every column of a
 * unique index that identifies rows, the missing columns of the primary key
 * (or else of the first such index) are appended in ascending order.  A
 * relation without one (a view) relies on the caller's keys.
 */
static void
MakeOrderTotal(PageList *list, Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	AttrNumber	columns[INDEX_MAX_KEYS];
	int			ncolumns = -1;
	bool		primary = false;
	ListCell   *lc;
	int			i;

	foreach(lc, indexes)
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		bool		covered;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for index %u", lfirst_oid(lc));
		index = (Form_pg_index) GETSTRUCT(tuple);
		covered = false;
		if (IndexIdentifiesRows(rel, tuple))
		{
			covered = KeysCoverIndex(list, rel, index);
			if (ncolumns < 0 || (index->indisprimary && !primary))
			{
				ncolumns = index->indnkeyatts;
				memcpy(columns, index->indkey.values, ncolumns * sizeof(AttrNumber));
				primary = index->indisprimary;
			}
		}
		ReleaseSysCache(tuple);
		if (covered)
			return;
	}
	for (i = 0; i < ncolumns; i++)
	{
		const char *column = NameStr(TupleDescAttr(RelationGetDescr(rel), columns[i] - 1)->attname);
		int			k;

		for (k = 0; k < list->nkeys; k++)
		{
			if (strcmp(list->keys[k].name, column) == 0)
				break;
		}
		if (k == list->nkeys)
			AddKey(list, rel, column, false);
	}
}

/* The text form of a JSON scalar filter value; NULL for JSON null */
static char *
FilterValueText(const char *column, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("filter value of column \"%s\" must be a JSON scalar or null", column),
					 errdetail("Filters compare a column with one value; arrays and objects are not values.")));
	}
	return NULL;				/* not reached */
}

/* Adds the filter column = value */
static void
AddFilter(PageList *list, Relation rel, PageFilter *filter, const char *column, JsonbValue *v)
{
	Form_pg_attribute att = FindColumn(list, rel, column);
	TypeCacheEntry *type = lookup_type_cache(getBaseType(att->atttypid), TYPECACHE_EQ_OPR);

	if (!OidIsValid(type->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" cannot be filtered", column),
				 errdetail("Type %s has no equality operator.", format_type_be(att->atttypid))));
	filter->quoted = pstrdup(quote_identifier(column));
	filter->typid = att->atttypid;
	filter->typmod = att->atttypmod;
	filter->eq_op = QualifiedOperator(type->eq_opr);
	filter->value = FilterValueText(column, v);
}

/* Reads the equality filters of a jsonb object {"column": value, ...} */
static void
ParseFilter(PageList *list, Relation rel, Jsonb *filter)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	char	   *column = NULL;

	if (!JB_ROOT_IS_OBJECT(filter))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter must be a JSON object"),
				 errdetail("A filter maps column names to values, such as {\"event_id\": 7}.")));
	list->filter_text = JsonbToCString(NULL, &filter->root, VARSIZE(filter));
	list->filters = palloc0(sizeof(PageFilter) * Max(JB_ROOT_COUNT(filter), 1));
	it = JsonbIteratorInit(&filter->root);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			column = pnstrdup(v.val.string.val, v.val.string.len);
		else if (token == WJB_VALUE)
			AddFilter(list, rel, &list->filters[list->nfilters++], column, &v);
	}
}

/* An alias for the relation that no column shares, so "alias" names the whole row */
static char *
ChooseAlias(Relation rel)
{
	char	   *alias = pstrdup("p");
	int			i = 0;

	while (LookupColumn(rel, alias) != NULL)
		alias = psprintf("p%d", ++i);
	return alias;
}

/*
 * The list of rows of type rowtype ordered by order_by, restricted by
 * filter, for caller (NULL: current_user).  The relation stays locked
 * against schema changes until the end of the transaction.
 */
PageList *
PageListBuild(Oid rowtype, ArrayType *order_by, Jsonb *filter, const char *caller)
{
	PageList   *list = palloc0(sizeof(PageList));
	Relation	rel = OpenRelationOfRowType(rowtype);

	list->rowtype = getBaseType(rowtype);
	list->relation = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel));
	ParseOrder(list, rel, order_by);
	MakeOrderTotal(list, rel);
	ParseFilter(list, rel, filter);
	list->alias = ChooseAlias(rel);
	list->caller_is_role = (caller == NULL);
	list->caller = caller != NULL ? pstrdup(caller) : GetUserNameFromId(GetUserId(), false);
	relation_close(rel, NoLock);
	return list;
}

/* Appends one identity field: "name <byte length>:value" and a newline */
static void
AppendIdentityField(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, "%s %d:%s\n", name, (int) strlen(value), value);
}

/*
 * The canonical identity text of a list, hashed into the list id of its
 * cursors: the format version, the relation, the effective order, the
 * canonical filter and the caller, each length-prefixed so that no two
 * lists share a text.  The page size is not part of it.
 */
char *
PageListIdentity(const PageList *list)
{
	StringInfoData order;
	StringInfoData buf;
	int			i;

	initStringInfo(&order);
	for (i = 0; i < list->nkeys; i++)
		appendStringInfo(&order, "%s%s %s", i > 0 ? ", " : "", list->keys[i].quoted,
						 list->keys[i].descending ? "DESC" : "ASC");
	initStringInfo(&buf);
	appendStringInfo(&buf, "qr_event.paginate %d\n", PAGE_IDENTITY_VERSION);
	AppendIdentityField(&buf, "relation", list->relation);
	AppendIdentityField(&buf, "order", order.data);
	AppendIdentityField(&buf, "filter", list->filter_text);
	AppendIdentityField(&buf, list->caller_is_role ? "role" : "caller", list->caller);
	return buf.data;
}
