// The web console at /console/, in headless Chromium driven by Playwright (playwright-core with
// Debian's chromium): a function owner signs in, finds a function, pins it to an older runtime
// version through the Runtime settings panel and sees the next invocation's INIT_START name it,
// switches back to Auto; an operator watches a rollout advance on the simulated clock and pauses
// it behind a confirmation; a user under the high-compliance SCP is denied with the SCP's message.
// Every call is signed in the browser: the secret never leaves it, and nothing breaks the page's
// Content Security Policy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  AddPermissionCommand, CreateFunctionCommand, CreateFunctionUrlConfigCommand, GetRuntimeManagementConfigCommand, LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  role, devCredentials, pythonImage, versionEcho, startRolloutServer, startServer, providedZip, runtimeVersions,
  shellBootstrap, makeZip, adminJson, denyRuntimePinning,
} from './helpers.mjs';

const chromiumPath = process.env.LAMBKIN_CHROMIUM || '/usr/bin/chromium';
const servers = [];
let browser;
after(async () => {
  await browser?.close();
  for (const s of servers) await s.stop();
});

async function newPage(options = {}) {
  browser ??= await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext(options);
  const page = await context.newPage();
  // Anything the page's Content Security Policy blocked, or a script error, fails the test.
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.problems.push(m.text());
  });
  return page;
}

async function signIn(page, endpoint, credentials, region = 'us-east-1') {
  await page.goto(`${endpoint}/console/`);
  await page.fill('#accessKeyId', credentials.accessKeyId);
  await page.fill('#secretAccessKey', credentials.secretAccessKey);
  await page.fill('#signinRegion', region);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('main[data-ready="functions"]');
}

const text = (page, selector) => page.locator(selector).innerText();

test('a function owner pins a function to an older runtime version in the panel, sees INIT_START name it, and returns to Auto', async () => {
  const regions = { default_region: 'us-east-1', runtime_management: ['us-east-1', 'eu-west-1'], without_runtime_management: ['cn-north-1'] };
  const t = await startRolloutServer({ regions, rollout: { pacing: { high: { regions_per_wave: 1 } } } });
  servers.push(t.server);
  const lambda = t.server.client();
  for (const name of ['billing', 'orders', 'reports']) {
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: versionEcho() } }));
  }
  await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '2', '--image', pythonImage, '--severity', 'high');
  // Created in phase 1 of v2: on v2; the others stay on v1, one behind.
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'fresh', Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: versionEcho() } }));

  // The runtime reached its deprecation date (the simulated clock starts at the real time).
  await adminJson(t.server.endpoint, `/lambkin/v1/runtimes/${t.python}/lifecycle`, { method: 'PUT', body: { DeprecationDate: '2020-01-01' } });

  const page = await newPage();
  const sent = [];
  page.on('request', (r) => sent.push({ url: r.url(), headers: r.headers(), body: r.postData() || '' }));
  await signIn(page, t.server.endpoint, devCredentials);

  // The list: runtime, mode, version name, and a badge on the versions behind.
  const row = (name) => page.locator(`tr[data-function="${name}"]`);
  await page.waitForFunction(() => document.querySelectorAll('#functions tbody tr').length === 4);
  assert.match(await row('orders').innerText(), new RegExp(`${t.python}[\\s\\S]*Auto[\\s\\S]*${t.family}\\.v1[\\s\\S]*1 behind`));
  assert.doesNotMatch(await row('fresh').innerText(), /behind/);
  assert.match(await row('fresh').innerText(), /deprecated/);
  await page.fill('#fn-search', 'ord');
  await page.waitForFunction(() => document.querySelectorAll('#functions tbody tr').length === 1);
  await page.selectOption('#fn-sort', 'behind');
  await page.click('a:text-is("orders")');
  await page.waitForSelector('main[data-ready="function"]');
  await page.waitForSelector('#edit-runtime-management');
  assert.equal(await text(page, '#update-mode'), 'Auto');
  assert.equal(await text(page, '#runtime-version-name'), `${t.family}.v1`);

  // Pin it to v1 — no, it is on v1: move `fresh` (on v2) back to v1, as a rollback would.
  await page.goto(`${t.server.endpoint}/console/#/functions/fresh`);
  await page.waitForSelector('#edit-runtime-management');
  assert.equal(await text(page, '#runtime-version-name'), `${t.family}.v2`);
  assert.equal(await text(page, '#runtime-version-arn'), await t.arnOf(2));
  await page.click('#edit-runtime-management');
  await page.check('#mode-Manual');
  // The versions offered: this runtime's, newest first, each with its ARN for this region and
  // architecture and its bill-of-materials difference from the current one.
  const offered = await page.locator('#manual-versions .choice strong').allInnerTexts();
  assert.deepEqual(offered, [`${t.family}.v2`, `${t.family}.v1`]);
  assert.match(await page.locator('#manual-versions').innerText(), new RegExp(await t.arnOf(1)));
  await page.click(`#manual-versions .choice:has(#rv-1) button`);
  await page.waitForSelector('#manual-versions .choice:has(#rv-1) .diff :is(table, p)');
  await page.check('#rv-1');
  await page.click('#runtime-management-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#update-mode')?.textContent === 'Manual');
  assert.equal(await text(page, '#runtime-version-arn'), await t.arnOf(1));
  const pinned = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'fresh' }));
  assert.equal(pinned.UpdateRuntimeOn, 'Manual');
  assert.equal(pinned.RuntimeVersionArn, await t.arnOf(1));

  // The next invocation runs on v1, and its environment's INIT_START says so.
  await page.click('#test-invoke');
  await page.waitForSelector('#test-response');
  assert.equal(JSON.parse(await text(page, '#test-response')), `${t.family}.v1`);
  assert.match(await text(page, '#test-log'), /START RequestId/);
  await page.click('#refresh-inits');
  await page.waitForSelector('ol#init-lines');
  assert.match(await text(page, '#init-lines'), new RegExp(`INIT_START Runtime Version: ${t.family.replace('.', '\\.')}\\.v1\\s+Runtime Version ARN: ${await t.arnOf(1)}`));
  assert.match(await text(page, '#runtime-history'), new RegExp(`${t.family}\\.v2[\\s\\S]*${t.family}\\.v1`));

  // Back to Auto, with the keyboard.
  await page.focus('#edit-runtime-management');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#mode-Auto');
  await page.focus('#mode-Auto');
  await page.keyboard.press('Space');
  await page.click('#runtime-management-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#update-mode')?.textContent === 'Auto');
  assert.equal((await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'fresh' }))).UpdateRuntimeOn, 'Auto');

  // Every request went to the server, signed; the secret key never left the browser.
  assert.ok(sent.length > 10);
  for (const r of sent) {
    assert.ok(r.url.startsWith(`${t.server.endpoint}/`), r.url);
    assert.ok(!JSON.stringify(r).includes(devCredentials.secretAccessKey), `the secret was sent to ${r.url}`);
  }
  assert.ok(sent.filter((r) => !r.url.includes('/console/')).every((r) => /^AWS4-HMAC-SHA256 Credential=AKIALAMBKINDEV000001\//.test(r.headers.authorization)));
  assert.deepEqual(page.problems, []);
});

test('an operator watches a rollout advance on the simulated clock, pauses and resumes it behind a confirmation', async () => {
  const regions = { default_region: 'us-east-1', runtime_management: ['us-east-1', 'eu-west-1'], without_runtime_management: ['cn-north-1'] };
  const t = await startRolloutServer({ regions, rollout: { pacing: { high: { regions_per_wave: 1 } } } });
  servers.push(t.server);
  await t.server.client().send(new CreateFunctionCommand({ FunctionName: 'auto', Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: versionEcho() } }));
  await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '2', '--image', pythonImage, '--severity', 'high');

  const page = await newPage({ viewport: { width: 390, height: 844 } });  // a phone
  await signIn(page, t.server.endpoint, devCredentials);
  await page.click('nav a:text-is("Rollouts")');
  await page.waitForSelector('main[data-ready="rollouts"]');
  const phase = (region) => text(page, `[data-region="${region}"] .phase`);
  await page.waitForFunction(() => document.querySelector('[data-region="us-east-1"] .phase')?.textContent === 'phase1');
  assert.equal(await phase('eu-west-1'), 'pending');
  assert.match(await text(page, '#server-clock'), /simulated/);

  // The clock moves; the page follows the rollout into the next wave.
  await page.fill('#advance-by', '7h');
  await page.click('#advance-clock');
  await page.waitForFunction(() => document.querySelector('[data-region="eu-west-1"] .phase')?.textContent !== 'pending', null, { timeout: 30000 });

  // Pause: nothing happens until confirmed; cancelling changes nothing.
  await page.click(`[data-action="pause"]`);
  await page.click('dialog.confirm button[value="no"]');
  assert.notEqual((await t.status())[0].State, 'paused');
  await page.click(`[data-action="pause"]`);
  assert.match(await text(page, 'dialog.confirm'), new RegExp(`Pause ${t.family}\\.v2`));
  await page.click('dialog.confirm button[value="yes"]');
  await page.waitForFunction(() => /paused/.test(document.querySelector('.rollout-summary')?.textContent || ''));
  assert.equal((await t.status())[0].State, 'paused');
  await page.click(`[data-action="resume"]`);
  await page.click('dialog.confirm button[value="yes"]');
  await page.waitForFunction(() => !/paused/.test(document.querySelector('.rollout-summary .badge')?.textContent || ''));
  assert.notEqual((await t.status())[0].State, 'paused');

  // Compliance: the report with who must act.
  await page.click('nav a:text-is("Compliance")');
  await page.waitForSelector('main[data-ready="compliance"]');
  assert.match(await text(page, '#compliance'), /auto:\$LATEST/);
  // At a phone's width nothing overflows the page sideways (wide tables scroll in their card).
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  assert.deepEqual(page.problems, []);
});

const member = '111122223333';
const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const declaration = {
  organization: {
    management_account: '999999999999',
    root: { units: { Workloads: { accounts: [member] } } },
    policies: {
      DenyRuntimePinning: {
        targets: ['Workloads'],
        document: {
          Version: '2012-10-17',
          Statement: [denyRuntimePinning],
        },
      },
    },
  },
  accounts: {
    [member]: {
      roles: { Dev: { policies: { Admin: admin }, sessions: { alice: { id: 'ASIADEVALICE0000001', secret: 'asiadevalice0000001-secret' } } } },
    },
  },
};

test('a user under the high-compliance SCP is denied pinning with the SCP\'s message, and nothing changes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-iam-'));
  writeFileSync(path.join(dir, 'iam.json'), JSON.stringify(declaration));
  const server = await startServer({ args: ['--iam', path.join(dir, 'iam.json')] });
  servers.push(server);
  const alice = { accessKeyId: 'ASIADEVALICE0000001', secretAccessKey: 'asiadevalice0000001-secret' };
  const dev = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: alice, maxAttempts: 1 });
  await dev.send(new CreateFunctionCommand({ FunctionName: 'orders', Runtime: 'provided.al2023', Handler: 'h',
    Role: `arn:aws:iam::${member}:role/lambkin-test`, Code: { ZipFile: providedZip() } }));
  const arn = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime === 'provided.al2023').Arns.x86_64;

  const page = await newPage();
  await signIn(page, server.endpoint, alice);
  await page.goto(`${server.endpoint}/console/#/functions/orders`);
  await page.waitForSelector('#edit-runtime-management');
  await page.click('#edit-runtime-management');
  await page.check('#mode-Manual');
  if (await page.locator('#manual-arn').count()) await page.fill('#manual-arn', arn);
  else await page.locator('#manual-versions input[type=radio]').first().check();
  await page.click('#runtime-management-form button[type=submit]');
  await page.waitForSelector('#runtime-management-form .error:not(:empty)');
  assert.equal(await text(page, '#runtime-management-form .error'),
    `AccessDeniedException: User: arn:aws:sts::${member}:assumed-role/Dev/alice is not authorized to perform: `
    + `lambda:PutRuntimeManagementConfig on resource: arn:aws:lambda:us-east-1:${member}:function:orders `
    + 'with an explicit deny in a service control policy');
  assert.equal((await dev.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'orders' }))).UpdateRuntimeOn, 'Auto');

  // A wrong secret does not sign in, with AWS's error.
  const other = await newPage();
  await other.goto(`${server.endpoint}/console/`);
  await other.fill('#accessKeyId', alice.accessKeyId);
  await other.fill('#secretAccessKey', 'not-the-secret');
  await other.click('form.signin button[type=submit]');
  await other.waitForSelector('form.signin .error:not(:empty)');
  assert.match(await text(other, 'form.signin .error'), /^InvalidSignatureException: /);
  assert.deepEqual(page.problems, []);
});

test('the console is served hardened, and a function URL on its origin cannot script it', async () => {
  const server = await startServer();
  servers.push(server);
  const index = await fetch(`${server.endpoint}/console/`, { headers: { 'accept-encoding': 'br' } });
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-security-policy'), /script-src 'self'.*frame-ancestors 'none'/);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(index.headers.get('content-encoding'), 'br');
  const asset = (await index.text()).match(/\/console\/assets\/[^"]+\.js/)[0];
  const js = await fetch(`${server.endpoint}${asset}`);
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal((await fetch(`${server.endpoint}/console/../../etc/passwd`)).status, 404);
  assert.equal((await fetch(`${server.endpoint}/console/`, { method: 'POST' })).status, 405);

  // A function that answers with a page full of script, called through the path form on the
  // console's origin: the page is sandboxed into an opaque origin, so it cannot read the
  // console's session.
  const lambda = server.client();
  const page = JSON.stringify({ statusCode: 200, headers: { 'content-type': 'text/html' },
    body: '<script>try { document.title = "read " + sessionStorage.length } catch (e) { document.title = "blocked" }</script>' });
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'phish', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle: 'cat "$LAMBDA_TASK_ROOT/page.json"' }), 'page.json': page }) } }));
  const url = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'phish', AuthType: 'NONE' }));
  await lambda.send(new AddPermissionCommand({ FunctionName: 'phish', StatementId: 'public', Action: 'lambda:InvokeFunctionUrl',
    Principal: '*', FunctionUrlAuthType: 'NONE' }));
  const id = new URL(url.FunctionUrl).hostname.split('.')[0];
  const browserPage = await newPage();
  await signIn(browserPage, server.endpoint, devCredentials);
  const response = await browserPage.goto(`${server.endpoint}/lambda-url/${id}/`);
  assert.match(response.headers()['content-security-policy'], /^sandbox /);
  await browserPage.waitForFunction(() => document.title !== '');
  assert.equal(await browserPage.evaluate(() => document.title), 'blocked');
});
