/*
 * guc.h
 *		The qr_event.* configuration parameters.
 *
 * The variables hold the current backend's values; QrEventDefineGucs runs
 * once per backend, from _PG_init.
 */
#ifndef QR_EVENT_GUC_H
#define QR_EVENT_GUC_H

extern int	qr_event_password_iterations;
extern int	qr_event_min_password_length;
extern int	qr_event_max_page_size;
extern int	qr_event_max_score;
extern int	qr_event_leaderboard_compact_every;
extern int	qr_event_scan_opens_before;

extern void QrEventDefineGucs(void);

#endif							/* QR_EVENT_GUC_H */
