/*
 * paginate.h
 *		Keyset pagination of any table or view: the description of a list
 *		(relation, key columns, equality filters, caller), built from the
 *		catalogs by paginate_list.c, and the query texts paginate_sql.c
 *		builds from it.  paginate.c is the SQL boundary.
 */
#ifndef QR_EVENT_PAGINATE_H
#define QR_EVENT_PAGINATE_H

#include "fmgr.h"
#include "utils/jsonb.h"

#include "cursor_codec.h"

#define PAGE_MAX_KEYS	CURSOR_MAX_KEYS

/* One column of the list order */
typedef struct PageKey
{
	char	   *name;			/* column name, as in the catalog */
	char	   *quoted;			/* the name quoted for SQL */
	Oid			typid;
	int32		typmod;
	bool		descending;		/* the list's direction (NULLs sort as the greatest values) */
	bool		notnull;		/* the column can never hold NULL */
	char	   *lt_op;			/* OPERATOR(schema.<) of the type's default btree class */
	char	   *le_op;
	char	   *eq_op;
	char	   *ge_op;
	char	   *gt_op;
	int			param;			/* $n of the boundary value in the query; 0 when NULL */
} PageKey;

/* One equality filter */
typedef struct PageFilter
{
	char	   *quoted;			/* the column name quoted for SQL */
	Oid			typid;
	int32		typmod;
	char	   *eq_op;
	char	   *value;			/* text form of the JSON value; NULL for JSON null */
	int			param;			/* $n of the value; 0 for IS NULL */
} PageFilter;

/* A list: what one cursor is valid for */
typedef struct PageList
{
	Oid			rowtype;		/* element type of the page's items */
	char	   *relation;		/* schema-qualified, quoted name */
	char	   *alias;			/* table alias in the queries, unlike every column name */
	int			nkeys;
	PageKey		keys[PAGE_MAX_KEYS];
	int			nfilters;
	PageFilter *filters;
	char	   *filter_text;	/* canonical jsonb text of the filter object */
	char	   *caller;			/* the caller argument, or current_user */
	bool		caller_is_role; /* caller is current_user, not an argument */
} PageList;

/* paginate_list.c */
extern void PageRequireArgument(FunctionCallInfo fcinfo, int argno, const char *name);
extern int	PageReadSize(FunctionCallInfo fcinfo, int argno);
extern Datum PageValueFromText(const char *text, Oid typid, int32 typmod);
extern PageList *PageListBuild(Oid rowtype, ArrayType *order_by, Jsonb *filter,
							   const char *caller);
extern char *PageListIdentity(const PageList *list);

/* paginate_sql.c */
extern char *PageQueryText(const PageList *list, bool backward, bool boundary,
						   int limit_param);
extern char *PageCountText(const PageList *list);
extern char *PageEstimateText(const PageList *list);

#endif							/* QR_EVENT_PAGINATE_H */
