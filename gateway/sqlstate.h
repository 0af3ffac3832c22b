/*
 * sqlstate.h
 *		The one table from a PostgreSQL SQLSTATE to the API's error answer.
 *
 * Constant data and a pure lookup: safe in any thread.
 */
#ifndef QR_GATEWAY_SQLSTATE_H
#define QR_GATEWAY_SQLSTATE_H

#include <stdbool.h>

#include "respond.h"

struct sqlstate_mapping
{
	enum api_error error;		/* the answer's code and HTTP status */
	bool		show_message;	/* whether the database's message reaches the client */
};

extern struct sqlstate_mapping sqlstate_map(const char *sqlstate);

#endif
