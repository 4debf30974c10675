// Browser end-to-end test of the invitee page.
//
// Starts the real `rsvp serve` (fresh temp data dir, SQLite, `log` mail
// transport, operator API on), provisions a business over the operator API,
// invites new emails, reads each accept link from the real .eml file in the
// outbox, and answers the invitation in headless Chromium at desktop and
// phone widths, in English and German. Screenshots go to
// test-output/screenshots/. The server is stopped at the end, also on failure.
//
// The invitee's side: the page names the inviter and the address, answers
// lead on through "Continue" to the invitation's redirect_url (a local page
// standing in for the sender's app), opting out works from the page and from
// the email's RFC 8058 one-click POST, a second server runs branded
// (RSVP_PRODUCT_NAME, RSVP_BRAND_COLOR, a data: RSVP_LOGO_URL: no internet),
// axe-core finds no serious or critical violation, and the keyboard alone
// reaches Accept.
//
// Run it with `./scripts/browser-e2e` (installs and builds what it needs), or
// `node e2e/invite.spec.mjs` with RSVP_BIN pointing at a built `rsvp`.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET_DIR = process.env.CARGO_TARGET_DIR
  ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
  : path.join(REPO, 'target');
const RSVP_BIN = process.env.RSVP_BIN || path.join(TARGET_DIR, 'debug', 'rsvp');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUTPUT = path.join(REPO, 'test-output');
const SCREENSHOTS = path.join(OUTPUT, 'screenshots');
const SERVER_LOG = path.join(OUTPUT, 'browser-e2e-server.log');

// Without the background-networking flags Chromium tries to reach Google
// services, and this machine's closed network refuses its connections.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SENDER = { name: 'Acme', user: { email: 'ann@acme.test', first_name: 'Ann', last_name: 'Lee' } };
// A message with markup (must be shown as text) and a long unbroken URL (must
// wrap, not widen the page on a phone).
const MESSAGE =
  'Hello from Acme! We would like to order through rsvp from now on. <b>not bold</b>\n' +
  'Our catalogue: https://acme.test/catalogue/2025/spring/industrial-fasteners-and-fittings-complete-price-list.pdf';

// ---------------------------------------------------------------- helpers

/** Polls `probe` until it returns a truthy value; fails with `what` after `timeoutMs`, or at once when `probe` throws an error marked `fatal`. */
async function waitFor(what, probe, { timeoutMs = 30_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      if (error.fatal) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- the server

let server; // { child, baseUrl, dataDir, log: string[] }
let browser;
let apiKey;
let landing; // { server, baseUrl, visits: string[] }: the sender's app behind redirect_url

function serverLogTail(lines = 40) {
  return server ? server.log.join('').split('\n').slice(-lines).join('\n') : '';
}

async function startServer(extraEnv = {}, logName = SERVER_LOG) {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rsvp-e2e-'));
  // Only our settings: an RSVP_* variable of the caller (a Postgres URL, an
  // SMTP transport...) must not leak into this hermetic run.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RSVP_')));
  Object.assign(env, {
    RSVP_BIND: `127.0.0.1:${port}`,
    RSVP_DATA_DIR: dataDir,
    RSVP_PUBLIC_URL: baseUrl,
    RSVP_ADMIN_TOKEN: ADMIN_TOKEN,
    RSVP_LOG: 'info',
    ...extraEnv,
  });
  const child = spawn(RSVP_BIN, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const logFile = fs.createWriteStream(logName);
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk) => {
      log.push(chunk.toString());
      logFile.write(chunk);
    });
  }
  let exited = null;
  child.on('error', (error) => {
    exited = `could not start ${RSVP_BIN}: ${error.message}`;
  });
  child.on('exit', (code, signal) => {
    exited ??= `exited with ${signal ?? `code ${code}`}`;
    logFile.end();
  });
  const started = { child, baseUrl, dataDir, log, exited: () => exited };
  await waitFor(
    `${baseUrl}/healthz`,
    async () => {
      if (exited) throw Object.assign(new Error(`rsvp serve ${exited}\n${log.join('').split('\n').slice(-40).join('\n')}`), { fatal: true });
      const res = await fetch(`${baseUrl}/healthz`).catch(() => null);
      return res?.ok;
    },
    { timeoutMs: 30_000 },
  );
  return started;
}

/** Stops a server: SIGTERM, then SIGKILL if it is still running after 5 s. */
async function stopServer(which = server) {
  if (!which) return;
  const { child } = which;
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
  fs.rmSync(which.dataDir, { recursive: true, force: true });
}

// Backstops: whatever happens (an uncaught error, Ctrl-C, CI's timeout), the
// server does not outlive this process.
process.on('exit', () => {
  if (!server) return;
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  fs.rmSync(server.dataDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
}

// ---------------------------------------------------------------- the API

async function api(method, urlPath, { token = apiKey, body, expect, on = server } = {}) {
  const res = await fetch(`${on.baseUrl}${urlPath}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (expect !== undefined && res.status !== expect) {
    assert.fail(`${method} ${urlPath}: expected HTTP ${expect}, got ${res.status}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

let inviteeCounter = 0;

/** Invites a new email (one without a business) and returns the invitation and its link from the real email. */
async function inviteNewEmail(label, extra = {}, { on = server, token = apiKey } = {}) {
  inviteeCounter += 1;
  const email = `${label}-${inviteeCounter}-${randomBytes(4).toString('hex')}@newcomer.test`;
  const invitation = await api('POST', '/v1/invitations', { body: { email, message: MESSAGE, ...extra }, expect: 201, on, token });
  assert.equal(invitation.status, 'pending', 'a new invitation is pending');
  const { link, eml } = await emailTo(email, on);
  return { invitation, email, link, eml };
}

/** The accept link of the email to `email`. */
async function linkFromOutbox(email, on = server) {
  return (await emailTo(email, on)).link;
}

/** Waits for the .eml addressed to `email` in `<data dir>/outbox`; returns it and the accept link of its plain-text part. */
async function emailTo(email, on = server) {
  const outbox = path.join(on.dataDir, 'outbox');
  const eml = await waitFor(`an email to ${email} in ${outbox}`, () => {
    if (!fs.existsSync(outbox)) return null;
    for (const name of fs.readdirSync(outbox)) {
      // Hidden files are the transport's half-written temporaries.
      if (name.startsWith('.') || !name.endsWith('.eml')) continue;
      const text = fs.readFileSync(path.join(outbox, name), 'utf8');
      const headers = text.split(/\r?\n\r?\n/, 1)[0];
      const to = headers.match(/^To:.*$/im)?.[0] ?? '';
      if (to.toLowerCase().includes(email)) return text;
    }
    return null;
  });
  assert.match(eml, /multipart\/alternative/i, 'the email is multipart/alternative');
  const plain = textPart(eml);
  const escaped = on.baseUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found = plain.match(new RegExp(`${escaped}/invite/[A-Za-z0-9_~.-]+`));
  assert.ok(found, `the plain-text part carries the link ${on.baseUrl}/invite/<token>; it reads:\n${plain}`);
  return { link: found[0], eml };
}

/** A header of a message, unfolded, RFC 2047 encoded words decoded; `null` when absent. */
function header(eml, name) {
  const head = eml.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
  const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  if (!line) return null;
  return line
    .slice(name.length + 1)
    .trim()
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_, kind, text) =>
      kind.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'),
    );
}

/** The body of the text/plain part of a multipart message. */
function textPart(eml) {
  const boundary = eml.match(/boundary="?([^";\r\n]+)"?/i)?.[1];
  assert.ok(boundary, 'the email names its MIME boundary');
  const part = eml
    .split(`--${boundary}`)
    .find((p) => /^content-type:\s*text\/plain/im.test(p.split(/\r?\n\r?\n/, 1)[0]));
  assert.ok(part, 'the email has a text/plain part');
  const [head, ...rest] = part.split(/\r?\n\r?\n/);
  assert.doesNotMatch(head, /content-transfer-encoding:\s*(quoted-printable|base64)/i, 'the plain-text part is readable as it is');
  return rest.join('\n\n');
}

// ---------------------------------------------------------------- the browser

async function openPage(contextOptions, url) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  const response = await page.goto(url, { waitUntil: 'load' });
  return { context, page, response };
}

async function screenshot(page, name) {
  const file = path.join(SCREENSHOTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** On a phone the page fits the 375 px width, and both buttons are fully on screen. */
async function assertFitsPhone(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `${what}: no horizontal overflow at 375 px (scrollWidth is ${width})`);
  for (const id of ['accept', 'decline']) {
    const button = page.locator(`#${id}`);
    if ((await button.count()) === 0) continue;
    const box = await button.boundingBox();
    assert.ok(box, `${what}: #${id} is visible`);
    assert.ok(box.x >= 0 && box.x + box.width <= 375, `${what}: #${id} lies within the 375 px width (x ${box.x}, width ${box.width})`);
    assert.ok(box.height >= 40, `${what}: #${id} is big enough to tap (height ${box.height})`);
  }
}

/** Clicks a submit button, expects the form post to `url` to answer 200, and waits for the outcome heading. */
async function submit(page, button, url) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === url && r.request().method() === 'POST', { timeout: 10_000 }),
    page.click(button),
  ]);
  if (response.status() !== 200) {
    await page.waitForLoadState();
    const shown = (await page.locator('body').innerText()).replace(/\s+/g, ' ').trim().slice(0, 600);
    assert.fail(`POST ${url} (clicking ${button}) answered ${response.status()}, not 200; the page shows: ${shown}`);
  }
  await page.locator('#outcome').waitFor({ timeout: 10_000 });
}

async function assertText(page, selector, expected, what) {
  const actual = (await page.locator(selector).textContent())?.trim();
  assert.equal(actual, expected, `${what} reads ${JSON.stringify(expected)}, not ${JSON.stringify(actual)}`);
}

async function assertPendingPage(page, what) {
  assert.equal(await page.locator('#accept').count(), 1, `${what}: has an Accept button`);
  assert.equal(await page.locator('#decline').count(), 1, `${what}: has a Decline button`);
  const required = await page.locator('input[name="business_name"]').getAttribute('required');
  assert.notEqual(required, null, `${what}: business_name is required for an email without a business`);
  const quote = await page.locator('blockquote').textContent();
  assert.ok(quote.includes('<b>not bold</b>'), `${what}: the message is shown as text, markup escaped (got ${JSON.stringify(quote)})`);
  assert.equal(await page.locator('blockquote b').count(), 0, `${what}: the message's markup is not rendered`);
}

/** The sender's app behind redirect_url: a local page that shows what it was given. */
async function startLanding() {
  const port = await freePort();
  const visits = [];
  const srv = http.createServer((req, res) => {
    visits.push(req.url);
    const query = new URL(req.url, 'http://x').searchParams;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><html lang="en"><title>Acme app</title><main><h1 id="landing">Welcome to the Acme app</h1>` +
        `<p>invitation_id=<code id="invitation-id">${query.get('invitation_id')}</code></p>` +
        `<p>status=<code id="status">${query.get('status')}</code></p>` +
        `<p>token=<code id="token">${query.get('token')}</code></p></main></html>`,
    );
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return { server: srv, baseUrl: `http://127.0.0.1:${port}`, visits };
}

/**
 * Runs axe-core on the page (in a context that bypasses the page's CSP, which
 * rightly forbids injected scripts) and fails on serious or critical
 * violations, listing them.
 */
async function assertAccessible(page, what) {
  await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const bad = results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: axe-core found serious or critical violations: ${JSON.stringify(bad, null, 2)}`);
  return results;
}

// ---------------------------------------------------------------- the tests

before(async () => {
  assert.ok(fs.existsSync(RSVP_BIN), `no rsvp binary at ${RSVP_BIN}: run ./scripts/browser-e2e, which builds it, or set RSVP_BIN`);
  assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  landing = await startLanding();
  server = await startServer({ RSVP_REDIRECT_ORIGINS: landing.baseUrl, RSVP_JOIN_CONTINUE_URL: `${landing.baseUrl}/join` });
  const provisioned = await api('POST', '/v1/admin/businesses', { token: ADMIN_TOKEN, body: SENDER, expect: 201 });
  assert.equal(provisioned.business.name, 'Acme', `provisioning returns the business: ${JSON.stringify(provisioned)}`);
  assert.ok(provisioned.api_key, 'provisioning returns an api_key');
  apiKey = provisioned.api_key;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopServer();
  landing?.server.close();
});

test('an invitee accepts on a phone after seeing the page at desktop width, and the businesses are connected', async () => {
  const { invitation, link } = await inviteNewEmail('accept');

  const desktop = await openPage(DESKTOP, link);
  assert.equal(desktop.response.status(), 200, 'the invite page answers 200');
  await assertPendingPage(desktop.page, 'desktop');
  await assertText(desktop.page, '#accept', 'Accept', 'desktop: the Accept button');
  await assertText(desktop.page, '#decline', 'Decline', 'desktop: the Decline button');
  await screenshot(desktop.page, 'invite-desktop.png');
  await desktop.context.close();

  const { context, page } = await openPage(PHONE, link);
  await assertPendingPage(page, 'phone');
  await assertFitsPhone(page, 'invite page on a phone');
  await screenshot(page, 'invite-phone.png');

  await page.fill('input[name="business_name"]', 'Newcomer Trading GmbH');
  await page.fill('input[name="first_name"]', 'Nina');
  await page.fill('input[name="last_name"]', 'Neu');
  await submit(page, '#accept', `${link}/accept`);
  await assertText(page, '#outcome', 'Invitation accepted', 'after Accept: the confirmation heading');
  assert.ok((await page.locator('.card').textContent()).includes('Acme'), 'the confirmation names the sender');
  await assertFitsPhone(page, 'accepted page on a phone');
  await screenshot(page, 'accepted-phone.png');
  await context.close();

  const answered = await api('GET', `/v1/invitations/${invitation.id}`, { expect: 200 });
  assert.equal(answered.status, 'accepted', 'the API shows the invitation accepted');
  const connections = await api('GET', '/v1/connections', { expect: 200 });
  assert.equal(connections.data.length, 1, `one connection after the accept: ${JSON.stringify(connections)}`);
});

test('an invitee declines on a phone and the invitation is rejected', async () => {
  const { invitation, link } = await inviteNewEmail('decline');
  const connectionsBefore = (await api('GET', '/v1/connections', { expect: 200 })).data.length;

  const { context, page } = await openPage(PHONE, link);
  await assertPendingPage(page, 'phone');
  // Declining needs no business name: the required field belongs to the Accept form only.
  await submit(page, '#decline', `${link}/decline`);
  await assertText(page, '#outcome', 'Invitation declined', 'after Decline: the confirmation heading');
  await assertFitsPhone(page, 'declined page on a phone');
  await screenshot(page, 'declined-phone.png');
  await context.close();

  const answered = await api('GET', `/v1/invitations/${invitation.id}`, { expect: 200 });
  assert.equal(answered.status, 'rejected', 'the API shows the invitation rejected');
  const connections = await api('GET', '/v1/connections', { expect: 200 });
  assert.equal(connections.data.length, connectionsBefore, `a decline connects nobody: ${JSON.stringify(connections)}`);
});

test('a German-speaking invitee sees the page in German on a phone', async () => {
  const { link } = await inviteNewEmail('german');

  const { context, page, response } = await openPage({ ...PHONE, locale: 'de-DE' }, link);
  assert.equal(response.status(), 200, 'the German invite page answers 200');
  const lang = await page.locator('html').getAttribute('lang');
  assert.equal(lang, 'de', `with Accept-Language de the page is German: <html lang="${lang}">`);
  await assertText(page, '#accept', 'Annehmen', 'German: the Accept button');
  await assertText(page, '#decline', 'Ablehnen', 'German: the Decline button');
  await assertFitsPhone(page, 'German invite page on a phone');
  await screenshot(page, 'invite-de-phone.png');
  await context.close();
});

// ---------------------------------------------------------------- the invitee's side

test('the page names the inviter and the address, passes axe-core, answers with the keyboard alone, and Continue leads to the redirect_url', async () => {
  const redirect = `${landing.baseUrl}/welcome?from=email&status=stale`;
  const { invitation, email, link } = await inviteNewEmail('keyboard', {
    redirect_url: redirect,
    roles: ['supplier', 'orders:read'],
  });
  assert.equal(invitation.redirect_url, redirect, 'the invitation carries its redirect_url');

  const { context, page } = await openPage({ ...DESKTOP, bypassCSP: true }, link);
  const intro = await page.locator('#intro').textContent();
  assert.ok(intro.includes('Ann Lee at Acme invited') && intro.includes(email), `the page names the person, the business and the address: ${intro}`);
  assert.ok((await page.locator('#roles').textContent()).includes('supplier, orders:read'), 'the roles offered are named');
  assert.ok((await page.locator('#accepting').textContent()).includes('connected on rsvp'), 'the page says what accepting does');
  await screenshot(page, 'invite-details-desktop.png');
  const violations = await assertAccessible(page, 'the pending page');
  console.log(`axe-core on the pending page: ${violations.length} minor/moderate findings ${JSON.stringify(violations.map((v) => v.id))}`);

  // Keyboard alone: Tab from the top of the page, typing the business name on the way, until Accept has the focus; Enter.
  await page.reload();
  let reached = false;
  for (let i = 0; i < 12 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement?.id);
    if (focused === 'business_name') await page.keyboard.type('Keyboard Only Ltd');
    reached = focused === 'accept';
  }
  assert.ok(reached, 'Tab reaches the Accept button');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${link}/accept` && r.request().method() === 'POST'),
    page.keyboard.press('Enter'),
  ]);
  assert.equal(response.status(), 200, 'Enter on Accept submits the accept form');
  await assertText(page, '#outcome', 'Invitation accepted', 'after Enter: the confirmation heading');
  const href = await page.locator('#continue').getAttribute('href');
  assert.equal(
    href,
    `${landing.baseUrl}/welcome?from=email&invitation_id=${invitation.id}&status=accepted`,
    'Continue keeps the redirect_url query and sets invitation_id and status',
  );
  await assertAccessible(page, 'the accepted page');
  await screenshot(page, 'accepted-continue-desktop.png');
  await Promise.all([page.waitForURL(`${landing.baseUrl}/**`), page.click('#continue')]);
  await assertText(page, '#status', 'accepted', 'the sender app gets the status');
  await assertText(page, '#invitation-id', invitation.id, 'the sender app gets the invitation id');
  await screenshot(page, 'continue-landing-desktop.png');
  await context.close();
});

test('a join link page names the business and roles on a phone, passes axe-core, never uses the link, and Continue carries the token; a revoked link answers 410', async () => {
  const link = await api('POST', '/v1/join-links', { body: { max_uses: 5, roles: ['supplier'], requires_approval: true }, expect: 201 });
  assert.ok(link.url.endsWith(`/join/${link.token}`), `the link's url ends with its token: ${link.url}`);

  const { context, page, response } = await openPage({ ...PHONE, bypassCSP: true }, link.url);
  assert.equal(response.status(), 200, 'the join page answers 200');
  await assertText(page, '#join-heading', 'Acme invites businesses to connect on rsvp', 'the join page heading');
  await assertText(page, '#roles', 'Roles offered: supplier', 'the join page roles');
  await assertText(page, '#approval', 'Acme approves each business that asks to connect.', 'the join page approval');
  await assertFitsPhone(page, 'join page on a phone');
  await assertAccessible(page, 'the join page');
  await screenshot(page, 'join-phone.png');
  await Promise.all([page.waitForURL(`${landing.baseUrl}/**`), page.click('#continue')]);
  await assertText(page, '#token', link.token, "the platform's page gets the token");
  await context.close();

  const looked = await api('GET', `/v1/join-links/${link.id}`, { expect: 200 });
  assert.equal(looked.uses, 0, 'looking at the page never uses the link');

  await api('DELETE', `/v1/join-links/${link.id}`, { expect: 204 });
  const gone = await openPage({ ...DESKTOP, bypassCSP: true }, link.url);
  assert.equal(gone.response.status(), 410, 'a revoked join link answers 410');
  await assertText(gone.page, '#outcome', 'This link was withdrawn', 'the revoked join page heading');
  await assertAccessible(gone.page, 'the revoked join page');
  await screenshot(gone.page, 'join-revoked-desktop.png');
  await gone.context.close();
});

test('declining offers Continue with status=rejected', async () => {
  const { invitation, link } = await inviteNewEmail('continue-decline', { redirect_url: `${landing.baseUrl}/done` });
  const { context, page } = await openPage(PHONE, link);
  await submit(page, '#decline', `${link}/decline`);
  const href = await page.locator('#continue').getAttribute('href');
  assert.equal(href, `${landing.baseUrl}/done?invitation_id=${invitation.id}&status=rejected`);
  await assertFitsPhone(page, 'declined page with Continue');
  await screenshot(page, 'declined-continue-phone.png');
  await context.close();
});

test('opting out from the page declines the invitation and a new invitation from the business is refused', async () => {
  const { invitation, email, link } = await inviteNewEmail('optout-page');
  const { context, page } = await openPage({ ...PHONE, bypassCSP: true }, link);
  await page.locator('#optout-form').scrollIntoViewIfNeeded();
  await screenshot(page, 'optout-choice-phone.png');
  await submit(page, '#block-business', `${server.baseUrl}/unsubscribe/${link.split('/').pop()}`);
  await assertText(page, '#outcome', 'You will get no more invitations from Acme', 'the opt-out confirmation');
  await assertAccessible(page, 'the opt-out confirmation');
  await screenshot(page, 'optout-done-phone.png');
  await context.close();

  const declined = await api('GET', `/v1/invitations/${invitation.id}`, { expect: 200 });
  assert.equal(declined.status, 'rejected', 'the pending invitation is declined');
  const refused = await api('POST', '/v1/invitations', { body: { email }, expect: 422 });
  assert.equal(refused.code, 'recipient_opted_out', `a new invitation is refused: ${JSON.stringify(refused)}`);
});

test("the email's one-click List-Unsubscribe POST opts out, and a new invitation is refused", async () => {
  const { invitation, email, eml } = await inviteNewEmail('optout-email');
  assert.match(header(eml, 'From'), /no-reply@localhost>$/, 'the configured sender address stays');
  assert.match(header(eml, 'Reply-To') ?? '', /ann@acme\.test/, 'replies go to the inviting user');
  assert.equal(header(eml, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
  const target = header(eml, 'List-Unsubscribe')?.match(/^<([^>]+)>/)?.[1];
  assert.ok(target?.startsWith(`${server.baseUrl}/unsubscribe/`), `List-Unsubscribe names the one-click URL: ${header(eml, 'List-Unsubscribe')}`);

  // What a mailbox provider does (RFC 8058): a POST without cookies or credentials.
  const res = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'List-Unsubscribe=One-Click',
  });
  assert.equal(res.status, 200, 'the one-click POST succeeds');
  assert.equal((await api('GET', `/v1/invitations/${invitation.id}`, { expect: 200 })).status, 'rejected');
  const refused = await api('POST', '/v1/invitations', { body: { email: email.toUpperCase() }, expect: 422 });
  assert.equal(refused.code, 'recipient_opted_out');
  const listed = await api('GET', `/v1/admin/suppressions?email=${encodeURIComponent(email)}`, { token: ADMIN_TOKEN, expect: 200 });
  assert.equal(listed.data.length, 1, `operators see the suppression: ${JSON.stringify(listed)}`);
  assert.equal(listed.data[0].scope, 'business');

  // The same link opened in a browser (GET) shows the choice and changes nothing.
  const { context, page, response } = await openPage({ ...DESKTOP, bypassCSP: true }, target);
  assert.equal(response.status(), 200);
  await assertAccessible(page, 'the opt-out page');
  await screenshot(page, 'optout-page-desktop.png');
  await context.close();
});

test('a branded server shows its product name, colour and logo on the page and in the email', async () => {
  // A data: logo: the test runs without internet, and the page's CSP must allow exactly it.
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32"><rect width="120" height="32" rx="6" fill="#0f766e"/><text x="60" y="21" font-family="sans-serif" font-size="14" fill="#fff" text-anchor="middle">ACME NET</text></svg>';
  const logo = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  const branded = await startServer(
    { RSVP_PRODUCT_NAME: 'Acme Network', RSVP_BRAND_COLOR: '#0f766e', RSVP_LOGO_URL: logo },
    path.join(OUTPUT, 'browser-e2e-branded-server.log'),
  );
  try {
    const provisioned = await api('POST', '/v1/admin/businesses', { token: ADMIN_TOKEN, body: SENDER, expect: 201, on: branded });
    const { link, eml } = await inviteNewEmail('branded', { locale: 'de' }, { on: branded, token: provisioned.api_key });
    assert.ok(eml.includes('#0f766e'), 'the email uses the brand colour');
    assert.match(header(eml, 'Subject'), /lädt Sie zur Vernetzung ein/, 'locale de: the email is German');
    assert.match(header(eml, 'From'), /^Ann Lee \(Acme\) via Acme Network <no-reply@localhost>$/);

    for (const [options, name] of [[DESKTOP, 'branded-desktop.png'], [PHONE, 'branded-phone.png']]) {
      const { context, page, response } = await openPage(options, link);
      const policy = response.headers()['content-security-policy'];
      assert.ok(policy.includes('img-src data:;'), `the CSP allows the data: logo and nothing more: ${policy}`);
      const loaded = await page.locator('header img').evaluate((img) => img.complete && img.naturalWidth > 0);
      assert.ok(loaded, 'the logo loads under the CSP');
      assert.equal(await page.locator('header img').getAttribute('alt'), 'Acme Network');
      assert.match(await page.title(), /Acme Network$/);
      const colour = await page.locator('#accept').evaluate((b) => getComputedStyle(b).backgroundColor);
      assert.equal(colour, 'rgb(15, 118, 110)', 'the Accept button has the brand colour');
      if (options === PHONE) await assertFitsPhone(page, 'branded page on a phone');
      await screenshot(page, name);
      await context.close();
    }
    const { context, page } = await openPage({ ...DESKTOP, bypassCSP: true }, link);
    await assertAccessible(page, 'the branded page');
    await context.close();
  } finally {
    await stopServer(branded);
  }
});
