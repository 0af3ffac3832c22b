/*
 * cursor_fuzz.h
 *		The fixed secret shared by the cursor fuzz target and the program that
 *		writes its seed corpus, so that the seeds are authentic cursors.
 */
#ifndef QR_EVENT_CURSOR_FUZZ_H
#define QR_EVENT_CURSOR_FUZZ_H

#define CURSOR_FUZZ_SECRET		"fuzz-secret-0123456789abcdefghij"
#define CURSOR_FUZZ_SECRET_LEN	32

#endif							/* QR_EVENT_CURSOR_FUZZ_H */
