/*
 * paginate_sql.c
 *		The query texts of a list: one page after (or before) a boundary row,
 *		the exact count and the planner's estimate.  Identifiers come quoted
 *		from the PageList and operators schema-qualified; every value is a $n
 *		parameter, never part of the text.
 *
 * NULLs sort as the greatest values (ASC NULLS LAST, DESC NULLS FIRST), so
 * on a key in ascending order the rows after a boundary value v are those
 * greater than v and then the NULLs, and after a NULL boundary none; in
 * descending order the rows after v are those less than v, and after a NULL
 * boundary every non-NULL row.
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "paginate.h"

/* "alias.column" of a column of the list's relation */
static char *
Column(const PageList *list, const char *quoted)
{
	return psprintf("%s.%s", list->alias, quoted);
}

/* Whether the key runs in descending order in this query */
static bool
Descending(const PageKey *key, bool backward)
{
	return key->descending != backward;
}

/* The filters as conditions */
static List *
FilterConditions(const PageList *list)
{
	List	   *conds = NIL;
	int			i;

	for (i = 0; i < list->nfilters; i++)
	{
		const PageFilter *f = &list->filters[i];
		char	   *col = Column(list, f->quoted);

		if (f->param == 0)
			conds = lappend(conds, psprintf("%s IS NULL", col));
		else
			conds = lappend(conds, psprintf("%s %s $%d", col, f->eq_op, f->param));
	}
	return conds;
}

/* Rows strictly after the boundary on this key alone; NULL when none can be */
static char *
KeyAfter(const PageList *list, const PageKey *key, bool desc, bool notnull)
{
	char	   *col = Column(list, key->quoted);

	if (key->param == 0)
		return desc ? psprintf("%s IS NOT NULL", col) : NULL;
	if (desc)
		return psprintf("%s %s $%d", col, key->lt_op, key->param);
	if (notnull)
		return psprintf("%s %s $%d", col, key->gt_op, key->param);
	return psprintf("(%s %s $%d OR %s IS NULL)", col, key->gt_op, key->param, col);
}

/* Rows equal to the boundary on this key */
static char *
KeyEqual(const PageList *list, const PageKey *key)
{
	char	   *col = Column(list, key->quoted);

	if (key->param == 0)
		return psprintf("%s IS NULL", col);
	return psprintf("%s %s $%d", col, key->eq_op, key->param);
}

/*
 * Rows after the boundary on keys i..n-1, in the expanded form
 * after(i) OR (equal(i) AND after(i+1 ...)).  first_notnull treats key 0
 * as NOT NULL (the NULLs are read by another branch).
 */
static char *
KeysetAfter(const PageList *list, bool backward, int i, bool first_notnull)
{
	const PageKey *key = &list->keys[i];
	char	   *after = KeyAfter(list, key, Descending(key, backward),
								 key->notnull || (i == 0 && first_notnull));
	char	   *rest;

	if (i == list->nkeys - 1)
		return after != NULL ? after : pstrdup("false");
	rest = psprintf("%s AND %s", KeyEqual(list, key),
					KeysetAfter(list, backward, i + 1, false));
	if (after == NULL)
		return psprintf("(%s)", rest);
	return psprintf("(%s OR (%s))", after, rest);
}

/*
 * The bound on the first key that the expanded form implies but does not
 * say in a form an index can start from: first >= v (ASC) or <= v (DESC).
 */
static char *
FirstKeyBound(const PageList *list, bool backward)
{
	const PageKey *key = &list->keys[0];

	if (list->nkeys == 1 || key->param == 0)
		return NULL;
	return psprintf("%s %s $%d", Column(list, key->quoted),
					Descending(key, backward) ? key->le_op : key->ge_op, key->param);
}

/*
 * (k1, ..., kn) > (v1, ..., vn), or <, when every key runs the same way,
 * none can be NULL and one operator name serves them all: a btree index
 * uses the row comparison directly.  NULL when the keys do not qualify.
 */
static char *
RowComparison(const PageList *list, bool backward)
{
	bool		desc = Descending(&list->keys[0], backward);
	const char *op = desc ? list->keys[0].lt_op : list->keys[0].gt_op;
	StringInfoData cols;
	StringInfoData params;
	int			i;

	if (list->nkeys < 2)
		return NULL;
	initStringInfo(&cols);
	initStringInfo(&params);
	for (i = 0; i < list->nkeys; i++)
	{
		const PageKey *key = &list->keys[i];

		if (Descending(key, backward) != desc || !key->notnull || key->param == 0 ||
			strcmp(desc ? key->lt_op : key->gt_op, op) != 0)
			return NULL;
		appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "", Column(list, key->quoted));
		appendStringInfo(&params, "%s$%d", i > 0 ? ", " : "", key->param);
	}
	return psprintf("ROW(%s) %s ROW(%s)", cols.data, op, params.data);
}

/* The ORDER BY list over the keys as columns of rel (an alias) */
static char *
OrderByList(const PageList *list, const char *rel, bool backward)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < list->nkeys; i++)
		appendStringInfo(&buf, "%s%s.%s %s", i > 0 ? ", " : "", rel, list->keys[i].quoted,
						 Descending(&list->keys[i], backward) ? "DESC NULLS FIRST" : "ASC NULLS LAST");
	return buf.data;
}

/* " FROM relation AS alias [WHERE c1 AND c2 ...]" */
static void
AppendFromWhere(StringInfo buf, const PageList *list, List *conds)
{
	ListCell   *lc;

	appendStringInfo(buf, " FROM %s AS %s", list->relation, list->alias);
	foreach(lc, conds)
		appendStringInfo(buf, "%s%s", lc == list_head(conds) ? " WHERE " : " AND ",
						 (char *) lfirst(lc));
}

/* SELECT of the whole row and its key values, in page order */
static char *
SelectText(const PageList *list, List *conds, bool backward, int limit_param)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT %s", list->alias);
	for (i = 0; i < list->nkeys; i++)
		appendStringInfo(&buf, ", %s", Column(list, list->keys[i].quoted));
	AppendFromWhere(&buf, list, conds);
	appendStringInfo(&buf, " ORDER BY %s LIMIT $%d",
					 OrderByList(list, list->alias, backward), limit_param);
	return buf.data;
}

/* conds plus cond, when there is one */
static List *
With(List *conds, char *cond)
{
	List	   *result = list_copy(conds);

	return cond != NULL ? lappend(result, cond) : result;
}

/*
 * The query of one page: the whole row (column 1) and the key values
 * (columns 2..n+1) of up to $limit_param rows after the boundary whose key
 * values are the keys' params, or from the start without boundary.
 * backward reverses the order, reading the rows before the boundary.
 *
 * The predicate carries a redundant bound on the first key so that an index
 * on the keys starts at the boundary instead of filtering from the start.
 * An ascending first key that can be NULL cannot be bounded that way (its
 * NULLs come after every value): the non-NULL rows and the NULL rows are
 * then read by two bounded branches, each limited, and merged.
 */
char *
PageQueryText(const PageList *list, bool backward, bool boundary, int limit_param)
{
	List	   *conds = FilterConditions(list);
	const PageKey *first = &list->keys[0];
	char	   *row;
	char	   *values;
	char	   *nulls;

	if (!boundary)
		return SelectText(list, conds, backward, limit_param);
	row = RowComparison(list, backward);
	if (row != NULL)
		return SelectText(list, With(conds, row), backward, limit_param);
	if (Descending(first, backward) || first->notnull || first->param == 0)
		return SelectText(list,
						  With(With(conds, FirstKeyBound(list, backward)),
							   KeysetAfter(list, backward, 0, false)),
						  backward, limit_param);
	values = SelectText(list,
						With(With(conds, FirstKeyBound(list, backward)),
							 KeysetAfter(list, backward, 0, true)),
						backward, limit_param);
	nulls = SelectText(list,
					   With(conds, psprintf("%s IS NULL", Column(list, first->quoted))),
					   backward, limit_param);
	return psprintf("SELECT * FROM ((%s) UNION ALL (%s)) AS s ORDER BY %s LIMIT $%d",
					values, nulls, OrderByList(list, "s", backward), limit_param);
}

/* The exact number of rows of the list */
char *
PageCountText(const PageList *list)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "SELECT pg_catalog.count(*)");
	AppendFromWhere(&buf, list, FilterConditions(list));
	return buf.data;
}

/* EXPLAIN of a scan of the list's rows, whose top node carries the planner's row estimate */
char *
PageEstimateText(const PageList *list)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "EXPLAIN (FORMAT JSON) SELECT");
	AppendFromWhere(&buf, list, FilterConditions(list));
	return buf.data;
}
