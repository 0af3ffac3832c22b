/*
 * lsn.h
 *		WAL positions (LSNs) as text and numbers, and how far a replica's
 *		replay lags behind the primary.
 *
 * Pure functions and values; a struct lsn_history belongs to one thread.
 */
#ifndef QR_GATEWAY_LSN_H
#define QR_GATEWAY_LSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LSN_TEXT_SIZE 18		/* "FFFFFFFF/FFFFFFFF" and its NUL */
#define LSN_HISTORY_SIZE 1024

/* The primary's WAL position as seen at one moment */
struct lsn_sample
{
	int64_t		at_ms;			/* a monotonic clock */
	uint64_t	lsn;
};

/* The last LSN_HISTORY_SIZE samples of the primary, oldest overwritten first */
struct lsn_history
{
	struct lsn_sample samples[LSN_HISTORY_SIZE];
	int			count;
	int			next;			/* where the next sample goes */
};

extern bool lsn_parse(const char *text, uint64_t *out);
extern void lsn_format(uint64_t lsn, char out[LSN_TEXT_SIZE]);
extern void lsn_history_add(struct lsn_history *h, int64_t at_ms, uint64_t lsn);
extern int64_t lsn_history_lag_ms(const struct lsn_history *h, uint64_t replayed);

#endif
