// Invoke with the real SDK: real sandboxed execution environments on each runtime, the
// Runtime API as bootstraps written for AWS use it, errors, limits, and the function logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateFunctionCommand, InvokeCommand, PublishVersionCommand, CreateAliasCommand,
  UpdateFunctionConfigurationCommand, PutFunctionConcurrencyCommand, GetFunctionConcurrencyCommand,
  DeleteFunctionConcurrencyCommand, DeleteFunctionCommand,
} from '@aws-sdk/client-lambda';
import {
  CloudWatchLogsClient, GetLogEventsCommand, DescribeLogStreamsCommand, FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { startServer, makeZip, role, account, awsError, devCredentials, runtimeVersions, shellBootstrap, withConfig } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const decoder = new TextDecoder();
let server, lambda, logs, versions, pythonRuntime;

before(async () => {
  server = await startServer();
  lambda = server.client();
  logs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  versions = await runtimeVersions(server.endpoint);
  pythonRuntime = versions.find((v) => v.Runtime.startsWith('python3.')).Runtime;
});
after(() => server.stop());

async function create(name, runtime, handler, files, extra = {}) {
  await lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: runtime, Handler: handler, Role: role,
    Code: { ZipFile: makeZip(files) }, ...extra }));
}

async function invoke(name, payload = {}, extra = {}) {
  const out = await lambda.send(new InvokeCommand({
    FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)), ...extra }));
  return { ...out, body: out.Payload ? decoder.decode(out.Payload) : '' };
}

async function streamEvents(fn) {
  const group = `/aws/lambda/${fn}`;
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: group }));
  const all = [];
  for (const s of streams.logStreams) {
    const ev = await logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: s.logStreamName, startFromHead: true }));
    all.push({ stream: s.logStreamName, messages: ev.events.map((e) => e.message) });
  }
  return all;
}

const tutorialBootstrap = readFileSync(path.join(here, 'fixtures', 'tutorial-bootstrap.sh'), 'utf8');
const tutorialFunction = readFileSync(path.join(here, 'fixtures', 'tutorial-function.sh'), 'utf8');

test('the AWS custom runtime tutorial bootstrap runs unmodified', async () => {
  await create('tutorial', 'provided.al2023', 'function.handler',
    { bootstrap: tutorialBootstrap, 'function.sh': tutorialFunction });
  const first = await invoke('tutorial', { text: 'Hello' });
  assert.equal(first.StatusCode, 200);
  assert.equal(first.FunctionError, undefined);
  assert.equal(first.ExecutedVersion, '$LATEST');
  assert.equal(first.body, `Echoing request: '{"text":"Hello"}'`);
  const second = await invoke('tutorial', { text: 'again' });
  assert.equal(second.body, `Echoing request: '{"text":"again"}'`);
  const streams = await streamEvents('tutorial');
  assert.equal(streams.length, 1, 'one warm environment served both');
  const { stream, messages } = streams[0];
  assert.match(stream, /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/);
  const arn = versions.find((v) => v.Runtime === 'provided.al2023').Arns.x86_64;
  assert.equal(messages[0], `INIT_START Runtime Version: provided:al2023.v1\tRuntime Version ARN: ${arn}\n`);
  assert.equal(messages.filter((m) => m.startsWith('INIT_START')).length, 1);
  const starts = messages.filter((m) => m.startsWith('START RequestId: '));
  assert.equal(starts.length, 2);
  assert.match(starts[0], /^START RequestId: [0-9a-f-]{36} Version: \$LATEST\n$/);
  const reports = messages.filter((m) => m.startsWith('REPORT'));
  assert.match(reports[0], /^REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n$/);
  assert.match(reports[1], /^REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t\n$/);
  assert.ok(messages.includes('{"text":"Hello"}\n'), 'function output is a log event');
});

// The files of an installed npm package, for a function's node_modules.
function packageFiles(dir, prefix) {
  const out = {};
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) Object.assign(out, packageFiles(full, `${prefix}${entry.name}/`));
    else out[`${prefix}${entry.name}`] = readFileSync(full);
  }
  return out;
}

test('the npm aws-lambda-ric runtime interface client runs unmodified on provided.al2023', async () => {
  // provided.al2023 has no Node.js: the function brings its own, as on Lambda (here the
  // build machine's official Node.js build, which needs only glibc and libstdc++).
  const ric = path.resolve(here, '..', 'node_modules', 'aws-lambda-ric');
  const files = {
    bootstrap: '#!/bin/sh\nexec /var/task/bin/node /var/task/node_modules/aws-lambda-ric/bin/index.mjs "$_HANDLER"\n',
    'bin/node': readFileSync(process.execPath),
    'index.mjs': `export const handler = async (event, context) => {
      console.log('via aws-lambda-ric', JSON.stringify(event));
      if (event.fail) throw new Error('ric boom');
      return { n: event.n * 2, requestId: context.awsRequestId };
    };`,
    'node_modules/aws-lambda-ric/package.json': readFileSync(path.join(ric, 'package.json')),
    ...packageFiles(path.join(ric, 'bin'), 'node_modules/aws-lambda-ric/bin/'),
    ...packageFiles(path.join(ric, 'dist'), 'node_modules/aws-lambda-ric/dist/'),
  };
  await create('awsric', 'provided.al2023', 'index.handler', files, { MemorySize: 512 });
  const ok = await invoke('awsric', { n: 21 }, { LogType: 'Tail' });
  const body = JSON.parse(ok.body);
  assert.equal(body.n, 42);
  assert.match(body.requestId, /^[0-9a-f-]{36}$/);
  assert.match(Buffer.from(ok.LogResult, 'base64').toString(), /\tINFO\tvia aws-lambda-ric \{"n":21\}\n/);
  const failed = await invoke('awsric', { fail: true });
  assert.equal(failed.FunctionError, 'Unhandled');
  assert.deepEqual({ ...JSON.parse(failed.body), trace: undefined }, { errorType: 'Error', errorMessage: 'ric boom', trace: undefined });
  assert.equal(JSON.parse((await invoke('awsric', { n: 1 })).body).n, 2);
});

test('Python and Node.js managed runtimes run handlers with Lambda event, context and errors', async () => {
  await create('py', pythonRuntime, 'app.handler', {
    'app.py': [
      'import logging',
      'def handler(event, context):',
      '    print("got", event["n"])',
      '    logging.getLogger().warning("warned")',
      '    if event.get("fail"): raise ValueError("boom")',
      '    return {"n": event["n"] + 1, "fn": context.function_name, "rid": context.aws_request_id,',
      '            "left": context.get_remaining_time_in_millis() > 0, "mem": context.memory_limit_in_mb}',
    ].join('\n') });
  await create('node', 'nodejs20.x', 'index.handler', {
    'index.mjs': `export const handler = async (event, context) => {
      console.log('got', event.n);
      if (event.fail) throw new TypeError('kaboom');
      return { n: event.n + 1, fn: context.functionName, arn: context.invokedFunctionArn };
    };` });
  const py = await invoke('py', { n: 1 }, { LogType: 'Tail' });
  const pyBody = JSON.parse(py.body);
  assert.deepEqual({ ...pyBody, rid: undefined }, { n: 2, fn: 'py', rid: undefined, left: true, mem: '128' });
  const tail = Buffer.from(py.LogResult, 'base64').toString();
  assert.match(tail, /^START RequestId: /);
  assert.ok(!tail.includes('INIT_START'));
  assert.match(tail, /got 1\n/);
  assert.match(tail, new RegExp(`\\[WARNING\\]\\t\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\t${pyBody.rid}\\twarned\\n`));
  assert.match(tail, /REPORT RequestId: .*\n$/);
  const pyErr = await invoke('py', { n: 1, fail: true }, { LogType: 'Tail' });
  assert.equal(pyErr.FunctionError, 'Unhandled');
  // The [ERROR] line, one log event, indents its traceback with no-break spaces, as AWS's runtime.
  const errorLine = Buffer.from(pyErr.LogResult, 'base64').toString().split('\n').find((l) => l.startsWith('[ERROR]'));
  assert.match(errorLine, /^\[ERROR\] ValueError: boom\rTraceback \(most recent call last\):\r\u00a0\u00a0File "\/var\/task\/app\.py", line 5, in handler\r\u00a0\u00a0\u00a0\u00a0if event/);
  assert.equal(pyErr.StatusCode, 200);
  const pe = JSON.parse(pyErr.body);
  assert.equal(pe.errorType, 'ValueError');
  assert.equal(pe.errorMessage, 'boom');
  assert.ok(Array.isArray(pe.stackTrace));

  const node = await invoke('node', { n: 41 });
  assert.deepEqual(JSON.parse(node.body), { n: 42, fn: 'node', arn: `arn:aws:lambda:us-east-1:${account}:function:node` });
  const nodeErr = await invoke('node', { n: 1, fail: true });
  assert.equal(nodeErr.FunctionError, 'Unhandled');
  const ne = JSON.parse(nodeErr.body);
  assert.equal(ne.errorType, 'TypeError');
  assert.equal(ne.errorMessage, 'kaboom');
});

test('init errors are reported as Lambda reports them', async () => {
  await create('noimport', pythonRuntime, 'missing.handler', { 'app.py': 'x = 1\n' });
  const out = await invoke('noimport');
  assert.equal(out.FunctionError, 'Unhandled');
  const body = JSON.parse(out.body);
  assert.equal(body.errorType, 'Runtime.ImportModuleError');
  assert.match(body.errorMessage, /^Unable to import module 'missing'/);
  const messages = (await streamEvents('noimport')).flatMap((s) => s.messages);
  assert.ok(messages.some((m) => /^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n$/.test(m)));
  // An exception the module raises while loading is reported as it is (AWS's recorded
  // test_lambda_runtime_error), not as an import error; a ValueError is not a bad handler name.
  await create('startup', pythonRuntime, 'app.handler', { 'app.py': 'raise Exception("Runtime startup fails")\n' });
  const raised = JSON.parse((await invoke('startup')).body);
  assert.equal(raised.errorType, 'Exception');
  assert.equal(raised.errorMessage, 'Runtime startup fails');
  assert.equal(raised.requestId, '');
  assert.ok(raised.stackTrace.some((f) => f.includes('app.py')), JSON.stringify(raised.stackTrace));
  await create('valueerror', pythonRuntime, 'app.handler', { 'app.py': 'int("x")\n' });
  assert.equal(JSON.parse((await invoke('valueerror')).body).errorType, 'ValueError');
});

test('AWS_LAMBDA_EXEC_WRAPPER runs a wrapper script before the managed runtime, as on Lambda', async () => {
  const wrapper = '#!/bin/sh\nexport WRAPPED="yes $#"\nexec "$@"\n';
  const nodeRuntime = versions.find((v) => v.Runtime.startsWith('nodejs')).Runtime;
  await create('wrapped-py', pythonRuntime, 'app.handler', {
    'app.py': 'import os\ndef handler(e, c):\n    return os.environ.get("WRAPPED")\n', 'wrap.sh': wrapper },
  { Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrap.sh' } } });
  assert.match(JSON.parse((await invoke('wrapped-py')).body), /^yes \d+$/);
  await create('wrapped-node', nodeRuntime, 'index.handler', {
    'index.mjs': 'export const handler = async () => process.env.WRAPPED;\n', 'wrap.sh': wrapper },
  { Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/var/task/wrap.sh' } } });
  assert.match(JSON.parse((await invoke('wrapped-node')).body), /^yes \d+$/);
  // A wrapper that does not exist: the runtime exits 127 (AWS's recorded answer).
  await create('wrapper-missing', pythonRuntime, 'app.handler', { 'app.py': 'def handler(e, c):\n    return 1\n' },
    { Environment: { Variables: { AWS_LAMBDA_EXEC_WRAPPER: '/idontexist.sh' } } });
  const out = await invoke('wrapper-missing');
  assert.equal(out.FunctionError, 'Unhandled');
  const body = JSON.parse(out.body);
  assert.equal(body.errorType, 'Runtime.ExitError');
  assert.match(body.errorMessage, /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 127$/);
});

test('qualifiers: versions and aliases report the version that ran; weights split traffic', async () => {
  await create('vers', pythonRuntime, 'app.handler', { 'app.py': 'def handler(e, c):\n    return c.function_version\n' }, { Publish: true });
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'vers', Description: 'v2' }));
  await lambda.send(new PublishVersionCommand({ FunctionName: 'vers' }));
  assert.equal((await invoke('vers', {}, { Qualifier: '1' })).ExecutedVersion, '1');
  assert.equal((await invoke('vers', {}, { Qualifier: '1' })).body, '"1"');
  await lambda.send(new CreateAliasCommand({ FunctionName: 'vers', Name: 'live', FunctionVersion: '1',
    RoutingConfig: { AdditionalVersionWeights: { 2: 0.5 } } }));
  const seen = new Set();
  for (let i = 0; i < 40 && seen.size < 2; i++) seen.add((await invoke('vers', {}, { Qualifier: 'live' })).ExecutedVersion);
  assert.deepEqual([...seen].sort(), ['1', '2']);
  const missing = await awsError(invoke('vers', {}, { Qualifier: '9' }));
  assert.equal(missing.name, 'ResourceNotFoundException');
  assert.equal(missing.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:vers:9`);
  const nofn = await awsError(invoke('nope'));
  assert.equal(nofn.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:nope:$LATEST`);
});

test('timeouts kill the environment and report Sandbox.Timedout; the next call starts fresh', async () => {
  await create('slow', pythonRuntime, 'app.handler', {
    'app.py': 'import time\ndef handler(e, c):\n    if e.get("sleep"): time.sleep(5)\n    return "done"\n' }, { Timeout: 1 });
  const out = await invoke('slow', { sleep: true });
  assert.equal(out.FunctionError, 'Unhandled');
  const body = JSON.parse(out.body);
  assert.equal(body.errorType, 'Sandbox.Timedout');
  assert.match(body.errorMessage, /^RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds$/);
  assert.equal((await invoke('slow')).body, '"done"');
  const streams = await streamEvents('slow');
  assert.equal(streams.length, 2, 'a new environment after the timeout');
  const messages = streams.flatMap((s) => s.messages);
  assert.ok(messages.some((m) => / Task timed out after 1\.\d\d seconds\n$/.test(m)));
  assert.ok(messages.some((m) => /^REPORT .*\tStatus: timeout\t\n$/.test(m)));
});

test('a runtime that exits is reported as Runtime.ExitError and replaced', async () => {
  await create('crash', 'provided.al2023', 'h', { bootstrap: [
    '#!/bin/sh',
    'NEXT=$(curl -sS -D /tmp/h "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")',
    'echo "dying with 42"',
    'exit 42',
  ].join('\n') });
  const out = await invoke('crash');
  const body = JSON.parse(out.body);
  assert.equal(out.FunctionError, 'Unhandled');
  assert.equal(body.errorType, 'Runtime.ExitError');
  assert.match(body.errorMessage, /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: exit status 42$/);
  const again = await invoke('crash');
  assert.equal(JSON.parse(again.body).errorType, 'Runtime.ExitError');
});

test('the Runtime API refuses a wrong request id, a second answer and unknown states', async () => {
  await create('misuse', 'provided.al2023', 'h', { bootstrap: [
    '#!/bin/sh',
    'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"',
    'while true; do',
    '  ID=$(curl -sS -D - -o /dev/null "$API/invocation/next" | grep -Fi Lambda-Runtime-Aws-Request-Id | tr -d "[:space:]" | cut -d: -f2)',
    '  W=$(curl -s -o /dev/null -w "%{http_code}" "$API/invocation/not-the-id/response" -d "{}")',
    '  I=$(curl -s -o /dev/null -w "%{http_code}" "$API/init/error" -d "{}")',
    '  curl -s -o /dev/null "$API/invocation/$ID/response" -d "{\\"wrong\\":$W,\\"initerror\\":$I}"',
    '  T=$(curl -s -o /dev/null -w "%{http_code}" "$API/invocation/$ID/response" -d "{}")',
    '  echo "second answer got $T"',
    'done',
  ].join('\n') });
  const out = await invoke('misuse');
  assert.deepEqual(JSON.parse(out.body), { wrong: 400, initerror: 403 });
  await invoke('misuse');
  const messages = (await streamEvents('misuse')).flatMap((s) => s.messages);
  assert.ok(messages.includes('second answer got 403\n'));
});

test('memory is bounded by MemorySize; the server lives on', async () => {
  await create('hog', pythonRuntime, 'app.handler', {
    'app.py': 'def handler(e, c):\n    blocks = [bytearray(16 << 20) for _ in range(64)]\n    return len(blocks)\n' }, { MemorySize: 128 });
  const out = await invoke('hog');
  assert.equal(out.FunctionError, 'Unhandled');
  const body = JSON.parse(out.body);
  assert.match(body.errorType, /^Runtime\.(OutOfMemory|ExitError)$/);
  assert.match(body.errorMessage, /Runtime exited with error: signal: killed/);
  const health = await fetch(`${server.endpoint}/lambkin/v1/health`);
  assert.equal(health.status, 200);
});

test('reserved concurrency bounds environments; beyond it callers get TooManyRequestsException', async () => {
  await create('busy', pythonRuntime, 'app.handler', {
    'app.py': 'import time\ndef handler(e, c):\n    time.sleep(e.get("s", 0))\n    return "ok"\n' });
  const put = await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy', ReservedConcurrentExecutions: 1 }));
  assert.equal(put.ReservedConcurrentExecutions, 1);
  assert.equal((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'busy' }))).ReservedConcurrentExecutions, 1);
  const slow = invoke('busy', { s: 1.5 });
  await new Promise((r) => setTimeout(r, 400));
  const throttled = await awsError(invoke('busy'));
  assert.equal(throttled.name, 'TooManyRequestsException');
  assert.equal(throttled.$metadata.httpStatusCode, 429);
  assert.equal(throttled.Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
  assert.equal((await slow).body, '"ok"');
  await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy', ReservedConcurrentExecutions: 0 }));
  assert.equal((await awsError(invoke('busy'))).name, 'TooManyRequestsException');
  await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'busy' }));
  const [a, b] = await Promise.all([invoke('busy', { s: 0.3 }), invoke('busy', { s: 0.3 })]);
  assert.equal(a.body, '"ok"');
  assert.equal(b.body, '"ok"');
  // A burst never gets more environments than reserved.
  await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy', ReservedConcurrentExecutions: 2 }));
  const burst = await Promise.allSettled(Array.from({ length: 6 }, () => invoke('busy', { s: 1 })));
  assert.equal(burst.filter((r) => r.status === 'fulfilled').length, 2);
  assert.ok(burst.filter((r) => r.status === 'rejected').every((r) => r.reason.name === 'TooManyRequestsException'));
  // Lowering it bounds concurrent executions even with more warm environments than that.
  await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy', ReservedConcurrentExecutions: 1 }));
  const lowered = await Promise.allSettled(Array.from({ length: 3 }, () => invoke('busy', { s: 0.5 })));
  assert.equal(lowered.filter((r) => r.status === 'fulfilled').length, 1);
  // An invocation still running on the configuration before an update still counts.
  const before = invoke('busy', { s: 1.5 });
  await new Promise((r) => setTimeout(r, 400));
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'busy', Description: 'changed while busy' }));
  assert.equal((await awsError(invoke('busy'))).Reason, 'ReservedFunctionConcurrentInvocationLimitExceeded');
  assert.equal((await before).body, '"ok"');
  const qualified = await awsError(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'busy:1', ReservedConcurrentExecutions: 1 })));
  assert.equal(qualified.name, 'InvalidParameterValueException');
});

test('a new configuration gets new environments (a new INIT_START)', async () => {
  await create('reconf', pythonRuntime, 'app.handler', { 'app.py': 'import os\ndef handler(e, c):\n    return os.environ.get("COLOR")\n' },
    { Environment: { Variables: { COLOR: 'red' } } });
  assert.equal((await invoke('reconf')).body, '"red"');
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'reconf', Environment: { Variables: { COLOR: 'blue' } } }));
  assert.equal((await invoke('reconf')).body, '"blue"');
  const inits = (await streamEvents('reconf')).flatMap((s) => s.messages).filter((m) => m.startsWith('INIT_START'));
  assert.equal(inits.length, 2);
});

test('environments of a changed or deleted function are shut down at once', async () => {
  const marker = (n) => shellBootstrap({ setup: `sleep ${n} &`, handle: 'echo 1' });
  const count = (n) => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => l === `sleep ${n}`).length;
  const gone = async (n) => { for (let i = 0; i < 50 && count(n); i++) await new Promise((r) => setTimeout(r, 100)); return count(n) === 0; };
  await create('retire', 'provided.al2023', 'h', { bootstrap: marker(5151) });
  await invoke('retire');
  assert.equal(count(5151), 1);
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'retire', Description: 'changed' }));
  assert.ok(await gone(5151), 'the outdated environment stopped without waiting for an invocation');
  await invoke('retire');
  await lambda.send(new DeleteFunctionCommand({ FunctionName: 'retire' }));
  assert.ok(await gone(5151), 'a deleted function keeps no environment');
});

test('the sandbox: read-only code, private /tmp, reserved variables, no view of the host', async () => {
  await create('probe', pythonRuntime, 'app.handler', { 'app.py': [
    'import os',
    'def handler(e, c):',
    '    def writable(p):',
    '        try:',
    '            open(p, "w").close(); return True',
    '        except OSError: return False',
    '    return {"task": writable("/var/task/x"), "tmp": writable("/tmp/x"), "uid": os.getuid(),',
    '            "env": {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION"]},',
    '            "data": os.path.exists(' + JSON.stringify(server.dataDir) + '), "root": sorted(os.listdir("/")),',
    '            "homes": os.listdir("/home"), "root_home": os.access("/root", os.R_OK)}',
  ].join('\n') });
  const out = JSON.parse((await invoke('probe')).body);
  assert.equal(out.task, false);
  assert.equal(out.tmp, true);
  assert.notEqual(out.uid, 0);
  assert.deepEqual(out.env, { AWS_LAMBDA_FUNCTION_NAME: 'probe', AWS_REGION: 'us-east-1', _HANDLER: 'app.handler',
    LAMBDA_TASK_ROOT: '/var/task', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST' });
  assert.equal(out.data, false, 'the server data directory is not visible');
  // / is the runtime version's own root filesystem: no host directories, empty homes.
  assert.ok(!out.root.includes('work') && !out.root.includes('build'), out.root.join(' '));
  assert.deepEqual(out.homes, []);
  assert.equal(out.root_home, false);
});

test('payload limits and invocation types', async () => {
  const big = await awsError(lambda.send(new InvokeCommand({ FunctionName: 'py', Payload: Buffer.alloc(6 * 1024 * 1024 + 10, 32) })));
  assert.equal(big.name, 'RequestTooLargeException');
  assert.equal(big.$metadata.httpStatusCode, 413);
  const dry = await lambda.send(new InvokeCommand({ FunctionName: 'py', InvocationType: 'DryRun' }));
  assert.equal(dry.StatusCode, 204);
  const bigEvent = await awsError(lambda.send(new InvokeCommand({ FunctionName: 'py', InvocationType: 'Event', Payload: Buffer.alloc(1024 * 1024 + 10, 32) })));
  assert.equal(bigEvent.name, 'RequestTooLargeException');
});

test('FilterLogEvents finds a function log line by term', async () => {
  const out = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/py', filterPattern: 'got' }));
  assert.ok(out.events.length >= 2);
  assert.ok(out.events.every((e) => e.message.includes('got')));
  const none = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/py', filterPattern: '"no such line"' }));
  assert.equal(none.events.length, 0);
});

test('no orphan processes after the server stops', async () => {
  const own = await startServer();
  const client = own.client();
  await client.send(new CreateFunctionCommand({ FunctionName: 'forker', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ setup: 'sleep 4242 &\n(sleep 4343 &)', handle: 'echo \'"ok"\'' }) }) } }));
  const out = await client.send(new InvokeCommand({ FunctionName: 'forker' }));
  assert.equal(decoder.decode(out.Payload), '"ok"');
  const running = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => /^sleep (4242|4343)$/.test(l));
  assert.equal(running().length, 2);
  await own.stop();
  for (let i = 0; i < 50 && running().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(running(), []);
});

test('idle environments make room for new ones; only busy ones fill execution.max_environments', async () => {
  const cfg = withConfig({ execution: { max_environments: 2 } });
  const own = await startServer({ args: ['--config', cfg.file] });
  try {
    const client = own.client();
    const names = ['one', 'two', 'three', 'four'];
    for (const name of names) {
      await client.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role,
        Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle: 'sleep "$(echo "$EVENT" | tr -dc 0-9)"; echo "{}"' }) }) } }));
    }
    // One at a time, more functions than environments: the least recently used idle one goes.
    for (const name of [...names, ...names]) {
      const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{"s":0}') }));
      assert.equal(out.FunctionError, undefined, name);
    }
    // Two busy environments fill the server: a third caller is throttled, as AWS's account limit.
    const slow = ['one', 'two'].map((name) => client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{"s":2}') })));
    await new Promise((r) => setTimeout(r, 600));
    const throttled = await awsError(client.send(new InvokeCommand({ FunctionName: 'three', Payload: Buffer.from('{"s":0}') })));
    assert.equal(throttled.name, 'TooManyRequestsException');
    assert.equal(throttled.Reason, 'ConcurrentInvocationLimitExceeded');
    for (const out of await Promise.all(slow)) assert.equal(out.FunctionError, undefined);
    await client.send(new InvokeCommand({ FunctionName: 'three', Payload: Buffer.from('{"s":0}') }));
  } finally {
    await own.stop();
    cfg.cleanup();
  }
});
