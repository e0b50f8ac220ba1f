// Steady under load: a mixed load for --minutes (default 10) from this process on loopback —
// signed API reads and writes, synchronous and Event invokes, log reads — then 10,000 idle
// connections and slowloris clients against the same server.
//
// Reports, per minute: requests, 5xx, p50/p99 latency, the server's RSS; then the ratios of the
// last minute to the first (the baseline measured in the same run: flat is ~1.0), the Event
// invocations sent against those that ran (none lost), and the latency of requests while
// 10,000 idle and 200 slowloris connections are held against the same requests before (ratio).
//
// usage: node bench/soak_bench.mjs [--lambkin build/src/lambkin] [--runtimes DIR] [--minutes 10]
//        [--workers 16] [--idle 10000]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm).
import net from 'node:net';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string' },
  minutes: { type: 'string', default: '10' },
  workers: { type: 'string', default: '16' },
  idle: { type: 'string', default: '10000' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
if (opts.runtimes) process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startServer, makeZip, shellBootstrap, role, devCredentials } = await import(path.join(e2e, 'helpers.mjs'));
const require = createRequire(path.join(e2e, 'helpers.mjs'));
const {
  CreateFunctionCommand, GetFunctionCommand, InvokeCommand, ListFunctionsCommand, TagResourceCommand,
  UpdateFunctionConfigurationCommand,
} = require('@aws-sdk/client-lambda');
const { CloudWatchLogsClient, FilterLogEventsCommand } = require('@aws-sdk/client-cloudwatch-logs');

const minutes = Number(opts.minutes);
const workers = Number(opts.workers);
const idleCount = Number(opts.idle);
const pct = (xs, p) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] : 0);
const rssOf = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;

const server = await startServer({ args: [...(opts.runtimes ? ['--runtimes', path.resolve(opts.runtimes)] : []),
  '--max-connections', String(idleCount + 2000)] });
const lambda = server.client();
const logs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
const FUNCTIONS = 8;
try {
  const code = makeZip({ bootstrap: shellBootstrap({ handle: 'echo "$EVENT" >&2; echo \'"ok"\'' }) });
  for (let i = 0; i < FUNCTIONS; i++) {
    await lambda.send(new CreateFunctionCommand({ FunctionName: `soak-${i}`, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: code } }));
  }
  const events = new Set();
  let eventSeq = 0;
  const ops = [
    [30, async (i) => lambda.send(new InvokeCommand({ FunctionName: `soak-${i % FUNCTIONS}`, Payload: Buffer.from('{"sync":true}') }))],
    [15, async (i) => {
      const id = `ev-${eventSeq++}`;
      await lambda.send(new InvokeCommand({ FunctionName: `soak-${i % FUNCTIONS}`, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ id })) }));
      events.add(id);
    }],
    [20, async (i) => lambda.send(new GetFunctionCommand({ FunctionName: `soak-${i % FUNCTIONS}` }))],
    [10, async () => lambda.send(new ListFunctionsCommand({}))],
    [5, async (i) => lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: `soak-${i % FUNCTIONS}`, Description: `d${i % 3}` }))
      .catch((e) => { if (e.name !== 'ResourceConflictException') throw e; })],
    [5, async (i) => lambda.send(new TagResourceCommand({ Resource: `arn:aws:lambda:us-east-1:123456789012:function:soak-${i % FUNCTIONS}`, Tags: { n: String(i % 5) } }))],
    [15, async (i) => logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/soak-${i % FUNCTIONS}`, limit: 20 }))
      .catch((e) => { if (e.name !== 'ResourceNotFoundException') throw e; })],
  ];
  const total = ops.reduce((a, [w]) => a + w, 0);
  const pick = (r) => { let x = r * total; for (const [w, f] of ops) { if ((x -= w) < 0) return f; } return ops[0][1]; };

  const perMinute = [];
  let current = { latencies: [], errors5xx: 0, other: 0 };
  const start = performance.now();
  const end = start + minutes * 60e3;
  let n = 0;
  const ticker = setInterval(() => {
    perMinute.push({ ...current, rss: rssOf(server.child.pid) });
    const m = perMinute.at(-1);
    console.log(`  minute ${String(perMinute.length).padStart(2)}: ${String(m.latencies.length).padStart(6)} requests, ${m.errors5xx} 5xx, p50 ${pct(m.latencies, 0.5).toFixed(1)} ms, p99 ${pct(m.latencies, 0.99).toFixed(1)} ms, RSS ${m.rss.toFixed(0)} MB`);
    current = { latencies: [], errors5xx: 0, other: 0 };
  }, 60e3);
  console.log(`soak: ${minutes} min, ${workers} workers, ${FUNCTIONS} functions (sync and Event invokes, reads, writes, log reads)`);
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < end) {
      const i = n++;
      const t = performance.now();
      try {
        await pick(Math.random())(i);
      } catch (e) {
        if ((e.$metadata?.httpStatusCode ?? 0) >= 500 || !e.$metadata) current.errors5xx++;
        else current.other++;
      }
      current.latencies.push(performance.now() - t);
    }
  }));
  clearInterval(ticker);
  if (current.latencies.length > 0 && perMinute.length < minutes) perMinute.push({ ...current, rss: rssOf(server.child.pid) });

  // Every Event invocation accepted ran: each logged its id.
  const seen = new Set();
  const deadline = performance.now() + 120e3;
  while (seen.size < events.size && performance.now() < deadline) {
    for (let f = 0; f < FUNCTIONS; f++) {
      let nextToken;
      do {
        const r = await logs.send(new FilterLogEventsCommand({ logGroupName: `/aws/lambda/soak-${f}`, filterPattern: '"ev-"', nextToken }));
        for (const e of r.events) { const m = e.message.match(/"id":"(ev-\d+)"/); if (m) seen.add(m[1]); }
        nextToken = r.nextToken;
      } while (nextToken);
    }
    if (seen.size < events.size) await sleep(2000);
  }

  // Idle connections and slowloris, against requests before and while they are held.
  const probe = async () => {
    const xs = [];
    for (let i = 0; i < 100; i++) { const t = performance.now(); await lambda.send(new GetFunctionCommand({ FunctionName: 'soak-0' })); xs.push(performance.now() - t); }
    return xs;
  };
  const before = await probe();
  const { hostname, port } = new URL(server.endpoint);
  const held = [];
  for (let i = 0; i < idleCount; i++) {
    const s = net.connect(Number(port), hostname);
    s.on('error', () => {});
    held.push(s);
    if (i % 500 === 499) await sleep(20);
  }
  for (let i = 0; i < 200; i++) {
    const s = net.connect(Number(port), hostname, () => s.write('GET /lambkin/v1/health HTTP/1.1\r\nHost: x\r\n'));
    s.on('error', () => {});
    held.push(s);
  }
  await sleep(1000);
  const during = await probe();
  const rssHeld = rssOf(server.child.pid);
  for (const s of held) s.destroy();

  const first = perMinute[0];
  const last = perMinute.at(-1);
  const all5xx = perMinute.reduce((a, m) => a + m.errors5xx, 0);
  console.log(`  5xx in all: ${all5xx}; other errors: ${perMinute.reduce((a, m) => a + m.other, 0)}`);
  console.log(`  Event invocations: ${events.size} accepted, ${seen.size} ran (${events.size - seen.size} lost)`);
  console.log(`  p99 last/first minute: ${(pct(last.latencies, 0.99) / pct(first.latencies, 0.99)).toFixed(2)}  (flat: ~1)`);
  console.log(`  RSS last/first minute: ${(last.rss / first.rss).toFixed(2)}  (${first.rss.toFixed(0)} -> ${last.rss.toFixed(0)} MB)`);
  console.log(`  GetFunction p50 with ${idleCount} idle + 200 slowloris connections held: ${pct(during, 0.5).toFixed(2)} ms vs ${pct(before, 0.5).toFixed(2)} ms before, ratio ${(pct(during, 0.5) / pct(before, 0.5)).toFixed(2)}; RSS ${rssHeld.toFixed(0)} MB`);
} finally {
  await server.stop();
}
