/*
 * qr_event.h
 *		Library-wide definitions of the qr_event extension.
 */
#ifndef QR_EVENT_H
#define QR_EVENT_H

/*
 * The version of this library.  It equals the default_version of
 * qr_event.control, so qr_event.version() tells a DBA whether the loaded
 * library matches the installed SQL objects.
 */
#define QR_EVENT_VERSION "0.5.0"

#endif							/* QR_EVENT_H */
