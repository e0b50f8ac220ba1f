// Layers (issue 16): what 5 layers cost at a cold start. Ratios are against a baseline measured
// in the same run: the first invoke of a new python function with no layers.
//
// 1. cold start, layers already merged on this node: a new function naming the same 5 layer
//    versions as an earlier one (its /opt is made once per ordered list of archives, so this
//    is the usual case: every function of a team that shares its layers). Aim: <= 1.2x.
// 2. cold start of the first function with a new list of 5 layers: each archive unpacked and the
//    5 merged into its /opt before the environment starts (once per node and list).
//
// usage: node bench/layers_bench.mjs [--lambkin build/src/lambkin] [--runtimes build/runtimes]
//        [--cold 7] [--layer-kb 2048] [--files 200]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string', default: path.resolve(here, '..', 'build', 'runtimes') },
  cold: { type: 'string', default: '7' },
  'layer-kb': { type: 'string', default: '2048' },
  files: { type: 'string', default: '200' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startServer, makeZip, role } = await import(path.join(e2e, 'helpers.mjs'));
const { CreateFunctionCommand, InvokeCommand, PublishLayerVersionCommand } =
  createRequire(path.join(e2e, 'helpers.mjs'))('@aws-sdk/client-lambda');

const now = () => performance.now();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0).padStart(7)} ms`;
const cold = Number(opts.cold);
const files = Number(opts.files);
const fileBytes = Math.max(1, Math.floor((Number(opts['layer-kb']) * 1024) / files));

// A layer of `files` incompressible files under python/<name>/, one module the handler imports.
function layerZip(name) {
  const entries = { [`python/${name}.py`]: `NAME = "${name}"\n` };
  for (let i = 0; i < files; i++) entries[`python/${name}_data/f${i}.bin`] = randomBytes(fileBytes);
  return makeZip(entries);
}

const handler = (layers) => makeZip({
  'app.py': [...layers.map((l) => `import ${l}`), 'def handler(event, context):', '    return {"ok": True}', ''].join('\n'),
});

const server = await startServer();
try {
  const lambda = server.client();
  const runtime = 'python3.11';
  const publish = async (name) => (await lambda.send(new PublishLayerVersionCommand({
    LayerName: name, Content: { ZipFile: layerZip(name) }, CompatibleRuntimes: [runtime] }))).LayerVersionArn;
  const names = ['l0', 'l1', 'l2', 'l3', 'l4'];
  const shared = [];
  for (const n of names) shared.push(await publish(n));
  const firstInvoke = async (name, Layers, code) => {
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Role: role, Runtime: runtime,
      Handler: 'app.handler', Code: { ZipFile: code }, Layers }));
    const t = now();
    const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
    if (out.FunctionError) throw new Error(`${name}: ${Buffer.from(out.Payload).toString()}`);
    return now() - t;
  };
  const plain = handler([]);
  const withLayers = handler(names);
  // Warm-up: the runtime's root filesystem and the shared list's /opt are ready afterwards.
  await firstInvoke('warmup-none', [], plain);
  await firstInvoke('warmup-layers', shared, withLayers);
  const times = { none: [], merged: [], fresh: [] };
  for (let i = 0; i < cold; i++) {
    times.none.push(await firstInvoke(`none-${i}`, [], plain));
    times.merged.push(await firstInvoke(`merged-${i}`, shared, withLayers));
    // A new list: new versions of every layer (new content), merged at this first start.
    const fresh = [];
    for (const n of names) fresh.push(await publish(n));
    times.fresh.push(await firstInvoke(`fresh-${i}`, fresh, withLayers));
  }
  const base = median(times.none);
  const kb = (files * fileBytes) / 1024;
  console.log(`cold start (first invoke of a new ${runtime} function), median of ${cold}; 5 layers of ${files} files, ${kb.toFixed(0)} KB each`);
  console.log(`  no layers:                               ${ms(base)}`);
  console.log(`  5 layers, /opt already merged:           ${ms(median(times.merged))}  ratio ${(median(times.merged) / base).toFixed(2)} (aim <= 1.2)`);
  console.log(`  5 new layers, unpacked and merged first: ${ms(median(times.fresh))}  ratio ${(median(times.fresh) / base).toFixed(2)}`);
} finally {
  await server.stop();
}
