// Account and tooling calls (GetAccountSettings, the account concurrency quota, the code signing
// config of a function, ListFunctions with FunctionVersion=ALL and MasterRegion) and CloudWatch
// Logs deletion and retention, with the unmodified @aws-sdk/client-lambda and
// @aws-sdk/client-cloudwatch-logs, and Debian's boto3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, DeleteFunctionCodeSigningConfigCommand, DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand, GetFunctionCodeSigningConfigCommand, InvokeCommand, ListFunctionsCommand,
  PublishLayerVersionCommand, PublishVersionCommand, PutFunctionConcurrencyCommand, UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, DeleteLogGroupCommand,
  DeleteLogStreamCommand, DeleteRetentionPolicyCommand, DescribeLogGroupsCommand, DescribeLogStreamsCommand,
  FilterLogEventsCommand, GetLogEventsCommand, PutLogEventsCommand, PutRetentionPolicyCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  account, awsError, devCredentials, lambkinBin, makeZip, role, runtimeVersions, startServer, waitFor,
} from './helpers.mjs';

const execFileP = promisify(execFile);
const logsClient = (endpoint) =>
  new CloudWatchLogsClient({ endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
const zip = makeZip({ 'index.py': 'def handler(event, context):\n    print("handled")\n    return 1\n' });
const day = 24 * 3600 * 1000;

// A server on the simulated clock with `config`; `advance(d)` moves its clock (lambkin clock advance).
async function startWithConfig(config) {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-account-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const server = await startServer({ args: ['--clock', 'simulated', '--config', file] });
  const advance = (d) => execFileP(lambkinBin, ['clock', 'advance', d],
    { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } });
  const python = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
  const create = (lambda, name, extra = {}) => lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: python, Handler: 'index.handler', Role: role, Code: { ZipFile: zip }, ...extra,
  }));
  return { server, advance, create };
}

test('GetAccountSettings reports the configured limits and real usage; reservations keep 100 unreserved', async () => {
  const { server, create } = await startWithConfig({ account_limits: { concurrent_executions: 300 } });
  try {
    const lambda = server.client();
    const settings = () => lambda.send(new GetAccountSettingsCommand({}));
    const empty = await settings();
    assert.equal(empty.$metadata.httpStatusCode, 200);
    assert.deepEqual(empty.AccountLimit, {
      TotalCodeSize: 80530636800, CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800,
      ConcurrentExecutions: 300, UnreservedConcurrentExecutions: 300,
    });
    assert.deepEqual(empty.AccountUsage, { TotalCodeSize: 0, FunctionCount: 0 });

    // Every version's package counts: $LATEST and version 1 of `a`, and `b`'s $LATEST.
    await create(lambda, 'a', { Publish: true });
    await create(lambda, 'b');
    const used = await settings();
    assert.deepEqual(used.AccountUsage, { TotalCodeSize: 3 * zip.length, FunctionCount: 2 });
    // Layer archives count as well.
    const layerZip = makeZip({ 'python/helper.py': 'X = 1\n' });
    await lambda.send(new PublishLayerVersionCommand({ LayerName: 'helpers', Content: { ZipFile: layerZip } }));
    assert.deepEqual((await settings()).AccountUsage, { TotalCodeSize: 3 * zip.length + layerZip.length, FunctionCount: 2 });
    // Another region of the same account is counted apart.
    const west = await server.client('us-west-2').send(new GetAccountSettingsCommand({}));
    assert.deepEqual(west.AccountUsage, { TotalCodeSize: 0, FunctionCount: 0 });

    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'a', ReservedConcurrentExecutions: 150 }));
    assert.equal((await settings()).AccountLimit.UnreservedConcurrentExecutions, 150);
    // Raising a's own reservation counts its new value only.
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'a', ReservedConcurrentExecutions: 180 }));
    const over = await awsError(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'b', ReservedConcurrentExecutions: 21 })));
    assert.equal(over.name, 'InvalidParameterValueException');
    assert.equal(over.$metadata.httpStatusCode, 400);
    assert.equal(over.message, "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].");
    assert.equal(over.Type, undefined);  // AWS sends this one without a Type
    const tooMuch = await awsError(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'b', ReservedConcurrentExecutions: 1000 })));
    assert.equal(tooMuch.name, 'InvalidParameterValueException');
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'b', ReservedConcurrentExecutions: 20 }));
    assert.equal((await settings()).AccountLimit.UnreservedConcurrentExecutions, 100);
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'a' }));
    assert.equal((await settings()).AccountLimit.UnreservedConcurrentExecutions, 280);
    const missing = await awsError(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'nope', ReservedConcurrentExecutions: 5000 })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    assert.equal(missing.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:nope:$LATEST`);
  } finally {
    await server.stop();
  }
});

test('GetFunctionCodeSigningConfig answers a function without one as AWS does', async () => {
  const { server, create } = await startWithConfig({});
  try {
    const lambda = server.client();
    await create(lambda, 'f');
    const got = await lambda.send(new GetFunctionCodeSigningConfigCommand({ FunctionName: 'f' }));
    assert.equal(got.$metadata.httpStatusCode, 200);
    assert.equal(got.CodeSigningConfigArn, undefined);
    assert.equal(got.FunctionName, undefined);
    const byArn = await lambda.send(new GetFunctionCodeSigningConfigCommand({
      FunctionName: `arn:aws:lambda:us-east-1:${account}:function:f` }));
    assert.equal(byArn.$metadata.httpStatusCode, 200);
    const deleted = await lambda.send(new DeleteFunctionCodeSigningConfigCommand({ FunctionName: 'f' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    for (const Command of [GetFunctionCodeSigningConfigCommand, DeleteFunctionCodeSigningConfigCommand]) {
      const e = await awsError(lambda.send(new Command({ FunctionName: 'nope' })));
      assert.equal(e.name, 'ResourceNotFoundException');
      assert.equal(e.$metadata.httpStatusCode, 404);
      assert.equal(e.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:nope`);
    }
    const elsewhere = await awsError(lambda.send(new GetFunctionCodeSigningConfigCommand({
      FunctionName: `arn:aws:lambda:eu-west-1:${account}:function:f` })));
    assert.equal(elsewhere.message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
  } finally {
    await server.stop();
  }
});

test('ListFunctions with FunctionVersion=ALL pages through every version; MasterRegion lists no replicas', async () => {
  const { server, create } = await startWithConfig({});
  try {
    const lambda = server.client();
    await create(lambda, 'f1', { Publish: true });
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'f1', Description: 'two' }));
    await lambda.send(new PublishVersionCommand({ FunctionName: 'f1' }));
    await create(lambda, 'f2');
    const seen = [];
    let Marker;
    let pages = 0;
    do {
      const page = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MaxItems: 1, Marker }));
      assert.equal(page.Functions.length, 1);
      seen.push(page.Functions[0].FunctionArn);
      Marker = page.NextMarker;
      pages += 1;
    } while (Marker && pages < 10);
    const arn = `arn:aws:lambda:us-east-1:${account}:function:`;
    assert.deepEqual(seen, [`${arn}f1:$LATEST`, `${arn}f1:1`, `${arn}f1:2`, `${arn}f2:$LATEST`]);
    const latest = await lambda.send(new ListFunctionsCommand({}));
    assert.deepEqual(latest.Functions.map((f) => f.FunctionArn), [`${arn}f1`, `${arn}f2`]);

    for (const MasterRegion of ['us-east-1', 'ALL']) {
      const replicas = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MasterRegion }));
      assert.deepEqual(replicas.Functions, []);
      assert.equal(replicas.NextMarker, undefined);
    }
    const alone = await awsError(lambda.send(new ListFunctionsCommand({ MasterRegion: 'us-east-1' })));
    assert.equal(alone.name, 'InvalidParameterValueException');
    assert.equal(alone.message, 'The combination MasterArn=us-east-1 and FunctionVersion=NULL is not supported. Please see our documentation for valid combinations of ListFunctions options.');
    const badRegion = await awsError(lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MasterRegion: 'mars' })));
    assert.equal(badRegion.name, 'ValidationException');
    const badVersion = await awsError(lambda.send(new ListFunctionsCommand({ FunctionVersion: 'invalid' })));
    assert.equal(badVersion.name, 'ValidationException');
    assert.equal(badVersion.$metadata.httpStatusCode, 400);
    assert.equal(badVersion.message, "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]");
  } finally {
    await server.stop();
  }
});

test('DeleteLogGroup, DeleteLogStream and retention policies, with CloudWatch Logs errors', async () => {
  const { server } = await startWithConfig({});
  try {
    const logs = logsClient(server.endpoint);
    const group = (name) => logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }))
      .then((r) => r.logGroups.find((g) => g.logGroupName === name));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/app' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/app', logStreamName: 's1' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/app', logStreamName: 's2' }));
    assert.equal((await group('/app')).retentionInDays, undefined);
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/app', retentionInDays: 7 }));
    assert.equal((await group('/app')).retentionInDays, 7);
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/app', retentionInDays: 3653 }));
    assert.equal((await group('/app')).retentionInDays, 3653);
    await logs.send(new DeleteRetentionPolicyCommand({ logGroupName: '/app' }));
    assert.equal((await group('/app')).retentionInDays, undefined);

    const bad = await awsError(logs.send(new PutRetentionPolicyCommand({ logGroupName: '/app', retentionInDays: 10 })));
    assert.equal(bad.name, 'InvalidParameterException');
    assert.equal(bad.$metadata.httpStatusCode, 400);
    assert.match(bad.message, /^1 validation error detected: Value '10' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: \[1, 3, 5, 7, 14, 30, .*, 3653\]$/);
    assert.equal((await group('/app')).retentionInDays, undefined);  // refused: nothing changed
    const noGroup = 'The specified log group does not exist.';
    for (const command of [
      new PutRetentionPolicyCommand({ logGroupName: '/none', retentionInDays: 1 }),
      new DeleteRetentionPolicyCommand({ logGroupName: '/none' }),
      new DeleteLogGroupCommand({ logGroupName: '/none' }),
      new DeleteLogStreamCommand({ logGroupName: '/none', logStreamName: 's1' }),
    ]) {
      const e = await awsError(logs.send(command));
      assert.equal(e.name, 'ResourceNotFoundException', command.constructor.name);
      assert.equal(e.message, noGroup);
    }
    const noStream = await awsError(logs.send(new DeleteLogStreamCommand({ logGroupName: '/app', logStreamName: 'none' })));
    assert.equal(noStream.name, 'ResourceNotFoundException');
    assert.equal(noStream.message, 'The specified log stream does not exist.');

    await logs.send(new DeleteLogStreamCommand({ logGroupName: '/app', logStreamName: 's1' }));
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/app' }));
    assert.deepEqual(streams.logStreams.map((s) => s.logStreamName), ['s2']);
    await logs.send(new DeleteLogGroupCommand({ logGroupName: '/app' }));
    assert.equal(await group('/app'), undefined);
    const gone = await awsError(logs.send(new DescribeLogStreamsCommand({ logGroupName: '/app' })));
    assert.equal(gone.name, 'ResourceNotFoundException');
    // The name is free again, with nothing of the old group in it.
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/app' }));
    assert.deepEqual((await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/app' }))).logStreams, []);
  } finally {
    await server.stop();
  }
});

test('Retention deletes old events: hidden at once, swept from the store; a deleted function log group comes back', async () => {
  const { server, advance, create } = await startWithConfig({ logs: { retention_sweep_interval: '1s' } });
  try {
    const logs = logsClient(server.endpoint);
    const now = Date.now();
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/kept' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/kept', logStreamName: 's' }));
    await logs.send(new PutLogEventsCommand({ logGroupName: '/kept', logStreamName: 's', logEvents: [
      { timestamp: now - 2 * 3600000, message: 'old' }, { timestamp: now, message: 'fresh' }] }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/forever' }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/forever', logStreamName: 's' }));
    await logs.send(new PutLogEventsCommand({ logGroupName: '/forever', logStreamName: 's', logEvents: [
      { timestamp: now - 2 * 3600000, message: 'old' }] }));
    await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/kept', retentionInDays: 1 }));
    const messages = async (group) => (await logs.send(new GetLogEventsCommand({
      logGroupName: group, logStreamName: 's', startFromHead: true }))).events.map((e) => e.message);
    assert.deepEqual(await messages('/kept'), ['old', 'fresh']);

    // 22 h 30 min later `old` is older than a day, `fresh` is not.
    await advance('22h30m');
    assert.deepEqual(await messages('/kept'), ['fresh']);
    const filtered = await logs.send(new FilterLogEventsCommand({ logGroupName: '/kept' }));
    assert.deepEqual(filtered.events.map((e) => e.message), ['fresh']);
    const stored = async (name) => (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name })))
      .logGroups.find((g) => g.logGroupName === name).storedBytes;
    await waitFor('the sweep to delete the expired event', async () => (await stored('/kept')) === 'fresh'.length);
    const [stream] = (await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/kept' }))).logStreams;
    assert.equal(stream.storedBytes, 'fresh'.length);
    assert.equal(stream.firstEventTimestamp, now);
    await advance('2h');
    assert.deepEqual(await messages('/kept'), []);
    await waitFor('the sweep to delete the last event', async () => (await stored('/kept')) === 0);
    // Without a retention nothing expires.
    assert.deepEqual(await messages('/forever'), ['old']);
    assert.equal(await stored('/forever'), 3);

    // A function's log group, deleted, is made again by its next invocation, as Lambda does.
    const lambda = server.client();
    await create(lambda, 'logger');
    await lambda.send(new InvokeCommand({ FunctionName: 'logger', Payload: Buffer.from('{}') }));
    const group = '/aws/lambda/logger';
    const lines = async () => (await logs.send(new FilterLogEventsCommand({ logGroupName: group })))
      .events.map((e) => e.message);
    await waitFor('the first invocation logs', async () => (await lines()).some((m) => m.startsWith('handled')));
    await logs.send(new DeleteLogGroupCommand({ logGroupName: group }));
    assert.equal(await awsError(lines()).then((e) => e.name), 'ResourceNotFoundException');
    await lambda.send(new InvokeCommand({ FunctionName: 'logger', Payload: Buffer.from('{}') }));
    await waitFor('the next invocation logs', async () => (await lines().catch(() => [])).some((m) => m.startsWith('handled')));
    assert.equal((await lines()).filter((m) => m.startsWith('handled')).length, 1);
  } finally {
    await server.stop();
  }
});

test('Debian boto3: get_account_settings, put_retention_policy, delete_log_group and their errors', async () => {
  const { server } = await startWithConfig({ account_limits: { concurrent_executions: 500, code_storage_bytes: 1000000 } });
  try {
    const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_account_logs.py');
    const { stdout } = await execFileP('/usr/bin/python3', [script, server.endpoint]);
    const out = JSON.parse(stdout);
    assert.deepEqual(out.limit, {
      TotalCodeSize: 1000000, CodeSizeUnzipped: 262144000, CodeSizeZipped: 52428800,
      ConcurrentExecutions: 500, UnreservedConcurrentExecutions: 500,
    });
    assert.deepEqual(out.usage, { TotalCodeSize: 0, FunctionCount: 0 });
    assert.equal(out.retention, 30);
    assert.equal(out.retention_after_delete, null);
    assert.deepEqual(out.bad_retention, ['InvalidParameterException', 400]);
    assert.deepEqual(out.groups_after_delete, []);
    assert.deepEqual(out.delete_again, ['ResourceNotFoundException', 'The specified log group does not exist.']);
  } finally {
    await server.stop();
  }
});
