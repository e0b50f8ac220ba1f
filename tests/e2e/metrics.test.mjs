// Metrics people already use: CloudWatch's AWS/Lambda metrics (Invocations, Errors, Throttles,
// Duration, ConcurrentExecutions by FunctionName, Resource and ExecutedVersion, plus Lambkin's
// RuntimeVersion dimension) read with the unmodified @aws-sdk/client-cloudwatch, and the same
// figures on a Prometheus endpoint of its own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand, CreateFunctionCommand, InvokeCommand, PublishVersionCommand, PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  CloudWatchClient, GetMetricDataCommand, GetMetricStatisticsCommand, ListMetricsCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  startServer, role, makeZip, shellBootstrap, devCredentials, awsError, runtimeVersions, storeKind, dropStore, withConfig, waitFor, signedFetch,
} from './helpers.mjs';

const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

const cloudwatch = (server) => new CloudWatchClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
// The Sum of `metric` for FunctionName `name` over the last ten minutes, as `server` answers.
async function functionSum(server, metric, name) {
  const now = Date.now();
  const r = await cloudwatch(server).send(new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName: metric,
    Dimensions: [{ Name: 'FunctionName', Value: name }], Statistics: ['Sum'],
    StartTime: new Date(now - 10 * 60e3), EndTime: new Date(now + 60e3), Period: 60 }));
  return r.Datapoints.reduce((a, p) => a + p.Sum, 0);
}
const createEcho = (lambda, name) => lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023',
  Handler: 'h', Role: role, Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle: 'echo 1' }) }) } }));

test('invocations, errors, throttles and durations as CloudWatch and Prometheus report them', async () => {
  const server = await startServer({ args: ['--metrics-listen', '127.0.0.1:0'] });
  servers.push(server);
  const lambda = server.client();
  const cw = new CloudWatchClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  const provided = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime === 'provided.al2023').Name;
  const create = (name, handle) => lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023', Handler: 'h',
    Role: role, Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle }) }) } }));
  await create('fn', 'echo \'"ok"\'');
  await lambda.send(new PublishVersionCommand({ FunctionName: 'fn' }));
  await lambda.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));
  // A function whose runtime reports an error for every event.
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'bad', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: makeZip({ bootstrap: ['#!/bin/sh', 'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"',
      'while true; do', '  curl -sS -D /tmp/h "$API/invocation/next" >/dev/null',
      '  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id /tmp/h | tr -d "[:space:]" | cut -d: -f2)',
      '  curl -s "$API/invocation/$ID/error" -d \'{"errorMessage":"no","errorType":"Boom"}\' >/dev/null', 'done'].join('\n') }) } }));
  await create('held', 'echo 1');
  await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'held', ReservedConcurrentExecutions: 0 }));

  for (let i = 0; i < 3; i++) await lambda.send(new InvokeCommand({ FunctionName: 'fn' }));
  for (let i = 0; i < 2; i++) await lambda.send(new InvokeCommand({ FunctionName: 'fn', Qualifier: 'live' }));
  const failed = await lambda.send(new InvokeCommand({ FunctionName: 'bad' }));
  assert.equal(failed.FunctionError, 'Unhandled');
  assert.equal((await awsError(lambda.send(new InvokeCommand({ FunctionName: 'held' })))).name, 'TooManyRequestsException');

  const now = Date.now();
  const window = { StartTime: new Date(now - 10 * 60e3), EndTime: new Date(now + 60e3), Period: 60 };
  const sum = async (MetricName, Dimensions, Statistics = ['Sum']) => {
    const r = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName, Dimensions, Statistics, ...window }));
    return r.Datapoints.reduce((a, p) => a + (p.Sum ?? 0), 0);
  };
  const fnDim = { Name: 'FunctionName', Value: 'fn' };
  assert.equal(await sum('Invocations', [fnDim]), 5);
  assert.equal(await sum('Invocations', [fnDim, { Name: 'Resource', Value: 'fn' }]), 3);
  assert.equal(await sum('Invocations', [fnDim, { Name: 'Resource', Value: 'fn:live' }]), 2);
  assert.equal(await sum('Invocations', [fnDim, { Name: 'Resource', Value: 'fn:live' }, { Name: 'ExecutedVersion', Value: '1' }]), 2);
  assert.equal(await sum('Errors', [fnDim]), 0);
  assert.equal(await sum('Errors', [{ Name: 'FunctionName', Value: 'bad' }]), 1);
  assert.equal(await sum('Throttles', [{ Name: 'FunctionName', Value: 'held' }]), 1);
  assert.equal(await sum('Invocations', []), 6, 'the account-wide series');
  const duration = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName: 'Duration',
    Dimensions: [fnDim], Statistics: ['Average', 'Maximum', 'SampleCount'], ...window }));
  assert.equal(duration.Label, 'Duration');
  assert.equal(duration.Datapoints.reduce((a, p) => a + p.SampleCount, 0), 5);
  assert.ok(duration.Datapoints.every((p) => p.Average > 0 && p.Maximum >= p.Average && p.Unit === 'Milliseconds'));

  // Per runtime version (Lambkin's dimension), as a rollout would be charted; GetMetricData.
  const data = await cw.send(new GetMetricDataCommand({ ...window, MetricDataQueries: [
    { Id: 'inv', MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: [{ Name: 'RuntimeVersion', Value: provided }] }, Period: 60, Stat: 'Sum' } },
    { Id: 'err', Label: 'errors', MetricStat: { Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: 'bad' }, { Name: 'RuntimeVersion', Value: provided }] }, Period: 300, Stat: 'Sum' } },
  ] }));
  const [inv, err] = data.MetricDataResults;
  assert.equal(inv.Id, 'inv');
  assert.equal(inv.StatusCode, 'Complete');
  assert.equal(inv.Values.reduce((a, v) => a + v, 0), 6);
  assert.equal(inv.Timestamps.length, inv.Values.length);
  assert.equal(err.Label, 'errors');
  assert.deepEqual(err.Values, [1]);

  const listed = await cw.send(new ListMetricsCommand({ Namespace: 'AWS/Lambda', MetricName: 'Invocations', Dimensions: [{ Name: 'FunctionName', Value: 'fn' }] }));
  const sets = listed.Metrics.map((m) => m.Dimensions.map((d) => `${d.Name}=${d.Value}`).sort().join(',')).sort();
  assert.deepEqual(sets, [
    'ExecutedVersion=1,FunctionName=fn,Resource=fn:live', 'FunctionName=fn', `FunctionName=fn,RuntimeVersion=${provided}`,
    'FunctionName=fn,Resource=fn', 'FunctionName=fn,Resource=fn:live'].sort());

  // Bad requests get CloudWatch's errors.
  const badPeriod = await awsError(cw.send(new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName: 'Invocations', Statistics: ['Sum'], ...window, Period: 30 })));
  assert.equal(badPeriod.name, 'InvalidParameterValueException');
  const tooMany = await awsError(cw.send(new GetMetricStatisticsCommand({ Namespace: 'AWS/Lambda', MetricName: 'Invocations', Statistics: ['Sum'],
    StartTime: new Date(now - 2 * 86400e3), EndTime: new Date(now), Period: 60 })));
  assert.match(tooMany.message, /You have requested up to 2880 datapoints, which exceeds the limit of 1,440/);
  const math = await awsError(cw.send(new GetMetricDataCommand({ ...window, MetricDataQueries: [{ Id: 'e', Expression: 'SUM(METRICS())' }] })));
  assert.match(math.message, /does not implement metric math/);

  // Prometheus: its own listener, the same figures and the server's gauges.
  const port = server.stdout.match(/metrics http:\/\/127\.0\.0\.1:(\d+)\/metrics/)[1];
  const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(scrape.status, 200);
  assert.match(scrape.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await scrape.text();
  assert.match(text, new RegExp(`lambkin_invocations_total\\{region="us-east-1",function="fn",runtime_version="${provided}"\\} 5\\n`));
  assert.match(text, new RegExp(`lambkin_errors_total\\{region="us-east-1",function="bad",runtime_version="${provided}"\\} 1\\n`));
  assert.match(text, /lambkin_throttles_total\{region="us-east-1",function="held",runtime_version=""\} 1\n/);
  assert.match(text, /lambkin_environments\{state="warm"\} [1-9]\d*\n/);
  assert.match(text, /lambkin_event_queue_depth 0\n/);
  assert.match(text, /lambkin_store_up 1\n/);
  assert.match(text, /# TYPE lambkin_invocations_total counter\n/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/2015-03-31/functions`)).status, 404, 'the metrics listener serves nothing else');
});

test('the figures survive a restart: a graceful stop flushes what the node counted', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'lambkin-metrics-'));
  try {
    // A flush interval longer than the test: only the stop's flush can have stored them.
    const config = withConfig({ metrics: { flush_interval: '1m' } });
    let server = await startServer({ dataDir, args: ['--config', config.file] });
    const lambda = server.client();
    await createEcho(lambda, 'kept');
    for (let i = 0; i < 3; i++) await lambda.send(new InvokeCommand({ FunctionName: 'kept' }));
    assert.equal(await functionSum(server, 'Invocations', 'kept'), 3);
    await server.stop();
    server = await startServer({ dataDir, args: ['--config', config.file] });
    try {
      assert.equal(await functionSum(server, 'Invocations', 'kept'), 3);
      await server.client().send(new InvokeCommand({ FunctionName: 'kept' }));
      assert.equal(await functionSum(server, 'Invocations', 'kept'), 4, 'stored and new figures add up');
      const listed = await cloudwatch(server).send(new ListMetricsCommand({ Namespace: 'AWS/Lambda', MetricName: 'Duration',
        Dimensions: [{ Name: 'FunctionName', Value: 'kept' }] }));
      assert.ok(listed.Metrics.length >= 2);
    } finally {
      await server.stop();
      config.cleanup();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    dropStore(dataDir);
  }
});

test('several nodes on one PostgreSQL store: every node answers with the invocations of all', {
  skip: storeKind !== 'postgres' && 'needs the suite on PostgreSQL (LAMBKIN_TEST_POSTGRES)',
}, async () => {
  const config = withConfig({ metrics: { flush_interval: '200ms' } });
  const first = await startServer({ args: ['--config', config.file] });
  servers.push(first);
  const store = first.child.spawnargs[first.child.spawnargs.indexOf('--store') + 1];
  const second = await startServer({ args: ['--store', store, '--config', config.file] });
  try {
    await createEcho(first.client(), 'shared');
    await createEcho(first.client(), 'other');
    // Invokes run on each function's home node, whichever node is asked.
    for (const node of [first, second]) {
      for (let i = 0; i < 2; i++) await node.client().send(new InvokeCommand({ FunctionName: 'shared' }));
      await node.client().send(new InvokeCommand({ FunctionName: 'other' }));
    }
    for (const node of [first, second]) {
      await waitFor('every node\'s figures', async () => (await functionSum(node, 'Invocations', 'shared')) === 4, 10000, 200);
      await waitFor('every node\'s figures', async () => (await functionSum(node, 'Invocations', 'other')) === 2, 10000, 200);
    }
    // Flushed rows are added, never counted twice.
    await new Promise((r) => setTimeout(r, 1000));
    for (const node of [first, second]) assert.equal(await functionSum(node, 'Invocations', 'shared'), 4);
  } finally {
    await second.stop();
    config.cleanup();
  }
});

test('the Query protocol refuses a parameter that is not UTF-8 with CloudWatch\'s error, and nothing is left behind', async () => {
  const server = await startServer();
  servers.push(server);
  const form = ['Action=GetMetricStatistics', 'Version=2010-08-01', 'Namespace=AWS%2FLambda', 'MetricName=Invocations',
    'Statistics.member.1=Sum', 'Period=60', 'StartTime=2026-01-01T00%3A00%3A00Z', 'EndTime=2026-01-01T01%3A00%3A00Z',
    'Dimensions.member.1.Name=FunctionName', 'Dimensions.member.1.Value=%FF'].join('&');
  for (let i = 0; i < 40; i++) {
    const r = await signedFetch(server.endpoint, { method: 'POST', path: '/', body: form, service: 'monitoring',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } });
    assert.equal(r.status, 400);
    assert.match(await r.text(), /<Code>InvalidParameterValue<\/Code>/);
  }
  // The store is still answering (a request that failed inside a transaction gave its connection back).
  assert.equal(await functionSum(server, 'Invocations', 'nothing'), 0);
});
