// Browser tests of the Flask dashboard, in headless Debian Chromium driven
// by playwright-core (which never downloads a browser of its own).
// scripts/web-e2e.sh starts Flask and runs them with:
//   FLASK_URL      the running Flask (flaskctl dev), e.g. http://127.0.0.1:41234
//   CHROMIUM       the browser, default /usr/bin/chromium
//   SCREENSHOT_DIR where overview.png and job.png go, default ./out
// Flask's dev worker drains the queues default and e2e.
// Each wait is on a condition in the page (a state badge, a counter), never
// a fixed sleep; the timeouts only bound a test that would otherwise hang.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.FLASK_URL;
// key is flaskctl dev's admin API key: the dashboard's sign-in and the
// programs' calls use it.
const key = process.env.FLASK_API_KEY;
if (!base) throw new Error('FLASK_URL is not set: run scripts/web-e2e.sh');
const shots = process.env.SCREENSHOT_DIR || path.resolve('out');
mkdirSync(shots, { recursive: true });

// A job's life takes seconds (demo backoff ~1s); 30s bounds a stuck test.
const WAIT = 30_000;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
});

// page opens a fresh context (its own profile: cookies, cache) and page,
// failing the test on any script error or CSP violation in the page.
async function page(t, opts = {}) {
  const ctx = await browser.newContext({ baseURL: base, viewport: { width: 1280, height: 900 }, ...opts });
  t.after(() => ctx.close());
  const p = await ctx.newPage();
  const problems = [];
  p.on('pageerror', (err) => problems.push('page error: ' + err.message));
  p.on('console', (m) => {
    if (m.type() === 'error' && !/ui\/events|Failed to load resource/.test(m.text())) problems.push('console: ' + m.text());
  });
  t.after(() => assert.deepEqual(problems, [], 'the page ran without script errors or CSP violations'));
  await signIn(p);
  return p;
}

// signIn exchanges the dev admin key for a session, through the form.
async function signIn(p) {
  await p.goto('/');
  assert.match(p.url(), /\/login\?next=/, 'the dashboard asks to sign in first');
  await p.fill('#key', key);
  await Promise.all([p.waitForURL((u) => !u.pathname.startsWith('/login')), p.click('form.login button[type=submit]')]);
}

// api calls the HTTP API directly, as a program would.
async function api(p, method, url, data) {
  const headers = { Authorization: 'Bearer ' + key };
  if (data) headers['Content-Type'] = 'application/json';
  const res = await p.request.fetch(url, { method, data, headers });
  const body = await res.json();
  assert.ok(res.ok(), `${method} ${url}: ${res.status()} ${JSON.stringify(body)}`);
  return body;
}

// state reads the state badge of the job page.
const detailState = (p) => p.locator('[data-job-detail]').getAttribute('data-state');

// waitState waits until the job page shows state, without reloading.
async function waitState(p, state) {
  await p.waitForSelector(`[data-job-detail][data-state="${state}"]`, { timeout: WAIT });
}

// markPage tags the window, so that a test can tell a live update from a reload.
async function markPage(p) {
  await p.evaluate(() => { window.__flaskMark = 'same page'; });
}
async function assertNotReloaded(p) {
  assert.equal(await p.evaluate(() => window.__flaskMark), 'same page', 'the page changed without reloading');
}

test('submit a job in the form and watch it reach succeeded live', async (t) => {
  const p = await page(t);
  await p.goto('/submit');
  await p.selectOption('#s-type', 'demo.sleep');
  assert.equal(await p.getAttribute('#s-queue', 'placeholder'), 'default', "the type's queue is the placeholder");
  await p.fill('#s-payload', '{"ms": 1500}');
  await p.fill('#s-key', 'e2e-submit-' + Date.now());
  await Promise.all([p.waitForURL(/\/jobs\/[0-9a-f-]{36}$/), p.click('button[type=submit]')]);
  await markPage(p);
  const first = await detailState(p);
  assert.ok(['queued', 'running'].includes(first), `a fresh job is queued or running, not ${first}`);
  await p.waitForSelector('#live[data-state="live"]', { timeout: WAIT });
  await waitState(p, 'succeeded');
  await assertNotReloaded(p);
  await p.locator('pre.json', { hasText: '"slept_ms": 1500' }).waitFor({ timeout: WAIT });
  assert.match(await p.locator('.timeline').innerText(), /Attempt 1 started[\s\S]*Succeeded/);
});

test('the form checks JSON before sending and shows API errors next to their field', async (t) => {
  const p = await page(t);
  await p.goto('/submit');
  await p.selectOption('#s-type', 'demo.echo');
  await p.fill('#s-payload', '{"a": ');
  await p.locator('#err-payload').waitFor({ state: 'visible' });
  assert.match(await p.textContent('#err-payload'), /not valid JSON/);
  let posted = false;
  p.on('request', (r) => { if (r.method() === 'POST') posted = true; });
  await p.click('button[type=submit]');
  assert.equal(posted, false, 'invalid JSON is not sent');
  assert.equal(await p.evaluate(() => document.activeElement.id), 's-payload', 'the field at fault gets the focus');

  await p.fill('#s-payload', '{"a": 1}');
  await p.locator('#err-payload').waitFor({ state: 'hidden' });
  await p.fill('#s-timeout', 'soon');
  await p.fill('#s-max-attempts', '0');
  await p.click('button[type=submit]');
  await p.locator('#err-timeout').waitFor({ state: 'visible' });
  assert.match(await p.textContent('#err-timeout'), /duration/i, 'the API says what a timeout must be');
  assert.ok((await p.textContent('#err-max_attempts')).length > 0, 'every field the problem names shows its error');
  assert.equal(await p.getAttribute('#s-timeout', 'aria-invalid'), 'true');
  assert.match(p.url(), /\/submit$/, 'a refused job stays on the form');
});

test('retry a failed job and watch it run again live', async (t) => {
  const p = await page(t);
  const j = await api(p, 'POST', '/v1/jobs', { type: 'demo.fail', payload: { times: 2 }, max_attempts: 2 });
  await p.goto('/jobs/' + j.id);
  await markPage(p);
  await waitState(p, 'failed');
  assert.match(await p.locator('.timeline').innerText(), /Attempt 1 failed[\s\S]*Attempt 2 failed/);

  p.once('dialog', (d) => {
    assert.match(d.message(), /Retry job/);
    d.accept();
  });
  await p.click('[data-action="retry"]');
  await waitState(p, 'succeeded');
  await assertNotReloaded(p);
  assert.match(await p.textContent('[data-action-msg]'), /Retried/);
  assert.match(await p.textContent('.facts'), /3 of 3/, 'the retry added the attempt it needed');
  await p.screenshot({ path: path.join(shots, 'job.png'), fullPage: true });
});

test('cancel a job only after confirming', async (t) => {
  const p = await page(t);
  const runAt = new Date(Date.now() + 3_600_000).toISOString();
  const j = await api(p, 'POST', '/v1/jobs', { type: 'demo.echo', payload: {}, run_at: runAt });
  await p.goto('/jobs/' + j.id);
  await p.waitForSelector('#live[data-state="live"]', { timeout: WAIT });
  p.once('dialog', (d) => d.dismiss());
  await p.click('[data-action="cancel"]');
  assert.equal(await detailState(p), 'scheduled', 'dismissing the confirmation does nothing');
  p.once('dialog', (d) => d.accept());
  await p.click('[data-action="cancel"]');
  await waitState(p, 'cancelled');
});

test('bulk cancel, then bulk retry, of the selected jobs', async (t) => {
  const p = await page(t);
  const queue = 'e2e'; // drained by the dev worker (scripts/web-e2e.sh), used by this test only
  const runAt = new Date(Date.now() + 3_600_000).toISOString();
  const ids = [];
  for (let i = 0; i < 3; i++) {
    ids.push((await api(p, 'POST', '/v1/jobs', { type: 'demo.echo', queue, payload: { i }, run_at: runAt })).id);
  }
  const other = await api(p, 'POST', '/v1/jobs', { type: 'demo.echo', queue, payload: { i: 'not selected' }, run_at: runAt });
  await p.goto('/jobs?queue=' + queue);
  await p.waitForSelector('#live[data-state="live"]', { timeout: WAIT });
  await markPage(p);
  for (const id of ids) await p.check(`input[name=select][value="${id}"]`);
  assert.equal(await p.textContent('[data-selected-count]'), '3 selected');

  p.once('dialog', (d) => { assert.match(d.message(), /Cancel 3 jobs/); d.accept(); });
  await p.click('[data-bulk-action="cancel"]');
  await p.locator('[data-bulk-msg]', { hasText: '3 cancelled.' }).waitFor({ timeout: WAIT });
  for (const id of ids) {
    await p.locator(`[data-job-row="${id}"] .state-cancelled`).waitFor({ timeout: WAIT });
  }
  assert.equal(await p.locator(`[data-job-row="${other.id}"] .state`).textContent(), 'scheduled', 'an unselected job is untouched');

  // Select all, then retry: the three cancelled jobs run now; the
  // scheduled one cannot be retried, and the message says why.
  await p.check('[data-select-all]');
  assert.equal(await p.textContent('[data-selected-count]'), '4 selected');
  p.once('dialog', (d) => d.accept());
  await p.click('[data-bulk-action="retry"]');
  await p.locator('[data-bulk-msg]', { hasText: '3 retried. 1 not retried:' }).waitFor({ timeout: WAIT });
  assert.match(await p.textContent('[data-bulk-msg]'), /scheduled, which does not allow retry/);
  for (const id of ids) {
    await p.locator(`[data-job-row="${id}"] .state-succeeded`).waitFor({ timeout: WAIT });
  }
  await assertNotReloaded(p);
});

test('search finds a job by idempotency key', async (t) => {
  const p = await page(t);
  const key = 'e2e-search-' + Date.now();
  const j = await api(p, 'POST', '/v1/jobs', { type: 'demo.echo', payload: { hi: 1 }, idempotency_key: key });
  await p.goto('/jobs');
  await p.fill('#f-q', key);
  await Promise.all([p.waitForURL('**/jobs/' + j.id), p.press('#f-q', 'Enter')]);
  await p.goto('/jobs?q=no-such-key');
  await p.locator('.empty', { hasText: 'No job has the id or idempotency key' }).waitFor();
});

test('the overview counts live, charts throughput and lists the worker', async (t) => {
  const p = await page(t);
  await p.goto('/');
  const card = p.locator('article.queue[data-queue="default"]');
  await card.waitFor();
  await p.waitForSelector('#live[data-state="live"]', { timeout: WAIT });
  await markPage(p);
  const count = async () => Number(await card.locator('[data-count="succeeded"]').textContent());
  const before = await count();
  await api(p, 'POST', '/v1/jobs', { type: 'demo.echo', payload: { n: 1 } });
  await p.waitForFunction((n) => {
    const el = document.querySelector('article.queue[data-queue="default"] [data-count="succeeded"]');
    return el && Number(el.textContent) > n;
  }, before, { timeout: WAIT });
  await assertNotReloaded(p);
  assert.ok(await card.locator('.throughput svg rect').count() > 0, 'jobs finished since the server started: the chart has bars');
  assert.ok(await p.locator('table.workers tbody tr').count() >= 1, 'the dev worker is listed');
  assert.match(await p.locator('table.workers tbody').innerText(), /default:10, e2e:4/);
  await p.screenshot({ path: path.join(shots, 'overview.png'), fullPage: true });
});

test('live updates pause when the stream fails and resume by themselves', async (t) => {
  const p = await page(t);
  let blocked = true;
  await p.route('**/ui/events**', (route) => (blocked ? route.abort() : route.continue()));
  await p.goto('/');
  await p.waitForSelector('#live[data-state="paused"]', { timeout: WAIT });
  assert.match(await p.textContent('#live'), /Live updates paused/);
  assert.equal(await p.isVisible('.live-refresh'), true, 'a manual refresh is offered');
  blocked = false;
  await p.waitForSelector('#live[data-state="live"]', { timeout: WAIT });
  assert.equal(await p.isVisible('.live-refresh'), false);
});

test('keyboard: the submit form is usable without a mouse', async (t) => {
  const p = await page(t);
  await p.goto('/submit');
  await p.focus('#s-type');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.id), 's-payload', 'the payload follows the type');
  await p.keyboard.press('Control+A');
  await p.keyboard.type('{"k": true}');
  await p.keyboard.press('Tab');
  assert.equal(await p.evaluate(() => document.activeElement.id), 's-queue');
  await p.keyboard.type('default');
  // Enter in a text field submits the form.
  await Promise.all([p.waitForURL(/\/jobs\/[0-9a-f-]{36}$/), p.keyboard.press('Enter')]);
  await p.locator('pre.json', { hasText: '"k": true' }).first().waitFor();
});

test('readable on a phone, in dark mode', async (t) => {
  const p = await page(t, { viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  for (const url of ['/', '/jobs', '/submit']) {
    await p.goto(url);
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${url}: no sideways scrolling on a phone (${overflow}px too wide)`);
  }
  const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(17, 19, 24)', 'the dark theme follows the system');
});

test('sign-in refuses a wrong key; sign-out ends the session', async (t) => {
  const ctx = await browser.newContext({ baseURL: base });
  t.after(() => ctx.close());
  const p = await ctx.newPage();
  await p.goto('/jobs');
  assert.match(p.url(), /\/login\?next=%2Fjobs$/);
  await p.fill('#key', key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'));
  await p.click('form.login button[type=submit]');
  assert.match(await p.textContent('.error'), /not valid/);
  await p.fill('#key', key);
  await Promise.all([p.waitForURL((u) => u.pathname === '/jobs'), p.click('form.login button[type=submit]')]);
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'flask_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict', 'an HttpOnly, SameSite=Strict session cookie');
  assert.ok(!session.value.includes(key.split('_')[2]), 'the cookie does not hold the secret');
  await Promise.all([p.waitForURL(/\/login$/), p.click('button.signout')]);
  await p.goto('/');
  assert.match(p.url(), /\/login\?next=/, 'signed out: the dashboard asks again');
});
