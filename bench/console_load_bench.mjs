// Web console (issue 18): the first load of the function list with 1,000 functions, in headless
// Chromium (Debian's, driven by playwright-core). Ratios are against a baseline measured in the
// same run: a cold-cache load of the console's sign-in page (index.html and its bundle, no API
// call).
//
// 1. bytes: what a cold-cache load of #/functions ships, the console's own files (/console/,
//    response bodies as sent, so compressed) apart from the API's answers. Aim: <= 300 KB of
//    console files.
// 2. time to a usable list: from the navigation start of a cold-cache reload of #/functions
//    (signed in, the session in sessionStorage) until main[data-ready="functions"] and the
//    table's first page of 100 rows are there. Aim: <= 1 s.
//
// usage: node bench/console_load_bench.mjs [--lambkin build/src/lambkin] [--runtimes DIR]
//        [--functions 1000] [--rounds 5] [--chromium /usr/bin/chromium]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm), Debian's
// chromium and a built console (make build).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string' },
  functions: { type: 'string', default: '1000' },
  rounds: { type: 'string', default: '5' },
  chromium: { type: 'string', default: process.env.LAMBKIN_CHROMIUM || '/usr/bin/chromium' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
if (opts.runtimes) process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startServer, providedZip, role, devCredentials } = await import(path.join(e2e, 'helpers.mjs'));
const require = createRequire(path.join(e2e, 'helpers.mjs'));
const { CreateFunctionCommand } = require('@aws-sdk/client-lambda');
const { chromium } = require('playwright-core');

const now = () => performance.now();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0).padStart(7)} ms`;
const kb = (x) => `${(x / 1024).toFixed(1).padStart(8)} KB`;
const count = Number(opts.functions);
const rounds = Number(opts.rounds);
const PAGE_ROWS = Math.min(100, count);

const server = await startServer({ args: opts.runtimes ? ['--runtimes', path.resolve(opts.runtimes)] : [] });
let browser;
try {
  // 1,000 functions, 8 creates in flight.
  const lambda = server.client();
  const code = providedZip();
  let next = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++;
      await lambda.send(new CreateFunctionCommand({ FunctionName: `fn-${String(i).padStart(4, '0')}`, Role: role,
        Runtime: 'provided.al2023', Handler: 'bootstrap', Code: { ZipFile: code } }));
    }
  }));
  const created = now() - t0;

  browser = await chromium.launch({ executablePath: opts.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'] });
  const consoleUrl = `${server.endpoint}/console/`;

  // A fresh context (empty cache) whose finished requests are tallied: console files apart from
  // the API, response bodies as sent (compressed) and their headers.
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const tally = { console: 0, consoleHeaders: 0, consoleFiles: 0, api: 0, apiHeaders: 0, apiCalls: 0, encodings: new Set() };
    page.on('requestfinished', async (request) => {
      const sizes = await request.sizes();
      const isConsole = new URL(request.url()).pathname.startsWith('/console/');
      tally[isConsole ? 'console' : 'api'] += sizes.responseBodySize;
      tally[isConsole ? 'consoleHeaders' : 'apiHeaders'] += sizes.responseHeadersSize;
      tally[isConsole ? 'consoleFiles' : 'apiCalls']++;
      if (isConsole) tally.encodings.add((await request.response())?.headers()['content-encoding'] || 'identity');
    });
    page.reset = () => Object.assign(tally, { console: 0, consoleHeaders: 0, consoleFiles: 0, api: 0, apiHeaders: 0, apiCalls: 0 });
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
    return { context, page, cdp, tally };
  };
  // Milliseconds from the document's navigation start until `ready` holds (checked every frame).
  const readyAt = async (page, ready, arg) =>
    (await page.waitForFunction(ready, arg, { polling: 'raf', timeout: 60000 })).jsonValue();
  const signInForm = () => (document.querySelector('form.signin #accessKeyId') ? performance.now() : 0);
  const listReady = (rows) => (document.querySelector('main[data-ready="functions"]')
    && document.querySelectorAll('#functions tbody tr').length === rows ? performance.now() : 0);
  // Requests still finishing are counted before a tally is read.
  const settle = (page) => page.waitForLoadState('networkidle');

  // Baseline: the sign-in page in a fresh context (no session), its first load, then reloads
  // with the cache cleared as the list's below.
  const signInTimes = [];
  let signInBytes, firstTab;
  {
    const { context, page, cdp, tally } = await newPage();
    await page.goto(consoleUrl, { waitUntil: 'commit' });
    firstTab = await readyAt(page, signInForm);
    await settle(page);
    for (let r = 0; r < rounds; r++) {
      await cdp.send('Network.clearBrowserCache');
      page.reset();
      await page.reload({ waitUntil: 'commit' });
      signInTimes.push(await readyAt(page, signInForm));
      await settle(page);
      signInBytes ??= { ...tally };
    }
    await context.close();
  }

  // The list: sign in once in a fresh context, then reload #/functions with the cache cleared.
  const { context, page, cdp, tally } = await newPage();
  await page.goto(consoleUrl);
  await page.fill('#accessKeyId', devCredentials.accessKeyId);
  await page.fill('#secretAccessKey', devCredentials.secretAccessKey);
  await page.fill('#signinRegion', 'us-east-1');
  await page.click('form.signin button[type=submit]');
  await readyAt(page, listReady, PAGE_ROWS);
  const status = await page.locator('main p[role=status]').innerText();
  if (!status.startsWith(`${count} function`)) throw new Error(`the list says: ${status}`);
  await page.goto(`${consoleUrl}#/functions`);
  await readyAt(page, listReady, PAGE_ROWS);
  await settle(page);
  const listTimes = [];
  let listBytes;
  for (let r = 0; r < rounds; r++) {
    await cdp.send('Network.clearBrowserCache');
    page.reset();
    await page.reload({ waitUntil: 'commit' });
    listTimes.push(await readyAt(page, listReady, PAGE_ROWS));
    await settle(page);
    listBytes ??= { ...tally };
  }
  await context.close();
  if (page.problems.length) throw new Error(page.problems.join('\n'));

  const base = median(signInTimes);
  const list = median(listTimes);
  const encodings = [...tally.encodings].join(', ');
  console.log(`console: first load of the function list, ${count} functions (provided.al2023), headless Chromium, cold cache, median of ${rounds}`);
  console.log(`  created ${count} functions (8 in flight):         ${ms(created)}`);
  console.log(`  console files, sign-in page (${signInBytes.consoleFiles} files):       ${kb(signInBytes.console)}  (+${kb(signInBytes.consoleHeaders).trim()} headers; ${encodings})`);
  console.log(`  console files, list page (${listBytes.consoleFiles} files):          ${kb(listBytes.console)}  (+${kb(listBytes.consoleHeaders).trim()} headers)  aim <= 300 KB: ${listBytes.console <= 300 * 1024 ? 'holds' : 'missed'}`);
  console.log(`  API answers, list page (${listBytes.apiCalls} calls):            ${kb(listBytes.api)}  (+${kb(listBytes.apiHeaders).trim()} headers)`);
  console.log(`  sign-in page, first load in a fresh tab:        ${ms(firstTab)}`);
  console.log(`  sign-in page ready (baseline):                  ${ms(base)}  (${signInTimes.map((x) => x.toFixed(0)).join(' ')})`);
  console.log(`  list usable (data-ready, ${PAGE_ROWS} rows):             ${ms(list)}  (${listTimes.map((x) => x.toFixed(0)).join(' ')})  ratio ${(list / base).toFixed(2)}  aim <= 1 s: ${list <= 1000 ? 'holds' : 'missed'}`);
} finally {
  await browser?.close();
  await server.stop();
}
