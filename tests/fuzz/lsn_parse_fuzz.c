/*
 * lsn_parse_fuzz.c
 *		libFuzzer target of lsn_parse and lsn_format (gateway/lsn.c). The input
 *		as text must be accepted exactly when it is two groups of 1 to 8 hex
 *		digits around a slash (checked here without the code under test), with
 *		the number those digits spell; an accepted LSN formats to text that
 *		parses to the same number. Its first eight bytes, as a number, must
 *		format and parse back to themselves too.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsn.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether c is a hex digit, by table rather than by range */
static bool
oracle_is_hex(char c)
{
	return c != '\0' && strchr("0123456789abcdefABCDEF", c) != NULL;
}

/*
 * Whether text matches ^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$; the number it
 * spells (high group first) at *out, read back with sscanf.
 */
static bool
oracle_lsn(const char *text, uint64_t *out)
{
	size_t		hi = strspn(text, "0123456789abcdefABCDEF");
	size_t		lo;
	unsigned int h;
	unsigned int l;

	if (hi < 1 || hi > 8 || text[hi] != '/')
		return false;
	lo = strspn(text + hi + 1, "0123456789abcdefABCDEF");
	if (lo < 1 || lo > 8 || text[hi + 1 + lo] != '\0')
		return false;
	for (size_t i = 0; i < hi; i++)
		if (!oracle_is_hex(text[i]))
			abort();
	if (sscanf(text, "%8x/%8x", &h, &l) != 2)
		abort();
	*out = ((uint64_t) h << 32) | l;
	return true;
}

/* Aborts unless lsn formats as Postgres does and parses back to itself */
static void
check_formats(uint64_t lsn)
{
	char		text[LSN_TEXT_SIZE];
	char		want[32];
	uint64_t	again = ~lsn;

	memset(text, 0x7f, sizeof(text));
	lsn_format(lsn, text);
	snprintf(want, sizeof(want), "%X/%X", (unsigned int) (lsn >> 32), (unsigned int) (lsn & 0xFFFFFFFF));
	if (memchr(text, '\0', sizeof(text)) == NULL || strcmp(text, want) != 0 ||
		!lsn_parse(text, &again) || again != lsn)
		abort();
}

/* libFuzzer entry point */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	uint64_t	got = 0;
	uint64_t	want = 0;
	uint64_t	raw = 0;
	bool		accepted;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (lsn_parse(NULL, &got))
		abort();
	accepted = lsn_parse(text, &got);
	if (accepted != oracle_lsn(text, &want) || (accepted && got != want))
		abort();
	if (accepted)
		check_formats(got);
	for (size_t i = 0; i < size && i < 8; i++)
		raw = (raw << 8) | data[i];
	check_formats(raw);
	free(text);
	return 0;
}
