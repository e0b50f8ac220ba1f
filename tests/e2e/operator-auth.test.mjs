// The operator API (/lambkin/v1/...) attacked for real: nothing but the health check answers a
// caller without valid credentials, every operator verb is an IAM action of its own that
// identity policies and SCPs decide on, GetFunction's code link is presigned by its caller, a
// --production server's first operator key never crosses the network, and the lambkin CLI signs
// with the AWS credential chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LambdaClient, CreateFunctionCommand, GetFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import {
  startServer, lambkinBin, devCredentials, adminFetch, adminJson, signedFetch, makeZip, role, account,
} from './helpers.mjs';

const run = promisify(execFile);
const member = '111122223333';
const management = '999999999999';
const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const allow = (Action, Resource = '*') => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action, Resource }] });
const key = (id) => ({ id, secret: `${id.toLowerCase()}-secret` });
const creds = (id) => ({ accessKeyId: id, secretAccessKey: `${id.toLowerCase()}-secret` });

function writeDeclaration(value) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lambkin-opauth-')), 'iam.json');
  writeFileSync(file, JSON.stringify(value));
  return file;
}

// The CLI in an environment that holds no AWS settings of the machine running the tests: a
// fresh HOME (no ~/.aws) and no AWS_* variables, plus `extra`.
function cliEnv(endpoint, extra = {}) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  return { ...env, HOME: mkdtempSync(path.join(tmpdir(), 'lambkin-home-')), LAMBKIN_ENDPOINT: endpoint, ...extra };
}
const cli = (env, ...args) => run(lambkinBin, args, { env });
const cliFails = (env, ...args) => run(lambkinBin, args, { env }).then(
  ({ stdout }) => assert.fail(`expected lambkin ${args.join(' ')} to fail; it printed ${stdout}`), (e) => e);

async function errorOf(res) {
  const body = await res.json();
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), message: body.message ?? body.Message };
}

const directory = (endpoint) => adminJson(endpoint, '/lambkin/v1/iam');

test('Without valid credentials nothing but the health check answers, and nothing changes', async () => {
  const server = await startServer();
  try {
    const { endpoint } = server;
    const before = await directory(endpoint);
    assert.deepEqual(before.accounts[account].users['lambkin-developer'].access_keys, [{ id: devCredentials.accessKeyId }]);

    // An unsigned request minting an administrator key: refused, and no key appears.
    const mint = await fetch(`${endpoint}/lambkin/v1/iam/access-keys`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ User: 'lambkin-developer' }) });
    assert.deepEqual(await errorOf(mint), { status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    assert.deepEqual(await directory(endpoint), before, 'the directory is unchanged');

    // Every other operator route, and routes that do not exist, say the same to a stranger.
    const attempts = [
      ['GET', '/lambkin/v1/iam'], ['POST', '/lambkin/v1/iam/apply', { accounts: { [account]: { users: { mallory: { policies: { A: admin } } } } } }],
      ['DELETE', `/lambkin/v1/iam/access-keys/${devCredentials.accessKeyId}`], ['GET', '/lambkin/v1/runtime-versions'],
      ['POST', '/lambkin/v1/runtime-versions', { Runtime: 'provided.al2023', Version: 9, Bundle: '/tmp' }],
      ['POST', '/lambkin/v1/runtime-versions/provided:al2023.v1/block', {}], ['GET', '/lambkin/v1/rollouts'],
      ['POST', '/lambkin/v1/rollouts/provided:al2023.v1/abort', {}], ['GET', '/lambkin/v1/history?function=f'],
      ['GET', '/lambkin/v1/clock'], ['POST', '/lambkin/v1/clock/advance', { Duration: '72h' }],
      ['GET', `/lambkin/v1/code/${'0'.repeat(64)}?FunctionName=f`], ['GET', '/lambkin/v1/insights/report?rule=r'],
      ['GET', '/lambkin/v1/no-such-thing'], ['PUT', '/lambkin/v1/health'],
      ['GET', '/lambkin/v1/runtimes'], ['PUT', '/lambkin/v1/runtimes/python3.11/lifecycle', { DeprecationDate: '2020-01-01' }],
      ['GET', '/lambkin/v1/compliance/report'], ['GET', '/lambkin/v1/compliance/report?format=csv'],
      ['POST', '/lambkin/v1/compliance/check-package?runtime=python3.11', {}],
    ];
    for (const [method, target, body] of attempts) {
      const res = await fetch(`${endpoint}${target}`, { method, body: body && JSON.stringify(body) });
      assert.equal((await errorOf(res)).type, 'MissingAuthenticationTokenException', `${method} ${target}`);
    }
    assert.deepEqual(await directory(endpoint), before);

    // A wrong secret, an unknown key, a signature made for another service, a stale date.
    const wrongSecret = await adminFetch(endpoint, '/lambkin/v1/iam/access-keys', { method: 'POST', body: { User: 'lambkin-developer' },
      credentials: { ...devCredentials, secretAccessKey: 'guessed' } });
    const e = await errorOf(wrongSecret);
    assert.equal(e.status, 403);
    assert.equal(e.type, 'InvalidSignatureException');
    assert.match(e.message, /^The request signature we calculated does not match the signature you provided/);
    const unknown = await adminFetch(endpoint, '/lambkin/v1/iam', { credentials: { accessKeyId: 'AKIANOBODY0000000001', secretAccessKey: 'x' } });
    assert.deepEqual(await errorOf(unknown), { status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
    const forLambda = await signedFetch(endpoint, { path: '/lambkin/v1/iam', service: 'lambda' });
    assert.equal((await errorOf(forLambda)).type, 'InvalidSignatureException', 'a Lambda signature is no operator signature');
    const stale = await adminFetch(endpoint, '/lambkin/v1/clock', { date: new Date(Date.now() - 20 * 60 * 1000) });
    assert.match((await errorOf(stale)).message, /^Signature expired/);
    assert.deepEqual(await directory(endpoint), before);

    // Only the health check is open.
    const health = await fetch(`${endpoint}/lambkin/v1/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  } finally {
    await server.stop();
  }
});

test('Identity policies decide each operator verb: a rollout watcher can read rollouts and nothing else', async () => {
  const declaration = { accounts: { [account]: { users: {
    watcher: { policies: { Watch: allow('lambkin:GetRolloutStatus') }, access_keys: [key('AKIAWATCHER000000001')] },
  } } } };
  const server = await startServer({ args: ['--clock', 'simulated', '--iam', writeDeclaration(declaration)] });
  try {
    const { endpoint } = server;
    const watcher = creds('AKIAWATCHER000000001');
    assert.ok(Array.isArray((await adminJson(endpoint, '/lambkin/v1/rollouts', { credentials: watcher })).Rollouts));

    const advance = await adminFetch(endpoint, '/lambkin/v1/clock/advance', { method: 'POST', body: { Duration: '72h' }, credentials: watcher });
    assert.deepEqual(await errorOf(advance), { status: 403, type: 'AccessDeniedException',
      message: `User: arn:aws:iam::${account}:user/watcher is not authorized to perform: lambkin:AdvanceClock on resource: `
        + 'arn:aws:lambkin:::clock because no identity-based policy allows the lambkin:AdvanceClock action' });
    const clock = await adminJson(endpoint, '/lambkin/v1/clock');
    assert.equal(clock.Simulated, true);
    assert.ok(Math.abs(clock.NowMillis - Date.now()) < 10 * 60 * 1000, 'the simulated clock did not move');

    const before = await directory(endpoint);
    const mint = await adminFetch(endpoint, '/lambkin/v1/iam/access-keys', { method: 'POST', body: { User: 'lambkin-developer' }, credentials: watcher });
    assert.deepEqual(await errorOf(mint), { status: 403, type: 'AccessDeniedException',
      message: `User: arn:aws:iam::${account}:user/watcher is not authorized to perform: lambkin:CreateAccessKey on resource: `
        + `arn:aws:iam::${account}:user/lambkin-developer because no identity-based policy allows the lambkin:CreateAccessKey action` });
    for (const [method, target] of [['GET', '/lambkin/v1/iam'], ['GET', '/lambkin/v1/clock'], ['GET', '/lambkin/v1/runtime-versions'],
      ['DELETE', `/lambkin/v1/iam/access-keys/${devCredentials.accessKeyId}`], ['GET', '/lambkin/v1/compliance/report'],
      ['GET', '/lambkin/v1/runtimes'], ['PUT', '/lambkin/v1/runtimes/python3.11/lifecycle'],
      ['POST', '/lambkin/v1/compliance/check-package?runtime=python3.11']]) {
      const res = await adminFetch(endpoint, target, { method, credentials: watcher });
      assert.equal((await errorOf(res)).type, 'AccessDeniedException', `${method} ${target}`);
    }
    const report = await adminFetch(endpoint, '/lambkin/v1/compliance/report', { credentials: watcher });
    assert.deepEqual(await errorOf(report), { status: 403, type: 'AccessDeniedException',
      message: `User: arn:aws:iam::${account}:user/watcher is not authorized to perform: lambkin:GetComplianceReport on resource: `
        + '* because no identity-based policy allows the lambkin:GetComplianceReport action' });
    assert.deepEqual(await directory(endpoint), before, 'nothing denied changed anything');

    // The CLI says who signed when the server refuses.
    const env = cliEnv(endpoint, { AWS_ACCESS_KEY_ID: watcher.accessKeyId, AWS_SECRET_ACCESS_KEY: watcher.secretAccessKey });
    assert.match((await cli(env, 'rollout', 'status')).stdout, /No rollouts\./);
    const refused = await cliFails(env, 'clock', 'advance', '72h');
    assert.match(refused.stderr, /lambkin clock advance: AccessDeniedException: User: arn:aws:iam::123456789012:user\/watcher is not authorized to perform: lambkin:AdvanceClock/);
    assert.match(refused.stderr, /signed with access key AKIAWATCHER000000001 from the environment/);
    assert.doesNotMatch(refused.stderr, /akiawatcher000000001-secret/);
    assert.ok(Math.abs((await adminJson(endpoint, '/lambkin/v1/clock')).NowMillis - Date.now()) < 10 * 60 * 1000);

    // Resources are ARNs policies can name: a user who may block only python versions.
    await adminJson(endpoint, '/lambkin/v1/iam/apply', { method: 'POST', body: { accounts: { [account]: { users: { watcher: {
      policies: { Watch: allow('lambkin:BlockRuntimeVersion', 'arn:aws:lambkin:::runtime-version/python*') } } } } } } });
    const stateOf = async () => (await adminJson(endpoint, '/lambkin/v1/runtime-versions')).RuntimeVersions
      .find((v) => v.Name === 'provided:al2023.v1').State;
    const state = await stateOf();
    assert.notEqual(state, 'blocked');
    const block = await adminFetch(endpoint, '/lambkin/v1/runtime-versions/provided:al2023.v1/block', { method: 'POST', body: {}, credentials: watcher });
    assert.match((await errorOf(block)).message, /lambkin:BlockRuntimeVersion on resource: arn:aws:lambkin:::runtime-version\/provided:al2023\.v1 because/);
    assert.equal(await stateOf(), state, 'the version was not blocked');
  } finally {
    await server.stop();
  }
});

test('SCPs bind operators too: a member account admin cannot apply IAM declarations, or act outside its regions', async () => {
  const declaration = {
    organization: {
      management_account: management,
      root: { units: { Workloads: { accounts: [member] } } },
      policies: {
        DenyIamChanges: { targets: ['Workloads'], document: { Version: '2012-10-17', Statement: [
          { Effect: 'Deny', Action: ['lambkin:ApplyIamDeclaration', 'lambkin:*AccessKey'], Resource: '*' }] } },
        EuropeOnlyOperators: { targets: ['Workloads'], document: { Version: '2012-10-17', Statement: [
          { Effect: 'Deny', Action: 'lambkin:*', Resource: '*', Condition: { StringNotEquals: { 'aws:RequestedRegion': 'eu-west-1' } } }] } },
      },
    },
    accounts: {
      [member]: { users: { ops: { policies: { Admin: admin }, access_keys: [key('AKIAMEMBEROPS0000001')] } } },
      [management]: { users: { platform: { policies: { Admin: admin }, access_keys: [key('AKIAMANAGEMENT000001')] } } },
    },
  };
  const server = await startServer({ args: ['--iam', writeDeclaration(declaration)] });
  try {
    const { endpoint } = server;
    const ops = creds('AKIAMEMBEROPS0000001');
    const before = await directory(endpoint);
    const change = { accounts: { [member]: { users: { ops: { policies: { Admin: null } } } } } };
    const applied = await adminFetch(endpoint, '/lambkin/v1/iam/apply', { method: 'POST', body: change, credentials: ops, region: 'eu-west-1' });
    assert.deepEqual(await errorOf(applied), { status: 403, type: 'AccessDeniedException',
      message: `User: arn:aws:iam::${member}:user/ops is not authorized to perform: lambkin:ApplyIamDeclaration on resource: * `
        + 'with an explicit deny in a service control policy' });
    const mint = await adminFetch(endpoint, '/lambkin/v1/iam/access-keys', { method: 'POST', body: { Account: member, User: 'ops' }, credentials: ops, region: 'eu-west-1' });
    assert.match((await errorOf(mint)).message, /lambkin:CreateAccessKey on resource: arn:aws:iam::111122223333:user\/ops with an explicit deny in a service control policy$/);
    assert.deepEqual(await directory(endpoint), before, 'the directory is unchanged');

    // aws:RequestedRegion is the credential scope's region, as for every AWS API.
    assert.ok((await adminJson(endpoint, '/lambkin/v1/rollouts', { credentials: ops, region: 'eu-west-1' })).Rollouts);
    const elsewhere = await adminFetch(endpoint, '/lambkin/v1/rollouts', { credentials: ops, region: 'us-east-1' });
    assert.match((await errorOf(elsewhere)).message, /lambkin:GetRolloutStatus on resource: \* with an explicit deny in a service control policy$/);
    const env = cliEnv(endpoint, { AWS_ACCESS_KEY_ID: ops.accessKeyId, AWS_SECRET_ACCESS_KEY: ops.secretAccessKey });
    await cliFails(env, 'rollout', 'status');
    await cli({ ...env, AWS_REGION: 'eu-west-1' }, 'rollout', 'status');

    // The management account is not bound by SCPs.
    const platform = creds('AKIAMANAGEMENT000001');
    const allowed = await adminJson(endpoint, '/lambkin/v1/iam/apply', { method: 'POST', body: change, credentials: platform });
    assert.deepEqual(allowed.accounts[member].users.ops.policies ?? {}, {});
  } finally {
    await server.stop();
  }
});

test('GetFunction links to the code with a URL presigned by the caller, for ten minutes', async () => {
  const declaration = { accounts: { [account]: { users: {
    reader: { policies: { Read: allow('lambda:GetFunction', `arn:aws:lambda:*:${account}:function:mine`) }, access_keys: [key('AKIAREADER0000000001')] },
  }, roles: {
    'code-reader': { policies: { Read: allow('lambda:GetFunction', `arn:aws:lambda:*:${account}:function:mine`) } },
  } } } };
  const server = await startServer({ args: ['--iam', writeDeclaration(declaration)] });
  try {
    const { endpoint } = server;
    const lambda = server.client('eu-west-1');
    const zips = { mine: makeZip({ bootstrap: '#!/bin/sh\necho mine\n' }), theirs: makeZip({ bootstrap: '#!/bin/sh\necho theirs\n' }) };
    for (const [name, zip] of Object.entries(zips)) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: zip } }));
    }
    const reader = new LambdaClient({ endpoint, region: 'eu-west-1', maxAttempts: 1,
      credentials: creds('AKIAREADER0000000001') });
    const got = await reader.send(new GetFunctionCommand({ FunctionName: 'mine' }));
    const url = new URL(got.Code.Location);
    assert.equal(url.pathname.split('/').slice(0, 4).join('/'), '/lambkin/v1/code');
    const q = url.searchParams;
    assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.match(q.get('X-Amz-Credential'), /^AKIAREADER0000000001\/\d{8}\/eu-west-1\/lambkin\/aws4_request$/);
    assert.equal(q.get('X-Amz-Expires'), '600');
    assert.equal(q.get('X-Amz-SignedHeaders'), 'host');
    assert.equal(q.get('X-Amz-Security-Token'), null);
    assert.ok(Math.abs(Date.parse(q.get('X-Amz-Date').replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z')) - Date.now()) < 60000);
    assert.deepEqual(Buffer.from(await (await fetch(url)).arrayBuffer()), zips.mine);

    // A role session's link carries its session token: a function whose role may read `mine`
    // hands the test its own execution-role credentials.
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'session', Runtime: 'python3.11', Handler: 'index.handler',
      Role: `arn:aws:iam::${account}:role/code-reader`,
      Code: { ZipFile: makeZip({ 'index.py': 'import os\ndef handler(event, context):\n    return {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}\n' }) } }));
    const session = JSON.parse(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: 'session' }))).Payload).toString());
    assert.match(session.AWS_ACCESS_KEY_ID, /^ASIA/);
    const asRole = new LambdaClient({ endpoint, region: 'eu-west-1', maxAttempts: 1, credentials: {
      accessKeyId: session.AWS_ACCESS_KEY_ID, secretAccessKey: session.AWS_SECRET_ACCESS_KEY, sessionToken: session.AWS_SESSION_TOKEN } });
    const viaRole = new URL((await asRole.send(new GetFunctionCommand({ FunctionName: 'mine' }))).Code.Location);
    assert.equal(viaRole.searchParams.get('X-Amz-Security-Token'), session.AWS_SESSION_TOKEN, 'the caller\'s session token rides along');
    assert.deepEqual(Buffer.from(await (await fetch(viaRole)).arrayBuffer()), zips.mine);
    const forged = new URL(viaRole);
    forged.searchParams.set('X-Amz-Security-Token', session.AWS_SESSION_TOKEN.slice(0, -4) + 'AAAA');
    assert.equal((await errorOf(await fetch(forged))).status, 403);

    // The link is no open door: without its signature, changed, or pointed at other code, it fails.
    const bare = new URL(url.pathname + `?FunctionName=mine`, url);
    assert.equal((await errorOf(await fetch(bare))).type, 'MissingAuthenticationTokenException');
    const other = new URL(url);
    other.searchParams.set('FunctionName', 'theirs');
    assert.equal((await errorOf(await fetch(other))).type, 'InvalidSignatureException');
    const theirs = await lambda.send(new GetFunctionCommand({ FunctionName: 'theirs' }));
    const swapped = new URL(got.Code.Location.replace(url.pathname, new URL(theirs.Code.Location).pathname));
    assert.equal((await errorOf(await fetch(swapped))).type, 'InvalidSignatureException');

    // It is used as its signer: once the reader may no longer get the function, the link fails.
    await adminJson(endpoint, '/lambkin/v1/iam/apply', { method: 'POST', body: { accounts: { [account]: { users: { reader: {
      policies: { Read: allow('lambda:ListFunctions') } } } } } } });
    const revoked = await errorOf(await fetch(url));
    assert.equal(revoked.type, 'AccessDeniedException');
    assert.match(revoked.message, /user\/reader is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:eu-west-1:123456789012:function:mine because/);

    // The development user's SDK download keeps working, qualified too.
    const latest = await lambda.send(new GetFunctionCommand({ FunctionName: 'theirs', Qualifier: '$LATEST' }));
    assert.equal(new URL(latest.Code.Location).searchParams.get('Qualifier'), '$LATEST');
    assert.deepEqual(Buffer.from(await (await fetch(latest.Code.Location)).arrayBuffer()), zips.theirs);
  } finally {
    await server.stop();
  }
});

test('--production writes the first operator key to a private file once; the CLI signs with it', async () => {
  let server = await startServer({ args: ['--production'] });
  const { dataDir } = server;
  const file = path.join(dataDir, 'operator-credentials');
  try {
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    const [, id, secret] = text.match(/^\[lambkin-operator\]\naws_access_key_id = (AKIA[0-9A-F]{16})\naws_secret_access_key = (\S{40})\n$/);
    // Printed after the address: wait for the line.
    for (let i = 0; i < 50 && !server.stdout.includes('first operator credentials'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(server.stdout, new RegExp(`first operator credentials \\(user lambkin-operator, profile lambkin-operator\\) written to ${file}`));
    assert.ok(!server.stdout.includes(secret), 'the secret is never printed');

    // With the file as the shared credentials file, and with the same key in the environment.
    const viaFile = cliEnv(server.endpoint, { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'lambkin-operator' });
    const shown = JSON.parse((await cli(viaFile, 'iam', 'show', '--json')).stdout);
    assert.deepEqual(shown.accounts[account].users['lambkin-operator'].access_keys, [{ id }]);
    assert.equal(shown.accounts[account].users['lambkin-developer'], undefined, 'no development user in production');
    const viaEnv = cliEnv(server.endpoint, { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret });
    assert.match((await cli(viaEnv, 'clock', 'show')).stdout, /\(real clock\)/);
    const key = JSON.parse((await cli(viaEnv, 'iam', 'create-access-key', '--user', 'lambkin-operator', '--json')).stdout);
    assert.equal(key.Arn, `arn:aws:iam::${account}:user/lambkin-operator`);

    // The development key is refused, and the CLI says why.
    const fallback = await cliFails(cliEnv(server.endpoint), 'rollout', 'status');
    assert.match(fallback.stderr, /UnrecognizedClientException: The security token included in the request is invalid\./);
    assert.match(fallback.stderr, /the development key \(no AWS credentials were found\)/);
    assert.match(fallback.stderr, /AWS_SHARED_CREDENTIALS_FILE=<data dir>\/operator-credentials AWS_PROFILE=lambkin-operator/);
    const missingProfile = await cliFails(cliEnv(server.endpoint, { AWS_SHARED_CREDENTIALS_FILE: file, AWS_PROFILE: 'nosuch' }), 'clock', 'show');
    assert.match(missingProfile.stderr, /the profile nosuch \(AWS_PROFILE\) could not be found/);

    // Later starts leave the file and the key alone.
    await server.kill();
    assert.equal(server.child.exitCode, 0);
    const mtime = statSync(file).mtimeMs;
    server = await startServer({ dataDir, args: ['--production'] });
    assert.doesNotMatch(server.stdout, /first operator credentials/);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.equal(statSync(file).mtimeMs, mtime);
    assert.match((await cli({ ...viaFile, LAMBKIN_ENDPOINT: server.endpoint }, 'clock', 'show')).stdout, /\(real clock\)/);
  } finally {
    await server.stop();
  }
});

test('The CLI falls back to the development key against a development server, and reads profiles', async () => {
  const server = await startServer();
  try {
    const env = cliEnv(server.endpoint);
    assert.match((await cli(env, 'clock', 'show')).stdout, /\(real clock\)/);
    assert.match((await cli(env, 'runtime', 'list')).stdout, /provided\.al2023/);
    // A profile in ~/.aws/credentials with a region in ~/.aws/config.
    const created = JSON.parse((await cli(env, 'iam', 'create-access-key', '--user', 'lambkin-developer', '--json')).stdout);
    const home = mkdtempSync(path.join(tmpdir(), 'lambkin-home-'));
    mkdirSync(path.join(home, '.aws'));
    writeFileSync(path.join(home, '.aws', 'credentials'),
      `[dev]\naws_access_key_id = ${created.AccessKeyId}\naws_secret_access_key = ${created.SecretAccessKey}\n`);
    writeFileSync(path.join(home, '.aws', 'config'), '[profile dev]\nregion = eu-west-1\n');
    const profiled = { ...env, HOME: home, AWS_PROFILE: 'dev' };
    assert.match((await cli(profiled, 'runtime', 'list')).stdout, /arn:aws:lambda:eu-west-1::runtime:/,
      'the profile\'s region is the region of the call');
    await cli(env, 'iam', 'delete-access-key', created.AccessKeyId);
    const revoked = await cliFails(profiled, 'clock', 'show');
    assert.match(revoked.stderr, new RegExp(`UnrecognizedClientException: .*signed with access key ${created.AccessKeyId} from profile dev in ${home}/.aws/credentials, region eu-west-1`));
  } finally {
    await server.stop();
  }
});

test('--auth none keeps the operator API open, code links included', async () => {
  const server = await startServer({ args: ['--auth', 'none'] });
  try {
    const { endpoint } = server;
    const shown = await fetch(`${endpoint}/lambkin/v1/iam`);
    assert.equal(shown.status, 200);
    assert.ok((await shown.json()).accounts[account]);
    const key = await fetch(`${endpoint}/lambkin/v1/iam/access-keys`, { method: 'POST', body: JSON.stringify({ User: 'lambkin-developer' }) });
    assert.equal(key.status, 201);
    const lambda = server.client('eu-west-1');
    const zip = makeZip({ bootstrap: '#!/bin/sh\n' });
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'f', Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: zip } }));
    const location = new URL((await lambda.send(new GetFunctionCommand({ FunctionName: 'f' }))).Code.Location);
    assert.match(location.searchParams.get('X-Amz-Credential'), /\/eu-west-1\/lambkin\/aws4_request$/, 'the link still says its region');
    assert.deepEqual(Buffer.from(await (await fetch(location)).arrayBuffer()), zip);
  } finally {
    await server.stop();
  }
});
