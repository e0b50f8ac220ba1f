// Running the server for a team: a graceful stop on SIGTERM (no new connections, in-flight
// invocations finish, exit 0), JSON log lines with request ids, and connection limits and
// timeouts that idle and slow clients (slowloris) cannot exhaust.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startServer, role, makeZip, shellBootstrap, withConfig } from './helpers.mjs';

const servers = [];
const configs = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  for (const c of configs) c.cleanup();
});

// A raw connection to the server; `reply` resolves with everything it sent until it closed.
function connect(endpoint) {
  const { hostname, port } = new URL(endpoint);
  const socket = net.connect(Number(port), hostname);
  let data = '';
  socket.on('data', (d) => { data += d; });
  socket.on('error', () => {});
  const start = Date.now();
  socket.ended = new Promise((resolve) => socket.on('close', () => resolve({ data, after: Date.now() - start })));
  socket.connected = new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return socket;
}
// A health probe on a connection of its own that it closes (`Connection: close`): no keep-alive
// connection left behind to count against the server's connection limit.
function health(endpoint) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${endpoint}/lambkin/v1/health`, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('timeout', () => req.destroy(new Error('health probe timed out')));
    req.on('error', reject);
  });
}

test('SIGTERM: no new connections, the invocation in flight finishes and is answered, logs flushed, exit 0', async () => {
  const server = await startServer({ args: ['--log-format', 'json'] });
  servers.push(server);
  const lambda = server.client();
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'slow', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle: 'sleep 2; echo \'{"done":true}\'' }) }) } }));
  const inflight = lambda.send(new InvokeCommand({ FunctionName: 'slow' }));
  await sleep(1000);
  const exited = new Promise((resolve) => server.child.once('exit', (code, signal) => resolve({ code, signal })));
  server.child.ref();  // wait for its exit
  server.child.kill('SIGTERM');
  await sleep(300);
  await assert.rejects(health(server.endpoint), 'a draining server accepts no new connection');
  const out = await inflight;
  assert.equal(out.StatusCode, 200);
  assert.deepEqual(JSON.parse(Buffer.from(out.Payload).toString()), { done: true });
  assert.deepEqual(await exited, { code: 0, signal: null });

  // Every line the server printed is JSON; the invocation's has its request id.
  const lines = server.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.time && l.level && l.component && typeof l.message === 'string'));
  assert.match(lines[0].message, /^listening on http:\/\//);
  const request = lines.find((l) => l.request_id === out.$metadata.requestId);
  assert.ok(request, 'the invocation has a log line with its request id');
  assert.equal(request.method, 'POST');
  assert.equal(request.path, '/2015-03-31/functions/slow/invocations');
  assert.equal(request.status, 200);
  assert.ok(request.duration_ms >= 1000);
  assert.ok(lines.some((l) => /^stopping: no new requests; 1 in flight/.test(l.message)));
  assert.equal(lines.at(-1).message, 'stopped');
});

test('slow and idle clients are cut off, a full listener answers 503, oversized headers 431; others are served throughout', async () => {
  const config = withConfig({ http: { idle_seconds: 2, header_seconds: 2, max_connections: 40 } });
  configs.push(config);
  const server = await startServer({ args: ['--config', config.file] });
  servers.push(server);

  // Slowloris: a header trickled a line a second is cut off after header_seconds.
  const slow = connect(server.endpoint);
  await slow.connected;
  slow.write('GET /lambkin/v1/health HTTP/1.1\r\nHost: x\r\n');
  const trickle = setInterval(() => slow.write('X-Slow: y\r\n'), 500);
  // An idle connection (no byte at all) is closed after idle_seconds.
  const idle = connect(server.endpoint);
  await idle.connected;
  assert.equal((await health(server.endpoint)).status, 200, 'others are served meanwhile');
  const [slowEnd, idleEnd] = await Promise.all([slow.ended, idle.ended]);
  clearInterval(trickle);
  assert.ok(slowEnd.after >= 1500 && slowEnd.after < 6000, `slow client cut after ${slowEnd.after} ms`);
  assert.ok(idleEnd.after >= 1500 && idleEnd.after < 6000, `idle client cut after ${idleEnd.after} ms`);

  // Full: 40 open connections; the next one is told so and closed. (The server must first have
  // let go of the connections closed above.)
  await sleep(300);
  const held = [];
  for (let i = 0; i < 40; i++) held.push(connect(server.endpoint));
  await Promise.all(held.map((s) => s.connected));
  await sleep(300);
  const extra = connect(server.endpoint);
  const refused = await extra.ended;
  let early = 0;
  await Promise.all(held.map((s) => Promise.race([s.ended.then(() => { early += 1; }), sleep(0)])));
  assert.equal(early, 0, 'none of the 40 held connections was refused');
  assert.match(refused.data, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(refused.data, /x-amzn-ErrorType: ServiceUnavailableException/);
  assert.match(refused.data, /"message":"Too many connections: try again in a moment."/);
  for (const s of held) s.destroy();
  await sleep(300);
  assert.equal((await health(server.endpoint)).status, 200, 'served again once connections close');

  // A header over the limit (64 KiB) is refused with 431.
  const big = connect(server.endpoint);
  await big.connected;
  big.write(`GET /lambkin/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  assert.match((await big.ended).data, /^HTTP\/1\.1 431 /);
  assert.equal((await health(server.endpoint)).status, 200);
});

test('a bad http configuration is refused at start with what is wrong', async () => {
  const config = withConfig({ http: { idle_seconds: 0 } });
  configs.push(config);
  await assert.rejects(startServer({ args: ['--config', config.file] }), /config: http\.idle_seconds must be 1 to 86400 seconds/);
});
