/*
 * kept_plan.c
 *		SPI plans prepared once per backend and kept.
 *
 * The caller holds an SPI connection; *plan lives in a static variable of
 * the caller's file and stays valid for the backend's life (SPI revalidates
 * a kept plan after DDL on what it reads).
 */
#include "postgres.h"

#include "kept_plan.h"

/* *plan, prepared (with cursor_options, e.g. CURSOR_OPT_GENERIC_PLAN) and kept on first use */
SPIPlanPtr
KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes, int cursor_options)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}
