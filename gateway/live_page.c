/*
 * live_page.c
 *		GET /live/games/{id}: the live leaderboard page. The HTML is built
 *		into the binary (gateway/live_page_html.h, generated from
 *		gateway/live_page.html) and is the same for every game: its script
 *		reads the game id from the path and follows the game's event stream.
 */
#include "live_page.h"

#include <stdio.h>

#include "live_page_html.h"
#include "log.h"
#include "respond.h"

/*
 * Nothing but the page's own inline script and style (pinned by hash) and
 * requests to this origin; no images, fonts, frames, forms or base URL.
 */
#define LIVE_PAGE_CSP \
	"default-src 'none'; script-src " LIVE_PAGE_SCRIPT_SRC "; style-src " \
	LIVE_PAGE_STYLE_SRC "; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

#define LIVE_PAGE_HEADERS 8

/* One answer header */
struct live_header
{
	const char *name;
	const char *value;
};

/* Write the status line and headers (as text after a 100 Continue) */
static void
live_page_send_headers(struct request *rq, const struct live_header *h, int n)
{
	int			i;

	if (!rq->sent_continue)
	{
		mg_response_header_start(rq->conn, 200);
		for (i = 0; i < n; i++)
			mg_response_header_add(rq->conn, h[i].name, h[i].value, -1);
		mg_response_header_send(rq->conn);
		return;
	}
	mg_printf(rq->conn, "HTTP/1.1 200 %s\r\n", mg_get_response_code_text(rq->conn, 200));
	for (i = 0; i < n; i++)
		mg_printf(rq->conn, "%s: %s\r\n", h[i].name, h[i].value);
	mg_printf(rq->conn, "Connection: close\r\n\r\n");
}

/* Answer 200 with the page (headers only for HEAD) */
static void
live_page_send(struct request *rq)
{
	size_t		len = sizeof(live_page_html) - 1;
	char		length[32];
	struct live_header headers[LIVE_PAGE_HEADERS];
	int			n = 0;

	if (rq->responded)
	{
		log_event(LOG_ERROR, "a second response to one request was dropped", NULL);
		return;
	}
	rq->responded = true;
	rq->status = 200;
	rq->bytes = rq->head_only ? 0 : len;
	if (rq->close || rq->sent_continue || atomic_load(rq->stopping))
		mg_disable_connection_keep_alive(rq->conn);
	snprintf(length, sizeof(length), "%zu", len);
	headers[n++] = (struct live_header) {"Content-Type", "text/html; charset=utf-8"};
	headers[n++] = (struct live_header) {"Content-Length", length};
	headers[n++] = (struct live_header) {"X-Request-Id", rq->id};
	headers[n++] = (struct live_header) {"Cache-Control", "public, max-age=60"};
	headers[n++] = (struct live_header) {"X-Content-Type-Options", "nosniff"};
	headers[n++] = (struct live_header) {"Content-Security-Policy", LIVE_PAGE_CSP};
	headers[n++] = (struct live_header) {"Referrer-Policy", "no-referrer"};
	live_page_send_headers(rq, headers, n);
	if (!rq->head_only)
		mg_write(rq->conn, live_page_html, len);
}

/* Serve the page; an {id} that is not a positive integer is not found */
void
handle_live_page(struct request *rq)
{
	if (rq->match.param_count < 1 || rq->match.params[0].id <= 0)
	{
		respond_error_code(rq, API_ERROR_NOT_FOUND, NULL);
		return;
	}
	live_page_send(rq);
}
