// Runtime versions are whole: each is its own root filesystem built from pinned Debian packages
// (language, libraries, userland), published and rolled out as a unit, with a bill of
// materials, and served as an OCI base image that skopeo and umoci read from Lambkin's registry.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startServer, makeZip, role, devCredentials, lambkinBin, runtimeVersions, builtRuntimes } from './helpers.mjs';
import { startRegistry, skopeoCopy } from './oci.mjs';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const work = mkdtempSync(path.join(tmpdir(), 'lambkin-images-'));
let server, lambda, cli, registry, registryPort;

// What a Python function sees of its world.
const probePy = makeZip({ 'app.py': [
  'import os, ssl, sys',
  'def handler(event, context):',
  '    release = dict(l.split("=", 1) for l in open("/etc/os-release").read().split("\\n") if "=" in l)',
  '    return {"python": sys.version, "openssl": ssl.OPENSSL_VERSION, "os": release["PRETTY_NAME"].strip(\'"\'),',
  '            "version": os.environ["LAMBKIN_RUNTIME_VERSION"],',
  '            "host": [p for p in event["paths"] if os.path.exists(p)]}',
].join('\n') + '\n' });
const probeNode = makeZip({ 'index.mjs': [
  'import { existsSync, readFileSync } from "node:fs";',
  'export const handler = async (event) => ({ node: process.version, openssl: process.versions.openssl,',
  '  os: /PRETTY_NAME="([^"]*)"/.exec(readFileSync("/etc/os-release", "utf8"))[1],',
  '  host: event.paths.filter((p) => existsSync(p)) });',
].join('\n') + '\n' });
// Paths that exist on the machine running the server but in no runtime version.
const hostPaths = ['/usr/bin/cmake', '/usr/bin/g++', repo, '/usr/include/boost'].filter((p) => existsSync(p));

async function invoke(name) {
  const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ paths: hostPaths })) }));
  const body = Buffer.from(out.Payload).toString();
  assert.equal(out.FunctionError, undefined, body);
  return JSON.parse(body);
}

before(async () => {
  // python3.11 built from older packages of Debian 12 (its point release instead of its
  // security updates), resolved by the operator command that makes new patch versions.
  const definition = path.join(work, 'python3.11');
  cpSync(path.join(repo, 'runtimes', 'python3.11'), definition, { recursive: true });
  const def = JSON.parse(readFileSync(path.join(definition, 'runtime.json'), 'utf8'));
  def.var_runtime = path.join(repo, 'runtimes', 'ric', 'python');
  def.packages.push('libssl3/bookworm', 'openssl/bookworm', 'python3.11/bookworm', 'python3.11-minimal/bookworm',
    'libpython3.11-stdlib/bookworm', 'libpython3.11-minimal/bookworm');
  writeFileSync(path.join(definition, 'runtime.json'), JSON.stringify(def, null, 2));
  const built = await run(lambkinBin, ['runtime', 'build', '--refresh', definition, '--output', path.join(work, 'runtimes')]);
  assert.match(built.stdout, /^built python3\.11: sha256:[0-9a-f]{64} \(\d+ packages/);
  for (const r of ['python3.13', 'nodejs18.x', 'nodejs20.x', 'provided.al2023']) {
    cpSync(path.join(builtRuntimes, r), path.join(work, 'runtimes', r), { recursive: true });
  }
  // A registry an operator pushes runtime images to (Debian's docker-registry), with pull
  // credentials for it in the server's configuration.
  registry = await startRegistry(path.join(work, 'registry'));
  registryPort = registry.port;
  writeFileSync(path.join(work, 'config.json'), JSON.stringify({ registries: { [`127.0.0.1:${registryPort}`]: { insecure: true } } }));
  server = await startServer({ args: ['--runtimes', path.join(work, 'runtimes'), '--clock', 'simulated', '--config', path.join(work, 'config.json')] });
  lambda = server.client();
  cli = async (...args) => (await run(lambkinBin, args, { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } })).stdout;
});
after(() => {
  server?.stop();
  registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test('each runtime is its own root filesystem: its Python or Node.js, OpenSSL and Debian release, nothing of the host', async () => {
  const seen = {};
  for (const [runtime, zip, handler] of [['python3.11', probePy, 'app.handler'], ['python3.13', probePy, 'app.handler'],
    ['nodejs18.x', probeNode, 'index.handler'], ['nodejs20.x', probeNode, 'index.handler']]) {
    const name = `probe-${runtime.replace('.', '-')}`;
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: runtime, Handler: handler, Role: role, Code: { ZipFile: zip } }));
    seen[runtime] = await invoke(name);
    assert.deepEqual(seen[runtime].host, [], `${runtime} sees the host's files`);
  }
  assert.match(seen['python3.11'].python, /^3\.11\./);
  assert.match(seen['python3.13'].python, /^3\.13\./);
  assert.match(seen['nodejs18.x'].node, /^v18\./);
  assert.match(seen['nodejs20.x'].node, /^v20\./);
  assert.equal(seen['python3.11'].os, 'Debian GNU/Linux 12 (bookworm)');
  assert.equal(seen['python3.13'].os, 'Debian GNU/Linux 13 (trixie)');
  assert.equal(seen['nodejs20.x'].os, 'Debian GNU/Linux 13 (trixie)');
  assert.match(seen['python3.11'].openssl, /^OpenSSL 3\.0\./);
  assert.match(seen['python3.13'].openssl, /^OpenSSL 3\.[1-9]/);
  // Not the host's interpreter: its OpenSSL is what the runtime version was built with.
  const host = (await run('/usr/bin/python3', ['-c', 'import ssl, sys; print(ssl.OPENSSL_VERSION + "|" + sys.version)'])).stdout.trim();
  assert.notEqual(`${seen['python3.13'].openssl}|${seen['python3.13'].python}`, host);
});

test('a rollout to a version built from newer packages changes what functions see; show and diff name the packages', async () => {
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'py', Runtime: 'python3.11', Handler: 'app.handler', Role: role, Code: { ZipFile: probePy } }));
  const before = await invoke('py');
  assert.equal(before.version, 'python:3.11.v1');

  // The built-in python3.11 (the lock's newest packages) published as v2 and rolled out.
  const published = await cli('runtime', 'publish', '--runtime', 'python3.11', '--image', `oci:${path.join(builtRuntimes, 'python3.11')}`,
    '--severity', 'critical', '--fast-track', '--notes', 'Debian security updates');
  assert.match(published, /^published python:3\.11\.v2 \(python3\.11, severity critical\)/);
  await cli('clock', 'advance', '7d');
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'py' }));
  const v2 = (await runtimeVersions(server.endpoint)).find((v) => v.Name === 'python:3.11.v2');
  assert.equal(config.RuntimeVersionConfig.RuntimeVersionArn, v2.Arns.x86_64);
  const after = await invoke('py');
  assert.equal(after.version, 'python:3.11.v2');
  assert.notEqual(after.openssl, before.openssl, 'the new version brings its own OpenSSL');

  const diff = JSON.parse(await cli('runtime', 'diff', 'python:3.11.v1', 'python:3.11.v2', '--json'));
  const changed = Object.fromEntries(diff.Changed.map((c) => [c.Name, c]));
  assert.ok(changed.libssl3, JSON.stringify(diff));
  assert.notEqual(changed.libssl3.From, changed.libssl3.To);
  assert.equal(changed.libssl3.Ecosystem, 'deb');
  assert.ok(changed['python3.11'], 'the interpreter package changed too');
  const text = await cli('runtime', 'diff', 'python:3.11.v1', 'python:3.11.v2');
  assert.match(text, /^python:3\.11\.v1 -> python:3\.11\.v2: \d+ changed, \d+ added, \d+ removed\n/);
  assert.match(text, /~ deb\s+libssl3\s+\S+ -> \S+/);

  const shown = JSON.parse(await cli('runtime', 'show', 'python:3.11.v2', '--json'));
  const bom = Object.fromEntries(shown.BillOfMaterials.map((e) => [`${e.Ecosystem}:${e.Name}`, e.Version]));
  assert.equal(bom['deb:libssl3'], changed.libssl3.To);
  assert.match(bom['python:boto3'], /^\d+\.\d+/, 'language packages from their own metadata');
  assert.match(bom['python:botocore'], /^\d+\.\d+/);
  assert.match(shown.Image.Digest, /^sha256:[0-9a-f]{64}$/);
  assert.match(await cli('runtime', 'show', 'python:3.11.v2'), /bill of materials: \d+ packages[\s\S]*python\s+boto3/);
});

test('skopeo and umoci read every runtime version from the registry; pulls need a token unless anonymous', async () => {
  const host = server.endpoint.replace('http://', '');
  const creds = `--creds=${devCredentials.accessKeyId}:${devCredentials.secretAccessKey}`;
  const catalog = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', creds, `docker://${host}/python`])).stdout);
  assert.deepEqual(catalog.Tags.sort(), ['3.11', '3.11.v1', '3.11.v2', '3.13', '3.13.v1'].sort());
  for (const v of await runtimeVersions(server.endpoint)) {
    const inspect = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', creds, `docker://${host}/${v.Name}`])).stdout);
    assert.equal(inspect.Digest, v.Image.Digest, v.Name);
    assert.deepEqual(inspect.Env.filter((e) => e.startsWith('LAMBDA_TASK_ROOT=')), ['LAMBDA_TASK_ROOT=/var/task']);
  }
  // The moving tag is the newest version.
  const moving = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', creds, `docker://${host}/python:3.11`])).stdout);
  assert.equal(moving.Digest, (await runtimeVersions(server.endpoint)).find((v) => v.Name === 'python:3.11.v2').Image.Digest);
  // Without credentials: refused.
  await assert.rejects(run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/python:3.11.v1`]),
    (e) => /unauthorized|authentication required|401/i.test(e.stderr));

  // Copied into an OCI layout and unpacked by umoci: AWS's base-image conventions.
  const layout = path.join(work, 'pulled');
  await run('skopeo', ['copy', '--src-tls-verify=false', `--src-creds=${devCredentials.accessKeyId}:${devCredentials.secretAccessKey}`,
    `docker://${host}/provided:al2023.v1`, `oci:${layout}:base`]);
  const bundle = path.join(work, 'bundle');
  await run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
  const config = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  assert.deepEqual(config.process.args, ['/lambda-entrypoint.sh']);
  assert.equal(config.process.cwd, '/var/task');
  assert.ok(existsSync(path.join(bundle, 'rootfs', 'var', 'runtime', 'bootstrap')));
  assert.match(readFileSync(path.join(bundle, 'rootfs', 'lambda-entrypoint.sh'), 'utf8'), /exec \$RUNTIME_ENTRYPOINT/);
  assert.match(readFileSync(path.join(bundle, 'rootfs', 'etc', 'os-release'), 'utf8'), /bookworm/);

  // The pulled layout published back as a new provided.al2023 version runs the tutorial's
  // custom runtime like the built one.
  await cli('runtime', 'publish', '--runtime', 'provided.al2023', '--image', `oci:${layout}:base`, '--severity', 'low');
  const names = (await runtimeVersions(server.endpoint)).map((v) => v.Name);
  assert.ok(names.includes('provided:al2023.v2'), names.join(' '));
  const shell = makeZip({
    bootstrap: readFileSync(path.join(here, 'fixtures', 'tutorial-bootstrap.sh'), 'utf8'),
    'function.sh': readFileSync(path.join(here, 'fixtures', 'tutorial-function.sh'), 'utf8'),
  });
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'tutorial', Runtime: 'provided.al2023', Handler: 'function.handler',
    Role: role, Code: { ZipFile: shell } }));
  const out = await lambda.send(new InvokeCommand({ FunctionName: 'tutorial', Payload: Buffer.from('{"text":"hello"}') }));
  assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload).toString());
  rmSync(bundle, { recursive: true, force: true });
});

test('a runtime version published from a registry: pulled over the distribution API, digests checked, refused when absent', async () => {
  // An operator's image: the built nodejs20.x layout pushed to the registry by skopeo.
  const target = `127.0.0.1:${registryPort}/runtimes/nodejs:20-patched`;
  await skopeoCopy(`oci:${path.join(builtRuntimes, 'nodejs20.x')}`, `docker://${target}`);
  const missing = await run(lambkinBin, ['runtime', 'publish', '--runtime', 'nodejs20.x', '--image', `127.0.0.1:${registryPort}/runtimes/nodejs:nope`],
    { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } }).catch((e) => e);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope.*404|MANIFEST_UNKNOWN|not found/i);
  const published = await cli('runtime', 'publish', '--runtime', 'nodejs20.x', '--image', target, '--severity', 'low', '--json');
  const v = JSON.parse(published);
  assert.equal(v.Name, 'nodejs:20.v2');
  assert.equal(v.Image.Source, target);
  const built = (await runtimeVersions(server.endpoint)).find((x) => x.Name === 'nodejs:20.v1');
  assert.equal(v.Image.Digest, built.Image.Digest, 'the same image, byte for byte, through the registry');
  // A function created now takes it and runs.
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'node-v2', Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role, Code: { ZipFile: probeNode } }));
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'node-v2' }));
  assert.equal(config.RuntimeVersionConfig.RuntimeVersionArn, (await runtimeVersions(server.endpoint)).find((x) => x.Name === 'nodejs:20.v2').Arns.x86_64);
  assert.match((await invoke('node-v2')).node, /^v20\./);
});
