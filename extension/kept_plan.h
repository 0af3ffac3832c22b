/*
 * kept_plan.h
 *		SPI plans prepared once per backend and kept.
 */
#ifndef QR_EVENT_KEPT_PLAN_H
#define QR_EVENT_KEPT_PLAN_H

#include "postgres.h"

#include "executor/spi.h"

extern SPIPlanPtr KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
						   int cursor_options);

#endif							/* QR_EVENT_KEPT_PLAN_H */
