// Who must act (spec/compliance.md): a runtime walked through deprecation, block-create and
// block-update on the simulated clock with AWS's errors while invocations go on; the compliance
// report with a function version in each update mode and each responsibility row (JSON, CSV and
// the CLI); each dependency row of the seeds' table as a real zip through `lambkin compliance
// check-package` and the report; and the phase-2 prediction holding back a function whose
// bundled botocore the new runtime's boto3 outgrows.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, InvokeCommand, UpdateFunctionConfigurationCommand, UpdateFunctionCodeCommand,
  GetFunctionConfigurationCommand, PutRuntimeManagementConfigCommand, PublishVersionCommand,
} from '@aws-sdk/client-lambda';
import {
  role, awsError, makeZip, versionEcho, startRolloutServer, adminJson, adminFetch, builtRuntimes, lambkinBin,
} from './helpers.mjs';
import { Layout, copyLayout, tarOf, startRegistry, skopeoCopy } from './oci.mjs';

const execFileP = promisify(execFile);
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

const regions = { default_region: 'us-east-1', runtime_management: ['us-east-1', 'eu-west-1'] };
const day = 86400000;
const dateIn = (nowMs, days) => new Date(nowMs + days * day).toISOString().slice(0, 10);

async function setup(config = {}) {
  const t = await startRolloutServer({ regions, ...config });
  servers.push(t.server);
  const lambda = t.server.client('us-east-1');
  const now = async () => (await adminJson(t.server.endpoint, '/lambkin/v1/clock')).NowMillis;
  const create = (name, extra = {}) => lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: versionEcho() }, ...extra }));
  const invoke = async (name, q) =>
    JSON.parse(Buffer.from((await lambda.send(new InvokeCommand({ FunctionName: name, Qualifier: q }))).Payload).toString());
  const report = async (query = '') =>
    (await adminJson(t.server.endpoint, `/lambkin/v1/compliance/report${query}`)).FunctionVersions;
  const row = (rows, name, version = '$LATEST') =>
    rows.find((r) => r.FunctionName === name && r.Version === version);
  return { ...t, lambda, now, create, invoke, report, row };
}

// A python distribution as pip installs it: <name>-<version>.dist-info/METADATA.
const distInfo = (name, version, requires = []) => ({
  [`${name}-${version}.dist-info/METADATA`]: [
    'Metadata-Version: 2.1', `Name: ${name}`, `Version: ${version}`,
    ...requires.map((r) => `Requires-Dist: ${r}`), '', 'A package.',
  ].join('\n') + '\n',
  [`${name}-${version}.dist-info/RECORD`]: '',
  [`${name.replace(/-/g, '_')}/__init__.py`]: '',
});
const handler = { 'app.py': 'def handler(event, context):\n    return "ok"\n' };

test('a runtime walked through deprecation, block-create and block-update; invocations never stop', async () => {
  const t = await setup();
  const otherPython = (await adminJson(t.server.endpoint, '/lambkin/v1/runtimes')).Runtimes
    .map((r) => r.Runtime).find((r) => r.startsWith('python3.') && r !== t.python);
  const now = await t.now();
  const lifecycle = { DeprecationDate: dateIn(now, 10), FunctionCreateBlockDate: dateIn(now, 20),
    FunctionUpdateBlockDate: dateIn(now, 30) };

  // Bad input is refused precisely and changes nothing.
  const put = (runtime, body) => adminFetch(t.server.endpoint, `/lambkin/v1/runtimes/${runtime}/lifecycle`,
    { method: 'PUT', body });
  let res = await put(t.python, { ...lifecycle, DeprecationDate: '2026-02-30' });
  assert.equal(res.status, 400);
  assert.match(((b) => b.message ?? b.Message)(await res.json()), /not a date in the form YYYY-MM-DD/);
  res = await put(t.python, { ...lifecycle, FunctionCreateBlockDate: dateIn(now, 40) });
  assert.equal(res.status, 400);
  assert.match(((b) => b.message ?? b.Message)(await res.json()), /comes before its create block date/);
  res = await put('python2.7', lifecycle);
  assert.equal(res.status, 404);
  let runtimes = (await adminJson(t.server.endpoint, '/lambkin/v1/runtimes')).Runtimes;
  assert.equal(runtimes.find((r) => r.Runtime === t.python).ReleaseLifecycle.DeprecationDate, null);

  // The CLI sets the dates; the runtime is GA until its deprecation date.
  const out = await t.cli('runtime', 'lifecycle', t.python, '--deprecation-date', lifecycle.DeprecationDate,
    '--create-block-date', lifecycle.FunctionCreateBlockDate, '--update-block-date', lifecycle.FunctionUpdateBlockDate);
  assert.match(out, new RegExp(`${t.python.replace('.', '\\.')}\\s+GA\\s+${lifecycle.DeprecationDate}`));
  // Setting one date keeps the others.
  await t.cli('runtime', 'lifecycle', t.python, '--update-block-date', lifecycle.FunctionUpdateBlockDate);
  runtimes = (await adminJson(t.server.endpoint, '/lambkin/v1/runtimes')).Runtimes;
  assert.equal(runtimes.find((r) => r.Runtime === t.python).ReleaseLifecycle.DeprecationDate, lifecycle.DeprecationDate);
  await t.create('walker');
  assert.equal(t.row(await t.report(), 'walker').ReleaseState, 'GA');
  assert.match(t.row(await t.report(), 'walker').Reasons[0].Reason, /will be deprecated on/);

  await t.cli('clock', 'advance', '11d');
  runtimes = (await adminJson(t.server.endpoint, '/lambkin/v1/runtimes')).Runtimes;
  const life = runtimes.find((r) => r.Runtime === t.python).ReleaseLifecycle;
  assert.equal(life.ReleaseState, 'DEPRECATED');
  assert.deepEqual(life.NextLifecycleDate, { Event: 'create block', Date: lifecycle.FunctionCreateBlockDate });
  let walker = t.row(await t.report(), 'walker');
  assert.equal(walker.ReleaseState, 'DEPRECATED');
  assert.equal(walker.MustAct, 'function owner');
  assert.match(walker.Reasons[0].Reason, /is deprecated since .* no more security patches/);
  await t.create('still-allowed');  // deprecated, not yet blocked

  const blocked = `The runtime parameter of ${t.python} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.`;
  await t.cli('clock', 'advance', '10d');
  let e = await awsError(t.create('too-late'));
  assert.equal(e.name, 'InvalidParameterValueException');
  assert.equal(e.$metadata.httpStatusCode, 400);
  assert.equal(e.message, blocked);
  await t.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'walker', Description: 'updates still work' }));
  assert.equal(await t.invoke('walker'), `${t.family}.v1`);

  await t.cli('clock', 'advance', '10d');
  e = await awsError(t.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'walker', ZipFile: versionEcho() })));
  assert.equal(e.name, 'InvalidParameterValueException');
  assert.equal(e.message, blocked);
  e = await awsError(t.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'walker', Description: 'no' })));
  assert.equal(e.message, blocked);
  const cfg = await t.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'walker' }));
  assert.equal(cfg.Description, 'updates still work', 'a refused update changes nothing');
  assert.equal(await t.invoke('walker'), `${t.family}.v1`, 'invocations never stop');
  assert.match(t.row(await t.report(), 'walker').Reasons[0].Reason, /takes no more updates since/);
  // The way off: move the function to a supported runtime.
  if (otherPython) {
    await t.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'walker', Runtime: otherPython }));
    assert.equal(t.row(await t.report(), 'walker').ReleaseState, 'GA');
  }
  // Clearing the dates lifts every block.
  await t.cli('runtime', 'lifecycle', t.python, '--clear');
  await t.create('after-clear');
});

test('the report: every update mode and who must act, activity, CSV and the CLI', async () => {
  // A registry for an image function built on the runtime's first version.
  const registry = await startRegistry(mkdtempSync(path.join(tmpdir(), 'lambkin-registry-')));
  const t = await setup({ registries: { [registry.host]: { insecure: true } },
    rollout: { pacing: { low: { phase1_wait: '2d', bake: '1h', regions_per_wave: 0 } } } });
  try {
    await skopeoCopy(`oci:${path.join(builtRuntimes, t.python)}:${t.python}`, `docker://${registry.host}/app/py:v1`);
    await t.lambda.send(new CreateFunctionCommand({ FunctionName: 'image', Role: role, PackageType: 'Image',
      Code: { ImageUri: `${registry.host}/app/py:v1` } }));
  } finally {
    registry.stop();
  }
  await t.create('auto');
  await t.create('fu', { Publish: true });
  for (const q of ['$LATEST', '1']) {
    await t.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'fu', Qualifier: q, UpdateRuntimeOn: 'FunctionUpdate' }));
  }
  await t.create('pinned');
  await t.lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'pinned', UpdateRuntimeOn: 'Manual',
    RuntimeVersionArn: await t.arnOf(1) }));
  for (let i = 0; i < 3; i++) assert.equal(await t.invoke('auto'), `${t.family}.v1`);

  let rows = await t.report();
  assert.equal(rows.length, 5);
  assert.ok(rows.every((r) => r.MustAct === 'nobody'), 'everything is on the newest version');
  assert.equal(t.row(rows, 'image').UpdateMode, 'Image');
  assert.equal(t.row(rows, 'image').RuntimeVersion, `${t.family}.v1`, 'the base it was built on');
  const auto = t.row(rows, 'auto');
  assert.equal(auto.Invocations30Days, 3);
  assert.ok(auto.LastInvoked);
  assert.equal(t.row(rows, 'fu').LastInvoked, null);
  assert.equal(auto.RuntimeVersion, `${t.family}.v1`);
  assert.equal(auto.DependencyRow, 'runtime+runtime');

  // v2 released to phase 1 everywhere; its phase 2 is two days away.
  await t.cli('runtime', 'publish', '--runtime', t.python, '--image', `oci:${path.join(builtRuntimes, t.python)}`, '--severity', 'low');
  await t.cli('clock', 'advance', '1d');
  rows = await t.report('?region=us-east-1');
  assert.equal(t.row(rows, 'auto').MustAct, 'nobody', 'Auto waits for phase 2');
  const fu = t.row(rows, 'fu');
  assert.equal(fu.MustAct, 'function owner');
  assert.equal(fu.VersionsBehind, 1);
  assert.equal(fu.NewestRuntimeVersion, `${t.family}.v2`);
  assert.match(fu.Reasons[0].Reason, /FunctionUpdate and not updated for \d+ days? while 1 newer version was released/);
  assert.match(t.row(rows, 'fu', '1').Reasons[0].Reason, /published version in FunctionUpdate mode/);
  const image = t.row(rows, 'image');
  assert.equal(image.MustAct, 'function owner');
  assert.equal(image.VersionsBehind, 1);
  assert.match(image.Reasons[0].Reason, /container image built on .*v1; 1 newer base released .* rebuild from .*v2 and redeploy/);
  const pinned = t.row(rows, 'pinned');
  assert.equal(pinned.MustAct, 'function owner');
  assert.match(pinned.Reasons[0].Reason, new RegExp(`pinned to ${t.family.replace('.', '\\.')}\\.v1 for 1 day — Manual is a temporary rollback`));
  // Most urgent first: the pin outranks the FunctionUpdate lag.
  assert.ok(rows.findIndex((r) => r.FunctionName === 'pinned') < rows.findIndex((r) => r.FunctionName === 'fu'));

  // The operator pauses the rollout: the Auto version is kept behind by the operator.
  await t.cli('rollout', 'pause', `${t.family}.v2`);
  rows = await t.report();
  assert.equal(t.row(rows, 'auto').MustAct, 'operator');
  assert.match(t.row(rows, 'auto').Reasons[0].Reason, /rollout of .*v2 is paused/);
  await t.cli('rollout', 'resume', `${t.family}.v2`);
  await t.cli('clock', 'advance', '3d');
  rows = await t.report();
  assert.equal(t.row(rows, 'auto').RuntimeVersion, `${t.family}.v2`);
  assert.equal(t.row(rows, 'auto').MustAct, 'nobody');
  assert.match(t.row(rows, 'pinned').Reasons[0].Reason, /for 4 days/);

  // Filters.
  assert.equal((await t.report('?region=eu-west-1')).length, 0);
  assert.equal((await t.report('?runtime=nodejs20.x')).length, 0);
  const bad = await adminFetch(t.server.endpoint, '/lambkin/v1/compliance/report?region=mars-1');
  assert.equal(bad.status, 400);

  // CSV for auditors: RFC 4180, one line per function version.
  const csv = await adminFetch(t.server.endpoint, '/lambkin/v1/compliance/report?format=csv');
  assert.equal(csv.status, 200);
  assert.match(csv.headers.get('content-type'), /^text\/csv/);
  const lines = (await csv.text()).trim().split('\r\n');
  assert.equal(lines.length, 6);
  assert.match(lines[0], /^account,region,function,version,package_type,runtime/);
  assert.ok(lines.some((l) => l.startsWith('123456789012,us-east-1,pinned,$LATEST,Zip,') && l.includes('function owner')));

  // The CLI, for a person (grouped, most urgent first) and for machines.
  const text = await t.cli('compliance', 'report');
  assert.match(text, /The function owner must act \(4\)/);
  assert.match(text, /Nothing to do \(1\)/);
  assert.ok(text.indexOf('pinned:$LATEST') < text.indexOf('auto:$LATEST'));
  const json = JSON.parse(await t.cli('compliance', 'report', '--json', '--region', 'us-east-1'));
  assert.equal(json.FunctionVersions.length, 5);
  assert.equal((await t.cli('compliance', 'report', '--csv')).split('\r\n')[0].split(',')[0], 'account');
});

test('each dependency row of the seeds table, as real zips: check-package and the report', async () => {
  const t = await setup();
  const work = mkdtempSync(path.join(tmpdir(), 'lambkin-deps-'));
  const bom = (await adminJson(t.server.endpoint, `/lambkin/v1/runtime-versions/${t.family}.v1`)).BillOfMaterials;
  const provided = (name) => bom.find((e) => e.Ecosystem === 'python' && e.Name.toLowerCase() === name);
  assert.ok(provided('boto3') && provided('botocore') && provided('s3transfer'), 'the runtime provides the AWS SDK');
  const [boto3, botocore, s3transfer] = ['boto3', 'botocore', 's3transfer'].map((n) => provided(n).Version);
  const zips = {
    // Both from the runtime: nothing bundled.
    'runtime-runtime': { ...handler },
    // Both bundled: the SDK and its dependencies deployed together.
    'bundled-bundled': { ...handler, ...distInfo('boto3', boto3, [`botocore (<2.0a0,>=${botocore})`, `s3transfer (<1.0.0,>=${s3transfer})`, 'jmespath (<2.0.0,>=0.7.1)']),
      ...distInfo('botocore', botocore, ['jmespath (<2.0.0,>=0.7.1)', 'python-dateutil (<3.0.0,>=2.1)', 'urllib3 (>=1.25.4)']),
      ...distInfo('s3transfer', s3transfer, [`botocore (<2.0a0,>=${botocore})`]),
      ...distInfo('jmespath', '1.0.1'), ...distInfo('python-dateutil', '2.9.0', ['six (>=1.5)']),
      ...distInfo('six', '1.16.0'), ...distInfo('urllib3', '1.26.18') },
    // A bundled, B from the runtime: boto3 without botocore, a tightly coupled pair split.
    'bundled-runtime': { ...handler, ...distInfo('boto3', boto3, [`botocore (<2.0a0,>=${botocore})`, `s3transfer (<1.0.0,>=${s3transfer})`]) },
    // A from the runtime, B bundled: the incompatible row.
    'runtime-bundled': { ...handler, ...distInfo('botocore', '1.20.0', ['jmespath (<2.0.0,>=0.7.1)']) },
  };
  const expected = { 'runtime-runtime': ['runtime+runtime', 0], 'bundled-bundled': ['bundled+bundled', 0],
    'bundled-runtime': ['bundled+runtime', 3], 'runtime-bundled': ['runtime+bundled', 3] };
  for (const [name, files] of Object.entries(zips)) {
    const zip = makeZip(files);
    const file = path.join(work, `${name}.zip`);
    writeFileSync(file, zip);
    const run = await execFileP(lambkinBin, ['compliance', 'check-package', file, '--runtime', t.python, '--json'],
      { env: { ...process.env, LAMBKIN_ENDPOINT: t.server.endpoint } }).then((r) => ({ code: 0, out: r.stdout }),
      (err) => ({ code: err.code, out: err.stdout }));
    const answer = JSON.parse(run.out);
    assert.equal(answer.DependencyRow, expected[name][0], name);
    assert.equal(run.code, expected[name][1], `${name}: exit status`);
    await t.create(name, { Code: { ZipFile: zip } });
  }
  const human = await execFileP(lambkinBin, ['compliance', 'check-package', path.join(work, 'runtime-bundled.zip'), '--runtime', t.python],
    { env: { ...process.env, LAMBKIN_ENDPOINT: t.server.endpoint } }).catch((err) => err);
  assert.match(human.stdout, /runtime\+bundled\s+boto3 .* -> botocore 1\.20\.0/);
  assert.match(human.stdout, /at risk/);

  const rows = await t.report();
  for (const [name, [row]] of Object.entries(expected)) assert.equal(t.row(rows, name).DependencyRow, row, name);
  const split = t.row(rows, 'bundled-runtime');
  assert.equal(split.MustAct, 'function owner');
  assert.ok(split.DependencyFindings.some((f) => f.Package === 'boto3' && f.Dependency === 'botocore' && f.TightlyCoupled));
  assert.match(split.Reasons[0].Reason, /bundles boto3 .* but takes botocore .* from the runtime .*tightly coupled/);
  const no = t.row(rows, 'runtime-bundled');
  assert.equal(no.MustAct, 'function owner');
  assert.match(no.Reasons[0].Reason, /uses boto3 from the runtime with its dependency botocore 1\.20\.0 bundled/);
  assert.equal(t.row(rows, 'bundled-bundled').MustAct, 'nobody');
  assert.equal(t.row(rows, 'runtime-runtime').MustAct, 'nobody');

  // A layer counts as bundled.
  const layerZip = makeZip(Object.fromEntries(Object.entries(distInfo('botocore', '1.20.0')).map(([k, v]) => [`python/${k}`, v])));
  const { PublishLayerVersionCommand } = await import('@aws-sdk/client-lambda');
  const layer = await t.lambda.send(new PublishLayerVersionCommand({ LayerName: 'old-botocore', Content: { ZipFile: layerZip },
    CompatibleRuntimes: [t.python] }));
  await t.create('via-layer', { Layers: [layer.LayerVersionArn] });
  assert.equal(t.row(await t.report(), 'via-layer').DependencyRow, 'runtime+bundled');
});

test('phase 2 holds back a function whose bundled botocore the new runtime outgrows', async () => {
  const t = await setup({ rollout: { pacing: { high: { phase1_wait: '1h', bake: '1h', regions_per_wave: 0 } },
    gate: { min_samples: 0, max_bake_extensions: 0 } } });
  const bom = (await adminJson(t.server.endpoint, `/lambkin/v1/runtime-versions/${t.family}.v1`)).BillOfMaterials;
  const egg = bom.find((e) => e.Ecosystem === 'python' && e.Name.toLowerCase() === 'boto3');
  const oldBotocore = bom.find((e) => e.Ecosystem === 'python' && e.Name.toLowerCase() === 'botocore').Version;

  // Functions shipping botocore on its own (Auto), and one bundling nothing.
  const ships = (version) => makeZip({ ...handler, ...distInfo('botocore', version, ['jmespath (<2.0.0,>=0.7.1)']) });
  await t.create('ships-botocore', { Code: { ZipFile: ships(oldBotocore) }, Publish: true });
  await t.create('plain', { Code: { ZipFile: makeZip(handler) } });

  // v2: the same runtime whose boto3 now requires a botocore newer than the one shipped.
  const work = mkdtempSync(path.join(tmpdir(), 'lambkin-v2-'));
  const layout = copyLayout(path.join(builtRuntimes, t.python), path.join(work, 'layout'));
  const base = layout.read(t.python);
  const site = egg.Source.replace(/^\//, '');
  const upgrade = layout.layer(tarOf({
    [`${site}/.wh.${egg.Name}-${egg.Version}.egg-info`]: '',
    [`${site}/boto3-9.0.0.dist-info`]: { dir: true },
    [`${site}/boto3-9.0.0.dist-info/METADATA`]: 'Metadata-Version: 2.1\nName: boto3\nVersion: 9.0.0\nRequires-Dist: botocore (<10.0.0,>=9.0.0)\nRequires-Dist: awscrt (==0.1); extra == "crt"\n\n',
  }));
  const v2 = layout.image({ config: base.config, base: base.layers, layers: [upgrade] });
  layout.tag('v2', v2);
  await t.cli('runtime', 'publish', '--runtime', t.python, '--image', `oci:${layout.dir}:v2`, '--severity', 'high');

  // Listed before phase 2 reaches it, with the reason.
  let [rollout] = await t.status();
  const predicted = rollout.PredictedBreaks.filter((p) => p.FunctionName === 'ships-botocore');
  assert.deepEqual(predicted.map((p) => [p.Version, p.Held]).sort(), [['$LATEST', true], ['1', true]]);
  assert.match(predicted[0].Reason, new RegExp(`boto3 9\\.0\\.0 \\(was [^)]+\\) requires botocore <10\\.0\\.0,>=9\\.0\\.0, the function bundles botocore ${oldBotocore.replace(/\./g, '\\.')}`));
  assert.ok(!rollout.PredictedBreaks.some((p) => p.FunctionName === 'plain'));
  assert.match(await t.cli('rollout', 'status'), /HELD out of phase 2/);

  // Phase 2 moves everything else; the held versions stay, and their owner is told why.
  await t.cli('clock', 'advance', '1d');
  [rollout] = await t.status();
  assert.equal(rollout.Regions.find((r) => r.Region === 'us-east-1').Phase, 'complete');
  assert.equal(await t.invoke('plain'), 'ok');
  const rows = await t.report('?region=us-east-1');
  assert.equal(t.row(rows, 'plain').RuntimeVersion, `${t.family}.v2`);
  const held = t.row(rows, 'ships-botocore');
  assert.equal(held.RuntimeVersion, `${t.family}.v1`);
  assert.equal(held.MustAct, 'function owner');
  assert.match(held.Reasons.map((r) => r.Reason).join('\n'), /predicted to break on .*v2/);

  // The owner acts: new code (botocore bundled new enough) is released; the hold ends.
  await t.lambda.send(new UpdateFunctionCodeCommand({ FunctionName: 'ships-botocore', ZipFile: ships('9.1.0') }));
  [rollout] = await t.status();
  assert.equal(rollout.PredictedBreaks.find((p) => p.FunctionName === 'ships-botocore' && p.Version === '$LATEST').Held, false);
  const cfg = await t.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'ships-botocore' }));
  assert.equal(cfg.RuntimeVersionConfig.RuntimeVersionArn, await t.arnOf(2));
  await t.lambda.send(new PublishVersionCommand({ FunctionName: 'ships-botocore' }));
});

test('with hold_incompatible off, predicted versions are listed but phase 2 moves them', async () => {
  const t = await setup({ rollout: { hold_incompatible: false,
    pacing: { high: { phase1_wait: '1h', bake: '1h', regions_per_wave: 0 } }, gate: { min_samples: 0, max_bake_extensions: 0 } } });
  const bom = (await adminJson(t.server.endpoint, `/lambkin/v1/runtime-versions/${t.family}.v1`)).BillOfMaterials;
  const egg = bom.find((e) => e.Ecosystem === 'python' && e.Name.toLowerCase() === 'boto3');
  await t.create('ships-botocore', { Code: { ZipFile: makeZip({ ...handler, ...distInfo('botocore', '1.0.0') }) } });
  const work = mkdtempSync(path.join(tmpdir(), 'lambkin-v2-'));
  const layout = new Layout(path.join(work, 'layout'));
  copyLayout(path.join(builtRuntimes, t.python), layout.dir);
  const base = layout.read(t.python);
  const site = egg.Source.replace(/^\//, '');
  const upgrade = layout.layer(tarOf({
    [`${site}/boto3-9.0.0.dist-info`]: { dir: true },
    [`${site}/boto3-9.0.0.dist-info/METADATA`]: 'Name: boto3\nVersion: 9.0.0\nRequires-Dist: botocore>=9.0.0\n\n',
    [`${site}/.wh.${egg.Name}-${egg.Version}.egg-info`]: '',
  }));
  layout.tag('v2', layout.image({ config: base.config, base: base.layers, layers: [upgrade] }));
  await t.cli('runtime', 'publish', '--runtime', t.python, '--image', `oci:${layout.dir}:v2`, '--severity', 'high');
  let [rollout] = await t.status();
  assert.deepEqual(rollout.PredictedBreaks.map((p) => [p.FunctionName, p.Held]), [['ships-botocore', false]]);
  await t.cli('clock', 'advance', '1d');
  const cfg = await t.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'ships-botocore' }));
  assert.equal(cfg.RuntimeVersionConfig.RuntimeVersionArn, await t.arnOf(2));
});
