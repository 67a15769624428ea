// Loads a page of thumbgen picture snippets in headless Chromium, at a
// phone's and a desktop's viewport, and checks that the images behave:
//
//   (a) every image loads (complete, with a natural width) and paints
//       something (a truncated AVIF loads with its size and draws nothing);
//   (b) an image whose <picture> offers AVIF shows the AVIF;
//   (c) the browser picks the smallest srcset candidate at least as wide as
//       the image is laid out (or the largest, when none is that wide);
//   (d) nothing moves as images arrive: no layout-shift entries, and every
//       image is as tall before its bytes arrive as after.
//
//   node tests/browser/check.mjs --root DIR --page index.html --screenshot OUT.png
//
// Exits 1, naming each failure, when a check fails. CHROMIUM overrides the
// browser (default /usr/bin/chromium, Debian's package).

import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const VIEWPORTS = [
  { width: 400, height: 800 },
  { width: 1400, height: 900 },
];
const SCREENSHOT_VIEWPORT_WIDTH = 1400;
const LOAD_TIMEOUT_MS = 30_000;

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.avif': 'image/avif',
  '.webp': 'image/webp',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.json': 'application/json',
};

// --- static server -------------------------------------------------------

// thumbgen percent-encodes path segments, so the URL is decoded before it
// names a file; whatever resolves outside the root is not served.
function fileFor(root, requestUrl) {
  let pathname;
  try {
    pathname = decodeURIComponent(new URL(requestUrl, 'http://localhost').pathname);
  } catch {
    return null;
  }
  const file = path.join(root, pathname);
  return file.startsWith(root + path.sep) ? file : null;
}

async function startServer(root) {
  const server = createServer(async (req, res) => {
    const file = fileFor(root, req.url);
    const info = file && (await stat(file).catch(() => null));
    if (!info?.isFile() || !['GET', 'HEAD'].includes(req.method)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': info.size,
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

// --- in the page -----------------------------------------------------------

// An init script, so that it observes from before the first layout.
function observeLayoutShifts() {
  window.__layoutShifts = [];
  window.__layoutShiftObserver = new PerformanceObserver((list) => {
    window.__layoutShifts.push(...list.getEntries().map((entry) => entry.value));
  });
  window.__layoutShiftObserver.observe({ type: 'layout-shift', buffered: true });
}

function layoutShiftTotal() {
  // Entries of the last frame may not have been delivered yet.
  const pending = window.__layoutShiftObserver.takeRecords().map((entry) => entry.value);
  return [...window.__layoutShifts, ...pending].reduce((sum, value) => sum + value, 0);
}

function imageHeights() {
  return [...document.querySelectorAll('img')].map((img) => img.getBoundingClientRect().height);
}

// Runs in the page, so it defines its helpers inside.
function describeImages() {
  // Whether the image, drawn small, has any pixel that is not transparent.
  const paintsSomething = (img) => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 32;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    return pixels.some((value, i) => i % 4 === 3 && value > 0);
  };
  const candidates = (element) =>
    (element.getAttribute('srcset') ?? '')
      .split(',')
      .map((text) => text.trim())
      .filter(Boolean)
      .map((text) => {
        const [url, descriptor = ''] = text.split(/\s+/);
        const width = /^(\d+)w$/.exec(descriptor);
        return { url: new URL(url, document.baseURI).href, width: width ? Number(width[1]) : null };
      });
  return [...document.querySelectorAll('img')].map((img, index) => {
    const picture = img.parentElement?.tagName === 'PICTURE' ? img.parentElement : null;
    const sources = picture ? [...picture.querySelectorAll(':scope > source')] : [];
    const box = img.getBoundingClientRect();
    return {
      label:
        img.closest('figure')?.querySelector('figcaption')?.textContent ||
        img.getAttribute('src') ||
        `image ${index + 1}`,
      complete: img.complete,
      naturalWidth: img.naturalWidth,
      painted: img.complete && img.naturalWidth > 0 && paintsSomething(img),
      currentSrc: img.currentSrc,
      offersAvif: sources.some((source) => source.type === 'image/avif'),
      hasSrcset: sources.length > 0 || img.hasAttribute('srcset'),
      // The list the browser chose from: the first that holds currentSrc.
      candidates: [...sources, img].map(candidates).find((list) => list.some((c) => c.url === img.currentSrc)) ?? null,
      layoutWidth: box.width * devicePixelRatio,
      height: box.height,
    };
  });
}

// --- checks ----------------------------------------------------------------

// Check (c), or null when it passes.
function candidateProblem(image) {
  if (image.candidates === null) return `shows ${image.currentSrc}, which is in no srcset`;
  const widths = image.candidates.map((c) => c.width);
  if (widths.includes(null)) return `a srcset candidate has no width descriptor: ${widths.join(', ')}`;
  const chosen = image.candidates.find((c) => c.url === image.currentSrc).width;
  const wideEnough = widths.filter((w) => w >= image.layoutWidth);
  const expected = wideEnough.length > 0 ? Math.min(...wideEnough) : Math.max(...widths);
  if (chosen === expected) return null;
  return `chose the ${chosen}w candidate for ${image.layoutWidth} device px; expected ${expected}w (of ${widths.join(', ')})`;
}

function checkImage(image, heightBefore) {
  if (!image.complete || image.naturalWidth === 0) {
    const state = `complete=${image.complete}, naturalWidth=${image.naturalWidth}`;
    return [`did not load (${state}, currentSrc=${image.currentSrc || 'none'})`];
  }
  if (!image.painted) return [`loaded ${image.currentSrc} but paints nothing: truncated or undecodable`];
  const failures = [];
  if (image.offersAvif && !new URL(image.currentSrc).pathname.endsWith('.avif')) {
    failures.push(`shows ${image.currentSrc}, not the AVIF its <picture> offers`);
  }
  const problem = image.hasSrcset ? candidateProblem(image) : null;
  if (problem) failures.push(problem);
  // Within a pixel: a candidate's height is rounded, so its aspect ratio may
  // differ from the reserved one by under half a pixel where it is shown.
  if (!(Math.abs(heightBefore - image.height) < 1)) {
    failures.push(`is ${heightBefore}px tall before it loads and ${image.height}px after: its space is not reserved`);
  }
  return failures;
}

// --- driving the browser ---------------------------------------------------

function remaining(deadline) {
  // Playwright reads a timeout of 0 as "none".
  return Math.max(1, deadline - Date.now());
}

// Image responses wait until released, so that the page can be measured
// as it is before any image arrives.
async function holdImages(page) {
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  await page.route('**/*', async (route) => {
    if (route.request().resourceType() === 'image') await released;
    // The page may have been closed while the request waited.
    await route.continue().catch(() => {});
  });
  return release;
}

// The images are loading=lazy: each is scrolled into view in turn, and
// waited for until it is complete (loaded or broken) or time is up; what
// is not complete by then fails check (a).
async function loadEveryImage(page) {
  const deadline = Date.now() + LOAD_TIMEOUT_MS;
  const images = page.locator('img');
  const count = await images.count();
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    try {
      await images.nth(i).scrollIntoViewIfNeeded({ timeout: remaining(deadline) });
      await page.waitForFunction((n) => document.querySelectorAll('img')[n].complete, i, {
        timeout: remaining(deadline),
      });
    } catch (error) {
      if (error.name !== 'TimeoutError') throw error;
    }
  }
  // Layout shifts are reported with the frame that shows them.
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
}

async function checkViewport(browser, url, viewport, screenshot) {
  const name = `${viewport.width}x${viewport.height}`;
  const failures = [];
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    page.on('pageerror', (error) => failures.push(`[${name}] page error: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() >= 400) failures.push(`[${name}] ${response.status()} for ${response.url()}`);
    });
    await page.addInitScript(observeLayoutShifts);
    const release = await holdImages(page);
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    const heightsBefore = await page.evaluate(imageHeights);
    release();
    await loadEveryImage(page);

    const images = await page.evaluate(describeImages);
    const shift = await page.evaluate(layoutShiftTotal);
    if (images.length === 0) failures.push(`[${name}] the page has no images`);
    images.forEach((image, i) => {
      for (const failure of checkImage(image, heightsBefore[i])) {
        failures.push(`[${name}] ${image.label}: ${failure}`);
      }
    });
    if (shift !== 0) failures.push(`[${name}] layout shift of ${shift} (expected 0) while images loaded`);

    if (screenshot) {
      await mkdir(path.dirname(screenshot), { recursive: true });
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    return { images: images.length, failures };
  } finally {
    await context.close();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      page: { type: 'string', default: 'index.html' },
      screenshot: { type: 'string' },
    },
  });
  if (!values.root) {
    console.error('usage: node tests/browser/check.mjs --root DIR [--page index.html] [--screenshot OUT.png]');
    return 2;
  }
  const root = path.resolve(values.root);
  const server = await startServer(root);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  const failures = [];
  try {
    const url = new URL(values.page, `http://127.0.0.1:${server.address().port}/`).href;
    for (const viewport of VIEWPORTS) {
      const screenshot =
        viewport.width === SCREENSHOT_VIEWPORT_WIDTH && values.screenshot ? path.resolve(values.screenshot) : null;
      const result = await checkViewport(browser, url, viewport, screenshot);
      failures.push(...result.failures);
      console.log(`${viewport.width}x${viewport.height}: ${result.images} images, ${result.failures.length} failures`);
    }
  } finally {
    await browser.close();
    server.closeAllConnections();
    server.close();
  }
  for (const failure of failures) console.error(`FAIL ${failure}`);
  if (failures.length > 0) {
    console.error(`${failures.length} failures`);
    return 1;
  }
  console.log('all checks passed');
  return 0;
}

process.exitCode = await main();
