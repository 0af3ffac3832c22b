/*
 * config.c
 *		The gateway's settings: defaults < config file < environment < flags.
 *
 * One table (config_table.c) describes every setting. Loading touches no global state (the
 * environment comes in as envp), so it can run and be tested anywhere; the
 * result is read-only once the server starts.
 */
#include "config.h"
#include "config_table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "json.h"
#include "lsn.h"


#define REASON_SIZE 384

static bool fail(char *reason, size_t reasonlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

/* Store the reason of a failure; always false, to be returned */
static bool
fail(char *reason, size_t reasonlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(reason, reasonlen, fmt, ap);
	va_end(ap);
	return false;
}

/* Replace a setting's text, remembering where it came from */
static bool
set_text(struct config *cfg, int idx, const char *value,
		 enum config_source source, int line)
{
	char	   *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return false;
	free(cfg->text[idx]);
	cfg->text[idx] = copy;
	cfg->source[idx] = source;
	cfg->file_line[idx] = line;
	return true;
}

/* Fill every setting with its default */
static bool
apply_defaults(struct config *cfg, char *err, size_t errlen)
{
	int			i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		if (!set_text(cfg, i, config_settings[i].default_text, CONFIG_SOURCE_DEFAULT, 0))
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	return true;
}

/* Take every setting whose variable is present in envp */
static bool
apply_env(struct config *cfg, char **envp, char *err, size_t errlen)
{
	char	  **e;
	size_t		len;
	int			i;

	for (e = envp; e != NULL && *e != NULL; e++)
	{
		for (i = 0; i < CONFIG_SETTING_COUNT; i++)
		{
			len = strlen(config_settings[i].env);
			if (strncmp(*e, config_settings[i].env, len) != 0 || (*e)[len] != '=')
				continue;
			if (!set_text(cfg, i, *e + len + 1, CONFIG_SOURCE_ENV, 0))
			{
				snprintf(err, errlen, "out of memory");
				return false;
			}
		}
	}
	return true;
}

/* The setting whose flag is the first len bytes of arg, or -1 */
static int
find_flag(const char *arg, size_t len)
{
	int			i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		if (strlen(config_settings[i].flag) == len &&
			strncmp(config_settings[i].flag, arg, len) == 0)
			return i;
	}
	return -1;
}

/*
 * Take the settings given as --name=value or --name value; --help and
 * --version end the scan since nothing else matters then.
 */
static bool
apply_flags(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	const char *arg;
	const char *value;
	const char *eq;
	size_t		namelen;
	int			idx;
	int			i;

	for (i = 1; i < argc; i++)
	{
		arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
		{
			cfg->action = CONFIG_ACTION_HELP;
			return true;
		}
		if (strcmp(arg, "--version") == 0)
		{
			cfg->action = CONFIG_ACTION_VERSION;
			return true;
		}
		if (strcmp(arg, "--check-config") == 0)
		{
			cfg->action = CONFIG_ACTION_CHECK;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		{
			snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
			return false;
		}
		eq = strchr(arg, '=');
		namelen = eq ? (size_t) (eq - arg) : strlen(arg);
		idx = find_flag(arg, namelen);
		if (idx < 0)
		{
			snprintf(err, errlen, "unknown option %.*s (see --help)",
					 (int) namelen, arg);
			return false;
		}
		if (eq != NULL)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
		{
			snprintf(err, errlen, "option %s needs a value (see --help)", arg);
			return false;
		}
		if (!set_text(cfg, idx, value, CONFIG_SOURCE_FLAG, 0))
		{
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	return true;
}

/* The setting named by the first len bytes of name, or -1 */
static int
find_name(const char *name, size_t len)
{
	int			i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		if (strlen(config_settings[i].name) == len &&
			strncmp(config_settings[i].name, name, len) == 0)
			return i;
	}
	return -1;
}

/*
 * Unquote the value of a config file line in place: "..." with \" and \\
 * escapes, or bare text ending at a # that follows white space. Returns
 * NULL, with a reason, when the value is malformed.
 */
static char *
parse_file_value(char *p, const char **reason)
{
	char	   *out;
	char	   *start;
	char	   *end;

	if (*p != '"')
	{
		start = p;
		for (end = p; *end != '\0'; end++)
		{
			if (*end == '#' && end > start && isspace((unsigned char) end[-1]))
				break;
		}
		while (end > start && isspace((unsigned char) end[-1]))
			end--;
		*end = '\0';
		return start;
	}
	start = out = ++p;
	while (*p != '"')
	{
		if (*p == '\0')
		{
			*reason = "unterminated quoted value";
			return NULL;
		}
		if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
			p++;
		*out++ = *p++;
	}
	*out = '\0';
	for (p++; isspace((unsigned char) *p); p++)
		;
	if (*p != '\0' && *p != '#')
	{
		*reason = "unexpected text after the quoted value";
		return NULL;
	}
	return start;
}

/*
 * Apply one config file line; a setting already given by the environment or
 * a flag keeps that value. Returns false with a reason when the line is bad.
 */
static bool
apply_file_line(struct config *cfg, char *line, int lineno,
				char *reason, size_t reasonlen)
{
	const char *problem = NULL;
	char	   *name;
	char	   *value;
	size_t		namelen;
	int			idx;

	while (isspace((unsigned char) *line))
		line++;
	if (*line == '\0' || *line == '#')
		return true;
	name = line;
	while (isalnum((unsigned char) *line) || *line == '_')
		line++;
	namelen = (size_t) (line - name);
	while (isspace((unsigned char) *line))
		line++;
	if (namelen == 0 || *line != '=')
		problem = "expected name = value";
	else
	{
		for (line++; isspace((unsigned char) *line); line++)
			;
		value = parse_file_value(line, &problem);
	}
	if (problem != NULL)
		return fail(reason, reasonlen, "%s", problem);
	name[namelen] = '\0';
	if ((idx = find_name(name, namelen)) < 0)
		return fail(reason, reasonlen, "unknown setting \"%s\"", name);
	if (idx == CONFIG_CONFIG)
		return fail(reason, reasonlen, "the config setting cannot be set inside a config file");
	if (cfg->source[idx] > CONFIG_SOURCE_FILE)
		return true;
	if (!set_text(cfg, idx, value, CONFIG_SOURCE_FILE, lineno))
		return fail(reason, reasonlen, "out of memory");
	return true;
}

/* Check one raw line of the config file and apply it */
static bool
check_file_line(struct config *cfg, char *line, ssize_t len, int lineno,
				char *reason, size_t reasonlen)
{
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
	{
		len -= 3;
		memmove(line, line + 3, (size_t) len + 1);
	}
	if (strlen(line) != (size_t) len)
		return fail(reason, reasonlen, "unexpected NUL byte");
	if (!json_utf8_valid(line, (size_t) len))
		return fail(reason, reasonlen, "not valid UTF-8");
	return apply_file_line(cfg, line, lineno, reason, reasonlen);
}

/* Read the config file, if one is named, line by line */
static bool
apply_file(struct config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->text[CONFIG_CONFIG];
	char		reason[REASON_SIZE];
	bool		ok = true;
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int			lineno = 0;

	if (path == NULL || path[0] == '\0')
		return true;
	if ((f = fopen(path, "r")) == NULL)
	{
		snprintf(err, errlen, "invalid setting config (QR_GATEWAY_CONFIG): cannot read %s: %s",
				 path, strerror(errno));
		return false;
	}
	while (ok && (len = getline(&line, &cap, f)) >= 0)
	{
		if (!(ok = check_file_line(cfg, line, len, ++lineno, reason, sizeof(reason))))
			snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
	}
	if (ok && ferror(f))
	{
		ok = false;
		snprintf(err, errlen, "invalid setting config (QR_GATEWAY_CONFIG): cannot read %s: %s",
				 path, strerror(errno));
	}
	free(line);
	fclose(f);
	return ok;
}

/* Parse a decimal integer from min to max, digits only */
static bool
parse_int(const char *text, int min, int max, int *out)
{
	long long	value = 0;
	const char *p;

	if (*text == '\0')
		return false;
	for (p = text; *p != '\0'; p++)
	{
		if (!isdigit((unsigned char) *p))
			return false;
		value = value * 10 + (*p - '0');
		if (value > max)
			return false;
	}
	if (value < min)
		return false;
	*out = (int) value;
	return true;
}

/* Parse a decimal like 1, 0.5 or 12.25 from 0 to max */
static bool
parse_fraction(const char *text, int max, double *out)
{
	char	   *end;
	double		value;

	if (!isdigit((unsigned char) text[0]))
		return false;
	errno = 0;
	value = strtod(text, &end);
	if (errno != 0 || *end != '\0' || strpbrk(text, "eExXnN") != NULL || value > max)
		return false;
	*out = value;
	return true;
}

/* Parse ",name=N" at *p into *out (1 to max), moving *p past it */
static bool
parse_rate_option(const char **p, const char *name, int min, int max, int *out)
{
	size_t		len = strlen(name);
	char		digits[16];
	size_t		n = 0;

	if (strncmp(*p, name, len) != 0 || (*p)[len] != '=')
		return false;
	*p += len + 1;
	while (isdigit((unsigned char) **p) && n + 1 < sizeof(digits))
		digits[n++] = *(*p)++;
	digits[n] = '\0';
	return parse_int(digits, min, max, out) && (**p == '\0' || **p == ',');
}

/*
 * Parse a rate limit: "N/s", "N/min" or "N/h" (N from 1 to 10^9), then
 * optionally ",burst=N" (default 1) and ",concurrent=N" (default 0: no cap)
 */
static bool
parse_rate(const char *text, struct config_rate *out)
{
	static const struct
	{
		const char *unit;
		double		seconds;
	}			units[] = {{"/s", 1}, {"/min", 60}, {"/h", 3600}};
	struct config_rate rate = {0, 1, 0};
	char		digits[16];
	const char *p = text;
	size_t		n = 0;
	int			count;
	size_t		u;

	while (isdigit((unsigned char) *p) && n + 1 < sizeof(digits))
		digits[n++] = *p++;
	digits[n] = '\0';
	if (!parse_int(digits, 1, 1000000000, &count))
		return false;
	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (strncmp(p, units[u].unit, strlen(units[u].unit)) == 0 &&
			(p[strlen(units[u].unit)] == '\0' || p[strlen(units[u].unit)] == ','))
			break;
	if (u == sizeof(units) / sizeof(units[0]))
		return false;
	rate.per_second = count / units[u].seconds;
	p += strlen(units[u].unit);
	if (*p == ',' && strncmp(p + 1, "burst=", 6) == 0)
	{
		p++;
		if (!parse_rate_option(&p, "burst", 1, 1000000000, &rate.burst))
			return false;
	}
	if (*p == ',')
	{
		p++;
		if (!parse_rate_option(&p, "concurrent", 0, 1000000, &rate.concurrent))
			return false;
	}
	if (*p != '\0')
		return false;
	*out = rate;
	return true;
}

/* Whether text is a host name of letters, digits, dots and hyphens */
static bool
valid_host_name(const char *host)
{
	const char *p;

	if (host[0] == '-' || host[0] == '.')
		return false;
	for (p = host; *p != '\0'; p++)
	{
		if (!isalnum((unsigned char) *p) && *p != '.' && *p != '-')
			return false;
	}
	return true;
}

/*
 * Parse host:port or [IPv6]:port; a listen address needs an IP literal and
 * may use port 0 (any free port), any other needs a port from 1 to 65535.
 */
static bool
parse_address(const char *text, bool listen, struct config_address *addr)
{
	unsigned char ip[16];
	const char *host = text;
	const char *port;
	const char *close;
	size_t		hostlen;

	addr->ipv6 = (text[0] == '[');
	if (addr->ipv6)
	{
		host = text + 1;
		close = strchr(host, ']');
		if (close == NULL || close[1] != ':')
			return false;
		hostlen = (size_t) (close - host);
		port = close + 2;
	}
	else
	{
		port = strrchr(text, ':');
		if (port == NULL || memchr(text, ':', (size_t) (port - text)) != NULL)
			return false;
		hostlen = (size_t) (port - text);
		port++;
	}
	if (hostlen == 0 || hostlen >= sizeof(addr->host))
		return false;
	memcpy(addr->host, host, hostlen);
	addr->host[hostlen] = '\0';
	if (addr->ipv6 && inet_pton(AF_INET6, addr->host, ip) != 1)
		return false;
	if (!addr->ipv6 && listen && inet_pton(AF_INET, addr->host, ip) != 1)
		return false;
	if (!addr->ipv6 && !listen && !valid_host_name(addr->host))
		return false;
	return parse_int(port, listen ? 0 : 1, 65535, &addr->port);
}

/* Check a libpq connection string; the reason comes from libpq */
static bool
check_conninfo(const char *text, char *reason, size_t reasonlen)
{
	PQconninfoOption *opts;
	char	   *msg = NULL;
	size_t		len;

	opts = PQconninfoParse(text, &msg);
	if (opts != NULL)
	{
		PQconninfoFree(opts);
		return true;
	}
	if (msg == NULL)
		return fail(reason, reasonlen, "out of memory");
	len = strlen(msg);
	while (len > 0 && isspace((unsigned char) msg[len - 1]))
		msg[--len] = '\0';
	fail(reason, reasonlen, "not a valid libpq connection string: %s", msg);
	PQfreemem(msg);
	return false;
}

/*
 * Whether a new connection string starts at s, just after a comma: a
 * "keyword =" or a postgres:// URI. Any other comma belongs to the string
 * before it (libpq's own host and port lists).
 */
static bool
conninfo_starts_at(const char *s)
{
	while (isspace((unsigned char) *s))
		s++;
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
		return true;
	if (!isalpha((unsigned char) *s) && *s != '_')
		return false;
	while (isalnum((unsigned char) *s) || *s == '_')
		s++;
	while (isspace((unsigned char) *s))
		s++;
	return *s == '=';
}

/* Copy the trimmed bytes [start, end) into a new string */
static char *
trimmed_copy(const char *start, const char *end)
{
	char	   *copy;

	while (start < end && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	if ((copy = malloc((size_t) (end - start) + 1)) == NULL)
		return NULL;
	memcpy(copy, start, (size_t) (end - start));
	copy[end - start] = '\0';
	return copy;
}

/* Append the trimmed bytes [start, end) to the replica list and check them */
static bool
add_replica(struct config *cfg, const char *start, const char *end,
			char *reason, size_t reasonlen)
{
	size_t		n = cfg->db_replica_count;

	if ((cfg->db_replicas[n] = trimmed_copy(start, end)) == NULL)
		return fail(reason, reasonlen, "out of memory");
	cfg->db_replica_count++;
	if (cfg->db_replicas[n][0] == '\0')
		return fail(reason, reasonlen, "entry %zu is empty", n + 1);
	return check_conninfo(cfg->db_replicas[n], reason, reasonlen);
}

/* Split and check the replica list into cfg->db_replicas */
static bool
parse_replicas(struct config *cfg, const char *text, char *reason, size_t reasonlen)
{
	const char *start = text;
	const char *p;
	size_t		max = 1;

	for (p = text; *p != '\0'; p++)
		max += (*p == ',');
	if ((cfg->db_replicas = calloc(max, sizeof(char *))) == NULL)
		return fail(reason, reasonlen, "out of memory");
	for (p = text;; p++)
	{
		if (*p != '\0' && !(*p == ',' && conninfo_starts_at(p + 1)))
			continue;
		if (!add_replica(cfg, start, p, reason, reasonlen))
			return false;
		if (*p == '\0')
			return true;
		start = p + 1;
	}
}

/* Parse on/off (also true/false, yes/no, 1/0) */
static bool
parse_bool(const char *text, bool *out)
{
	if (strcasecmp(text, "on") == 0 || strcasecmp(text, "true") == 0 ||
		strcasecmp(text, "yes") == 0 || strcmp(text, "1") == 0)
		*out = true;
	else if (strcasecmp(text, "off") == 0 || strcasecmp(text, "false") == 0 ||
			 strcasecmp(text, "no") == 0 || strcmp(text, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

/* Parse one setting's text into its typed value; false with a reason */
static bool
parse_value(struct config *cfg, const struct setting *s, const char *text,
			char *reason, size_t reasonlen)
{
	void	   *target = (char *) cfg + s->target;

	switch (s->type)
	{
		case TYPE_LISTEN:
			return parse_address(text, true, target) ||
				fail(reason, reasonlen, "expected IPv4:port or [IPv6]:port with a port from 0 to 65535, got \"%s\"", text);
		case TYPE_ADDRESS:
			return parse_address(text, false, target) ||
				fail(reason, reasonlen, "expected host:port with a port from 1 to 65535, got \"%s\"", text);
		case TYPE_CONNINFO:
			*(const char **) target = text;
			return check_conninfo(text, reason, reasonlen);
		case TYPE_CONNINFO_LIST:
			return text[0] == '\0' || parse_replicas(cfg, text, reason, reasonlen);
		case TYPE_SECRET:
			*(const char **) target = text;
			return strlen(text) >= JWT_SECRET_MIN_BYTES ||
				fail(reason, reasonlen, "must be at least %d bytes long (got %zu)",
					 JWT_SECRET_MIN_BYTES, strlen(text));
		case TYPE_PATH:
			*(const char **) target = text;
			return true;
		case TYPE_INT:
			return parse_int(text, s->min, s->max, target) ||
				fail(reason, reasonlen, "expected an integer from %d to %d, got \"%s\"",
					 s->min, s->max, text);
		case TYPE_LOG_LEVEL:
			return log_level_parse(text, target) ||
				fail(reason, reasonlen, "expected error, warn, info or debug, got \"%s\"", text);
		case TYPE_BOOL:
			return parse_bool(text, target) ||
				fail(reason, reasonlen, "expected on or off, got \"%s\"", text);
		case TYPE_FRACTION:
			return parse_fraction(text, s->max, target) ||
				fail(reason, reasonlen, "expected a decimal from 0 to %d, got \"%s\"", s->max, text);
		case TYPE_RATE:
			return parse_rate(text, target) ||
				fail(reason, reasonlen, "expected N/s, N/min or N/h, then optionally ,burst=N "
					 "and ,concurrent=N, got \"%s\"", text);
	}
	return fail(reason, reasonlen, "unknown setting type");
}

/* Parse every setting in table order, stopping at the first problem */
static bool
parse_all(struct config *cfg, char *err, size_t errlen)
{
	char		reason[REASON_SIZE];
	const struct setting *s;
	const char *text;
	int			i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		s = &config_settings[i];
		text = cfg->text[i];
		if (s->required && (text == NULL || text[0] == '\0'))
		{
			snprintf(err, errlen, "setting %s (%s) is required", s->name, s->env);
			return false;
		}
		if (text == NULL)
			continue;
		reason[0] = '\0';
		if (parse_value(cfg, s, text, reason, sizeof(reason)))
			continue;
		if (cfg->source[i] == CONFIG_SOURCE_FILE)
			snprintf(err, errlen, "invalid setting %s (%s): %s (%s line %d)",
					 s->name, s->env, reason, cfg->text[CONFIG_CONFIG], cfg->file_line[i]);
		else
			snprintf(err, errlen, "invalid setting %s (%s): %s", s->name, s->env, reason);
		return false;
	}
	return true;
}

/*
 * Check the settings that limit each other. A replica's lag is measured
 * against the last LSN_HISTORY_SIZE samples of the primary, one per check,
 * so the bound must fit in that window.
 */
static bool
check_together(const struct config *cfg, char *err, size_t errlen)
{
	const struct setting *s = &config_settings[CONFIG_REPLICA_MAX_LAG_MS];
	long long	window = (long long) (LSN_HISTORY_SIZE - 1) * cfg->replica_check_ms;

	if (cfg->replica_max_lag_ms > window)
	{
		snprintf(err, errlen, "invalid setting %s (%s): %d is more than %d checks of "
				 "replica_check_ms (%lld ms)", s->name, s->env, cfg->replica_max_lag_ms,
				 LSN_HISTORY_SIZE - 1, window);
		return false;
	}
	return true;
}

/*
 * Load the settings from defaults, the config file, envp and argv. Returns 0
 * with cfg filled (cfg->action says what was asked), or -1 with a message in
 * err. Either way config_free releases cfg.
 */
int
config_load(struct config *cfg, int argc, char **argv, char **envp,
			char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	if (!apply_defaults(cfg, err, errlen) ||
		!apply_env(cfg, envp, err, errlen) ||
		!apply_flags(cfg, argc, argv, err, errlen))
		return -1;
	if (cfg->action == CONFIG_ACTION_HELP || cfg->action == CONFIG_ACTION_VERSION)
		return 0;
	if (!apply_file(cfg, err, errlen) || !parse_all(cfg, err, errlen) ||
		!check_together(cfg, err, errlen))
		return -1;
	return 0;
}

/* Release everything config_load allocated */
void
config_free(struct config *cfg)
{
	size_t		i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
		free(cfg->text[i]);
	for (i = 0; cfg->db_replicas != NULL && i < cfg->db_replica_count; i++)
		free(cfg->db_replicas[i]);
	free(cfg->db_replicas);
	memset(cfg, 0, sizeof(*cfg));
}

/* Format an address as host:port, with brackets around an IPv6 host */
void
config_format_address(const struct config_address *addr, char *out, size_t outlen)
{
	snprintf(out, outlen, addr->ipv6 ? "[%s]:%d" : "%s:%d", addr->host, addr->port);
}
