/*
 * config_show.c
 *		The settings shown to people: the --help text and the effective
 *		settings of --check-config, with secrets and passwords masked.
 */
#include "config.h"
#include "config_table.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "json.h"
#include "version.h"

/* Print the usage text listing every setting */
void
config_usage(FILE *out)
{
	const struct setting *s;
	int			i;

	fprintf(out,
			"Usage: qr_gateway [--check-config] [--setting=value | --setting value]...\n"
			"\n"
			"qr_gateway %s, the HTTP gateway of QR Event.\n"
			"Each setting comes from its default, then the config file, then the\n"
			"environment, then the command line (later ones win).\n"
			"\n"
			"Settings (flag, environment variable, config file name, default):\n",
			QR_GATEWAY_VERSION);
	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		s = &config_settings[i];
		fprintf(out, "  %s, %s, %s (default: %s)\n      %s\n",
				s->flag, s->env, s->name,
				s->required ? "required" :
				(s->default_text == NULL || s->default_text[0] == '\0') ? "none" :
				s->default_text,
				s->help);
	}
	fprintf(out,
			"\nOther options:\n"
			"  --check-config   validate the settings, print the effective ones and exit\n"
			"  --help           print this text and exit\n"
			"  --version        print the version and exit\n"
			"\nExit status: 0 after a clean stop, 1 when the server cannot start,\n"
			"2 for an invalid setting or option.\n");
}

/* Append text to buf as a config file value, quoted when it must be */
static void
append_file_value(struct json_buf *buf, const char *text)
{
	const char *p;
	bool		quote = (text[0] == '\0' || text[0] == '"');

	for (p = text; *p != '\0' && !quote; p++)
		quote = isspace((unsigned char) *p) || *p == '#';
	if (!quote)
	{
		json_buf_puts(buf, text);
		return;
	}
	json_buf_puts(buf, "\"");
	for (p = text; *p != '\0'; p++)
	{
		if (*p == '"' || *p == '\\')
			json_buf_puts(buf, "\\");
		json_buf_append(buf, p, 1);
	}
	json_buf_puts(buf, "\"");
}

/* Append a connection string as keyword=value pairs with the password masked */
static void
append_masked_conninfo(struct json_buf *buf, const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	PQconninfoOption *o;
	const char *p;
	bool		first = true;

	for (o = opts; o != NULL && o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		json_buf_printf(buf, "%s%s='", first ? "" : " ", o->keyword);
		first = false;
		if (strcmp(o->keyword, "password") == 0)
			p = SECRET_MASK;
		else
			p = o->val;
		for (; *p != '\0'; p++)
		{
			if (*p == '\'' || *p == '\\')
				json_buf_puts(buf, "\\");
			json_buf_append(buf, p, 1);
		}
		json_buf_puts(buf, "'");
	}
	PQconninfoFree(opts);
}

/* The text of a setting as --check-config shows it, secrets masked */
static void
append_shown_value(struct json_buf *buf, const struct config *cfg, int idx)
{
	const char *text = cfg->text[idx] ? cfg->text[idx] : "";
	struct json_buf shown;
	size_t		i;

	json_buf_init(&shown);
	if (config_settings[idx].type == TYPE_SECRET)
		json_buf_puts(&shown, SECRET_MASK);
	else if (config_settings[idx].type == TYPE_CONNINFO)
		append_masked_conninfo(&shown, text);
	else if (config_settings[idx].type == TYPE_CONNINFO_LIST)
	{
		for (i = 0; i < cfg->db_replica_count; i++)
		{
			if (i > 0)
				json_buf_puts(&shown, ",");
			append_masked_conninfo(&shown, cfg->db_replicas[i]);
		}
	}
	else
		json_buf_puts(&shown, text);
	append_file_value(buf, json_buf_text(&shown));
	json_buf_free(&shown);
}

/* Print the effective settings as "name = value (source)" lines */
void
config_print(const struct config *cfg, FILE *out)
{
	struct json_buf line;
	int			i;

	for (i = 0; i < CONFIG_SETTING_COUNT; i++)
	{
		json_buf_init(&line);
		json_buf_printf(&line, "%s = ", config_settings[i].name);
		append_shown_value(&line, cfg, i);
		json_buf_printf(&line, " (%s)\n", config_source_names[cfg->source[i]]);
		fputs(json_buf_text(&line), out);
		json_buf_free(&line);
	}
}
