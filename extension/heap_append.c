/*
 * heap_append.c
 *		Appending rows straight to a table's heap and indexes, without the
 *		executor, for the extension's own hot paths (leaderboard deltas, a
 *		scan's audit event).
 *
 * Only plain column indexes are maintained: the caller refuses a table with
 * any other kind, as it would be bypassed.  Unique indexes are checked
 * (UNIQUE_CHECK_YES) when the caller allows them; an index not yet ready for
 * inserts (being built concurrently) is skipped, as the executor does.  The
 * caller checks the table's constraints and triggers itself.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "catalog/index.h"

#include "heap_append.h"

/*
 * Opens rel's indexes (RowExclusiveLock). Returns NULL, or the first index
 * that is not a plain column index: expressions, a predicate, exclusion,
 * deferred uniqueness, or any uniqueness unless allow_unique.
 */
Relation
HeapAppendBegin(HeapAppender *a, Relation rel, bool allow_unique)
{
	ListCell   *lc;
	int			i = 0;

	a->rel = rel;
	a->index_oids = RelationGetIndexList(rel);
	a->n_indexes = list_length(a->index_oids);
	a->indexes = palloc(sizeof(Relation) * Max(a->n_indexes, 1));
	a->infos = palloc(sizeof(IndexInfo *) * Max(a->n_indexes, 1));
	foreach(lc, a->index_oids)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);

		a->indexes[i] = index;
		a->infos[i++] = info;
		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL ||
			info->ii_ExclusionOps != NULL ||
			(info->ii_Unique && (!allow_unique || !index->rd_index->indimmediate)))
			return index;
	}
	return NULL;
}

/* Inserts one row into the heap and every ready index; returns its TID */
ItemPointerData
HeapAppendRow(HeapAppender *a, Datum *values, bool *nulls)
{
	HeapTuple	tuple = heap_form_tuple(RelationGetDescr(a->rel), values, nulls);
	ItemPointerData tid;

	simple_heap_insert(a->rel, tuple);
	tid = tuple->t_self;
	for (int i = 0; i < a->n_indexes; i++)
	{
		IndexInfo  *info = a->infos[i];
		Datum		ivalues[INDEX_MAX_KEYS];
		bool		inulls[INDEX_MAX_KEYS];

		if (!info->ii_ReadyForInserts)
			continue;
		for (int k = 0; k < info->ii_NumIndexAttrs; k++)
		{
			AttrNumber	attno = info->ii_IndexAttrNumbers[k];

			if (attno <= 0 || attno > RelationGetDescr(a->rel)->natts)
				elog(ERROR, "index \"%s\" has an unexpected column",
					 RelationGetRelationName(a->indexes[i]));
			ivalues[k] = values[attno - 1];
			inulls[k] = nulls[attno - 1];
		}
		index_insert(a->indexes[i], ivalues, inulls, &tid, a->rel,
					 info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
	}
	heap_freetuple(tuple);
	return tid;
}

/* Closes the indexes (their locks stay until the transaction ends) */
void
HeapAppendEnd(HeapAppender *a)
{
	for (int i = 0; i < a->n_indexes; i++)
		index_close(a->indexes[i], NoLock);
	list_free(a->index_oids);
}
