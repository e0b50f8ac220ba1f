// Publishing a runtime version, and what function versions do with it: phase-1 pick-up on
// update, the Manual pin to an earlier version (rollback) and back to Auto, each change
// visible in RuntimeVersionConfig and in a new environment's INIT_START.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, InvokeCommand, UpdateFunctionConfigurationCommand, GetFunctionConfigurationCommand,
  PutRuntimeManagementConfigCommand,
} from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startServer, makeZip, role, devCredentials, lambkinBin, runtimeVersions, pythonImage, writeImageLayout } from './helpers.mjs';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
let server, lambda, logs, python;

const lambkin = (...args) => run(lambkinBin, args, { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } });
const arnOf = async (name, arch = 'x86_64') => (await runtimeVersions(server.endpoint)).find((v) => v.Name === name).Arns[arch];
async function initStarts(fn) {
  const out = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/${fn}`, filterPattern: 'INIT_START' }));
  return out.events.map((e) => e.message.split(/\s+/)[3]);
}
const invoke = (fn) => lambda.send(new InvokeCommand({ FunctionName: fn, Payload: Buffer.from('{}') }));

before(async () => {
  server = await startServer();
  lambda = server.client();
  logs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  python = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'rv', Runtime: python, Handler: 'app.handler', Role: role,
    Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    return "ok"\n' }) } }));
});
after(() => server.stop());

test('lambkin runtime publish adds an immutable version; bad publishes change nothing', async () => {
  const family = python.replace('python', 'python:');
  const { stdout } = await lambkin('runtime', 'publish', '--runtime', python, '--version', '3', '--image', pythonImage,
    '--severity', 'high', '--notes', 'patched openssl');
  assert.match(stdout, new RegExp(`^published ${family}\\.v3 \\(${python}, severity high\\)`));
  const bad = mkdtempSync(path.join(tmpdir(), 'lambkin-image-'));
  writeImageLayout(bad, { 'var/runtime/bootstrap': { data: '#!/bin/sh\n', mode: 0o644 } });
  const refusals = [
    [['--runtime', python, '--version', '3', '--image', pythonImage], /must be higher than the newest/],
    [['--runtime', python, '--version', '2', '--image', pythonImage], /must be higher than the newest/],
    [['--runtime', 'cobol85', '--version', '9', '--image', pythonImage], /Unknown runtime cobol85/],
    [['--runtime', python, '--version', '9', '--image', `oci:${bad}`], /has no executable \/var\/runtime\/bootstrap/],
    [['--runtime', python, '--version', '9', '--image', `oci:${bad}-missing`], /cannot open \S*-missing\/oci-layout/],
    [['--runtime', 'nodejs20.x', '--version', '9', '--image', pythonImage], /the image is for runtime python3\.11, not nodejs20\.x/],
  ];
  for (const [args, message] of refusals) {
    await assert.rejects(lambkin('runtime', 'publish', ...args), (e) => e.code === 1 && message.test(e.stderr), args.join(' '));
  }
  rmSync(bad, { recursive: true, force: true });
  const names = (await runtimeVersions(server.endpoint)).filter((v) => v.Runtime === python).map((v) => v.Name);
  assert.deepEqual(names, [`${family}.v1`, `${family}.v3`], 'numbers may skip; refused publishes left no trace');
});

test('an update takes the new version; Manual rolls back to the old one; Auto returns; INIT_START shows each', async () => {
  const family = python.replace('python', 'python:');
  const v1 = `${family}.v1`, v3 = `${family}.v3`;
  await invoke('rv');
  assert.deepEqual(await initStarts('rv'), [v1], 'an existing function stays on its version until it is updated');
  const updated = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'rv', Description: 'deploy' }));
  assert.equal(updated.RuntimeVersionConfig.RuntimeVersionArn, await arnOf(v3));
  await invoke('rv');
  assert.deepEqual(await initStarts('rv'), [v1, v3]);
  // Rollback: pin the earlier version.
  await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'rv', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await arnOf(v1) }));
  const pinned = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rv' }));
  assert.equal(pinned.RuntimeVersionConfig.RuntimeVersionArn, await arnOf(v1));
  await invoke('rv');
  assert.deepEqual(await initStarts('rv'), [v1, v3, v1]);
  // Back to Auto once fixed: Auto follows the newest version that has reached phase 2 here,
  // and v3 (severity high) is still in phase 1, so the function stays on v1 and its warm
  // environment keeps serving without a new INIT_START.
  const auto = await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'rv', UpdateRuntimeOn: 'Auto' }));
  assert.equal(auto.UpdateRuntimeOn, 'Auto');
  assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rv' }))).RuntimeVersionConfig.RuntimeVersionArn, await arnOf(v1));
  await invoke('rv');
  assert.deepEqual(await initStarts('rv'), [v1, v3, v1]);
  // The next update is phase 1 again: v3.
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'rv', Description: 'fixed' }));
  await invoke('rv');
  assert.deepEqual(await initStarts('rv'), [v1, v3, v1, v3]);
  await invoke('rv');
  assert.equal((await initStarts('rv')).length, 4);
});
