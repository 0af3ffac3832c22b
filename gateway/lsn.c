/*
 * lsn.c
 *		WAL positions (LSNs) as text and numbers, and how far a replica's
 *		replay lags behind the primary.
 *
 * A replica's lag is measured against samples of the primary's position:
 * a replica that has replayed the position the primary had at time t holds
 * every commit made before t, so it is at most (newest sample - t) behind.
 * This counts in time, not bytes, and an idle primary makes no lag.
 */
#include "lsn.h"

#include <stdio.h>

/* The value of one hex digit, or -1 */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Parse 1 to 8 hex digits ending at stop; the position after them, or NULL */
static const char *
parse_half(const char *p, char stop, uint32_t *out)
{
	int			digits = 0;
	int			v;

	*out = 0;
	while ((v = hex_value(*p)) >= 0 && digits < 8)
	{
		*out = (*out << 4) | (uint32_t) v;
		p++;
		digits++;
	}
	return (digits > 0 && *p == stop) ? p : NULL;
}

/*
 * Parse Postgres's text form of an LSN, "16/B374D848": two groups of 1 to 8
 * hex digits around a slash, nothing else. False when text is not one.
 */
bool
lsn_parse(const char *text, uint64_t *out)
{
	uint32_t	hi;
	uint32_t	lo;
	const char *p;

	if (text == NULL || (p = parse_half(text, '/', &hi)) == NULL ||
		parse_half(p + 1, '\0', &lo) == NULL)
		return false;
	*out = ((uint64_t) hi << 32) | lo;
	return true;
}

/* Format an LSN the way Postgres does: "%X/%X" */
void
lsn_format(uint64_t lsn, char out[LSN_TEXT_SIZE])
{
	snprintf(out, LSN_TEXT_SIZE, "%X/%X", (unsigned) (lsn >> 32), (unsigned) lsn);
}

/* Record the primary's position at a moment (samples come in time order) */
void
lsn_history_add(struct lsn_history *h, int64_t at_ms, uint64_t lsn)
{
	h->samples[h->next] = (struct lsn_sample) {at_ms, lsn};
	h->next = (h->next + 1) % LSN_HISTORY_SIZE;
	if (h->count < LSN_HISTORY_SIZE)
		h->count++;
}

/*
 * How many ms a replica that has replayed up to `replayed` lags behind the
 * newest sample: 0 when it has reached it, else the time from the newest
 * sample it has reached to the newest sample. -1 when it has reached none
 * of the samples kept (or there are none): further behind than we know.
 */
int64_t
lsn_history_lag_ms(const struct lsn_history *h, uint64_t replayed)
{
	const struct lsn_sample *newest;
	const struct lsn_sample *s;
	int			i;

	if (h->count == 0)
		return -1;
	newest = &h->samples[(h->next + LSN_HISTORY_SIZE - 1) % LSN_HISTORY_SIZE];
	for (i = 1; i <= h->count; i++)
	{
		s = &h->samples[(h->next + LSN_HISTORY_SIZE - i) % LSN_HISTORY_SIZE];
		if (s->lsn <= replayed)
			return newest->at_ms - s->at_ms;
	}
	return -1;
}
