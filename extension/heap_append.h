/*
 * heap_append.h
 *		Appending rows straight to a table's heap and indexes, without the
 *		executor, for the extension's own hot paths.
 */
#ifndef QR_EVENT_HEAP_APPEND_H
#define QR_EVENT_HEAP_APPEND_H

#include "postgres.h"

#include "nodes/execnodes.h"
#include "utils/rel.h"

typedef struct HeapAppender
{
	Relation	rel;
	List	   *index_oids;
	int			n_indexes;
	Relation   *indexes;
	IndexInfo **infos;
} HeapAppender;

extern Relation HeapAppendBegin(HeapAppender *appender, Relation rel, bool allow_unique);
extern ItemPointerData HeapAppendRow(HeapAppender *appender, Datum *values, bool *nulls);
extern void HeapAppendEnd(HeapAppender *appender);

#endif							/* QR_EVENT_HEAP_APPEND_H */
