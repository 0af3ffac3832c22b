/*
 * live_page.c
 *		GET /live/games/{id}: the live leaderboard page. The HTML is built
 *		into the binary (gateway/live_page_html.h, generated from
 *		gateway/live_page.html) and is the same for every game: its script
 *		reads the game id from the path and follows the game's event stream.
 */
#include "live_page.h"

#include "live_page_html.h"
#include "respond.h"

/*
 * Nothing but the page's own inline script and style (pinned by hash) and
 * requests to this origin; no images, fonts, frames, forms or base URL.
 */
#define LIVE_PAGE_CSP \
	"default-src 'none'; script-src " LIVE_PAGE_SCRIPT_SRC "; style-src " \
	LIVE_PAGE_STYLE_SRC "; connect-src 'self'; base-uri 'none'; " \
	"form-action 'none'; frame-ancestors 'none'"

/* Answer 200 with the page (headers only for HEAD) */
static void
live_page_send(struct request *rq)
{
	static const struct respond_header extra[] = {
		{"X-Content-Type-Options", "nosniff"},
		{"Content-Security-Policy", LIVE_PAGE_CSP},
		{"Referrer-Policy", "no-referrer"},
	};

	rq->cache_control = "public, max-age=60";
	respond_document(rq, 200, "text/html; charset=utf-8", live_page_html,
					 sizeof(live_page_html) - 1, extra, 3);
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
