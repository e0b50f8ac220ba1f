// Shared helpers for the end-to-end suite: start a real `lambkin serve` on a fresh data
// directory and a free port, build real zip files, and make SDK clients that point at it.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const lambkinBin =
  process.env.LAMBKIN_BIN ?? path.resolve(here, '..', '..', 'build', 'src', 'lambkin');

// The development credentials documented in README.md.
export const devCredentials = {
  accessKeyId: 'AKIALAMBKINDEV000001',
  secretAccessKey: 'lambkin-development-secret-key',
};
export const account = '123456789012';
export const role = `arn:aws:iam::${account}:role/lambkin-test`;

// The Lambda docs' high-compliance SCP statement (spec §8 B): no runtime pinning, except for
// functions tagged as approved exceptions and for the break-glass role.
export const denyRuntimePinning = {
  Sid: 'DenyRuntimePinningUnlessApproved', Effect: 'Deny', Action: 'lambda:PutRuntimeManagementConfig',
  Resource: 'arn:aws:lambda:*:*:function:*',
  Condition: {
    StringNotEquals: { 'aws:ResourceTag/runtime-pin-exception': 'approved' },
    ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/LambdaRuntimeRollbackBreakGlass' } } };

// Servers still running when the test process exits are killed, so a failed test never
// leaves one behind (or keeps the runner waiting on it).
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

// The store the servers use: SQLite in the data directory, or, when LAMBKIN_TEST_POSTGRES is a
// PostgreSQL base URL (postgres://USER@HOST:PORT, as scripts/pg-test-server.sh prints), a
// database of that server per data directory, named after the directory's path so that a
// restart on the same directory finds it again.
const postgres = process.env.LAMBKIN_TEST_POSTGRES || undefined;
export const storeKind = postgres ? 'postgres' : 'sqlite';

function postgresUrl(database) {
  const url = new URL(postgres);
  url.pathname = `/${database}`;
  return url.href;
}

// postgresql-client-15's psql itself, not Debian's wrapper script in front of it (a Perl start
// per call).
const psqlBin = existsSync('/usr/lib/postgresql/15/bin/psql') ? '/usr/lib/postgresql/15/bin/psql' : 'psql';
const psql = (url, args, options = {}) =>
  execFileSync(psqlBin, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args],
    { stdio: ['pipe', 'pipe', 'pipe'], ...options }).toString();

// The PostgreSQL database of the server on `dataDir`.
export const storeDatabase = (dataDir) =>
  `lambkin_${createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16)}`;

// The `--store` of a server on `dataDir`: on PostgreSQL its database's URL, the database created
// if missing (CREATE DATABASE has no IF NOT EXISTS and cannot run in a transaction: \gexec runs
// it on its own); nothing on SQLite.
export function createStore(dataDir) {
  if (!postgres) return undefined;
  const name = storeDatabase(dataDir);
  psql(postgresUrl('postgres'), [], {
    input: `SELECT 'CREATE DATABASE ${name}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${name}')\\gexec\n`,
  });
  return postgresUrl(name);
}

// Drops that database (the servers on it stopped).
export function dropStore(dataDir) {
  if (postgres) psql(postgresUrl('postgres'), ['-c', `DROP DATABASE IF EXISTS ${storeDatabase(dataDir)} WITH (FORCE)`]);
}

// A read-only query on the store of the server on `dataDir`: its rows as sqlite3 prints them
// (one a line, columns separated by |), trimmed.
export function storeQuery(dataDir, sql) {
  if (postgres) {
    return psql(postgresUrl(storeDatabase(dataDir)), ['-A', '-t', '-F', '|', '-c', sql],
      { env: { ...process.env, PGOPTIONS: '-c default_transaction_read_only=on' } }).trim();
  }
  return execFileSync('sqlite3', ['-readonly', path.join(dataDir, 'lambkin.db'), sql]).toString().trim();
}

// Calls `fn` until it returns something truthy (returned), every `every` ms, failing after `ms`.
export async function waitFor(what, fn, ms = 15000, every = 100) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// The phase-2 sweep's invariants for runtime version `rv` in us-east-1, read from the store of
// the server on `dataDir` in one statement (one snapshot on PostgreSQL too, where a commit a
// killed server sent may still land while we look): no function version migrated twice, every
// version on `rv` has exactly one sweep edit, and the rollout's progress agrees. Returns the
// number migrated so far.
export function checkSweep(dataDir, rv) {
  const [twice, edits, onNew, migrated] = storeQuery(dataDir, `SELECT
    (SELECT COUNT(*) FROM (SELECT 1 FROM runtime_version_edits WHERE cause = 'phase2' AND new_runtime_version = ${rv} GROUP BY account, region, name, version HAVING COUNT(*) > 1) AS twice),
    (SELECT COUNT(*) FROM runtime_version_edits WHERE cause = 'phase2' AND new_runtime_version = ${rv}),
    (SELECT COUNT(*) FROM function_versions WHERE runtime_version = ${rv}),
    (SELECT migrated FROM rollout_regions WHERE runtime_version = ${rv} AND region = 'us-east-1')`).split('|').map(Number);
  assert.equal(twice, 0, 'a function version was migrated twice');
  assert.equal(onNew, edits, 'every version on the new runtime version has exactly one sweep edit');
  assert.equal(migrated, edits, 'the rollout progress agrees with the edits');
  return edits;
}

// Starts a server; resolves once it prints its address. `dataDir` lets a test restart a
// server on the same data.
export async function startServer({ dataDir, args = [] } = {}) {
  const data = dataDir ?? mkdtempSync(path.join(tmpdir(), 'lambkin-e2e-'));
  // A test's own --store wins (the CLI refuses an option given twice).
  const store = postgres && !args.some((a) => a === '--store' || a.startsWith('--store='))
    ? ['--store', createStore(data)] : [];
  const child = spawn(lambkinBin, ['serve', '--data', data, '--listen', '127.0.0.1:0', ...store, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let out = '';
  const endpoint = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`lambkin exited ${code}: ${stderr}`)));
  });
  child.stdout.resume();
  // A running server does not keep the test process alive (only a helper waiting on it does): when
  // a failed test leaves one behind, the process still exits once its tests are done, and the
  // exit handler above kills it.
  for (const handle of [child, child.stdout, child.stderr]) handle.unref();
  return {
    endpoint,
    dataDir: data,
    child,
    // What the server printed so far.
    get stdout() { return out; },
    get stderr() { return stderr; },
    client(region = 'us-east-1') {
      return new LambdaClient({ endpoint, region, credentials: devCredentials, maxAttempts: 1 });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.ref();
      child.kill(signal);
      await exited;
    },
    // Stops the server and fails if it reported a sanitizer error or did not exit cleanly.
    async stop() {
      await this.kill('SIGTERM');
      if (!dataDir) {
        rmSync(data, { recursive: true, force: true });
        if (store.length) dropStore(data);
      }
      if (/Sanitizer|runtime error:/.test(stderr)) throw new Error(`lambkin reported:\n${stderr}`);
      if (child.exitCode !== 0) throw new Error(`lambkin exited ${child.exitCode ?? child.signalCode}: ${stderr}`);
    },
  };
}

// A real zip file (deflated entries) holding `files` ({name: content}).
export function makeZip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const nameBuf = Buffer.from(name);
    const data = Buffer.from(content);
    const deflated = zlib.deflateRawSync(data);
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x031e, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(deflated.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE((0o100755 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, deflated);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + deflated.length;
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

// A provided.al2023 bootstrap in shell: runs `setup` once, then for each event runs `handle`
// (with $EVENT set; what it prints to stdout is the response, stderr goes to the log).
export function shellBootstrap({ setup = '', handle = 'echo "$EVENT"' } = {}) {
  return ['#!/bin/sh', setup,
    'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"',
    'while true; do',
    '  EVENT=$(curl -sS -D /tmp/headers "$API/invocation/next")',
    '  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id /tmp/headers | tr -d "[:space:]" | cut -d: -f2)',
    `  RESULT=$(${handle})`,
    '  curl -s "$API/invocation/$ID/response" -d "$RESULT" >/dev/null',
    'done'].join('\n');
}

export const pythonZip = () =>
  makeZip({ 'index.py': 'def handler(event, context):\n    return {"ok": True}\n' });
export const nodeZip = () =>
  makeZip({ 'index.mjs': 'export const handler = async () => ({ ok: true });\n' });
export const providedZip = () =>
  makeZip({ bootstrap: '#!/bin/sh\nwhile true; do sleep 1; done\n' });

// The runtime identifiers this server offers (python3.x depends on the host).
export async function runtimeVersions(endpoint, region = 'us-east-1') {
  return (await adminJson(endpoint, `/lambkin/v1/runtime-versions?region=${region}`)).RuntimeVersions;
}

// A CloudWatch Logs client for the server at `endpoint`.
export const logsClient = (endpoint) =>
  new CloudWatchLogsClient({ endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });

// The messages function `fn` logged so far ([] before its log group exists).
export async function functionLogMessages(logs, fn) {
  const out = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${fn}` }))
    .catch((e) => (e.name === 'ResourceNotFoundException' ? { events: [] } : Promise.reject(e)));
  return out.events.map((e) => e.message);
}

// A server configuration file holding `config`; cleanup() removes it.
export function withConfig(config) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-cfg-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

// Runs `fn` expecting an AWS error; returns it.
export async function awsError(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

// Rollout tests: the built-in python image to publish again (an OCI layout `make build` wrote),
// a handler that reports its runtime version, and a server on the simulated clock with its
// operator verbs.
const execFileP = promisify(execFile);
export const builtRuntimes = process.env.LAMBKIN_RUNTIMES_DIR
  || path.resolve(path.dirname(lambkinBin), '..', 'runtimes');
export const pythonImage = `oci:${path.join(builtRuntimes, 'python3.11')}`;

// A handler that answers with the runtime version it runs on, and fails on `breakOn`.
export const versionEcho = (breakOn = '') => makeZip({
  'app.py': [
    'import json',
    'import os',
    'NAME = os.environ["LAMBKIN_RUNTIME_VERSION"]',
    'def handler(event, context):',
    `    if "${breakOn}" and NAME.endswith("${breakOn}"):`,
    '        raise RuntimeError("incompatible with " + NAME)',
    '    return NAME',
  ].join('\n') + '\n',
});

export async function startRolloutServer(config) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-rollout-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const server = await startServer({ args: ['--clock', 'simulated', '--config', file] });
  const cli = async (...args) =>
    (await execFileP(lambkinBin, args, { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } })).stdout;
  const status = async () => (await adminJson(server.endpoint, '/lambkin/v1/rollouts')).Rollouts;
  const history = async (fn, region = 'us-east-1') =>
    (await adminJson(server.endpoint, `/lambkin/v1/history?function=${fn}&region=${region}`)).History;
  const python = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
  const family = python.replace('python', 'python:');
  const arnOf = async (n, region = 'us-east-1') =>
    (await runtimeVersions(server.endpoint, region)).find((v) => v.Name === `${family}.v${n}`).Arns.x86_64;
  return { server, cli, status, history, python, family, arnOf };
}


// A request signed with SigV4 by hand, for what no SDK will send (raw bytes in the query, a
// tampered signature, a stale date). `rawQuery` is sent as is; the signature covers it as AWS
// canonicalises it (decoded, re-encoded per RFC 3986, sorted).
export async function signedFetch(endpoint, { method = 'GET', path, rawQuery = '', body = '', service = 'lambda',
  region = 'us-east-1', date = new Date(), headers = {}, secret = devCredentials.secretAccessKey,
  accessKey = devCredentials.accessKeyId } = {}) {
  const enc = (buf) => [...buf].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b)
    : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
  const dec = (s) => {
    const out = [];
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) { out.push(parseInt(s.slice(i + 1, i + 3), 16)); i += 2; } else out.push(...Buffer.from(s[i]));
    }
    return Buffer.from(out);
  };
  const query = rawQuery.split('&').filter(Boolean).map((p) => { const [k, v = ''] = p.split('='); return [enc(dec(k)), enc(dec(v))]; })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const amzDate = date.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const all = { 'x-amz-date': amzDate, ...headers };
  const names = Object.keys(all).map((k) => k.toLowerCase()).sort();
  const canonicalPath = path.split('/').map((s) => enc(Buffer.from(s))).join('/');
  const canonical = [method, canonicalPath, query, ...names.map((n) => `${n}:${all[n]}`), '', names.join(';'),
    createHash('sha256').update(body).digest('hex')].join('\n');
  const scope = `${amzDate.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key = `AWS4${secret}`;
  for (const part of [amzDate.slice(0, 8), region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return fetch(`${endpoint}${path}${rawQuery ? `?${rawQuery}` : ''}`, { method, body: body || undefined,
    headers: { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` } });
}

// An operator API call (/lambkin/v1/...) signed as the lambkin CLI signs it: SigV4 with the
// credential scope service `lambkin`, by default with the development credentials. `target` is
// the path with its query; an object `body` is sent as JSON.
export function adminFetch(endpoint, target, { method = 'GET', body, credentials = devCredentials,
  region = 'us-east-1', date } = {}) {
  const [p, q = ''] = target.split('?');
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return signedFetch(endpoint, { method, path: p, rawQuery: q, body: text, service: 'lambkin', region, date,
    accessKey: credentials.accessKeyId, secret: credentials.secretAccessKey,
    headers: text ? { 'content-type': 'application/json' } : {} });
}

// adminFetch's JSON answer; a non-2xx answer throws, naming the error type and message.
export async function adminJson(endpoint, target, options) {
  const res = await adminFetch(endpoint, target, options);
  const text = await res.text();
  const json = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(`${res.status} ${json.__type}: ${json.message ?? json.Message}`);
  return json;
}

// Writes an OCI image layout (one gzip layer made by GNU tar from `files`: path -> { data, mode })
// for the host's architecture, tagged `ref`; `labels` go in its config.
export function writeImageLayout(dir, files, { ref = 'latest', labels = {} } = {}) {
  const root = mkdtempSync(path.join(tmpdir(), 'lambkin-layer-'));
  for (const [file, { data, mode = 0o644 }] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), data, { mode });
    chmodSync(path.join(root, file), mode);
  }
  const layer = execFileSync('tar', ['-C', root, '--owner=0', '--group=0', '-czf', '-', '.']);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (bytes) => {
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(path.join(dir, 'blobs', 'sha256', hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const diff = createHash("sha256").update(zlib.gunzipSync(layer)).digest('hex');
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const config = put(Buffer.from(JSON.stringify({ architecture: arch, os: 'linux',
    config: { Labels: labels }, rootfs: { type: 'layers', diff_ids: [`sha256:${diff}`] } })));
  const layerBlob = put(layer);
  const manifest = put(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }] })));
  writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{
    mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
    annotations: { 'org.opencontainers.image.ref.name': ref } }] }));
  return manifest.digest;
}
