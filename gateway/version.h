/*
 * version.h
 *		The gateway's version string, kept in one place.
 */
#ifndef QR_GATEWAY_VERSION_H
#define QR_GATEWAY_VERSION_H

#define QR_GATEWAY_VERSION "0.1.0"

#endif
