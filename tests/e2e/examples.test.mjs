// The runnable walkthrough in examples/ tells the story it claims: checked line by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { builtRuntimes, createStore, dropStore, lambkinBin } from './helpers.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// The example starts its own server: on the suite's store (STORE), with the suite's runtimes.
async function runExample(script) {
  const key = mkdtempSync(path.join(tmpdir(), 'lambkin-example-'));
  const store = createStore(key);
  try {
    return await promisify(execFile)(path.join(root, 'examples', script), [], {
      env: { ...process.env, LAMBKIN: lambkinBin, RUNTIMES: builtRuntimes, ...(store ? { STORE: store } : {}) },
      timeout: 120000,
    });
  } finally {
    dropStore(key);
    rmSync(key, { recursive: true, force: true });
  }
}

test('examples/runtime-rollout.sh: phase 1, phase 2, the pin back, status, history and the Contributor Insights chart', async () => {
  const { stdout } = await runExample('runtime-rollout.sh');
  const section = (title) => {
    const start = stdout.indexOf(`==> ${title}`);
    assert.ok(start >= 0, `missing section ${title}`);
    const end = stdout.indexOf('\n==> ', start + 1);
    return stdout.slice(start, end < 0 ? undefined : end);
  };
  const v = (n) => new RegExp(`python:3\\.\\d+\\.v${n}`);
  const row = (text, region, fn, n) =>
    assert.match(text, new RegExp(`${region}\\s+${fn.replace('$', '\\$')}\\s+python:3\\.\\d+\\.v${n}\\n`), `${region} ${fn} on v${n}`);

  const phase1 = section('Phase 1 in us-east-1');
  row(phase1, 'us-east-1', 'signup', 2);
  row(phase1, 'us-east-1', 'billing', 2);
  row(phase1, 'us-east-1', 'orders', 1);
  assert.match(section('6 hours later'), /eu-west-1\s+1\s+phase1/);
  assert.match(section('2 days after publish'), /us-east-1\s+0\s+phase2 .* b1\/4\s+1\s+2\s+health gate for batch 1\/4/);
  const done = section('A week later');
  assert.match(done, /severity high, pacing high\s+complete/);
  for (const r of ['us-east-1', 'eu-west-1', 'cn-north-1']) assert.match(done, new RegExp(`${r}\\s+\\d\\s+complete`));
  row(done, 'us-east-1', 'orders', 2);
  row(done, 'us-east-1', 'orders:1', 2);
  row(done, 'us-east-1', 'legacy', 1);
  row(done, 'us-east-1', 'reports', 2);
  row(done, 'eu-west-1', 'catalog', 2);
  row(done, 'cn-north-1', 'shop', 2);
  const pin = section('reports breaks on v2');
  assert.match(pin, /reports: ERROR .*needs a fix for python:3\.\d+\.v2/);
  assert.match(pin, /\nreports: "python:3\.\d+\.v1"/);
  const history = section('Its history');
  assert.match(history, /create \(phase 1\)\n.*phase-2 sweep \(batch \d\)\n.*Manual\s+Manual pin/);
  const inits = section('INIT_START').split('\n').filter((l) => l.includes('INIT_START Runtime Version'));
  assert.deepEqual(inits.map((l) => l.match(v('\\d'))[0].slice(-2)), ['v1', 'v2', 'v1']);

  assert.match(section('A Contributor Insights rule'), /\[\('RuntimeVersions', 'ENABLED'\)\]/);
  // The chart: a legend line per runtime version; v1 is above v2 early on and below it late.
  const chart = section('The transition').split('\n');
  const glyphOf = {};
  for (const l of chart) {
    const m = l.match(/^ {2}(\S) python:3\.\d+\.(v\d)\s+(\d+)\s+arn:aws:lambda:us-east-1::runtime:/);
    if (m) glyphOf[m[2]] = m[1];
  }
  assert.deepEqual(Object.keys(glyphOf).sort(), ['v1', 'v2']);
  const plot = chart.filter((l) => /^\s*\d* [┤│]/.test(l)).map((l) => [...l.replace(/^\s*\d* [┤│]/, '')]);
  assert.equal(plot.length, 9);
  const height = (glyph, from, to) => {
    const hs = [];
    plot.forEach((cells, row) => cells.forEach((c, col) => {
      if (c === glyph && col >= from && col < to) hs.push(plot.length - row);
    }));
    return hs.reduce((a, b) => a + b, 0) / hs.length;
  };
  assert.ok(height(glyphOf.v1, 2, 10) > height(glyphOf.v2, 2, 10), 'v1 leads before the rollout');
  assert.ok(height(glyphOf.v2, 30, 60) > height(glyphOf.v1, 30, 60), 'v2 leads after it');
});
