// A server killed with SIGKILL right after acknowledging writes has all of them after restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateFunctionCommand, UpdateFunctionConfigurationCommand, PublishVersionCommand,
  PutRuntimeManagementConfigCommand, GetFunctionConfigurationCommand,
  GetRuntimeManagementConfigCommand,
} from '@aws-sdk/client-lambda';
import { startServer, providedZip, role } from './helpers.mjs';

// For each function: the last acknowledged value of each field, and the value of a write that
// was in flight at the kill (which may or may not have been applied).
function field(initial) {
  return { sure: initial, maybe: undefined };
}

async function write(f, value, send) {
  f.maybe = value;
  await send();
  f.sure = value;
  f.maybe = undefined;
}

function check(f, actual, what) {
  assert.ok(actual === f.sure || (f.maybe !== undefined && actual === f.maybe),
    `${what}: got ${actual}, acknowledged ${f.sure}${f.maybe !== undefined ? ` (in flight: ${f.maybe})` : ''}`);
  f.sure = actual;
  f.maybe = undefined;
}

test('acknowledged writes survive SIGKILL at random points', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lambkin-durable-'));
  const functions = new Map();
  let acknowledgedWrites = 0;
  try {
    for (let round = 0; round < 4; round++) {
      const server = await startServer({ dataDir });
      try {
        const lambda = server.client();
        for (const [name, want] of functions) {
          const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }))
            .catch((e) => (e.name === 'ResourceNotFoundException' ? null : Promise.reject(e)));
          check(want.exists, cfg !== null, `${name} exists`);
          if (!cfg) continue;
          check(want.timeout, cfg.Timeout, `${name} timeout`);
          const rm = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: name }));
          check(want.mode, rm.UpdateRuntimeOn, `${name} mode`);
          if (want.published.sure) {
            const v = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: '1' }));
            assert.equal(v.Version, '1');
          }
        }
        const writes = [];
        for (let i = 0; i < 8; i++) {
          const name = `d${round}-${i}`;
          const f = { exists: field(false), timeout: field(5), mode: field('Auto'), published: field(false) };
          functions.set(name, f);
          writes.push((async () => {
            await write(f.exists, true, () => lambda.send(new CreateFunctionCommand({
              FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role,
              Code: { ZipFile: providedZip() }, Timeout: 5 })));
            await write(f.timeout, 7 + i, () => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Timeout: 7 + i })));
            await write(f.published, true, () => lambda.send(new PublishVersionCommand({ FunctionName: name })));
            await write(f.mode, 'FunctionUpdate', () => lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: name, UpdateRuntimeOn: 'FunctionUpdate' })));
            acknowledgedWrites += 4;
          })());
        }
        const settled = Promise.allSettled(writes);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
        await server.kill('SIGKILL');
        await settled;
      } finally {
        await server.kill('SIGKILL');
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.ok(functions.size === 32);
});

test('a second server on the same data directory is refused', async () => {
  const server = await startServer();
  try {
    await assert.rejects(startServer({ dataDir: server.dataDir }), /in use by another lambkin server/);
  } finally {
    await server.stop();
  }
});
