/*
 * config_table.h
 *		The table of settings (config_table.c) shared by config.c (loading)
 *		and config_show.c (--help and --check-config). Private to those files.
 */
#ifndef QR_GATEWAY_CONFIG_TABLE_H
#define QR_GATEWAY_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

#define SECRET_MASK "********"
#define JWT_SECRET_MIN_BYTES 32

enum setting_type
{
	TYPE_LISTEN,				/* IPv4:port or [IPv6]:port, port 0..65535 */
	TYPE_ADDRESS,				/* host:port, port 1..65535 */
	TYPE_CONNINFO,				/* a libpq connection string */
	TYPE_CONNINFO_LIST,			/* comma-separated libpq connection strings */
	TYPE_SECRET,				/* at least JWT_SECRET_MIN_BYTES, never shown */
	TYPE_PATH,
	TYPE_INT,					/* decimal from min to max */
	TYPE_LOG_LEVEL,
	TYPE_BOOL,
	TYPE_FRACTION,				/* a decimal from 0 to max (e.g. 1.5) */
	TYPE_RATE					/* N/s|min|h[,burst=N][,concurrent=N] */
};

struct setting
{
	const char *name;			/* as written in a config file */
	const char *env;
	const char *flag;
	enum setting_type type;
	size_t		target;			/* offset of the parsed value in struct config */
	const char *default_text;	/* NULL: none */
	bool		required;
	int			min;
	int			max;
	const char *help;
};

extern const struct setting config_settings[CONFIG_SETTING_COUNT];
extern const char *const config_source_names[];

#endif
