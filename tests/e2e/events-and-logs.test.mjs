// Event invocations (queued, retried, durable across restarts), the CloudWatch Logs API
// with the real SDK, and `lambkin logs tail`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, InvokeCommand, PutFunctionConcurrencyCommand, DeleteFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand, DeleteLogGroupCommand,
  ListTagsLogGroupCommand, ListTagsForResourceCommand, TagResourceCommand, TagLogGroupCommand,
  UntagLogGroupCommand, UntagResourceCommand, GetLogEventsCommand, DescribeLogGroupsCommand, DescribeLogStreamsCommand, FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  startServer, makeZip, role, awsError, lambkinBin, runtimeVersions, shellBootstrap, waitFor, logsClient,
  functionLogMessages as messages, withConfig,
} from './helpers.mjs';

const run = promisify(execFile);

test('Event invocations run asynchronously and failed ones are retried twice', async () => {
  const cfg = withConfig({ execution: { event_retry_delays_ms: [200, 200] } });
  const server = await startServer({ args: ['--config', cfg.file] });
  try {
    const lambda = server.client();
    const logs = logsClient(server.endpoint);
    const py = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'ev', Runtime: py, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    print("event", e["id"])\n    if e.get("fail"): raise RuntimeError("nope")\n    return 1\n' }) } }));
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'ev', InvocationType: 'Event', Payload: Buffer.from('{"id":"a"}') }));
    assert.equal(ok.StatusCode, 202);
    await waitFor('the event to run', async () => (await messages(logs, 'ev')).includes('event a\n'));
    await lambda.send(new InvokeCommand({ FunctionName: 'ev', InvocationType: 'Event', Payload: Buffer.from('{"id":"b","fail":true}') }));
    await waitFor('three attempts', async () => (await messages(logs, 'ev')).filter((m) => m === 'event b\n').length === 3);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await messages(logs, 'ev')).filter((m) => m === 'event b\n').length, 3, 'no fourth attempt');
  } finally {
    await server.stop();
    cfg.cleanup();
  }
});

test('a queued Event invocation survives a server kill and runs after restart', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lambkin-events-'));
  try {
    let server = await startServer({ dataDir });
    let lambda = server.client();
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'later', Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({
        handle: 'case "$EVENT" in *hold*) sleep 60;; esac; echo "ran $EVENT" >&2; echo "{}"' }) }) } }));
    // Reserved concurrency 1, taken by a long synchronous invocation: the event is throttled
    // and stays in the queue (reserved concurrency 0 would fail it at once, as on AWS).
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'later', ReservedConcurrentExecutions: 1 }));
    const holding = lambda.send(new InvokeCommand({ FunctionName: 'later', Payload: Buffer.from('{"hold":1}') })).catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
    const queued = await lambda.send(new InvokeCommand({ FunctionName: 'later', InvocationType: 'Event', Payload: Buffer.from('{"n":7}') }));
    assert.equal(queued.StatusCode, 202);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(!(await messages(logsClient(server.endpoint), 'later')).includes('ran {"n":7}\n'), 'the event was held');
    await server.kill('SIGKILL');
    await holding;
    server = await startServer({ dataDir });
    lambda = server.client();
    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'later' }));
    const logs = logsClient(server.endpoint);
    await waitFor('the queued event after restart', async () => (await messages(logs, 'later')).includes('ran {"n":7}\n'));
    await server.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('CloudWatch Logs API: groups, streams, PutLogEvents, GetLogEvents paging, errors', async () => {
  const server = await startServer();
  try {
    const logs = logsClient(server.endpoint);
    await logs.send(new CreateLogGroupCommand({ logGroupName: '/app/one' }));
    const dup = await awsError(logs.send(new CreateLogGroupCommand({ logGroupName: '/app/one' })));
    assert.equal(dup.name, 'ResourceAlreadyExistsException');
    await logs.send(new CreateLogStreamCommand({ logGroupName: '/app/one', logStreamName: 's1' }));
    const missing = await awsError(logs.send(new CreateLogStreamCommand({ logGroupName: '/app/none', logStreamName: 's1' })));
    assert.equal(missing.name, 'ResourceNotFoundException');
    const now = Date.now();
    const put = await logs.send(new PutLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1',
      logEvents: Array.from({ length: 5 }, (_, i) => ({ timestamp: now + i, message: `line ${i}` })) }));
    assert.ok(put.nextSequenceToken);
    const unordered = await awsError(logs.send(new PutLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1',
      logEvents: [{ timestamp: now + 10, message: 'b' }, { timestamp: now, message: 'a' }] })));
    assert.equal(unordered.name, 'InvalidParameterException');
    const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/app/' }));
    assert.deepEqual(groups.logGroups.map((g) => g.logGroupName), ['/app/one']);
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/app/one' }));
    assert.equal(streams.logStreams[0].logStreamName, 's1');
    assert.equal(streams.logStreams[0].firstEventTimestamp, now);
    assert.equal(streams.logStreams[0].lastEventTimestamp, now + 4);
    const latest = await logs.send(new GetLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1', limit: 2 }));
    assert.deepEqual(latest.events.map((e) => e.message), ['line 3', 'line 4'], 'newest first by default');
    const head = await logs.send(new GetLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1', limit: 2, startFromHead: true }));
    assert.deepEqual(head.events.map((e) => e.message), ['line 0', 'line 1']);
    const next = await logs.send(new GetLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1', limit: 10,
      startFromHead: true, nextToken: head.nextForwardToken }));
    assert.deepEqual(next.events.map((e) => e.message), ['line 2', 'line 3', 'line 4']);
    const end = await logs.send(new GetLogEventsCommand({ logGroupName: '/app/one', logStreamName: 's1',
      startFromHead: true, nextToken: next.nextForwardToken }));
    assert.equal(end.events.length, 0);
    assert.equal(end.nextForwardToken, next.nextForwardToken, 'the same token at the end of the stream');
    const filtered = await logs.send(new FilterLogEventsCommand({ logGroupName: '/app/one', filterPattern: '?"line 1" ?"line 3"' }));
    assert.deepEqual(filtered.events.map((e) => e.message), ['line 1', 'line 3']);
    const excluded = await logs.send(new FilterLogEventsCommand({ logGroupName: '/app/one', filterPattern: 'line -4' }));
    assert.equal(excluded.events.length, 4);
    const paged = await logs.send(new FilterLogEventsCommand({ logGroupName: '/app/one', limit: 2 }));
    const rest = await logs.send(new FilterLogEventsCommand({ logGroupName: '/app/one', nextToken: paged.nextToken }));
    assert.deepEqual([...paged.events, ...rest.events].map((e) => e.message), ['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
  } finally {
    await server.stop();
  }
});

test('CloudWatch Logs as AWS recorded it: name patterns, exclusive members, refused members, long names', async () => {
  const server = await startServer();
  try {
    const logs = logsClient(server.endpoint);
    for (const name of ['test-pattern-Abc1', 'other-abc1', 'unrelated']) {
      await logs.send(new CreateLogGroupCommand({ logGroupName: name }));
    }
    // logGroupNamePattern: a case-sensitive substring; fewer members, as CloudWatch answers.
    const byPattern = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'Abc1' }));
    assert.deepEqual(byPattern.logGroups.map((g) => g.logGroupName), ['test-pattern-Abc1']);
    assert.deepEqual(Object.keys(byPattern.logGroups[0]).sort(),
      ['arn', 'creationTime', 'logGroupArn', 'logGroupClass', 'logGroupName', 'metricFilterCount']);
    const all = await logs.send(new DescribeLogGroupsCommand({}));
    assert.equal(all.logGroups.length, 3);
    assert.equal(all.logGroups[0].storedBytes, 0);
    assert.equal(all.logGroups[0].deletionProtectionEnabled, false);
    const both = await awsError(logs.send(new DescribeLogGroupsCommand({ logGroupNamePattern: 'abc', logGroupNamePrefix: 'other' })));
    assert.equal(both.name, 'InvalidParameterException');
    assert.equal(both.message, 'LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.');

    await logs.send(new CreateLogStreamCommand({ logGroupName: 'unrelated', logStreamName: 's' }));
    const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupIdentifier: 'unrelated' }));
    assert.equal(streams.logStreams[0].uploadSequenceToken, undefined, 'sequence tokens are gone from CloudWatch');
    const exclusive = await awsError(logs.send(new DescribeLogStreamsCommand({ logGroupName: 'unrelated', logGroupIdentifier: 'unrelated' })));
    assert.equal(exclusive.name, 'ValidationException');
    assert.equal(exclusive.$metadata.httpStatusCode, 400);
    assert.equal(exclusive.message, 'LogGroup name and LogGroup ARN are mutually exclusive parameters.');

    const long = await awsError(logs.send(new CreateLogGroupCommand({ logGroupName: 'a'.repeat(513) })));
    assert.equal(long.name, 'InvalidParameterException');
    assert.equal(long.message, 'Invalid LogGroup or LogStream, both must have length less than or equal to 512.');
    // What Lambkin cannot honour is refused, and nothing is created.
    for (const extra of [{ kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/k' }, { logGroupClass: 'INFREQUENT_ACCESS' }]) {
      const e = await awsError(logs.send(new CreateLogGroupCommand({ logGroupName: 'refused', ...extra })));
      assert.equal(e.name, 'InvalidParameterException');
      assert.match(e.message, /^Lambkin does not support /);
    }
    assert.equal((await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: 'refused' }))).logGroups.length, 0);
    await logs.send(new CreateLogGroupCommand({ logGroupName: 'standard', logGroupClass: 'STANDARD' }));

    // Tags (test_tag_resource_api): at creation, by ARN and by name, both views the same.
    await logs.send(new CreateLogGroupCommand({ logGroupName: 'tagged', tags: { env: 'testing1' } }));
    assert.deepEqual((await logs.send(new ListTagsLogGroupCommand({ logGroupName: 'tagged' }))).tags, { env: 'testing1' });
    const groupArn = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: 'tagged' }))).logGroups[0].logGroupArn;
    await logs.send(new TagResourceCommand({ resourceArn: groupArn, tags: { test1: 'val1', test2: 'val2' } }));
    await logs.send(new TagLogGroupCommand({ logGroupName: 'tagged', tags: { test3: 'val3', env: 'testing2' } }));
    const tagViews = async () => {
      const a = (await logs.send(new ListTagsLogGroupCommand({ logGroupName: 'tagged' }))).tags;
      assert.deepEqual((await logs.send(new ListTagsForResourceCommand({ resourceArn: groupArn }))).tags, a);
      return a;
    };
    assert.deepEqual(await tagViews(), { env: 'testing2', test1: 'val1', test2: 'val2', test3: 'val3' });
    await logs.send(new UntagLogGroupCommand({ logGroupName: 'tagged', tags: ['test3'] }));
    await logs.send(new UntagResourceCommand({ resourceArn: groupArn, tagKeys: ['env', 'test1'] }));
    assert.deepEqual(await tagViews(), { test2: 'val2' });
    const missingGroup = await awsError(logs.send(new ListTagsForResourceCommand({ resourceArn: `${groupArn}-none` })));
    assert.equal(missingGroup.name, 'ResourceNotFoundException');
    const reserved = await awsError(logs.send(new TagResourceCommand({ resourceArn: groupArn, tags: { 'aws:x': 'y' } })));
    assert.equal(reserved.name, 'InvalidParameterException');
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    const tooMany = await awsError(logs.send(new TagResourceCommand({ resourceArn: groupArn, tags: many })));
    assert.equal(tooMany.name, 'InvalidParameterException');
    assert.deepEqual(await tagViews(), { test2: 'val2' }, 'a refused call changes nothing');
    // Tags go with their group.
    await logs.send(new DeleteLogGroupCommand({ logGroupName: 'tagged' }));
    await logs.send(new CreateLogGroupCommand({ logGroupName: 'tagged' }));
    assert.deepEqual(await tagViews(), {});
  } finally {
    await server.stop();
  }
});

test('lambkin logs tail prints a function log, and --follow shows new events live', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    const py = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'tailme', Runtime: py, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    print("marker", e["n"])\n' }) } }));
    await lambda.send(new InvokeCommand({ FunctionName: 'tailme', Payload: Buffer.from('{"n":1}') }));
    const env = { ...process.env, LAMBKIN_ENDPOINT: server.endpoint };
    const { stdout } = await run(lambkinBin, ['logs', 'tail', 'tailme'], { env });
    const lines = stdout.trim().split('\n');
    assert.match(lines[0], /^\d{4}-\d\d-\d\dT[\d:.]+\+0000 \d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32} INIT_START Runtime Version: python:/);
    assert.ok(lines.some((l) => l.endsWith(' marker 1')));
    const follower = execFile(lambkinBin, ['logs', 'tail', 'tailme', '--follow'], { env });
    let out = '';
    follower.stdout.on('data', (d) => (out += d));
    await waitFor('the follower to print the old line', async () => out.includes('marker 1'));
    await lambda.send(new InvokeCommand({ FunctionName: 'tailme', Payload: Buffer.from('{"n":2}') }));
    await waitFor('the follower to print the new line', async () => out.includes('marker 2'));
    follower.kill();
    assert.equal(out.split('\n').filter((l) => l.endsWith(' marker 1')).length, 1, 'nothing printed twice');
  } finally {
    await server.stop();
  }
});

test('the init phase is limited (10 s on Lambda; shortened here by configuration)', async () => {
  const cfg = withConfig({ execution: { init_timeout_ms: 700 } });
  const server = await startServer({ args: ['--config', cfg.file] });
  try {
    const lambda = server.client();
    const logs = logsClient(server.endpoint);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'stuck', Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: makeZip({ bootstrap: '#!/bin/sh\necho initializing\nsleep 30\n' }) } }));
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'stuck' }));
    assert.equal(out.FunctionError, 'Unhandled');
    const body = JSON.parse(new TextDecoder().decode(out.Payload));
    assert.equal(body.errorType, 'Sandbox.Timedout');
    assert.match(body.errorMessage, /Init phase timed out after 0\.70 seconds$/);
    const lines = await messages(logs, 'stuck');
    assert.ok(lines.includes('initializing\n'));
    assert.ok(lines.some((m) => /^INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: timeout\n$/.test(m)));
  } finally {
    await server.stop();
    cfg.cleanup();
  }
});

test('idle environments are reaped; a flooding runtime is contained', async () => {
  const cfg = withConfig({ execution: { idle_timeout_ms: 1000 } });
  const server = await startServer({ args: ['--config', cfg.file] });
  try {
    const lambda = server.client();
    const logs = logsClient(server.endpoint);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'flood', Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ setup: 'sleep 6161 &',
        handle: 'head -c 20000000 /dev/zero | tr "\\0" x | fold -w 4000 >&2; echo \'"flooded"\'' }) }) } }));
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'flood' }));
    assert.equal(new TextDecoder().decode(out.Payload), '"flooded"');
    // Checked at once: storing the 20 MB of log lines (slow under the sanitizers) may outlast the
    // idle timeout.
    const sleeping = async () => (await run('ps', ['-eo', 'args'])).stdout.split('\n').some((l) => l === 'sleep 6161');
    assert.ok(await sleeping(), 'the environment is still warm');
    assert.equal((await fetch(`${server.endpoint}/lambkin/v1/health`)).status, 200);
    const events = await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/flood', filterPattern: 'REPORT' }));
    assert.equal(events.events.length, 1, 'the invocation completed and was reported');
    await waitFor('the idle environment to be reaped', async () => !(await sleeping()), 8000);
  } finally {
    await server.stop();
    cfg.cleanup();
  }
});
