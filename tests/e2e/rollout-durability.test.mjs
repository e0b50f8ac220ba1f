// SIGKILL at random points of a phase-2 sweep: after each restart the rollout resumes where it
// was; no function version is migrated twice or skipped, and every migration has exactly one
// edit in the history. The store (SQLite or PostgreSQL) is inspected directly while the server
// is down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateFunctionCommand, PublishVersionCommand, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { startServer, role, lambkinBin, runtimeVersions, pythonImage, versionEcho, adminJson, dropStore, storeQuery, checkSweep } from './helpers.mjs';

const execFileP = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL during a sweep, again and again: nothing migrated twice, nothing skipped, history consistent', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-kill-'));
  const config = path.join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({
    regions: { runtime_management: ['us-east-1'], without_runtime_management: [] },
    rollout: { batches: [0.5], gate: { min_samples: 0 }, sweep: { chunk_size: 3, max_migrations_per_second: 40 } },
  }));
  const dataDir = path.join(dir, 'data');
  const args = ['--clock', 'simulated', '--config', config];
  let server = await startServer({ dataDir, args });
  // Whatever fails, no server is left running (it would keep the test process alive).
  t.after(async () => {
    await server.kill('SIGKILL');
    dropStore(dataDir);
    rmSync(dir, { recursive: true, force: true });
  });
  const python = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
  const lambda = server.client();
  const zip = versionEcho();
  const functions = 50;
  for (let i = 0; i < functions; i++) {
    const name = `f${String(i).padStart(3, '0')}`;
    await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: python, Handler: 'app.handler', Role: role, Code: { ZipFile: zip } }));
    await lambda.send(new PublishVersionCommand({ FunctionName: name }));
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'v2 of the config' }));
    await lambda.send(new PublishVersionCommand({ FunctionName: name }));
  }
  const total = functions * 3;  // $LATEST and two published versions, all Auto
  const cli = (...a) => execFileP(lambkinBin, a, { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } });
  await cli('runtime', 'publish', '--runtime', python, '--version', '2', '--image', pythonImage, '--severity', 'critical');
  const rv = storeQuery(dataDir, "SELECT MAX(id) FROM runtime_versions WHERE runtime LIKE 'python%'");

  const check = () => checkSweep(dataDir, rv);

  let last = 0;
  const kills = 5;
  for (let k = 0; k < kills; k++) {
    // Past the current bake: the next batch sweeps (slowly, rate-limited) while we kill.
    const advancing = cli('clock', 'advance', '1h').catch(() => {});
    await sleep(60 + Math.floor(Math.random() * 500));
    await server.kill('SIGKILL');
    await advancing;
    const edits = check();
    if (process.env.LAMBKIN_TEST_VERBOSE) console.log(`kill ${k}: ${edits} migrated`);
    assert.ok(edits >= last, 'progress never goes backwards');
    last = edits;
    server = await startServer({ dataDir, args });
  }
  // Let it finish: every Auto version migrated exactly once.
  await cli('clock', 'advance', '1d');
  await cli('clock', 'advance', '1d');
  const status = (await adminJson(server.endpoint, '/lambkin/v1/rollouts')).Rollouts[0];
  await server.kill('SIGTERM');
  assert.equal(check(), total);
  assert.equal(status.State, 'complete');
  assert.equal(status.Regions[0].Migrated, total);
  assert.equal(status.Regions[0].Remaining, 0);
});
