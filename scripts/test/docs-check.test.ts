// The docs site's browser check (scripts/docs-check.mjs) in real headless Chromium: it passes a
// page that renders, and reports a console error, an uncaught exception, a failed load, a wrong
// title and an empty navigation tree. Then the built site itself (`pnpm run docs`), when built.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSite, findChromium, SITE_PAGES } from '../docs-check.mjs';

interface Report { name: string; title: string; failures: string[]; screenshot: string }

const chromium: string | undefined = findChromium();
if (!chromium) console.log('docs check tests skipped: no Chromium on PATH (apt-get install chromium, or set CHROMIUM)');
const site = join(import.meta.dirname, '../../docs-site');
const built = existsSync(join(site, 'index.html'));
if (chromium && !built) console.log('built-site check skipped: docs-site/ not built (pnpm run docs)');

/** A page shaped like typedoc's: a title, an <h1>, a navigation container its script fills. */
const page = (title: string, heading: string, script: string) => `<!doctype html><html><head><title>${title}</title>
<link rel="icon" href="data:,"></head><body><h1>${heading}</h1><ul id="tsd-nav-container"></ul>
<script>${script}</script></body></html>`;
const FILL_NAV = `document.getElementById('tsd-nav-container').innerHTML = '<li><a href="good.html">Good</a></li>';`;

describe.skipIf(!chromium)('docs-check in headless Chromium', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'docs-check-test-'));
    await writeFile(join(root, 'good.html'), page('Good | Site', 'Good page', FILL_NAV));
    await writeFile(join(root, 'noisy.html'), page('Noisy | Site', 'Noisy page',
      `${FILL_NAV} console.error('broken widget'); setTimeout(() => { throw new Error('late failure'); });`)
      .replace('</head>', '<script src="missing.js"></script></head>'));
    await writeFile(join(root, 'bare.html'), page('Bare', 'Bare page', ''));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  it('passes a page that renders and writes its screenshot', async () => {
    const [r] = (await checkSite(root, [{ name: 'good', path: 'good.html', title: 'Good', heading: 'Good page' }], chromium)) as Report[];
    expect(r.failures).toEqual([]);
    expect(r.title).toBe('Good | Site');
    expect((await readFile(r.screenshot)).subarray(1, 4).toString()).toBe('PNG');
  });

  it('reports console errors, uncaught exceptions and failed loads', async () => {
    const [r] = (await checkSite(root, [{ name: 'noisy', path: 'noisy.html', title: 'Noisy', heading: 'Noisy page' }], chromium)) as Report[];
    expect(r.failures).toEqual(expect.arrayContaining([
      expect.stringContaining('console.error: broken widget'),
      expect.stringContaining('late failure'),
      expect.stringMatching(/404.*missing\.js/),
    ]));
  });

  it('reports a wrong title or heading, an empty navigation tree and a missing page', async () => {
    const reports = (await checkSite(root, [
      { name: 'bare', path: 'bare.html', title: 'Something else', heading: 'Other heading' },
      { name: 'absent', path: 'absent.html', title: 'Absent', heading: 'Absent' },
    ], chromium)) as Report[];
    expect(reports[0].failures).toEqual([
      'title is "Bare", expected it to start with "Something else"',
      '<h1> is "Bare page", expected "Other heading"',
      'the navigation tree is empty (the site scripts did not run)',
    ]);
    expect(reports[1].failures).toEqual(expect.arrayContaining([expect.stringMatching(/404/)]));
  });

  it.skipIf(!built)('the built site: landing page, a guide and an API page render cleanly', async () => {
    const reports = (await checkSite(site, SITE_PAGES, chromium)) as Report[];
    expect(reports.map((r) => [r.name, r.failures])).toEqual(SITE_PAGES.map((p: { name: string }) => [p.name, []]));
  });
});
