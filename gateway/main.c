/*
 * main.c
 *		qr_gateway: read the settings, start the server, wait for SIGTERM or
 *		SIGINT, stop gracefully.
 *
 * The two signals are blocked in every thread (civetweb's threads inherit
 * the mask) and taken synchronously by the main thread with sigwait.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "version.h"

#define EXIT_START_FAILED 1
#define EXIT_BAD_SETTINGS 2

extern char **environ;

/* Block SIGTERM and SIGINT here and in every thread started later */
static void
block_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	/* hiredis writes with write(2): a closed Redis socket must not kill us */
	signal(SIGPIPE, SIG_IGN);
}

/* Log the "listening" line with the address actually bound */
static void
log_listening(const struct server *srv, const struct config *cfg)
{
	char		address[300];
	struct json_buf fields;

	server_address(srv, address, sizeof(address));
	json_buf_init(&fields);
	json_buf_puts(&fields, "\"address\":");
	json_buf_cstring(&fields, address);
	json_buf_printf(&fields, ",\"version\":\"%s\",\"threads\":%d",
					QR_GATEWAY_VERSION, cfg->threads);
	log_event(LOG_INFO, "listening", json_buf_text(&fields));
	json_buf_free(&fields);
}

/* Serve until SIGTERM or SIGINT, then stop and let requests in flight finish */
static int
run(const struct config *cfg)
{
	char		err[512];
	char		address[300];
	char		fields[64];
	struct server *srv;
	sigset_t	set;
	int			sig = 0;

	block_stop_signals(&set);
	if ((srv = server_start(cfg, err, sizeof(err))) == NULL)
	{
		config_format_address(&cfg->listen, address, sizeof(address));
		fprintf(stderr, "qr_gateway: cannot listen on %s (setting listen, QR_GATEWAY_LISTEN): %s\n",
				address, err[0] ? err : "civetweb failed to start");
		return EXIT_START_FAILED;
	}
	log_listening(srv, cfg);
	while (sigwait(&set, &sig) != 0)
		;
	snprintf(fields, sizeof(fields), "\"signal\":\"%s\"", sig == SIGINT ? "SIGINT" : "SIGTERM");
	log_event(LOG_INFO, "shutting down", fields);
	server_stop(srv);
	log_event(LOG_INFO, "stopped", NULL);
	return 0;
}

/* Entry point: exit 0 after a clean stop, 1 if the server cannot start, 2 for bad settings */
int
main(int argc, char **argv)
{
	struct config cfg;
	char		err[1024];
	int			status = 0;

	if (config_load(&cfg, argc, argv, environ, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "qr_gateway: %s\n", err);
		config_free(&cfg);
		return EXIT_BAD_SETTINGS;
	}
	switch (cfg.action)
	{
		case CONFIG_ACTION_HELP:
			config_usage(stdout);
			break;
		case CONFIG_ACTION_VERSION:
			printf("qr_gateway %s\n", QR_GATEWAY_VERSION);
			break;
		case CONFIG_ACTION_CHECK:
			config_print(&cfg, stdout);
			break;
		case CONFIG_ACTION_RUN:
			log_init(cfg.log_level);
			status = run(&cfg);
			break;
	}
	config_free(&cfg);
	return status;
}
