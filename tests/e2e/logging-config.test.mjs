// LoggingConfig with the real SDK (Debian 12's botocore, 1.29, predates LoggingConfig and
// refuses to send it): the API's answers and errors as AWS's
// (a LoggingConfig replaces the whole of it), and what the environments write: the JSON
// format's platform records at SystemLogLevel, application lines filtered at
// ApplicationLogLevel by the runtimes and by Lambkin, a custom log group created on first
// write with the stream naming the function, and the variables the runtime is given.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LambdaClient, CreateFunctionCommand, UpdateFunctionConfigurationCommand, GetFunctionConfigurationCommand,
  PublishVersionCommand, InvokeCommand,
} from '@aws-sdk/client-lambda';
import { DescribeLogStreamsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, PutInsightRuleCommand, GetInsightRuleReportCommand } from '@aws-sdk/client-cloudwatch';
import {
  startServer, makeZip, role, account, awsError, runtimeVersions, logsClient, functionLogMessages, waitFor, devCredentials,
  lambkinBin,
} from './helpers.mjs';

let server;
let lambda;
let logs;
let py;
let node;

before(async () => {
  server = await startServer();
  lambda = server.client();
  logs = logsClient(server.endpoint);
  const runtimes = (await runtimeVersions(server.endpoint)).map((v) => v.Runtime);
  py = runtimes.find((r) => r.startsWith('python3.'));
  node = runtimes.find((r) => r.startsWith('nodejs'));
});

after(async () => {
  await server?.stop();
});

// Logs with every level, print() lines, JSON lines written by hand, and the variables.
const pyCode = makeZip({ 'app.py': `import json, logging, os
log = logging.getLogger("app")
def handler(event, context):
    for name in ("debug", "info", "warning", "error", "critical"):
        getattr(log, name)("py-%s", name)
    print("plain print line")
    print(json.dumps({"level": "debug", "msg": "hand-debug", "timestamp": "2024-11-02T16:51:31.587199Z"}))
    print(json.dumps({"level": "ERROR", "msg": "hand-error", "timestamp": "2024-11-02T16:51:31Z"}))
    print(json.dumps({"level": "ERROR", "msg": "hand-no-timestamp"}))
    if event.get("fail"):
        raise ValueError("it failed")
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME")}
` });

const nodeCode = makeZip({ 'index.mjs': `export const handler = async (event) => {
  console.trace('node-trace'); console.debug('node-debug'); console.info('node-info');
  console.log({ an: 'object' }); console.warn('node-warn'); console.error('node-error', new Error('boom'));
  if (event.fail) throw new TypeError('node failed');
  return 'ok';
};
` });

async function create(name, extra = {}) {
  return lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: py, Handler: 'app.handler', Role: role,
    Code: { ZipFile: pyCode }, ...extra }));
}

const config = (name, qualifier) => lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: qualifier }));

async function invoke(name, payload = {}) {
  const r = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)), LogType: 'Tail' }));
  return { ...r, result: JSON.parse(Buffer.from(r.Payload).toString() || 'null'), tail: Buffer.from(r.LogResult, 'base64').toString() };
}

async function groupMessages(group) {
  const out = await logs.send(new FilterLogEventsCommand({ logGroupName: group }));
  return out.events.map((e) => e.message);
}

test('CreateFunction and GetFunctionConfiguration echo LoggingConfig as AWS does', async () => {
  const plain = await create('lc-default');
  assert.deepEqual(plain.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/lc-default' });
  const json = await create('lc-json', { LoggingConfig: { LogFormat: 'JSON' } });
  assert.deepEqual(json.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/lc-json' });
  const levels = await create('lc-levels', { LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', LogGroup: 'cool_lambda' } });
  assert.deepEqual(levels.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'DEBUG', SystemLogLevel: 'INFO', LogGroup: 'cool_lambda' });
  assert.deepEqual((await config('lc-levels')).LoggingConfig, levels.LoggingConfig);
});

test('a LoggingConfig in an update replaces the whole of it; a level with Text is refused and changes nothing', async () => {
  await create('lc-update', { LoggingConfig: { LogGroup: '/custom/lc-update' } });
  assert.deepEqual((await config('lc-update')).LoggingConfig, { LogFormat: 'Text', LogGroup: '/custom/lc-update' });
  // LogFormat alone: the custom group is gone (AWS's recorded answer), levels INFO.
  const json = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', LoggingConfig: { LogFormat: 'JSON' } }));
  assert.deepEqual(json.LoggingConfig, { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO', LogGroup: '/aws/lambda/lc-update' });
  const before = await config('lc-update');
  for (const LoggingConfig of [{ ApplicationLogLevel: 'ERROR', SystemLogLevel: 'WARN' }, { LogFormat: 'Text', SystemLogLevel: 'DEBUG' }]) {
    const e = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', LoggingConfig })));
    assert.equal(e.name, 'InvalidParameterValueException');
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal(e.message, 'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request or change the LogFormat to "JSON" and try again.');
    const c = await awsError(create('lc-refused', { LoggingConfig }));
    assert.equal(c.name, 'InvalidParameterValueException');
  }
  const after = await config('lc-update');
  assert.equal(after.RevisionId, before.RevisionId, 'a refused update changes nothing');
  assert.deepEqual(after.LoggingConfig, before.LoggingConfig);
  // Published versions keep theirs; Text drops the levels, {} is every default.
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'DEBUG' } }));
  const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'lc-update' }));
  const text = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', LoggingConfig: { LogFormat: 'Text', LogGroup: '/custom/x' } }));
  assert.deepEqual(text.LoggingConfig, { LogFormat: 'Text', LogGroup: '/custom/x' });
  const reset = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', LoggingConfig: {} }));
  assert.deepEqual(reset.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/lc-update' });
  assert.deepEqual((await config('lc-update', v1.Version)).LoggingConfig,
    { LogFormat: 'JSON', ApplicationLogLevel: 'WARN', SystemLogLevel: 'DEBUG', LogGroup: '/aws/lambda/lc-update' });
  // Leaving LoggingConfig out keeps it.
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-update', Description: 'other' }));
  assert.deepEqual((await config('lc-update')).LoggingConfig, reset.LoggingConfig);
});

test('model constraints of LoggingConfig come first, with AWS text', async () => {
  const cases = [
    [{ LogFormat: 'XML' }, "Value 'XML' at 'loggingConfig.logFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSON, Text]"],
    [{ LogFormat: 'JSON', ApplicationLogLevel: 'LOUD' }, "Value 'LOUD' at 'loggingConfig.applicationLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]"],
    [{ LogFormat: 'JSON', SystemLogLevel: 'TRACE' }, "Value 'TRACE' at 'loggingConfig.systemLogLevel' failed to satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]"],
    [{ LogGroup: 'bad name' }, "Value 'bad name' at 'loggingConfig.logGroup' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"],
  ];
  for (const [LoggingConfig, text] of cases) {
    const e = await awsError(create('lc-invalid', { LoggingConfig }));
    assert.equal(e.name, 'ValidationException', JSON.stringify(LoggingConfig));
    assert.equal(e.message, `1 validation error detected: ${text}`);
  }
});

test('Text: the platform lines and the variables as before; a custom group is created, its streams name the function', async () => {
  await create('lc-text', { LoggingConfig: { LogFormat: 'Text', LogGroup: '/team/shared' } });
  const r = await invoke('lc-text');
  assert.deepEqual(r.result.AWS_LAMBDA_LOG_FORMAT, 'Text');
  assert.equal(r.result.AWS_LAMBDA_LOG_LEVEL, null);
  assert.equal(r.result.AWS_LAMBDA_LOG_GROUP_NAME, '/team/shared');
  assert.match(r.result.AWS_LAMBDA_LOG_STREAM_NAME, /^\d{4}\/\d{2}\/\d{2}\/lc-text\[\$LATEST\][0-9a-f]{32}$/);
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/team/shared' }));
  assert.deepEqual(streams.logStreams.map((s) => s.logStreamName), [r.result.AWS_LAMBDA_LOG_STREAM_NAME]);
  const messages = await groupMessages('/team/shared');
  assert.ok(messages.some((m) => m.startsWith('INIT_START Runtime Version: ')));
  assert.ok(messages.some((m) => /^REPORT RequestId: \S+\tDuration: /.test(m)));
  // Text filters nothing Lambkin sees; Python's root logger stays at WARNING.
  assert.ok(messages.some((m) => m.includes('hand-debug')));
  assert.ok(messages.some((m) => m.startsWith('[WARNING]\t') && m.includes('py-warning')));
  assert.ok(!messages.some((m) => m.includes('py-info')));
  assert.deepEqual(await functionLogMessages(logs, 'lc-text'), [], 'nothing in /aws/lambda/lc-text');
  // A function never given a LoggingConfig has no AWS_LAMBDA_LOG_FORMAT (as AWS's).
  await create('lc-unset');
  const unset = await invoke('lc-unset');
  assert.equal(unset.result.AWS_LAMBDA_LOG_FORMAT, null);
  assert.equal(unset.result.AWS_LAMBDA_LOG_GROUP_NAME, '/aws/lambda/lc-unset');
  assert.match(unset.result.AWS_LAMBDA_LOG_STREAM_NAME, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
});

test('JSON at INFO: platform.initStart/start/report, Python logging as JSON, lines below INFO left out', async () => {
  await create('lc-py', { LoggingConfig: { LogFormat: 'JSON' } });
  const first = await invoke('lc-py');
  assert.deepEqual([first.result.AWS_LAMBDA_LOG_FORMAT, first.result.AWS_LAMBDA_LOG_LEVEL], ['JSON', 'INFO']);
  await invoke('lc-py');
  const messages = await functionLogMessages(logs, 'lc-py');
  const records = messages.filter((m) => m.startsWith('{"time"')).map((m) => JSON.parse(m));
  assert.deepEqual(records.map((r) => r.type), ['platform.initStart', 'platform.start', 'platform.report', 'platform.start', 'platform.report']);
  const [init, start, report, , warm] = records;
  assert.deepEqual(Object.keys(init), ['time', 'type', 'record']);
  assert.match(init.time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  const version = (await config('lc-py')).RuntimeVersionConfig.RuntimeVersionArn;
  assert.deepEqual(Object.keys(init.record), ['initializationType', 'phase', 'runtimeVersion', 'runtimeVersionArn', 'functionName', 'functionVersion', 'instanceId', 'instanceMaxMemory']);
  assert.equal(init.record.initializationType, 'on-demand');
  assert.equal(init.record.phase, 'init');
  assert.equal(init.record.runtimeVersionArn, version);
  assert.match(init.record.runtimeVersion, /^python:3\.\d+\.v\d+$/);
  assert.equal(init.record.functionName, 'lc-py');
  assert.equal(init.record.functionVersion, '$LATEST');
  assert.equal(init.record.instanceId, first.result.AWS_LAMBDA_LOG_STREAM_NAME);
  assert.equal(init.record.instanceMaxMemory, 128 * 1024 * 1024);
  assert.deepEqual(start.record, { requestId: start.record.requestId, functionArn: `arn:aws:lambda:us-east-1:${account}:function:lc-py`, version: '$LATEST' });
  assert.deepEqual(Object.keys(report.record), ['requestId', 'metrics', 'status']);
  assert.equal(report.record.status, 'success');
  assert.equal(report.record.requestId, start.record.requestId);
  assert.deepEqual(Object.keys(report.record.metrics), ['durationMs', 'billedDurationMs', 'memorySizeMB', 'maxMemoryUsedMB', 'initDurationMs']);
  assert.equal(report.record.metrics.memorySizeMB, 128);
  assert.ok(!('initDurationMs' in warm.record.metrics), 'a warm start has no init duration');
  assert.ok(!messages.some((m) => /^(INIT_START|START|END|REPORT) /.test(m)), 'no Text platform lines');
  // Python's logging: one JSON object per record, AWS's keys; INFO and up.
  const app = messages.filter((m) => m.startsWith('{"timestamp"')).map((m) => JSON.parse(m));
  const info = app.find((r) => r.message === 'py-info');
  assert.deepEqual(Object.keys(info), ['timestamp', 'level', 'message', 'logger', 'requestId']);
  assert.equal(info.level, 'INFO');
  assert.equal(info.logger, 'app');
  assert.equal(info.requestId, start.record.requestId);
  assert.match(info.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.deepEqual(app.filter((r) => r.requestId === start.record.requestId).map((r) => r.level), ['INFO', 'WARNING', 'ERROR', 'CRITICAL']);
  // print() lines are INFO, kept as written; a JSON line's level counts only with a timestamp.
  assert.ok(messages.includes('plain print line\n'));
  assert.ok(!messages.some((m) => m.includes('hand-debug')), 'a DEBUG line is below INFO');
  assert.ok(messages.some((m) => m.includes('hand-error')));
  assert.ok(messages.some((m) => m.includes('hand-no-timestamp')), 'no timestamp: INFO');
});

test('FilterLogEvents takes JSON filter patterns over a JSON function\'s records; a malformed one is AWS\'s error', async () => {
  const filter = async (filterPattern) => (await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/lc-py', filterPattern })))
    .events.map((e) => JSON.parse(e.message));
  const reports = await filter('{ $.type = "platform.report" && $.record.metrics.durationMs >= 0 }');
  assert.equal(reports.length, 2);
  assert.ok(reports.every((r) => r.type === 'platform.report'));
  assert.equal((await filter('{ $.record.metrics.initDurationMs = * }')).length, 1, 'one cold start');
  const errors = await filter('{ ($.level = "ERROR" || $.level = CRITICAL) && $.logger = app }');
  assert.deepEqual(errors.map((r) => r.message), ['py-error', 'py-critical', 'py-error', 'py-critical']);
  assert.equal((await filter('{ $.type = platform.init* && $.record.runtimeVersion = %^python:3% }')).length, 1);
  for (const [filterPattern, message] of [
    ['{ $.type = "platform.report"', "If a filter pattern starts with '{' it must end with '}'"],
    ['{ $.level = "ERROR", $.logger = "app" }', "Invalid filter pattern: Invalid character(s) in term ','"],
    ['platform.report', "Invalid filter pattern: Invalid character(s) in term 'platform.report'"],
  ]) {
    const e = await awsError(logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/lc-py', filterPattern })));
    assert.equal(e.name, 'InvalidParameterException', filterPattern);
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.equal(e.message, message);
  }
});

test('JSON at ERROR/WARN: only errors of the function and failed invocations of the platform', async () => {
  await create('lc-quiet', { LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'ERROR', SystemLogLevel: 'WARN' } });
  const ok = await invoke('lc-quiet');
  assert.equal(ok.result.AWS_LAMBDA_LOG_LEVEL, 'ERROR');
  const failed = await invoke('lc-quiet', { fail: true });
  assert.equal(failed.FunctionError, 'Unhandled');
  const messages = await functionLogMessages(logs, 'lc-quiet');
  assert.ok(!messages.some((m) => m.includes('"platform.')), `a successful invocation logs no platform record at WARN: ${messages}`);
  assert.ok(!messages.some((m) => m.includes('plain print line') || m.includes('py-warning') || m.includes('hand-no-timestamp')));
  assert.ok(messages.some((m) => m.includes('py-error')) && messages.some((m) => m.includes('py-critical')));
  assert.ok(messages.some((m) => m.includes('hand-error')));
  // The uncaught error, as AWS's Python runtime writes it under JSON.
  const uncaught = messages.map((m) => { try { return JSON.parse(m); } catch { return {}; } }).find((r) => r.errorType === 'ValueError');
  assert.ok(uncaught, messages.join(''));
  assert.equal(uncaught.log_level, 'ERROR');
  assert.equal(uncaught.errorMessage, 'it failed');
  assert.ok(Array.isArray(uncaught.stackTrace));
  // The tail carries the same lines.
  assert.ok(failed.tail.includes('"errorType": "ValueError"'), failed.tail);
});

test('JSON at DEBUG, and a timeout reported at WARN', async () => {
  await create('lc-debug', { Timeout: 1, LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'TRACE', SystemLogLevel: 'DEBUG' },
    Code: { ZipFile: makeZip({ 'app.py': 'import logging, time\ndef handler(e, c):\n    logging.getLogger().debug("dbg")\n    if e.get("sleep"): time.sleep(5)\n    return 1\n' }) } });
  await invoke('lc-debug');
  let types = (await functionLogMessages(logs, 'lc-debug')).filter((m) => m.startsWith('{"time"')).map((m) => JSON.parse(m).type);
  assert.deepEqual(types, ['platform.initStart', 'platform.initRuntimeDone', 'platform.initReport', 'platform.start', 'platform.runtimeDone', 'platform.report']);
  assert.ok((await functionLogMessages(logs, 'lc-debug')).some((m) => m.includes('"message": "dbg"')), 'TRACE maps to Python DEBUG');
  const timedOut = await invoke('lc-debug', { sleep: true });
  assert.equal(timedOut.FunctionError, 'Unhandled');
  const records = (await functionLogMessages(logs, 'lc-debug')).filter((m) => m.startsWith('{"time"')).map((m) => JSON.parse(m));
  const last = records.filter((r) => r.record.requestId === records.at(-1).record.requestId);
  assert.deepEqual(last.map((r) => [r.type, r.record.status]).slice(1), [['platform.runtimeDone', 'timeout'], ['platform.report', 'timeout']]);
  assert.ok(!(await functionLogMessages(logs, 'lc-debug')).some((m) => m.includes('Task timed out')), 'no Text timeout line under JSON');
});

test('Node.js under JSON: console calls as JSON objects, filtered by the runtime', async () => {
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'lc-node', Runtime: node, Handler: 'index.handler', Role: role,
    Code: { ZipFile: nodeCode }, LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO' } }));
  const r = await invoke('lc-node', { fail: true });
  assert.equal(r.FunctionError, 'Unhandled');
  const app = (await functionLogMessages(logs, 'lc-node')).filter((m) => m.startsWith('{"timestamp"')).map((m) => JSON.parse(m));
  assert.deepEqual(app.map((a) => a.level), ['INFO', 'INFO', 'WARN', 'ERROR', 'ERROR']);
  assert.deepEqual(Object.keys(app[0]), ['timestamp', 'level', 'requestId', 'message']);
  assert.equal(app[0].message, 'node-info');
  assert.deepEqual(app[1].message, { an: 'object' }, 'one argument: the value itself');
  assert.equal(app[3].errorType, 'Error');
  assert.equal(app[3].errorMessage, 'boom');
  assert.deepEqual([app[4].message.errorType, app[4].message.errorMessage], ['TypeError', 'node failed']);
  // Text, the default: every level, tab-separated.
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-node', LoggingConfig: { LogFormat: 'Text' } }));
  await waitFor('the update', async () => (await config('lc-node')).LoggingConfig.LogFormat === 'Text');
  const t = await invoke('lc-node');
  assert.match(t.tail, /\tTRACE\tnode-trace\n/);
  assert.match(t.tail, /\tDEBUG\tnode-debug\n/);
});

test('a Contributor Insights rule over platform.initStart counts JSON functions by runtime version', async () => {
  const cw = new CloudWatchClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials });
  const started = Date.now();
  await cw.send(new PutInsightRuleCommand({ RuleName: 'RuntimeVersionsJson', RuleDefinition: JSON.stringify({
    Schema: { Name: 'CloudWatchLogRule', Version: 1 }, AggregateOn: 'Count', LogFormat: 'JSON', LogGroupNames: ['/aws/lambda/lc-insights*'],
    Contribution: { Filters: [{ Match: '$.type', In: ['platform.initStart'] }], Keys: ['$.record.runtimeVersion', '$.record.runtimeVersionArn'] } }) }));
  for (const name of ['lc-insights-1', 'lc-insights-2']) {
    await create(name, { LoggingConfig: { LogFormat: 'JSON' } });
    await invoke(name);
  }
  const arn = (await config('lc-insights-1')).RuntimeVersionConfig.RuntimeVersionArn;
  const report = await cw.send(new GetInsightRuleReportCommand({ RuleName: 'RuntimeVersionsJson',
    StartTime: new Date(started - 3600000), EndTime: new Date(started + 3600000), Period: 300, Metrics: ['SampleCount'] }));
  assert.equal(report.AggregateValue, 2);
  assert.equal(report.Contributors.length, 1);
  assert.equal(report.Contributors[0].Keys[1], arn);
  assert.match(report.Contributors[0].Keys[0], /^python:3\.\d+\.v\d+$/);
});

test('pointing a function\'s logs at a group other than its own needs logs:PutLogEvents on that group', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-lc-'));
  const file = path.join(dir, 'iam.json');
  const allow = (Action, Resource) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action, Resource }] });
  writeFileSync(file, JSON.stringify({ accounts: { [account]: { users: { 'fn-owner': { policies: {
    Lambda: allow('lambda:*', `arn:aws:lambda:us-east-1:${account}:function:lc-owned*`),
    Logs: allow('logs:PutLogEvents', `arn:aws:logs:us-east-1:${account}:log-group:/team/owned`),
  } } } } } }));
  const env = { ...process.env, LAMBKIN_ENDPOINT: server.endpoint };
  await promisify(execFile)(lambkinBin, ['iam', 'apply', file], { env });
  const key = JSON.parse((await promisify(execFile)(lambkinBin, ['iam', 'create-access-key', '--user', 'fn-owner', '--json'], { env })).stdout);
  const owner = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey } });
  await owner.send(new CreateFunctionCommand({ FunctionName: 'lc-owned', Runtime: py, Handler: 'app.handler', Role: role,
    Code: { ZipFile: pyCode }, LoggingConfig: { LogFormat: 'JSON', LogGroup: '/aws/lambda/lc-owned' } }));
  const before = await config('lc-owned');
  for (const LogGroup of ['/aws/lambda/lc-py', '/team/other']) {
    const e = await awsError(owner.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-owned', LoggingConfig: { LogGroup } })));
    assert.equal(e.name, 'AccessDeniedException', LogGroup);
    assert.equal(e.$metadata.httpStatusCode, 403);
    assert.equal(e.message, `User: arn:aws:iam::${account}:user/fn-owner is not authorized to perform: logs:PutLogEvents on resource: `
      + `arn:aws:logs:us-east-1:${account}:log-group:${LogGroup} because no identity-based policy allows the logs:PutLogEvents action`);
    const c = await awsError(owner.send(new CreateFunctionCommand({ FunctionName: 'lc-owned-2', Runtime: py, Handler: 'app.handler', Role: role,
      Code: { ZipFile: pyCode }, LoggingConfig: { LogGroup } })));
    assert.equal(c.name, 'AccessDeniedException');
  }
  assert.equal((await config('lc-owned')).RevisionId, before.RevisionId, 'nothing changed');
  const moved = await owner.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'lc-owned', LoggingConfig: { LogGroup: '/team/owned' } }));
  assert.equal(moved.LoggingConfig.LogGroup, '/team/owned');
});
