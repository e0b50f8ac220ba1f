// The operator verbs against a running server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, lambkinBin, runtimeVersions } from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

const lambkin = (...args) =>
  execFileSync(lambkinBin, args, { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } }).toString();

test('lambkin runtime list shows each built-in runtime version with its ARNs', async () => {
  const json = JSON.parse(lambkin('runtime', 'list', '--json')).RuntimeVersions;
  const names = json.map((v) => v.Name);
  assert.ok(names.includes('provided:al2023.v1'));
  assert.ok(names.includes('nodejs:20.v1'));
  assert.ok(names.some((n) => /^python:3\.\d+\.v1$/.test(n)));
  for (const v of json) {
    assert.match(v.Arns.x86_64, /^arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}$/);
    assert.notEqual(v.Arns.x86_64, v.Arns.arm64);
    assert.match(v.Digest, /^[0-9a-f]{64}$/);
  }
  const text = lambkin('runtime', 'list', '--region', 'eu-west-1');
  const west = await runtimeVersions(server.endpoint, 'eu-west-1');
  for (const v of west) {
    assert.ok(text.includes(v.Arns.arm64), `table lists ${v.Name} arm64 ARN`);
  }
  assert.match(text, /^RUNTIME +VERSION +STATE +SEVERITY +ARCH +ARN in eu-west-1$/m);
});

test('lambkin runtime list fails clearly without a server', () => {
  assert.throws(
    () => execFileSync(lambkinBin, ['runtime', 'list', '--endpoint', 'http://127.0.0.1:1'], { stdio: 'pipe' }),
    (e) => e.status === 1 && /cannot reach the Lambkin server/.test(e.stderr.toString()));
});
