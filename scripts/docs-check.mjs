#!/usr/bin/env node
// Loads the built docs site (`pnpm run docs`, docs-site/) in headless Chromium and checks that the
// landing page, a guide and an API page render: the expected <title> and <h1>, a navigation tree
// filled in by the site's scripts, and no console error, uncaught exception or failed load. Writes
// a screenshot of each page to docs-site/screenshots/ (a CI artifact, not committed).
//
// Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
// separated by NUL on file descriptors 3 and 4), so no WebSocket client or puppeteer is needed
// (docs/decisions.md, "Docs site"). The site is served over HTTP from 127.0.0.1, as a user's
// browser would load it from a web server.
//
// Usage: node scripts/docs-check.mjs [site-dir]   (CHROMIUM=path overrides the browser)
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pages the CLI checks: path under the site, expected <title> start and <h1> text. */
export const SITE_PAGES = [
  { name: 'landing', path: 'index.html', title: 'Datamover', heading: 'Datamover' },
  { name: 'guide', path: 'documents/docs_guides_getting-started.html', title: 'Getting started', heading: 'Getting started' },
  { name: 'api', path: 'classes/_datamover_core.Mover.html', title: 'Mover', heading: 'Class Mover' },
];

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

/** The Chromium binary: $CHROMIUM, else the first of Debian's names on PATH; undefined if none. */
export function findChromium() {
  const candidates = process.env.CHROMIUM ? [process.env.CHROMIUM] : ['chromium', 'chromium-browser', 'google-chrome'];
  return candidates.find((bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** Serves `root` on 127.0.0.1 (an ephemeral port); resolves with the base URL and a close(). */
async function serve(root) {
  const server = createServer(async (req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    if (path !== root && !path.startsWith(root + sep)) return res.writeHead(403).end();
    try {
      const body = await readFile(path.endsWith(sep) ? join(path, 'index.html') : path);
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

/** A DevTools-protocol connection to a Chromium started with --remote-debugging-pipe. */
function connect(child) {
  const input = child.stdio[3];
  const pending = new Map();
  const listeners = new Set();
  let nextId = 1;
  let buffered = '';
  child.stdio[4].on('data', (chunk) => {
    const parts = (buffered + chunk.toString('utf8')).split('\0');
    buffered = parts.pop();
    for (const part of parts) {
      const msg = JSON.parse(part);
      const waiter = pending.get(msg.id);
      if (waiter) {
        pending.delete(msg.id);
        if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
        else waiter.resolve(msg.result);
      } else if (msg.method) {
        for (const listener of listeners) listener(msg);
      }
    }
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`chromium exited (${code}) during ${waiter.method}`));
    pending.clear();
  });
  return {
    send(method, params = {}, sessionId) {
      const id = nextId++;
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
      return new Promise((resolve, reject) => pending.set(id, { method, resolve, reject }));
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The console errors, exceptions and failed loads a protocol event reports, as one line; else undefined. */
function problem(msg) {
  const p = msg.params;
  if (msg.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
    return `console.${p.type}: ${p.args.map((a) => a.value ?? a.description ?? a.type).join(' ')}`;
  }
  if (msg.method === 'Runtime.exceptionThrown') return `uncaught: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`;
  if (msg.method === 'Log.entryAdded' && p.entry.level === 'error') return `${p.entry.source}: ${p.entry.text}${p.entry.url ? ` (${p.entry.url})` : ''}`;
  return undefined;
}

const PAGE_STATE = `(() => ({
  title: document.title,
  heading: document.querySelector('h1')?.textContent.trim() ?? '',
  navigationLinks: document.querySelectorAll('#tsd-nav-container a').length,
}))()`;

/** Loads one page in its own tab; resolves with what rendered and every problem reported. */
async function loadPage(cdp, url, screenshot) {
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const problems = [];
  let loaded;
  const load = new Promise((ok) => (loaded = ok));
  const off = cdp.on((msg) => {
    if (msg.sessionId !== sessionId) return;
    if (msg.method === 'Page.loadEventFired') loaded();
    const line = problem(msg);
    if (line) problems.push(line);
  });
  try {
    for (const domain of ['Page', 'Runtime', 'Log']) await cdp.send(`${domain}.enable`, {}, sessionId);
    const nav = await cdp.send('Page.navigate', { url }, sessionId);
    if (nav.errorText) problems.push(`navigation: ${nav.errorText}`);
    else await load;
    // The site's scripts build the navigation tree after load; give them time to run (and fail).
    let state;
    for (let i = 0; i < 20; i++) {
      state = (await cdp.send('Runtime.evaluate', { expression: PAGE_STATE, returnByValue: true }, sessionId)).result.value;
      if (state.navigationLinks > 0) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    await new Promise((ok) => setTimeout(ok, 300));
    const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId);
    await writeFile(screenshot, Buffer.from(data, 'base64'));
    return { ...state, problems };
  } finally {
    off();
    await cdp.send('Target.closeTarget', { targetId });
  }
}

/**
 * Checks `pages` of the site in `root` in headless Chromium. Resolves with one report per page:
 * `failures` lists what is wrong (empty when the page rendered as expected), `screenshot` the PNG
 * written under `root`/screenshots.
 */
export async function checkSite(root, pages = SITE_PAGES, chromium = findChromium()) {
  if (!chromium) throw new Error('docs check: no Chromium found (apt-get install chromium, or set CHROMIUM)');
  root = resolve(root);
  const shots = join(root, 'screenshots');
  await mkdir(shots, { recursive: true });
  const profile = await mkdtemp(join(tmpdir(), 'datamover-docs-check-'));
  const server = await serve(root);
  const args = ['--headless', '--remote-debugging-pipe', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check', '--window-size=1280,900', `--user-data-dir=${profile}`, 'about:blank'];
  const child = spawn(chromium, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  try {
    const cdp = connect(child);
    await cdp.send('Browser.getVersion').catch((e) => {
      throw new Error(`${e.message}\n${stderr}`);
    });
    const reports = [];
    for (const page of pages) {
      const screenshot = join(shots, `${page.name}.png`);
      const got = await loadPage(cdp, new URL(page.path, server.base).href, screenshot);
      const failures = [...got.problems];
      if (!got.title.startsWith(page.title)) failures.push(`title is ${JSON.stringify(got.title)}, expected it to start with ${JSON.stringify(page.title)}`);
      if (!got.heading.includes(page.heading)) failures.push(`<h1> is ${JSON.stringify(got.heading)}, expected ${JSON.stringify(page.heading)}`);
      if (got.navigationLinks === 0) failures.push('the navigation tree is empty (the site scripts did not run)');
      reports.push({ ...page, title: got.title, heading: got.heading, navigationLinks: got.navigationLinks, failures, screenshot });
    }
    return reports;
  } finally {
    child.kill();
    await new Promise((ok) => (child.exitCode === null && child.signalCode === null ? child.once('exit', ok) : ok()));
    await server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? 'docs-site';
  const reports = await checkSite(root);
  for (const r of reports) {
    console.log(`${r.failures.length ? 'FAIL' : 'ok  '} ${r.name}: ${r.path} — "${r.title}", ${r.navigationLinks} navigation links, screenshot ${r.screenshot}`);
    for (const f of r.failures) console.log(`       ${f}`);
  }
  process.exitCode = reports.some((r) => r.failures.length) ? 1 : 0;
}
