// Drives Debian's headless Chromium (playwright-core, no downloaded browser) through
// the live leaderboard page (gateway/live_page.html) for tests/gateway/t/live_page.t.
//
//   node tests/browser/live_page.mjs --url URL --user-data-dir DIR
//       --expect IDS [--expect IDS ...] [--screenshot PNG] [--bad-url URL]
//       [--first-timeout-ms 15000] [--timeout-ms 10000] [--chromium /usr/bin/chromium]
//
// IDS is the participation ids of the table's rows, top down, comma-separated
// ("12,11"). The script opens URL and waits for each --expect in turn: the first within
// --first-timeout-ms of opening the page, each later one within --timeout-ms of the
// line that reported the one before, so the caller changes the scores after reading a
// line. Then it saves the screenshot, and opens --bad-url with the bytes and headers
// URL answered (served by request interception, so the gateway never sees it) and waits
// for the page's error status.
//
// Output: one JSON object per line on stdout, in this order:
//   {"step":"open","ok":true,"http_status":200,"headers":{...}}
//   {"step":"expect","index":1,"ok":true,"ms":…,"rows":[{"participation_id":"12",
//    "rank":"1","name":"…","score":"150"},…],"images":0,"status":{"state":"live","text":"live"}}
//   {"step":"screenshot","ok":true,"path":"…"}
//   {"step":"bad-url","ok":true,"status":{"state":"error","text":"…"},"api_requests":0}
//   {"step":"done","ok":true,"dialogs":0,"console_errors":[…],"page_errors":[…]}
// A failed step prints its line with "ok":false and an "error"; the expectations after
// it are skipped, the --bad-url check still runs once the page opened, and "done" comes
// last. Exit status: 0 when every step passed, 1 when one failed, 2 on a usage error.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const CHROMIUM_FLAGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let options;
try {
    options = parseArgs({
        options: {
            url: { type: 'string' },
            'user-data-dir': { type: 'string' },
            expect: { type: 'string', multiple: true },
            screenshot: { type: 'string' },
            'bad-url': { type: 'string' },
            'first-timeout-ms': { type: 'string', default: '15000' },
            'timeout-ms': { type: 'string', default: '10000' },
            chromium: { type: 'string', default: '/usr/bin/chromium' },
        },
        strict: true,
    }).values;
} catch (err) {
    console.error(`live_page.mjs: ${err.message}`);
    process.exit(2);
}
if (!options.url || !options['user-data-dir'] || !options.expect
    || options.expect.some((ids) => !/^\d+(,\d+)*$/.test(ids))) {
    console.error('usage: live_page.mjs --url URL --user-data-dir DIR --expect IDS [--expect IDS ...] '
        + '[--screenshot PNG] [--bad-url URL] [--first-timeout-ms MS] [--timeout-ms MS] [--chromium PATH]');
    process.exit(2);
}

let failed = false;

// Prints one result line; a line with ok false marks the run as failed.
function report(line) {
    if (!line.ok)
        failed = true;
    process.stdout.write(`${JSON.stringify(line)}\n`);
}

// The table rows, image count and status line as the page shows them now.
function snapshot(page) {
    return page.evaluate(() => {
        const text = (el) => (el ? el.textContent : null);
        const status = document.getElementById('status');
        return {
            rows: [...document.querySelectorAll('#entries tr')].map((tr) => ({
                participation_id: tr.getAttribute('data-participation-id'),
                rank: text(tr.querySelector('.rank')),
                name: text(tr.querySelector('.name')),
                score: text(tr.querySelector('.score')),
            })),
            images: document.querySelectorAll('img').length,
            status: { state: status.getAttribute('data-state'), text: status.textContent },
        };
    });
}

// Waits until the rows' participation ids are ids, in order; true when they were.
async function waitForOrder(page, ids, timeout) {
    try {
        await page.waitForFunction((want) => {
            const got = [...document.querySelectorAll('#entries tr')]
                .map((tr) => tr.getAttribute('data-participation-id'));
            return got.join(',') === want;
        }, ids, { timeout, polling: 100 });
        return true;
    } catch (err) {
        return false;
    }
}

// Opens the page, waits for each expected order, then the screenshot; returns the
// page's bytes and headers as served (null when it did not open).
async function checkLive(context, console_errors, page_errors, counts) {
    const page = await context.newPage();
    page.on('dialog', (dialog) => { counts.dialogs++; dialog.dismiss().catch(() => {}); });
    page.on('console', (msg) => { if (msg.type() === 'error') console_errors.push(msg.text()); });
    page.on('pageerror', (err) => page_errors.push(String(err)));

    const response = await page.goto(options.url, { waitUntil: 'domcontentloaded' });
    const opened = {
        step: 'open',
        ok: response !== null && response.status() === 200,
        http_status: response ? response.status() : null,
        headers: response ? await response.allHeaders() : {},
    };
    report(opened);
    if (!opened.ok)
        return null;

    const served = { body: await response.body(), headers: await response.allHeaders() };
    let since = Date.now();
    for (const [i, ids] of options.expect.entries()) {
        const timeout = Number(i === 0 ? options['first-timeout-ms'] : options['timeout-ms']);
        const ok = await waitForOrder(page, ids, timeout);
        const line = { step: 'expect', index: i + 1, ok, ms: Date.now() - since,
                       ...(await snapshot(page)) };
        if (!ok)
            line.error = `the rows were not ${ids} within ${timeout} ms`;
        report(line);
        since = Date.now();
        if (!ok)
            return served;
    }

    if (options.screenshot) {
        try {
            await page.screenshot({ path: options.screenshot, fullPage: true });
            report({ step: 'screenshot', ok: true, path: options.screenshot });
        } catch (err) {
            report({ step: 'screenshot', ok: false, error: String(err) });
        }
    }
    await page.close();
    return served;
}

// Serves the page's own bytes and headers at --bad-url and waits for the error status.
async function checkBadUrl(context, served) {
    const page = await context.newPage();
    let api_requests = 0;
    page.on('request', (req) => { if (new URL(req.url()).pathname.startsWith('/api/')) api_requests++; });
    await page.route(options['bad-url'], (route) => route.fulfill({
        status: 200, headers: served.headers, body: served.body,
    }));
    await page.goto(options['bad-url'], { waitUntil: 'domcontentloaded' });
    let ok = true;
    try {
        await page.waitForSelector('#status[data-state="error"]', { timeout: 5000 });
    } catch (err) {
        ok = false;
    }
    // Give a wrongly opened stream time to show up before counting.
    await page.waitForTimeout(500);
    const { status } = await snapshot(page);
    const line = { step: 'bad-url', ok: ok && api_requests === 0, status, api_requests };
    if (!line.ok)
        line.error = ok ? 'the page called the API for a path that is not a game' : 'no error status';
    report(line);
    await page.close();
}

// Launches Chromium, runs the checks and always closes the browser.
async function main() {
    const console_errors = [];
    const page_errors = [];
    const counts = { dialogs: 0 };
    let context;
    try {
        context = await chromium.launchPersistentContext(options['user-data-dir'], {
            executablePath: options.chromium,
            headless: true,
            args: CHROMIUM_FLAGS,
            viewport: { width: 1280, height: 800 },
            timeout: 30000,
        });
        const served = await checkLive(context, console_errors, page_errors, counts);
        if (served && options['bad-url'])
            await checkBadUrl(context, served);
    } catch (err) {
        report({ step: 'error', ok: false, error: String(err && err.stack ? err.stack : err) });
    } finally {
        if (context)
            await context.close().catch(() => {});
    }
    report({ step: 'done', ok: !failed && counts.dialogs === 0, dialogs: counts.dialogs,
             console_errors, page_errors });
    process.exit(failed ? 1 : 0);
}

main();
