// Several nodes on one PostgreSQL database: any node answers any call and sees every write at
// once, invokes run on the function's home node (forwarded by the others), a killed node's
// work goes on elsewhere, caches follow changes made on other nodes, and concurrent writers on
// one function lose no update. Runs only with the suite on PostgreSQL (LAMBKIN_TEST_POSTGRES).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, GetFunctionCommand, InvokeCommand, LambdaClient, ListTagsCommand,
  PublishVersionCommand, PutRuntimeManagementConfigCommand, TagResourceCommand,
  UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2, waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import {
  account, adminJson, awsError, checkSweep, createStore, dropStore, lambkinBin, makeZip, pythonImage,
  role, runtimeVersions, shellBootstrap, startServer, storeKind, storeQuery, versionEcho,
} from './helpers.mjs';
import { Layout, hostArch, remoteDigest, skopeoCopy, stageUserland, startProxy, startRegistry, tarOfDir } from './oci.mjs';

const run = promisify(execFile);
const skip = storeKind !== 'postgres' && 'needs the suite on PostgreSQL (LAMBKIN_TEST_POSTGRES)';

// `count` nodes, each with its own data directory, on one database.
async function startNodes(count, { config, args: extra = [] } = {}) {
  const shared = mkdtempSync(path.join(tmpdir(), 'lambkin-nodes-'));
  const store = createStore(shared);
  const args = ['--store', store, ...extra];
  if (config) {
    const file = path.join(shared, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    args.push('--config', file);
  }
  const nodes = [];
  for (let i = 0; i < count; i++) nodes.push(await startServer({ args }));
  // Each node reads the live nodes every second: after that long they all agree on placement.
  await new Promise((r) => setTimeout(r, 1500));
  return {
    nodes,
    shared,
    async stop() {
      for (const n of nodes) await n.kill('SIGKILL');
      for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
      dropStore(shared);
      rmSync(shared, { recursive: true, force: true });
    },
  };
}

// Counts INIT_START lines across the function's log streams.
async function initStarts(dataDir, name) {
  const rows = storeQuery(dataDir, `SELECT COUNT(*) FROM log_events e JOIN log_streams s ON e.stream_id = s.id
    WHERE s.group_name = '/aws/lambda/${name}' AND e.message LIKE 'INIT_START%'`);
  return Number(rows);
}

const echo = () => makeZip({ bootstrap: shellBootstrap({ handle: 'echo "{\\"pid\\": $$, \\"event\\": $EVENT}"' }) });

async function createFunction(client, name, extra = {}) {
  await client.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'provided.al2023', Role: role, Handler: 'x',
    Code: { ZipFile: echo() }, ...extra,
  }));
  await waitUntilFunctionActiveV2({ client, maxWaitTime: 30 }, { FunctionName: name });
}

test('any node answers any call and sees every write at once; invokes go to one home node', { skip }, async () => {
  const cluster = await startNodes(3);
  try {
    const [a, b, c] = cluster.nodes.map((n) => n.client());
    for (const n of cluster.nodes) assert.match(n.stdout, /node [0-9a-f-]{36} at 127\.0\.0\.1:\d+/);
    await createFunction(a, 'shared-fn');
    // Read-your-writes on another node, and an update there seen on the third.
    const got = await b.send(new GetFunctionCommand({ FunctionName: 'shared-fn' }));
    assert.equal(got.Configuration.FunctionName, 'shared-fn');
    await b.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'shared-fn', Description: 'from b' }));
    const seen = await c.send(new GetFunctionCommand({ FunctionName: 'shared-fn' }));
    assert.equal(seen.Configuration.Description, 'from b');
    await waitUntilFunctionActiveV2({ client: c, maxWaitTime: 30 }, { FunctionName: 'shared-fn' });

    // Invokes through every node run in one warm environment on the home node: one process.
    const pids = new Set();
    for (let round = 0; round < 2; round++) {
      for (const client of [a, b, c]) {
        const out = await client.send(new InvokeCommand({ FunctionName: 'shared-fn', Payload: Buffer.from('{"n":1}') }));
        assert.equal(out.StatusCode, 200);
        assert.equal(out.FunctionError, undefined);
        const body = JSON.parse(Buffer.from(out.Payload).toString());
        assert.deepEqual(body.event, { n: 1 });
        pids.add(body.pid);
      }
    }
    assert.equal(pids.size, 1, 'every invoke reached the same warm environment');
    assert.equal(await initStarts(cluster.shared, 'shared-fn'), 1);

    // A forwarded request is authenticated where it runs: a bad signature is refused the same.
    const bad = new LambdaClient({ endpoint: cluster.nodes[1].endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: 'AKIALAMBKINDEV000001', secretAccessKey: 'wrong' } });
    const refused = await awsError(bad.send(new InvokeCommand({ FunctionName: 'shared-fn' })));
    assert.equal(refused.name, 'InvalidSignatureException');
  } finally {
    await cluster.stop();
  }
});

test('killing the home node: the next invoke starts an environment on another node', { skip }, async () => {
  const cluster = await startNodes(3);
  try {
    const clients = cluster.nodes.map((n) => n.client());
    await createFunction(clients[0], 'homeless');
    const first = await clients[0].send(new InvokeCommand({ FunctionName: 'homeless', Payload: Buffer.from('{}') }));
    const firstPid = JSON.parse(Buffer.from(first.Payload).toString()).pid;
    // Kill the nodes one at a time, without warning, invoking through a survivor each time.
    for (let killed = 0; killed < 2; killed++) {
      await cluster.nodes[killed].kill('SIGKILL');
      const survivor = clients[2];
      const out = await survivor.send(new InvokeCommand({ FunctionName: 'homeless', Payload: Buffer.from('{"after":1}') }));
      assert.equal(out.StatusCode, 200);
      assert.deepEqual(JSON.parse(Buffer.from(out.Payload).toString()).event, { after: 1 });
    }
    const last = await clients[2].send(new InvokeCommand({ FunctionName: 'homeless', Payload: Buffer.from('{}') }));
    assert.ok(JSON.parse(Buffer.from(last.Payload).toString()).pid > 0);
    assert.ok(firstPid > 0);
  } finally {
    await cluster.stop();
  }
});

test('Event invocations queued on a node that is killed are all delivered by the others', { skip }, async () => {
  const cluster = await startNodes(3, { config: { execution: { event_lease_ms: 3000 } } });
  try {
    const [a, b] = cluster.nodes.map((n) => n.client());
    await createFunction(b, 'queued-fn');
    const sent = 12;
    await Promise.all(Array.from({ length: sent }, (_, i) => a.send(new InvokeCommand({
      FunctionName: 'queued-fn', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ i })),
    }))));
    await cluster.nodes[0].kill('SIGKILL');
    const dir = cluster.shared;
    const deadline = Date.now() + 60000;
    let done = 0;
    while (Date.now() < deadline) {
      done = Number(storeQuery(dir, "SELECT COUNT(*) FROM event_invocations WHERE state = 'succeeded'"));
      if (done === sent) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(done, sent, 'every acknowledged Event invocation ran');
  } finally {
    await cluster.stop();
  }
});

test('concurrent writers on one function through three nodes lose no update', { skip }, async () => {
  const cluster = await startNodes(3);
  try {
    const clients = cluster.nodes.map((n) => n.client());
    await createFunction(clients[0], 'contended');
    const arn = `arn:aws:lambda:us-east-1:${account}:function:contended`;
    // Tags are a read-modify-write of one row: 30 writers, each adding its own tag.
    await Promise.all(Array.from({ length: 30 }, (_, i) => clients[i % 3].send(
      new TagResourceCommand({ Resource: arn, Tags: { [`k${i}`]: `v${i}` } }))));
    const tags = (await clients[1].send(new ListTagsCommand({ Resource: arn }))).Tags;
    assert.equal(Object.keys(tags).length, 30);
    // Runtime management configuration written from every node: the last write wins whole,
    // and the history records each change once.
    await Promise.all(clients.map((c, i) => c.send(new PutRuntimeManagementConfigCommand({
      FunctionName: 'contended', UpdateRuntimeOn: i === 0 ? 'FunctionUpdate' : 'Auto' }))));
    const modes = storeQuery(cluster.shared,
      "SELECT COUNT(*) FROM function_versions WHERE name = 'contended' AND version = 0");
    assert.equal(Number(modes), 1);
  } finally {
    await cluster.stop();
  }
});

test('a new SCP and a deleted key take effect on every node within a second', { skip }, async () => {
  const cluster = await startNodes(2);
  try {
    const [a, b] = cluster.nodes;
    await createFunction(a.client(), 'governed');
    const cli = (node, ...args) => run(lambkinBin, args, { env: { ...process.env, LAMBKIN_ENDPOINT: node.endpoint } });
    const key = JSON.parse((await cli(a, 'iam', 'create-access-key', '--user', 'lambkin-developer', '--json')).stdout);
    const viaKey = new LambdaClient({ endpoint: b.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey } });
    // Made on a, usable on b at once (b reloads on the change notification).
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      ok = await viaKey.send(new GetFunctionCommand({ FunctionName: 'governed' })).then(() => true, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'a key created on one node works on another within 2 s');
    await cli(a, 'iam', 'delete-access-key', key.AccessKeyId);
    await new Promise((r) => setTimeout(r, 1200));
    const revoked = await awsError(viaKey.send(new GetFunctionCommand({ FunctionName: 'governed' })));
    assert.equal(revoked.name, 'UnrecognizedClientException');

    // An SCP applied on a denies on b.
    const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-scp-'));
    const file = path.join(dir, 'org.json');
    writeFileSync(file, JSON.stringify({ organization: {
      management_account: '999999999999',
      root: { accounts: [account] },
      policies: { NoPinning: { targets: ['Root'], document: { Version: '2012-10-17', Statement: [
        { Effect: 'Deny', Action: 'lambda:PutRuntimeManagementConfig', Resource: '*' }] } } },
    } }));
    await cli(a, 'iam', 'apply', file);
    await new Promise((r) => setTimeout(r, 1200));
    const denied = await awsError(b.client().send(new PutRuntimeManagementConfigCommand({
      FunctionName: 'governed', UpdateRuntimeOn: 'FunctionUpdate' })));
    assert.equal(denied.name, 'AccessDeniedException');
    rmSync(dir, { recursive: true, force: true });
  } finally {
    await cluster.stop();
  }
});

test('SIGKILL a node in the middle of a phase-2 sweep: the others finish it, each version migrated once', { skip }, async () => {
  const cluster = await startNodes(3, { args: ['--clock', 'simulated'], config: {
    regions: { runtime_management: ['us-east-1'], without_runtime_management: [] },
    rollout: { batches: [0.5], gate: { min_samples: 0 }, sweep: { chunk_size: 3, max_migrations_per_second: 30 } },
  } });
  const { nodes, shared } = cluster;
  try {
    const python = (await runtimeVersions(nodes[0].endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
    const lambda = nodes[1].client();
    const zip = versionEcho();
    const functions = 30;
    for (let i = 0; i < functions; i++) {
      const name = `s${String(i).padStart(3, '0')}`;
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: python, Handler: 'app.handler', Role: role, Code: { ZipFile: zip } }));
      await lambda.send(new PublishVersionCommand({ FunctionName: name }));
    }
    const total = functions * 2;
    const cli = (node, ...a) => run(lambkinBin, a, { env: { ...process.env, LAMBKIN_ENDPOINT: node.endpoint } });
    await cli(nodes[0], 'runtime', 'publish', '--runtime', python, '--version', '2', '--image', pythonImage, '--severity', 'critical');
    const rv = storeQuery(shared, "SELECT MAX(id) FROM runtime_versions WHERE runtime LIKE 'python%'");
    // Past phase 1 and into the sweep (slow, rate-limited); every node sweeps.
    await cli(nodes[2], 'clock', 'advance', '1h');
    await new Promise((r) => setTimeout(r, 400));
    await nodes[0].kill('SIGKILL');
    const atKill = checkSweep(shared, rv);
    // The survivors carry on through the bakes.
    for (let i = 0; i < 6 && checkSweep(shared, rv) < total; i++) {
      await cli(nodes[1 + (i % 2)], 'clock', 'advance', '1d');
      await new Promise((r) => setTimeout(r, 1500));
    }
    const deadline = Date.now() + 30000;
    while (checkSweep(shared, rv) < total && Date.now() < deadline) {
      await cli(nodes[2], 'clock', 'advance', '1d');
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.equal(checkSweep(shared, rv), total);
    assert.ok(atKill <= total);
    const status = (await adminJson(nodes[1].endpoint, '/lambkin/v1/rollouts')).Rollouts[0];
    assert.equal(status.State, 'complete');
    assert.equal(status.Regions[0].Migrated, total);
  } finally {
    await cluster.stop();
  }
});

const pgDir = process.env.LAMBKIN_TEST_POSTGRES_DIR;
test('PostgreSQL restarts under load: nodes reconnect, clients get 503 in the gap, no acknowledged write lost', {
  skip: skip || (!pgDir && 'needs the throwaway server of make test-e2e-postgres (LAMBKIN_TEST_POSTGRES_DIR)'),
}, async () => {
  const cluster = await startNodes(2);
  try {
    const clients = cluster.nodes.map((n) => n.client());
    await createFunction(clients[0], 'steady');
    const arn = `arn:aws:lambda:us-east-1:${account}:function:steady`;
    // Each writer sets its own tag to 0, 1, 2, …, one after another: the tag must end at the
    // last value acknowledged or later (a write answered 503 may still have committed).
    const acknowledged = [-1, -1, -1, -1];
    const failures = new Map();
    let stop = false;
    const writer = async (w) => {
      for (let i = 0; !stop; i++) {
        try {
          await clients[w % 2].send(new TagResourceCommand({ Resource: arn, Tags: { [`w${w}`]: String(i) } }));
          acknowledged[w] = i;
        } catch (e) {
          const what = `${e.$metadata?.httpStatusCode} ${e.name}`;
          failures.set(what, (failures.get(what) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    await new Promise((r) => setTimeout(r, 1000));
    const before = acknowledged.reduce((a, b) => a + b + 1, 0);
    const restart = path.join(path.dirname(lambkinBin), '..', '..', 'scripts', 'pg-test-server.sh');
    await run(restart, ['restart', pgDir]);
    await new Promise((r) => setTimeout(r, 3000));
    stop = true;
    await Promise.all(writers);
    const after = acknowledged.reduce((a, b) => a + b + 1, 0);
    assert.ok(before > 0, 'writes went through before the restart');
    assert.ok(after > before, `and again after it: the nodes reconnected (${[...failures].join(', ')})`);
    // In the gap: only the retryable answer, never a wrong or a 500 one.
    for (const what of failures.keys()) assert.match(what, /^503 ServiceException$/, [...failures].join(', '));
    const tags = (await clients[1].send(new ListTagsCommand({ Resource: arn }))).Tags;
    for (let w = 0; w < 4; w++) {
      assert.ok(Number(tags[`w${w}`]) >= acknowledged[w], `writer ${w}: acknowledged ${acknowledged[w]}, stored ${tags[`w${w}`]}`);
    }
  } finally {
    await cluster.stop();
  }
});

test('an image function created on one node runs on the others, each pulling it by digest; UpdateFunctionCode is seen everywhere', { skip }, async () => {
  const work = mkdtempSync(path.join(tmpdir(), 'lambkin-mn-image-'));
  const registry = await startRegistry(path.join(work, 'registry'));
  // Clients name a proxy in front of the registry, which records what each pull asked for.
  const proxy = await startProxy(registry.host);
  // From scratch: the host's shell and curl, and a bootstrap answering with the image's mark.
  const root = path.join(work, 'root');
  stageUserland(root);
  writeFileSync(path.join(root, 'var/task/bootstrap'), shellBootstrap({
    handle: 'echo "{\\"mark\\": \\"$VERSION_MARK\\", \\"event\\": $EVENT}"' }), { mode: 0o755 });
  const layout = new Layout(path.join(work, 'layout'));
  const layer = layout.layer(tarOfDir(root));
  const digests = {};
  for (const mark of ['v1', 'v2']) {
    const desc = layout.image({ layers: [layer], config: { architecture: hostArch, os: 'linux', config: {
      Entrypoint: ['/var/task/bootstrap'], WorkingDir: '/var/task', Env: ['PATH=/usr/bin:/bin', `VERSION_MARK=${mark}`] } } });
    await skopeoCopy(layout.tag(mark, desc), `docker://${registry.host}/mn/app:${mark}`);
    digests[mark] = await remoteDigest(`${registry.host}/mn/app:${mark}`);
    assert.equal(digests[mark], desc.digest);
  }
  const cluster = await startNodes(3, { config: { registries: { [proxy.host]: { insecure: true } } } });
  const { nodes } = cluster;
  const hex = (mark) => digests[mark].replace('sha256:', '');
  // Has `node` the image in its own data directory: unpacked, and its manifest in its blob store?
  const holds = (node, mark) => {
    const blob = (dir) => readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory()
      ? e.name !== 'images' && blob(path.join(dir, e.name)) : e.name === hex(mark)));
    return existsSync(path.join(node.dataDir, 'images', hex(mark), 'rootfs')) && blob(node.dataDir);
  };
  const byDigest = (mark, since) => proxy.requests.slice(since).filter((r) => r === `GET /v2/mn/app/manifests/${digests[mark]}`).length;
  const invoke = async (node, payload) => {
    const out = await node.client().send(new InvokeCommand({ FunctionName: 'mn-image', Payload: Buffer.from(JSON.stringify(payload)) }));
    const body = Buffer.from(out.Payload ?? []).toString();
    assert.equal(out.FunctionError, undefined, body);
    return JSON.parse(body);
  };
  try {
    const [a, b, c] = nodes.map((n) => n.client());
    const created = await a.send(new CreateFunctionCommand({ FunctionName: 'mn-image', Role: role, PackageType: 'Image',
      Code: { ImageUri: `${proxy.host}/mn/app:v1` } }));
    assert.equal(created.CodeSha256, hex('v1'));
    await waitUntilFunctionActiveV2({ client: b, maxWaitTime: 30 }, { FunctionName: 'mn-image' });
    assert.deepEqual(await invoke(nodes[1], { via: 'b' }), { mark: 'v1', event: { via: 'b' } });
    assert.deepEqual(await invoke(nodes[2], { via: 'c' }), { mark: 'v1', event: { via: 'c' } });
    // The home node ran it from its own data directory (A's came with the create).
    assert.ok(nodes.some((n) => holds(n, 'v1')), 'some node unpacked v1 in its data directory');

    // A new tag deployed through A, invoked through B and C.
    const pullsBefore = proxy.requests.length;
    const updated = await a.send(new UpdateFunctionCodeCommand({ FunctionName: 'mn-image', ImageUri: `${proxy.host}/mn/app:v2` }));
    assert.equal(updated.CodeSha256, hex('v2'));
    assert.ok(proxy.requests.slice(pullsBefore).includes('GET /v2/mn/app/manifests/v2'), 'the tag was resolved by the updating node');
    const afterUpdate = proxy.requests.length;
    await waitUntilFunctionUpdatedV2({ client: c, maxWaitTime: 30 }, { FunctionName: 'mn-image' });
    const got = await c.send(new GetFunctionCommand({ FunctionName: 'mn-image' }));
    assert.equal(got.Code.ResolvedImageUri, `${proxy.host}/mn/app@${digests.v2}`);
    assert.deepEqual(await invoke(nodes[1], { n: 1 }), { mark: 'v2', event: { n: 1 } });
    assert.deepEqual(await invoke(nodes[2], { n: 2 }), { mark: 'v2', event: { n: 2 } });

    // A is gone: its functions move to B or C, which pulls v2 by digest. Then that node is
    // gone too, and the last one pulls it.
    await nodes[0].kill('SIGKILL');
    assert.deepEqual(await invoke(nodes[1], { n: 3 }), { mark: 'v2', event: { n: 3 } });
    assert.deepEqual(await invoke(nodes[2], { n: 4 }), { mark: 'v2', event: { n: 4 } });
    const home = [nodes[1], nodes[2]].filter((n) => holds(n, 'v2'));
    assert.equal(home.length, 1, 'exactly the home node among B and C has v2 (only A pulled it at the update)');
    const last = home[0] === nodes[1] ? nodes[2] : nodes[1];
    await home[0].kill('SIGKILL');
    assert.deepEqual(await invoke(last, { n: 5 }), { mark: 'v2', event: { n: 5 } });
    assert.ok(holds(nodes[1], 'v2') && holds(nodes[2], 'v2'), 'B and C each hold v2 in their own data directory');
    assert.equal(byDigest('v2', afterUpdate), 2, `B and C each pulled v2's manifest by digest once: ${proxy.requests.join(', ')}`);
  } finally {
    await cluster.stop();
    proxy.close();
    registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
});
