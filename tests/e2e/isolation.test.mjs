// Hostile functions (issue 12, /work/shared/spec/isolation.md): a function's own code — Python,
// or static native code making raw system calls — must not be able to take over the server,
// reach anything but its own environment, or act as anyone but its execution role. Each probe
// under fixtures/hostile/ reports what happened (statuses, errno names) as JSON, so every
// assertion here is exact. The operator API is read signed with the development key, as every
// caller but GET /lambkin/v1/health must sign it (service "lambkin").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateFunctionCommand, InvokeCommand, DeleteFunctionCommand, GetFunctionCommand,
  GetFunctionConfigurationCommand, ListFunctionsCommand, LambdaClient,
} from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startServer, makeZip, account, awsError, devCredentials, shellBootstrap, signedFetch } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, 'fixtures', 'hostile');
const fixture = (name) => readFileSync(path.join(fixtures, name));
const decoder = new TextDecoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

// Every function here runs as this role, which no policy allows anything.
const hostileRole = `arn:aws:iam::${account}:role/hostile-fn`;
const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const inside = 'http://127.0.0.1:9002';

let server, lambda, logs, pythonRuntime, probeBinary, scratch;

// The error type of an AWS-style error response (header first, then the JSON body).
function errorTypeOf(res, json) {
  const t = res.headers.get('x-amzn-errortype') ?? (json && typeof json === 'object' ? json.__type : undefined);
  return t ? t.split(':')[0] : undefined;
}

// The operator API as an operator calls it: SigV4 with the development key, service "lambkin".
async function operator(endpoint, method, target, body, over = {}) {
  const [apiPath, rawQuery = ''] = target.split('?');
  const res = await signedFetch(endpoint, {
    method, path: apiPath, rawQuery, body: body === undefined ? '' : JSON.stringify(body), service: 'lambkin',
    headers: { host: new URL(endpoint).host, 'content-type': 'application/json' }, ...over });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, type: errorTypeOf(res, json), json, text };
}

// The IAM directory, read signed. Role sessions are left out: environments may add and remove
// their own role sessions at any time; what an attacker wants is keys, users and policies.
async function directory(endpoint) {
  const r = await operator(endpoint, 'GET', '/lambkin/v1/iam');
  assert.equal(r.status, 200, `the IAM directory, read signed with the development key: ${r.text}`);
  const copy = structuredClone(r.json);
  for (const a of Object.values(copy.accounts ?? {})) for (const role of Object.values(a.roles ?? {})) delete role.sessions;
  return copy;
}

async function applyIam(endpoint, declaration) {
  const r = await operator(endpoint, 'POST', '/lambkin/v1/iam/apply', declaration);
  assert.equal(r.status, 200, `apply IAM declaration: ${r.text}`);
}

async function create(name, handler, files, extra = {}, client = lambda) {
  await client.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: pythonRuntime, Handler: handler, Role: hostileRole, Timeout: 30,
    Code: { ZipFile: makeZip(files) }, ...extra }));
}

async function createProbe(name, extra = {}) {
  await create(name, 'probe', { bootstrap: shellBootstrap({ handle: '/var/task/probe "$EVENT"' }), probe: probeBinary },
    { Runtime: 'provided.al2023', ...extra });
}

async function invoke(name, payload = {}, client = lambda) {
  const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }));
  const body = out.Payload ? decoder.decode(out.Payload) : '';
  let json;
  try { json = JSON.parse(body); } catch { json = undefined; }
  return { FunctionError: out.FunctionError, StatusCode: out.StatusCode, body, json };
}

// The first log event of `group` containing `term` (the function is still running: it is
// polled for, up to a generous bound).
async function waitForLog(group, term, what) {
  for (let i = 0; i < 300; i++) {
    try {
      const out = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: `"${term}"` }));
      if (out.events.length) return out.events[0].message;
    } catch (e) {
      if (e.name !== 'ResourceNotFoundException') throw e;
    }
    await sleep(100);
  }
  throw new Error(`${what}: no "${term}" in ${group} after 30 s`);
}

// Host processes whose argv holds `marker` (in an argument of its own or within one).
function hostProcesses(marker) {
  const pids = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmdline;
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.includes(marker)) pids.push(Number(pid));
  }
  return pids;
}

// A host process's identity as the host sees it (real, effective, saved, filesystem ids).
function hostIdentity(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k) => status.match(new RegExp(`^${k}:(.*)$`, 'm'))[1].trim().split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

async function until(predicate, bound = 200) {
  for (let i = 0; i < bound && !predicate(); i++) await sleep(100);
  return predicate();
}

function writeDeclaration(value) {
  const file = path.join(scratch, `iam-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

before(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'lambkin-hostile-'));
  execFileSync('/usr/bin/gcc', ['-static', '-O2', '-o', path.join(scratch, 'probe'), path.join(fixtures, 'probe.c')]);
  probeBinary = readFileSync(path.join(scratch, 'probe'));
  server = await startServer({ args: ['--iam', writeDeclaration({ accounts: { [account]: { roles: { 'hostile-fn': { policies: {} } } } } })] });
  lambda = server.client();
  logs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  const versions = await operator(server.endpoint, 'GET', '/lambkin/v1/runtime-versions?region=us-east-1');
  assert.equal(versions.status, 200, versions.text);
  pythonRuntime = versions.json.RuntimeVersions.find((v) => v.Runtime.startsWith('python3.')).Runtime;
});

after(async () => {
  try {
    if (server) await server.stop();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// The operator API

test('operator API from outside: unsigned or wrongly signed requests get 403 and change nothing; only health is open', async () => {
  const before = await directory(server.endpoint);
  const mallory = { id: 'AKIAMALLORY000000001', secret: 'mallory-secret' };
  const attacks = [
    ['POST', '/lambkin/v1/iam/access-keys', { User: 'lambkin-developer' }],
    ['POST', '/lambkin/v1/iam/apply', { accounts: { [account]: { users: { mallory: { policies: { Admin: admin }, access_keys: [mallory] } } } } }],
    ['GET', '/lambkin/v1/iam'],
    ['DELETE', '/lambkin/v1/iam/access-keys/AKIANOSUCHKEY0000001'],
    ['POST', '/lambkin/v1/clock/advance', { Duration: '72h' }],
    ['GET', '/lambkin/v1/clock'],
    ['POST', '/lambkin/v1/runtime-versions', {}],
    ['GET', '/lambkin/v1/runtime-versions?region=us-east-1'],
    ['GET', '/lambkin/v1/rollouts'],
    ['GET', `/lambkin/v1/code/${'0'.repeat(64)}`],
  ];
  const unsigned = {};
  for (const [method, p, body] of attacks) {
    const res = await fetch(`${server.endpoint}${p}`, { method, body: body ? JSON.stringify(body) : undefined,
      headers: body ? { 'content-type': 'application/json' } : {} });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    unsigned[`${method} ${p}`] = `${res.status} ${errorTypeOf(res, json)}`;
  }
  assert.deepEqual(unsigned, Object.fromEntries(attacks.map(([m, p]) => [`${m} ${p}`, '403 MissingAuthenticationTokenException'])));

  const mint = ['POST', '/lambkin/v1/iam/access-keys', { User: 'lambkin-developer' }];
  const badSecret = await operator(server.endpoint, ...mint, { secret: 'not-the-secret' });
  assert.deepEqual([badSecret.status, badSecret.type], [403, 'InvalidSignatureException']);
  const unknownKey = await operator(server.endpoint, ...mint, { accessKey: 'AKIAUNKNOWN000000000' });
  assert.equal(unknownKey.status, 403);
  const lambdaScope = await operator(server.endpoint, ...mint, { service: 'lambda' });
  assert.equal(lambdaScope.status, 403, 'a signature scoped to another service does not open the operator API');

  const health = await fetch(`${server.endpoint}/lambkin/v1/health`);
  assert.equal(health.status, 200, 'GET /lambkin/v1/health stays open');
  assert.deepEqual(await directory(server.endpoint), before, 'the IAM directory is unchanged');
  const asMallory = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: mallory.id, secretAccessKey: mallory.secret } });
  assert.equal((await awsError(asMallory.send(new ListFunctionsCommand({})))).name, 'UnrecognizedClientException');
});

test('operator API from inside a function: unsigned → 403, signed as its role → AccessDenied, the listener out of reach', async () => {
  await create('op-probe', 'operator_api.handler', { 'operator_api.py': fixture('operator_api.py') }, { Timeout: 60 });
  const before = await directory(server.endpoint);
  const attempts = [
    { method: 'POST', path: '/lambkin/v1/iam/access-keys', body: { User: 'lambkin-developer' } },
    { method: 'POST', path: '/lambkin/v1/iam/apply', body: { accounts: { [account]: { roles: { 'hostile-fn': { policies: { Pwn: admin } } } } } } },
    { method: 'GET', path: '/lambkin/v1/iam' },
  ];
  const out = await invoke('op-probe', { bases: [inside, server.endpoint], attempts });
  assert.equal(out.FunctionError, undefined, out.body);
  const { results, haveCredentials } = out.json;

  // The server's own listener (host loopback) is not reachable; were it, it would refuse.
  const viaListener = results.filter((r) => r.base === server.endpoint).map((r) => ({
    attempt: `${r.method} ${r.path}`,
    unsigned: r.unsigned.connectError || r.unsigned.status === 403 ? 'refused' : `${r.unsigned.status} ${r.unsigned.body}`,
    signed: !r.signed || r.signed.connectError || r.signed.status === 403 ? 'refused' : `${r.signed.status} ${r.signed.body}`,
  }));
  assert.deepEqual(viaListener, attempts.map((a) => ({ attempt: `${a.method} ${a.path}`, unsigned: 'refused', signed: 'refused' })));

  // AWS_ENDPOINT_URL inside: unsigned → MissingAuthenticationToken.
  const viaInside = results.filter((r) => r.base === inside);
  assert.deepEqual(viaInside.map((r) => [`${r.method} ${r.path}`, r.unsigned.connectError ?? `${r.unsigned.status} ${r.unsigned.errorType}`]),
    attempts.map((a) => [`${a.method} ${a.path}`, '403 MissingAuthenticationTokenException']));

  // Signed with the environment's own role credentials → AccessDenied for the role's session.
  assert.equal(haveCredentials, true, 'the environment holds its execution role\'s credentials');
  const denied = new RegExp(`^User: arn:aws:sts::${account}:assumed-role/hostile-fn/op-probe is not authorized to perform: `
    + 'lambkin:[A-Za-z]+ on resource: \\S+ because no identity-based policy allows the lambkin:[A-Za-z]+ action$');
  for (const r of viaInside) {
    assert.equal(r.signed.status, 403, `${r.method} ${r.path} signed as the role: ${JSON.stringify(r.signed)}`);
    assert.equal(r.signed.errorType, 'AccessDeniedException', `${r.method} ${r.path}: ${JSON.stringify(r.signed)}`);
    assert.match(r.signed.message, denied);
  }
  assert.deepEqual(await directory(server.endpoint), before, 'the IAM directory is unchanged');
});

// ---------------------------------------------------------------------------------------------
// The network

test('network: no route to the server, host services or the host\'s address; only lo and the environment\'s own sockets', async () => {
  const accepted = { loopback: 0, any: 0 };
  const listen = (host, key) => new Promise((resolve) => {
    const s = net.createServer((c) => { accepted[key]++; c.destroy(); });
    s.listen(0, host, () => resolve(s));
  });
  const loopback = await listen('127.0.0.1', 'loopback');
  const any = await listen('0.0.0.0', 'any');
  try {
    const serverPort = Number(new URL(server.endpoint).port);
    const hostAddress = Object.values(networkInterfaces()).flat().find((i) => i.family === 'IPv4' && !i.internal)?.address;
    const targets = [
      { name: 'server listener', host: '127.0.0.1', port: serverPort },
      { name: 'host service on 127.0.0.1', host: '127.0.0.1', port: loopback.address().port },
      { name: 'host service on 0.0.0.0, via 127.0.0.1', host: '127.0.0.1', port: any.address().port },
      ...(hostAddress ? [{ name: `host service on 0.0.0.0, via ${hostAddress}`, host: hostAddress, port: any.address().port }] : []),
    ];
    await create('netprobe', 'network.handler', { 'network.py': fixture('network.py') }, { Timeout: 60 });
    const out = await invoke('netprobe', { targets });
    assert.equal(out.FunctionError, undefined, out.body);
    const { connect, listening, interfaces, sysClassNet } = out.json;
    assert.deepEqual(Object.entries(connect).filter(([, v]) => v === 'connected').map(([k]) => k), [], `connected to: ${JSON.stringify(connect)}`);
    assert.deepEqual(accepted, { loopback: 0, any: 0 }, 'the host services accepted no connection');

    const ports = [...new Set(listening.map((l) => l.port))].sort((a, b) => a - b);
    assert.deepEqual(ports.filter((p) => p !== 9001 && p !== 9002), [], `listening sockets visible inside: ${JSON.stringify(listening)}`);
    assert.ok(ports.includes(9001), 'the Runtime API listens at 127.0.0.1:9001 in the environment');
    assert.deepEqual(interfaces, ['lo'], '/proc/net/dev');
    if (sysClassNet !== null) assert.deepEqual(sysClassNet, ['lo'], '/sys/class/net');
  } finally {
    loopback.close();
    any.close();
  }
});

test('outbound networking (--network outbound): the world outside, never the host, its loopback or the server', async () => {
  const accepted = { any: 0 };
  const any = await new Promise((resolve) => {
    const s = net.createServer((c) => { accepted.any++; c.destroy(); });
    s.listen(0, '0.0.0.0', () => resolve(s));
  });
  // Whether this machine reaches the outside at all (CI reaches Debian's mirrors).
  const outside = await new Promise((resolve) => {
    const c = net.connect({ host: 'deb.debian.org', port: 80, timeout: 3000 }, () => { c.destroy(); resolve(true); });
    c.on('error', () => resolve(false));
    c.on('timeout', () => { c.destroy(); resolve(false); });
  });
  const outbound = await startServer({ args: ['--network', 'outbound'] });
  try {
    const client = outbound.client();
    const port = any.address().port;
    const hostAddress = Object.values(networkInterfaces()).flat().find((i) => i.family === 'IPv4' && !i.internal)?.address;
    const targets = [
      { name: 'server listener', host: '127.0.0.1', port: Number(new URL(outbound.endpoint).port) },
      { name: 'host loopback', host: '127.0.0.1', port },
      { name: 'host through the gateway', host: '10.0.2.2', port },
      ...(hostAddress ? [{ name: 'host address', host: hostAddress, port }] : []),
      ...(outside ? [{ name: 'outside', host: 'deb.debian.org', port: 80 }] : []),
    ];
    await create('outbound', 'network.handler', { 'network.py': fixture('network.py') }, { Timeout: 60 }, client);
    const out = await invoke('outbound', { targets }, client);
    assert.equal(out.FunctionError, undefined, out.body);
    const { connect, interfaces } = out.json;
    assert.deepEqual(interfaces, ['lo', 'tap0'], '/proc/net/dev');
    for (const t of targets.filter((x) => x.name !== 'outside')) {
      assert.notEqual(connect[t.name], 'connected', `${t.name}: ${JSON.stringify(connect)}`);
    }
    assert.deepEqual(accepted, { any: 0 }, 'the host service accepted no connection');
    if (outside) assert.equal(connect.outside, 'connected', JSON.stringify(connect));
  } finally {
    any.close();
    await outbound.stop();
  }
});

test('Runtime API: a function cannot answer another function\'s invocation; each sees only its own 127.0.0.1:9001', async () => {
  const files = { 'runtime_api.py': fixture('runtime_api.py') };
  await create('victim', 'runtime_api.victim', files);
  await create('forger', 'runtime_api.forger', files);
  let victimDone = false;
  const victimCall = invoke('victim', { sleep: 8 });
  victimCall.then(() => { victimDone = true; }, () => { victimDone = true; });
  try {
    const line = await waitForLog('/aws/lambda/victim', 'HOSTILE-VICTIM', 'the victim started');
    const { rid, api } = JSON.parse(line.slice(line.indexOf('{')));
    const forger = await invoke('forger', { victimRid: rid, victimApi: api });
    const forgerFirst = !victimDone;
    const victim = await victimCall;
    assert.equal(victim.FunctionError, undefined, victim.body);
    assert.deepEqual(victim.json, { from: 'victim', rid, api: '127.0.0.1:9001' }, 'the victim\'s own answer reached its caller');
    assert.equal(forger.FunctionError, undefined, forger.body);
    assert.equal(forger.json.ownApi, '127.0.0.1:9001');
    assert.deepEqual(forger.json.posts, [{ api: '127.0.0.1:9001', status: 400, errorType: 'InvalidRequestID' }],
      'the forged answer reached only the forger\'s own Runtime API, which refused the id');
    assert.ok(forgerFirst, 'the forger ran while the victim was still in its invocation');
  } finally {
    await victimCall.catch(() => {});
  }
});

// ---------------------------------------------------------------------------------------------
// Identity

test('identity inside: not root, no capabilities, no_new_privs, seccomp filter, 1024 files, no /etc/shadow', async () => {
  await create('whoami', 'identity.handler', { 'identity.py': fixture('identity.py') });
  const out = await invoke('whoami');
  assert.equal(out.FunctionError, undefined, out.body);
  const { uid, euid, status, nofile, shadow } = out.json;
  assert.notEqual(uid, 0);
  assert.notEqual(euid, 0);
  assert.deepEqual(
    { CapInh: status.CapInh, CapPrm: status.CapPrm, CapEff: status.CapEff, CapAmb: status.CapAmb },
    { CapInh: '0000000000000000', CapPrm: '0000000000000000', CapEff: '0000000000000000', CapAmb: '0000000000000000' });
  assert.equal(status.NoNewPrivs, '1');
  assert.equal(status.Seccomp, '2', 'a seccomp filter is installed');
  assert.ok(['EACCES', 'ENOENT'].includes(shadow), `/etc/shadow: ${shadow}`);
  assert.deepEqual(nofile, [1024, 1024], 'RLIMIT_NOFILE (soft, hard)');
});

test('identity on the host: an environment\'s processes run as an unprivileged host user, distinct per function', async () => {
  const files = { 'identity.py': fixture('identity.py') };
  await create('marked-a', 'identity.marked', files);
  await create('marked-b', 'identity.marked', files);
  const markerA = `${600 + randomInt(100)}.${randomInt(1e9)}`;
  const markerB = `${700 + randomInt(100)}.${randomInt(1e9)}`;
  try {
    const [a, b] = await Promise.all([invoke('marked-a', { marker: markerA }), invoke('marked-b', { marker: markerB })]);
    assert.equal(a.FunctionError, undefined, a.body);
    assert.equal(b.FunctionError, undefined, b.body);
    await until(() => hostProcesses(markerA).length && hostProcesses(markerB).length, 50);
    const [pidA] = hostProcesses(markerA);
    const [pidB] = hostProcesses(markerB);
    assert.ok(pidA && pidB, 'both marked processes are found on the host');
    const idA = hostIdentity(pidA);
    const idB = hostIdentity(pidB);
    for (const [fn, id] of [['marked-a', idA], ['marked-b', idB]]) {
      assert.ok(id.uid.every((u) => u !== 0), `${fn}: host uids ${id.uid}`);
      assert.ok(id.gid.every((g) => g !== 0), `${fn}: host gids ${id.gid}`);
      assert.ok(!id.groups.includes(0), `${fn}: host groups ${id.groups}`);
    }
    assert.notEqual(idA.uid[0], idB.uid[0], 'two functions\' environments run as different host users');
  } finally {
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'marked-a' }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'marked-b' }));
  }
  await until(() => !hostProcesses(markerA).length && !hostProcesses(markerB).length);
  assert.deepEqual([...hostProcesses(markerA), ...hostProcesses(markerB)], [], 'deleting the functions ended their environments\' processes');
});

// ---------------------------------------------------------------------------------------------
// The filesystem

test('a server killed with SIGKILL leaves no mount and no loop device on the host', async () => {
  const hostMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('/run/lambkin') || l.includes('lambkin-e2e-'));
  const loops = () => readdirSync('/sys/block').filter((d) => d.startsWith('loop') &&
    readFileSync(`/sys/block/${d}/size`, 'utf8').trim() !== '0');
  const mountsBefore = hostMounts();
  const loopsBefore = loops().length;
  const doomed = await startServer();
  try {
    const client = doomed.client();
    await create('doomed', 'identity.handler', { 'identity.py': fixture('identity.py') }, {}, client);
    assert.equal((await invoke('doomed', {}, client)).FunctionError, undefined);
  } finally {
    await doomed.kill('SIGKILL');
  }
  // The kernel takes the server's mount namespace down with its last process.
  let left = [];
  for (let i = 0; i < 50; i++) {
    left = hostMounts().filter((l) => !mountsBefore.includes(l));
    if (left.length === 0 && loops().length <= loopsBefore) break;
    await sleep(100);
  }
  assert.deepEqual(left, [], 'mounts left on the host');
  assert.ok(loops().length <= loopsBefore, `loop devices left: ${loops()}`);
  rmSync(doomed.dataDir, { recursive: true, force: true });
});

test('filesystem: the code is read-only and the data directory is not there', async () => {
  await create('fsprobe', 'filesystem.handler', { 'filesystem.py': fixture('filesystem.py') });
  const out = await invoke('fsprobe', { dataDir: server.dataDir });
  assert.equal(out.FunctionError, undefined, out.body);
  assert.ok(['EROFS', 'EACCES'].includes(out.json.task), `writing /var/task/x: ${out.json.task}`);
  assert.equal(out.json.dataDir, 'ENOENT', `the data directory ${server.dataDir} inside`);
});

test('/tmp is disk of EphemeralStorage MB, not memory: 300 MB fit in a 128 MB function, past 512 MB is ENOSPC', async () => {
  await create('scratch', 'filesystem.tmp', { 'filesystem.py': fixture('filesystem.py') },
    { MemorySize: 128, EphemeralStorage: { Size: 512 }, Timeout: 120 });
  const fits = await invoke('scratch', { mb: 300 });
  assert.equal(fits.FunctionError, undefined, fits.body);
  assert.deepEqual({ written: fits.json.written, size: fits.json.size, errno: fits.json.errno },
    { written: 300 * MiB, size: 300 * MiB, errno: null });
  assert.ok(fits.json.mount, '/tmp is a mount point of its own');
  assert.notEqual(fits.json.mount.fstype, 'tmpfs', `/tmp is ${JSON.stringify(fits.json.mount)}`);
  const full = await invoke('scratch', { mb: 600 });
  assert.equal(full.FunctionError, undefined, full.body);
  assert.equal(full.json.errno, 'ENOSPC');
  assert.ok(full.json.written <= 512 * MiB, `wrote ${full.json.written} bytes into 512 MB of EphemeralStorage`);
  assert.ok(full.json.written >= 300 * MiB, `only ${full.json.written} bytes fit`);
});

// ---------------------------------------------------------------------------------------------
// System calls, processes, memory

test('seccomp: namespaces, mounts, keys, bpf, setns, perf, modules, kexec, reboot, ptrace and setuid all fail', async () => {
  await createProbe('syscalls');
  const out = await invoke('syscalls', { mode: 'syscalls' });
  assert.equal(out.FunctionError, undefined, out.body);
  const r = out.json;
  assert.equal(r.error, undefined, out.body);
  assert.notEqual(r.uid, 0);
  assert.deepEqual([r.noNewPrivs, r.seccomp], [1, 2], 'prctl: no_new_privs and a seccomp filter (mode 2)');
  const allowed = (name) => (name === 'setuid' || name === 'setresuid' ? ['EPERM', 'EINVAL'] : ['EPERM', 'ENOSYS']);
  const outcome = Object.fromEntries(Object.entries(r.probes).map(([k, v]) => [k, allowed(k).includes(v) ? 'denied' : v]));
  assert.deepEqual(outcome, Object.fromEntries(Object.keys(r.probes).map((k) => [k, 'denied'])));
  assert.equal(Object.keys(r.probes).length, 16);
  assert.equal(r.uidAfter, r.uid);
});

test('fork bomb: EAGAIN at ≤ 1,024 tasks, the server and other functions unaffected, nothing left behind', async () => {
  await createProbe('bomb', { MemorySize: 512, Timeout: 15 });
  const marker = `hostile-bomb-${randomBytes(6).toString('hex')}`;
  let bombDone = false;
  const bombCall = invoke('bomb', { mode: 'forkbomb', marker });
  bombCall.then(() => { bombDone = true; }, () => { bombDone = true; });
  try {
    const line = await waitForLog('/aws/lambda/bomb', 'HOSTILE-FORKBOMB', 'the fork bomb saturated');
    const report = JSON.parse(line.slice(line.indexOf('{')));
    const tasksDuring = hostProcesses(marker).length;

    // While it runs: the operator API, the Lambda API and a new function all answer.
    assert.equal((await fetch(`${server.endpoint}/lambkin/v1/health`)).status, 200);
    assert.ok((await lambda.send(new ListFunctionsCommand({}))).Functions.some((f) => f.FunctionName === 'bomb'));
    await create('bystander', 'index.handler', { 'index.py': 'def handler(e, c):\n    return "still here"\n' });
    const bystander = await invoke('bystander');
    const bombStillRunning = !bombDone && hostProcesses(marker).length > 0;

    assert.deepEqual({ forkErrno: report.forkErrno, threadErrno: report.threadErrno }, { forkErrno: 'EAGAIN', threadErrno: 'EAGAIN' },
      `the bomb reported ${line}`);
    assert.ok(report.forked < 1024, `forked ${report.forked} processes`);
    assert.ok(tasksDuring <= 1024, `${tasksDuring} bomb processes on the host`);
    assert.equal(bystander.body, '"still here"');
    assert.ok(bombStillRunning, 'the other function ran while the bomb was running');
    const bomb = await bombCall;
    assert.equal(bomb.FunctionError, 'Unhandled');
    assert.equal(bomb.json.errorType, 'Sandbox.Timedout');
  } finally {
    await bombCall.catch(() => {});
    await until(() => hostProcesses(marker).length === 0);
  }
  assert.deepEqual(hostProcesses(marker), [], 'no bomb process is left on the host');
});

test('memory bomb: far beyond MemorySize ends the invocation; the server and other functions keep working', async () => {
  await create('membomb', 'memory.handler', { 'memory.py': fixture('memory.py') }, { MemorySize: 128 });
  const out = await invoke('membomb', { mb: 2048 });
  assert.equal(out.FunctionError, 'Unhandled', out.body);
  assert.ok(['Runtime.OutOfMemory', 'Runtime.ExitError'].includes(out.json.errorType), out.body);
  if (out.json.errorType === 'Runtime.ExitError') assert.match(out.json.errorMessage, /Runtime exited with error: signal: killed$/);
  assert.equal((await fetch(`${server.endpoint}/lambkin/v1/health`)).status, 200);
  assert.ok((await lambda.send(new ListFunctionsCommand({}))).Functions.some((f) => f.FunctionName === 'membomb'));
  await create('after-oom', 'index.handler', { 'index.py': 'def handler(e, c):\n    return "fine"\n' });
  assert.equal((await invoke('after-oom')).body, '"fine"');
  assert.equal((await invoke('membomb', { mb: 16 })).body, '1', 'the function itself runs again in a new environment');
});

// ---------------------------------------------------------------------------------------------
// The execution role

test('execution role: the function calls Lambkin as assumed-role/<role>/<function>, its policies and SCPs decide', async () => {
  const own = await startServer();
  try {
    const client = own.client();
    await applyIam(own.endpoint, { accounts: { [account]: { roles: { 'fn-reader': { policies: { ReadFunctions: {
      Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:GetFunction', Resource: '*' }] } } } } } } });
    await create('role-probe', 'execution_role.handler', { 'execution_role.py': fixture('execution_role.py') },
      { Role: `arn:aws:iam::${account}:role/fn-reader` }, client);
    const out = await invoke('role-probe', { calls: ['GetFunction', 'DeleteFunction'] }, client);
    assert.equal(out.FunctionError, undefined, out.body);
    const r = out.json;
    assert.equal(r.env.AWS_ENDPOINT_URL, inside);
    assert.match(r.env.AWS_ACCESS_KEY_ID ?? '', /^ASIA[A-Z0-9]{16}$/, 'short-lived credentials (an ASIA key)');
    assert.equal(r.hasSecret, true);
    assert.ok(r.sessionTokenLength > 0, 'a session token');
    assert.deepEqual(r.GetFunction, { ok: 'role-probe' }, 'the role\'s policy allows lambda:GetFunction');
    const fnArn = `arn:aws:lambda:us-east-1:${account}:function:role-probe`;
    const session = `arn:aws:sts::${account}:assumed-role/fn-reader/role-probe`;
    assert.deepEqual(r.DeleteFunction, { code: 'AccessDeniedException', status: 403, message: `User: ${session} is not authorized to `
      + `perform: lambda:DeleteFunction on resource: ${fnArn} because no identity-based policy allows the lambda:DeleteFunction action` });
    assert.equal((await client.send(new GetFunctionCommand({ FunctionName: 'role-probe' }))).Configuration.FunctionName, 'role-probe',
      'the function still exists');

    // A session name takes two characters at least: a one-character function's gets AWS's suffix.
    await create('q', 'execution_role.handler', { 'execution_role.py': fixture('execution_role.py') },
      { Role: `arn:aws:iam::${account}:role/fn-reader` }, client);
    const short = await invoke('q', { calls: ['DeleteFunction'] }, client);
    assert.match(short.json.DeleteFunction.message,
      new RegExp(`^User: arn:aws:sts::${account}:assumed-role/fn-reader/q@lambda_function is not authorized`));

    // An SCP on the account denying lambda:GetFunction overrides the role's Allow.
    await applyIam(own.endpoint, { organization: { management_account: '999999999999', root: { accounts: [account] },
      policies: { DenyGetFunction: { targets: [account], document: { Version: '2012-10-17',
        Statement: [{ Effect: 'Deny', Action: 'lambda:GetFunction', Resource: '*' }] } } } } });
    const scp = await invoke('role-probe', { calls: ['GetFunction'] }, client);
    assert.equal(scp.FunctionError, undefined, scp.body);
    assert.deepEqual(scp.json.GetFunction, { code: 'AccessDeniedException', status: 403, message: `User: ${session} is not authorized to `
      + `perform: lambda:GetFunction on resource: ${fnArn} with an explicit deny in a service control policy` });
    assert.equal((await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'role-probe' }))).FunctionName, 'role-probe');
  } finally {
    await own.stop();
  }
});
