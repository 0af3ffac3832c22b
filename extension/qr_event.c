/*
 * qr_event.c
 *		Entry points of the qr_event library: the magic block, the
 *		initialisation each backend runs when it loads the library, and the
 *		version the library reports.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "guc.h"
#include "qr_event.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(qr_event_version);

void		_PG_init(void);

/* Defines the parameters and reserves their prefix against typos */
void
_PG_init(void)
{
	QrEventDefineGucs();
	MarkGUCPrefixReserved("qr_event");
}

/* qr_event.version(): the library's version, to compare with the SQL objects */
Datum
qr_event_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(QR_EVENT_VERSION));
}
