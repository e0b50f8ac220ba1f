// The screenshots of docs/console.md: a server on the simulated clock with a few python
// functions, v2 of their runtime published (a rollout under way), one function created after it
// (on v2), one pinned to v1, a couple invoked, the Contributor Insights runtime-version rule; then
// the console in headless Chromium (Debian's, driven by playwright-core), signed in with the
// development key. Writes PNGs into docs/console/ (or --out).
//
// usage: node scripts/console-screenshots.mjs [--lambkin build/src/lambkin] [--runtimes build/runtimes]
//        [--out docs/console] [--chromium /usr/bin/chromium]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm), Debian's
// chromium, the built runtimes and console (make build).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string', default: path.resolve(here, '..', 'build', 'runtimes') },
  out: { type: 'string', default: path.resolve(here, '..', 'docs', 'console') },
  // v2's image: by default the built python image again (so v1 and v2 have the same packages).
  'v2-image': { type: 'string' },
  chromium: { type: 'string', default: process.env.LAMBKIN_CHROMIUM || '/usr/bin/chromium' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startRolloutServer, versionEcho, pythonImage, role, devCredentials } = await import(path.join(e2e, 'helpers.mjs'));
const require = createRequire(path.join(e2e, 'helpers.mjs'));
const { CreateFunctionCommand, InvokeCommand, PutRuntimeManagementConfigCommand } = require('@aws-sdk/client-lambda');
const { CloudWatchClient, PutInsightRuleCommand } = require('@aws-sdk/client-cloudwatch');
const { chromium } = require('playwright-core');

const out = path.resolve(opts.out);
mkdirSync(out, { recursive: true });

const regions = { default_region: 'us-east-1', runtime_management: ['us-east-1', 'eu-west-1'], without_runtime_management: ['cn-north-1'] };
const t = await startRolloutServer({ regions, rollout: { pacing: { high: { regions_per_wave: 1 } } } });
let browser;
try {
  const { endpoint } = t.server;
  const lambda = t.server.client();
  const create = (name, Description) => lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: t.python,
    Handler: 'app.handler', Role: role, Description, Code: { ZipFile: versionEcho() } }));
  const invoke = async (name) => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
    if (r.FunctionError) throw new Error(`${name}: ${Buffer.from(r.Payload).toString()}`);
  };

  // The runtime-version rule (docs/insights.md), so the function page's chart has lines.
  const cw = new CloudWatchClient({ endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  await cw.send(new PutInsightRuleCommand({ RuleName: 'RuntimeVersions', RuleState: 'ENABLED', RuleDefinition: JSON.stringify({
    Schema: { Name: 'CloudWatchLogRule', Version: 1 }, AggregateOn: 'Count',
    Contribution: { Filters: [{ Match: 'eventType', In: ['INIT_START'] }], Keys: ['runtimeVersion', 'runtimeVersionArn'] },
    LogFormat: 'CLF', LogGroupNames: ['/aws/lambda/*'], Fields: { 1: 'eventType', 4: 'runtimeVersion', 8: 'runtimeVersionArn' } }) }));

  await create('orders', 'Takes orders from the checkout queue');
  await create('billing', 'Charges the card of a confirmed order');
  await create('reports', 'Nightly sales report');
  await create('thumbnails', 'Resizes uploaded product pictures');
  for (const name of ['orders', 'billing', 'thumbnails']) await invoke(name);
  await t.cli('clock', 'advance', '1h');

  // v2: its rollout starts (phase 1 in us-east-1); a function created now is on v2.
  await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '2', '--image', opts['v2-image'] || pythonImage, '--severity', 'high');
  await create('notifications', 'Sends order e-mails');
  await invoke('notifications');
  // billing is pinned to v1, as after an incompatibility.
  await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'billing', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await t.arnOf(1) }));
  await t.cli('clock', 'advance', '30m');
  await invoke('orders');

  browser = await chromium.launch({ executablePath: opts.chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'] });
  const newPage = async (viewport = { width: 1280, height: 900 }) => {
    const context = await browser.newContext({ viewport, colorScheme: 'light' });
    return context.newPage();
  };
  const shot = async (page, file, options = {}) => {
    await page.evaluate(() => document.fonts.ready);
    await page.screenshot({ path: path.resolve(out, file), ...options });
    console.log(`wrote ${path.resolve(out, file)}`);
  };
  // The part of the page from `from`'s top to `to`'s bottom (both selectors), full width.
  const region = async (page, from, to) => {
    const a = await page.locator(from).first().boundingBox();
    const b = await page.locator(to).first().boundingBox();
    const scrollY = await page.evaluate(() => window.scrollY);
    const width = page.viewportSize().width;
    return { fullPage: true, clip: { x: 0, y: a.y + scrollY - 16, width, height: b.y + b.height - a.y + 32 } };
  };
  const signIn = async (page) => {
    await page.goto(`${endpoint}/console/`);
    await page.fill('#accessKeyId', devCredentials.accessKeyId);
    await page.fill('#secretAccessKey', devCredentials.secretAccessKey);
    await page.fill('#signinRegion', 'us-east-1');
    await page.click('form.signin button[type=submit]');
    await page.waitForSelector('main[data-ready="functions"]');
    await page.waitForFunction(() => document.querySelectorAll('#functions tbody tr').length === 5);
  };

  const page = await newPage();
  await page.goto(`${endpoint}/console/`);
  await page.waitForSelector('form.signin');
  await page.fill('#accessKeyId', devCredentials.accessKeyId);
  await shot(page, 'signin.png');

  await signIn(page);
  await shot(page, 'functions.png');

  // A function on v1 in Auto: its runtime settings, INIT_START lines, history and the chart.
  await page.goto(`${endpoint}/console/#/functions/orders`);
  await page.waitForSelector('#edit-runtime-management');
  await page.waitForSelector('ol#init-lines');
  await page.waitForSelector('.chart figure');
  await shot(page, 'function.png', await region(page, '.page-head', 'section:has(.chart)'));

  // The editor on a function on v2: Manual, v1 chosen, what changes from v2 to v1.
  await page.goto(`${endpoint}/console/#/functions/notifications`);
  await page.waitForSelector('#edit-runtime-management');
  await page.click('#edit-runtime-management');
  await page.check('#mode-Manual');
  await page.check('#rv-1');
  await page.click('#manual-versions .choice:has(#rv-1) button');
  await page.waitForSelector('#manual-versions .choice:has(#rv-1) .diff :is(table, p)');
  await shot(page, 'runtime-management.png', await region(page, '.page-head', 'section:has(#runtime-management-form)'));

  await page.goto(`${endpoint}/console/#/rollouts`);
  await page.waitForSelector('main[data-ready="rollouts"]');
  await page.waitForFunction(() => document.querySelector('[data-region="us-east-1"] .phase')?.textContent === 'phase1');
  await shot(page, 'rollouts.png', { fullPage: true });

  await page.goto(`${endpoint}/console/#/compliance`);
  await page.waitForSelector('main[data-ready="compliance"]');
  await page.waitForSelector('#compliance');
  await shot(page, 'compliance.png', { fullPage: true });

  const phone = await newPage({ width: 390, height: 844 });
  await signIn(phone);
  await shot(phone, 'phone.png');
} finally {
  await browser?.close();
  await t.server.stop();
}
