// Function URLs (issue 16): a request to a function URL (AuthType NONE, the function policy
// granting anyone) answered by a warm environment, against a synchronous Invoke of the same
// function through the Lambda API (SigV4-signed by the JS SDK) in the same run. Both go through
// the same invoker and warm environment; the URL adds the policy read, the 2.0 event and the
// response translation. Aim: <= 1.2x.
//
// usage: node bench/function_url_bench.mjs [--lambkin build/src/lambkin] [--runtimes build/runtimes]
//        [--requests 300] [--rounds 3]
// Needs the end-to-end suite's npm packages (scripts/install-deps.sh --with-npm).
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({ options: {
  lambkin: { type: 'string', default: path.resolve(here, '..', 'build', 'src', 'lambkin') },
  runtimes: { type: 'string', default: path.resolve(here, '..', 'build', 'runtimes') },
  requests: { type: 'string', default: '300' },
  rounds: { type: 'string', default: '3' },
} });
process.env.LAMBKIN_BIN = path.resolve(opts.lambkin);
process.env.LAMBKIN_RUNTIMES_DIR = path.resolve(opts.runtimes);
const e2e = path.resolve(here, '..', 'tests', 'e2e');
const { startServer, makeZip, role } = await import(path.join(e2e, 'helpers.mjs'));
const { CreateFunctionCommand, InvokeCommand, CreateFunctionUrlConfigCommand, AddPermissionCommand } =
  createRequire(path.join(e2e, 'helpers.mjs'))('@aws-sdk/client-lambda');

const requests = Number(opts.requests);
const rounds = Number(opts.rounds);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (x) => `${(x * 1000).toFixed(0).padStart(7)} us`;

// One keep-alive connection, as the SDK keeps one.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode} ${body}`))));
    }).on('error', reject);
  });
}

const server = await startServer();
try {
  const lambda = server.client();
  const handler = 'def handler(event, context):\n    return {"ok": True}\n';
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'bench', Runtime: 'python3.11', Handler: 'index.handler',
    Role: role, Code: { ZipFile: makeZip({ 'index.py': handler }) } }));
  const { FunctionUrl } = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'bench', AuthType: 'NONE' }));
  await lambda.send(new AddPermissionCommand({ FunctionName: 'bench', StatementId: 'public', Action: 'lambda:InvokeFunctionUrl',
    Principal: '*', FunctionUrlAuthType: 'NONE' }));
  // The path form on the server's address: the same handler as the Host form, without relying
  // on Node resolving *.localhost.
  const id = new URL(FunctionUrl).hostname.split('.')[0];
  const url = `${server.endpoint}/lambda-url/${id}/`;
  const invoke = async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'bench', Payload: Buffer.from('{}') }));
    if (out.FunctionError) throw new Error(Buffer.from(out.Payload).toString());
  };
  // Warm both paths (one environment serves both).
  for (let i = 0; i < 20; i++) { await invoke(); await get(url); }
  const results = { invoke: [], url: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of [['invoke', invoke], ['url', () => get(url)]]) {
      const times = [];
      for (let i = 0; i < requests; i++) {
        const t = performance.now();
        await call();
        times.push(performance.now() - t);
      }
      results[name].push(median(times));
    }
  }
  const inv = Math.min(...results.invoke);
  const fu = Math.min(...results.url);
  console.log(`function URL vs Invoke, median of ${requests} sequential warm requests, best of ${rounds} rounds`);
  console.log(`  Invoke (SDK, SigV4)   ${us(inv)}`);
  console.log(`  function URL (NONE)   ${us(fu)}`);
  console.log(`  ratio                 ${(fu / inv).toFixed(2)}x (aim <= 1.2x)`);
} finally {
  agent.destroy();
  await server.stop();
}
