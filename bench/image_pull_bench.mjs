// Image functions (issue 15): how Lambkin's pull compares with Debian's tools, and what an image
// costs at a cold start. Ratios are against baselines measured in the same run:
//
// 1. pull + unpack of a ~200 MB image of 10 gzip layers (incompressible data, so gzip does not
//    shrink it) from a local docker-registry: Lambkin, a fresh data directory per round,
//    CreateFunction until the function is Active and until its first invoke is answered
//    (whatever Lambkin defers to the first start is counted there), against
//    `skopeo copy docker://… oci:…` + `umoci unpack --rootless`. Aim: <= 1x.
// 2. cold start: the first invoke of a new function whose image is already pulled (FROM
//    python:3.11.v1, the same app.py) against a zip function of the same code. Aim: <= 1.5x.
//
// usage: node bench/image_pull_bench.mjs [--lambkin build/src/lambkin] [--runtimes build/runtimes]
//        [--rounds 3] [--cold 7] [--layer-mb 22]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm).
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string', default: path.resolve(here, '..', 'build', 'runtimes') },
  rounds: { type: 'string', default: '3' },
  cold: { type: 'string', default: '7' },
  'layer-mb': { type: 'string', default: '22' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startServer, makeZip, role, waitFor } = await import(path.join(e2e, 'helpers.mjs'));
const { Layout, tarOf, tarOfDir, run, startRegistry, skopeoCopy, hostArch, stageUserland } = await import(path.join(e2e, 'oci.mjs'));
const { CreateFunctionCommand, GetFunctionConfigurationCommand, InvokeCommand } =
  createRequire(path.join(e2e, 'helpers.mjs'))('@aws-sdk/client-lambda');

const work = mkdtempSync(path.join(tmpdir(), 'lambkin-image-bench-'));
const rounds = Number(opts.rounds);
const now = () => performance.now();
const best = (xs) => Math.min(...xs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0).padStart(7)} ms`;

async function active(lambda, name) {
  return waitFor(`${name} Active`, async () => {
    const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    if (c.State === 'Failed') throw new Error(`${name}: ${c.StateReasonCode} ${c.StateReason}`);
    return c.State === 'Active' && c.LastUpdateStatus !== 'InProgress';
  }, 600000, 20);
}

async function invoke(lambda, name, payload) {
  const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(payload), LogType: 'Tail' }));
  if (out.FunctionError) throw new Error(`${name}: ${Buffer.from(out.Payload).toString()}`);
  const tail = out.LogResult ? Buffer.from(out.LogResult, 'base64').toString() : '';
  out.initMs = Number((/Init Duration: ([0-9.]+) ms/.exec(tail) ?? [])[1] ?? NaN);
  return out;
}

const registry = await startRegistry(path.join(work, 'registry'));
const config = path.join(work, 'config.json');
writeFileSync(config, JSON.stringify({ registries: { [registry.host]: { insecure: true } } }));
try {
  // 1. The big image: the tutorial's custom runtime on a userland of the host's binaries, then
  //    9 layers of random bytes.
  const layout = new Layout(path.join(work, 'layout'));
  const scratch = path.join(work, 'scratch');
  stageUserland(scratch);
  const fixtures = path.join(e2e, 'fixtures');
  writeFileSync(path.join(scratch, 'var/task/bootstrap'), readFileSync(path.join(fixtures, 'tutorial-bootstrap.sh')), { mode: 0o755 });
  writeFileSync(path.join(scratch, 'var/task/function.sh'), readFileSync(path.join(fixtures, 'tutorial-function.sh')));
  const layers = [layout.layer(tarOfDir(scratch))];
  for (let i = 1; i < 10; i++) layers.push(layout.layer(tarOf({ [`opt/blob${i}`]: randomBytes(Number(opts['layer-mb']) << 20) })));
  const big = layout.image({ config: { architecture: hostArch, os: 'linux', config: { Entrypoint: ['/var/task/bootstrap'],
    Cmd: ['function.handler'], WorkingDir: '/var/task', Env: ['PATH=/usr/bin:/bin', 'LAMBDA_TASK_ROOT=/var/task', '_HANDLER=function.handler'] } },
  layers });
  layout.tag('big', big);
  await skopeoCopy(`oci:${layout.dir}:big`, `docker://${registry.host}/bench/big:v1`);
  const bytes = layers.reduce((n, l) => n + l.descriptor.size, 0);
  console.log(`image_pull_bench: ${layers.length} layers, ${(bytes / 1e6).toFixed(1)} MB compressed, from docker-registry on ${registry.host}`);

  const base = { pull: [], unpack: [] };
  const lk = { active: [], invoked: [] };
  for (let r = 0; r < rounds; r++) {
    const out = path.join(work, `pulled-${r}`);
    let t = now();
    await skopeoCopy(`docker://${registry.host}/bench/big:v1`, `oci:${out}:big`);
    base.pull.push(now() - t);
    t = now();
    await run('umoci', ['unpack', '--rootless', '--image', `${out}:big`, path.join(work, `bundle-${r}`)]);
    base.unpack.push(now() - t);
    rmSync(out, { recursive: true, force: true });
    rmSync(path.join(work, `bundle-${r}`), { recursive: true, force: true });

    const server = await startServer({ args: ['--config', config] });
    const lambda = server.client();
    t = now();
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'big', Role: role, PackageType: 'Image',
      Code: { ImageUri: `${registry.host}/bench/big:v1` } }));
    await active(lambda, 'big');
    lk.active.push(now() - t);
    await invoke(lambda, 'big', '{"n":1}');
    lk.invoked.push(now() - t);
    await server.stop();
  }
  const baseline = best(base.pull.map((p, i) => p + base.unpack[i]));
  console.log(`\n1. pull + unpack, best of ${rounds}`);
  console.log(`  skopeo copy + umoci unpack --rootless:   ${ms(baseline)}  (pull ${ms(best(base.pull))}, unpack ${ms(best(base.unpack))})`);
  console.log(`  lambkin CreateFunction until Active:     ${ms(best(lk.active))}  ratio ${(best(lk.active) / baseline).toFixed(2)}`);
  console.log(`  lambkin ... until first invoke answered: ${ms(best(lk.invoked))}  ratio ${(best(lk.invoked) / baseline).toFixed(2)} (aim <= 1)`);

  // 2. Cold starts: an image FROM the built python3.11 runtime (what python:3.11.v1 is) vs a zip.
  const py = new Layout(path.join(opts.runtimes, 'python3.11'));
  const index = JSON.parse(readFileSync(path.join(py.dir, 'index.json'), 'utf8'));
  const baseDesc = index.manifests[0];
  const baseManifest = py.json(baseDesc.digest);
  const baseConfig = py.json(baseManifest.config.digest);
  const app = 'def handler(event, context):\n    return {"ok": True}\n';
  const fn = new Layout(path.join(work, 'fn'));
  for (const l of baseManifest.layers) fn.put(py.blob(l.digest), l.mediaType);
  const fnImage = fn.image({ config: { ...baseConfig, history: undefined, config: { ...baseConfig.config, Cmd: ['app.handler'] } },
    base: baseManifest.layers.map((descriptor, i) => ({ descriptor, diffId: baseConfig.rootfs.diff_ids[i] })),
    layers: [fn.layer(tarOf({ 'var/task/app.py': app }))],
    annotations: { 'org.opencontainers.image.base.name': 'python:3.11.v1', 'org.opencontainers.image.base.digest': baseDesc.digest } });
  fn.tag('v1', fnImage);
  await skopeoCopy(`oci:${fn.dir}:v1`, `docker://${registry.host}/bench/py:v1`);
  const server = await startServer({ args: ['--config', config] });
  const lambda = server.client();
  const zip = makeZip({ 'app.py': app });
  const cold = { image: [], zip: [] };
  const init = { image: [], zip: [] };
  const createAndTime = async (name, params, list) => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Role: role, ...params }));
    await active(lambda, name);
    const t = now();
    const out = await invoke(lambda, name, '{}');
    list.push(now() - t);
    (list === cold.image ? init.image : list === cold.zip ? init.zip : []).push(out.initMs);
  };
  await createAndTime('warmup-image', { PackageType: 'Image', Code: { ImageUri: `${registry.host}/bench/py:v1` } }, []);
  await createAndTime('warmup-zip', { Runtime: 'python3.11', Handler: 'app.handler', Code: { ZipFile: zip } }, []);
  for (let i = 0; i < Number(opts.cold); i++) {
    await createAndTime(`image-${i}`, { PackageType: 'Image', Code: { ImageUri: `${registry.host}/bench/py:v1` } }, cold.image);
    await createAndTime(`zip-${i}`, { Runtime: 'python3.11', Handler: 'app.handler', Code: { ZipFile: zip } }, cold.zip);
  }
  await server.stop();
  console.log(`\n2. cold start (first invoke of a new function, image already pulled), median of ${opts.cold}`);
  console.log(`  zip python3.11:                          ${ms(median(cold.zip))}`);
  console.log(`  image FROM python:3.11.v1:               ${ms(median(cold.image))}  ratio ${(median(cold.image) / median(cold.zip)).toFixed(2)} (aim <= 1.5)`);
  console.log(`  of which Init Duration (REPORT): zip ${median(init.zip).toFixed(1)} ms, image ${median(init.image).toFixed(1)} ms`);
} finally {
  registry.stop();
  rmSync(work, { recursive: true, force: true });
}
