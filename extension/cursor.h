/*
 * cursor.h
 *		SQL boundary of the keyset cursors: the server secret in
 *		qr_event.cursor_keys, list ids, and cursor_codec results turned into
 *		errors.  Key values travel in cursors in their text form, converted
 *		under fixed settings so that a cursor means the same in every session.
 */
#ifndef QR_EVENT_CURSOR_H
#define QR_EVENT_CURSOR_H

#include "cursor_codec.h"

/* Text that identifies one list; its hash is the list id of the cursors */
extern void CursorListId(const char *identity, uint8 list_id[CURSOR_LIST_ID_LEN]);

/* The current secret, read without privilege checks; raises 55000 when missing */
extern bytea *CursorSecretRead(void);

/* Overwrites the secret's bytes and frees it */
extern void CursorSecretForget(bytea *secret);

/*
 * Decodes cursor_text into c, raising 22023 for anything that is not an
 * authentic cursor of the list list_id with nkeys key values.  Key values
 * point into buf (CURSOR_MAX_TEXT bytes).
 */
extern void CursorDecodeForList(text *cursor_text, const bytea *secret,
								const uint8 *list_id, int nkeys,
								Cursor *c, uint8 *buf);

/* Encodes c as cursor text; key values too long for a cursor raise 54000 */
extern text *CursorEncodeText(const Cursor *c, const bytea *secret);

/*
 * Brackets conversions of key and filter values between text and datums:
 * ISO dates, full float precision, postgres interval style.  Returns the
 * nest level to pass to CursorSettingsPop.
 */
extern int	CursorSettingsPush(void);
extern void CursorSettingsPop(int nestlevel);

#endif							/* QR_EVENT_CURSOR_H */
