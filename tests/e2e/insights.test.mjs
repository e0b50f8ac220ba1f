// Contributor Insights with the unmodified @aws-sdk/client-cloudwatch (AWS JSON 1.0 with query
// compatibility): the Lambda docs' runtime-version rule over real INIT_START lines, the rule
// language, reports, errors, and durability.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CloudWatchClient, PutInsightRuleCommand, DescribeInsightRulesCommand, GetInsightRuleReportCommand,
  DeleteInsightRulesCommand, EnableInsightRulesCommand, DisableInsightRulesCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startServer, makeZip, role, awsError, devCredentials, runtimeVersions, lambkinBin } from './helpers.mjs';

// Exactly as https://docs.aws.amazon.com/lambda/latest/dg/runtime-management-identify.html gives it.
const lambdaRule = '{"Schema":{"Name":"CloudWatchLogRule","Version":1},"AggregateOn":"Count","Contribution":{"Filters":[{"Match":"eventType","In":["INIT_START"]}],"Keys":["runtimeVersion","runtimeVersionArn"]},"LogFormat":"CLF","LogGroupNames":["/aws/lambda/*"],"Fields":{"1":"eventType","4":"runtimeVersion","8":"runtimeVersionArn"}}';

const cwClient = (endpoint) => new CloudWatchClient({ endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
const logsClient = (endpoint) => new CloudWatchLogsClient({ endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });

const initStart = (v) => `INIT_START Runtime Version: python:3.12.v${v}\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:${'ab'.repeat(31)}${v}`;

// Writes lines to a fresh stream of `group` ({offsetMinutes, message}), relative to `base`.
async function putLines(logs, group, stream, base, lines) {
  await logs.send(new CreateLogGroupCommand({ logGroupName: group })).catch((e) => {
    if (e.name !== 'ResourceAlreadyExistsException') throw e;
  });
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  await logs.send(new PutLogEventsCommand({
    logGroupName: group, logStreamName: stream,
    logEvents: lines.map(([m, message], i) => ({ timestamp: base + m * 60000 + i, message })),
  }));
}

test('The Lambda docs rule reports the runtime version of real INIT_START lines, including those logged before it existed', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    const cw = cwClient(server.endpoint);
    const py = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.'));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'early', Runtime: py.Runtime, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    return 1\n' }) } }));
    await lambda.send(new InvokeCommand({ FunctionName: 'early', Payload: Buffer.from('{}') }));
    const started = Date.now();
    const put = await cw.send(new PutInsightRuleCommand({ RuleName: 'RuntimeVersions', RuleDefinition: lambdaRule }));
    assert.equal(put.$metadata.httpStatusCode, 200);
    // A second function, created after the rule, is counted as its log arrives.
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'late', Runtime: py.Runtime, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    return 2\n' }) } }));
    await lambda.send(new InvokeCommand({ FunctionName: 'late', Payload: Buffer.from('{}') }));

    const report = await cw.send(new GetInsightRuleReportCommand({
      RuleName: 'RuntimeVersions', StartTime: new Date(started - 3600000), EndTime: new Date(started + 3600000),
      Period: 300, Metrics: ['UniqueContributors', 'SampleCount'],
    }));
    assert.deepEqual(report.KeyLabels, ['runtimeVersion', 'runtimeVersionArn']);
    assert.equal(report.AggregationStatistic, 'Count');
    assert.equal(report.AggregateValue, 2);
    assert.equal(report.ApproximateUniqueCount, 1);
    assert.equal(report.Contributors.length, 1);
    assert.deepEqual(report.Contributors[0].Keys, [py.Name, py.Arns.x86_64]);
    assert.equal(report.Contributors[0].ApproximateAggregateValue, 2);
    assert.ok(report.Contributors[0].Datapoints[0].Timestamp instanceof Date);
    assert.equal(report.Contributors[0].Datapoints.reduce((n, p) => n + p.ApproximateValue, 0), 2);
    assert.equal(report.MetricDatapoints.reduce((n, p) => n + p.SampleCount, 0), 2);
    assert.ok(report.MetricDatapoints.every((p) => p.UniqueContributors === 1 && p.Sum === undefined));
  } finally {
    await server.stop();
  }
});

test('A report has datapoints per period, contributors ordered by value and every metric', async () => {
  const server = await startServer();
  try {
    const cw = cwClient(server.endpoint);
    const logs = logsClient(server.endpoint);
    await cw.send(new PutInsightRuleCommand({ RuleName: 'rv', RuleDefinition: lambdaRule, RuleState: 'ENABLED' }));
    const base = Math.floor((Date.now() - 3 * 3600000) / 3600000) * 3600000;  // an hour boundary
    // A transition: v20 falls while v21 rises. Period 1 h: v20 ×3, then v20 ×1 + v21 ×2, then v21 ×3.
    await putLines(logs, '/aws/lambda/a', 's1', base, [
      [0, initStart(20)], [1, initStart(20)], [2, 'START RequestId: x Version: $LATEST'], [30, initStart(20)],
      [61, initStart(20)], [62, initStart(21)], [70, initStart(21)],
      [125, initStart(21)], [126, initStart(21)], [127, initStart(21)],
    ]);
    await putLines(logs, '/elsewhere', 's1', base, [[0, initStart(19)]]);
    const report = await cw.send(new GetInsightRuleReportCommand({
      RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 3 * 3600000), Period: 3600,
      MaxContributorCount: 5, OrderBy: 'Sum',
      Metrics: ['UniqueContributors', 'MaxContributorValue', 'SampleCount', 'Sum', 'Minimum', 'Maximum', 'Average'],
    }));
    assert.equal(report.AggregateValue, 9);
    assert.equal(report.ApproximateUniqueCount, 2);
    assert.deepEqual(report.Contributors.map((c) => [c.Keys[0], c.ApproximateAggregateValue]),
      [['python:3.12.v21', 5], ['python:3.12.v20', 4]]);
    const series = (c) => c.Datapoints.map((p) => [p.Timestamp.getTime() - base, p.ApproximateValue]);
    assert.deepEqual(series(report.Contributors[1]), [[0, 3], [3600000, 1]]);  // only where it appeared
    assert.deepEqual(series(report.Contributors[0]), [[3600000, 2], [7200000, 3]]);
    assert.deepEqual(report.MetricDatapoints.map(({ Timestamp, ...m }) => [Timestamp.getTime() - base, m]), [
      [0, { UniqueContributors: 1, MaxContributorValue: 3, SampleCount: 3, Sum: 3, Minimum: 1, Maximum: 1, Average: 1 }],
      [3600000, { UniqueContributors: 2, MaxContributorValue: 2, SampleCount: 3, Sum: 3, Minimum: 1, Maximum: 1, Average: 1 }],
      [7200000, { UniqueContributors: 1, MaxContributorValue: 3, SampleCount: 3, Sum: 3, Minimum: 1, Maximum: 1, Average: 1 }],
    ]);
    // MaxContributorCount cuts; OrderBy Maximum ranks by the best period (a tie keeps both).
    const top = await cw.send(new GetInsightRuleReportCommand({
      RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 3 * 3600000), Period: 3600, MaxContributorCount: 1,
    }));
    assert.deepEqual(top.Contributors.map((c) => c.Keys[0]), ['python:3.12.v21']);
    assert.deepEqual(top.MetricDatapoints, []);
    // A window that covers only the first hour.
    const first = await cw.send(new GetInsightRuleReportCommand({
      RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 3600000), Period: 60,
    }));
    assert.equal(first.AggregateValue, 3);
    assert.deepEqual(first.Contributors[0].Datapoints.map((p) => p.ApproximateValue), [1, 1, 1]);
  } finally {
    await server.stop();
  }
});

test('JSON rules sum a field, and rules are listed, disabled, enabled and deleted', async () => {
  const server = await startServer();
  try {
    const cw = cwClient(server.endpoint);
    const logs = logsClient(server.endpoint);
    const bytesRule = JSON.stringify({
      Schema: { Name: 'CloudWatchLogRule', Version: 1 }, LogGroupNames: ['api-*'], LogFormat: 'JSON', AggregateOn: 'Sum',
      Contribution: { Keys: ['$.ip'], ValueOf: '$.bytes', Filters: [{ Match: '$.method', In: ['PUT'] }, { Match: '$.status', LessThan: 500 }] },
    });
    await cw.send(new PutInsightRuleCommand({ RuleName: 'bytes', RuleDefinition: bytesRule, Tags: [{ Key: 'team', Value: 'edge' }] }));
    await cw.send(new PutInsightRuleCommand({ RuleName: 'rv', RuleDefinition: lambdaRule, RuleState: 'DISABLED' }));
    const base = Math.floor(Date.now() / 600000) * 600000 - 1200000;  // a 10-minute boundary
    const ev = (ip, method, bytes, status = 200) => JSON.stringify({ ip, method, bytes, status });
    await putLines(logs, 'api-gw', 's', base, [
      [0, ev('10.0.0.1', 'PUT', 100)], [0, ev('10.0.0.2', 'PUT', 50)], [1, ev('10.0.0.1', 'PUT', 25)],
      [1, ev('10.0.0.1', 'GET', 1000)], [2, ev('10.0.0.2', 'PUT', 500, 503)], [2, 'not json'],
    ]);
    await putLines(logs, '/aws/lambda/f', 's', base, [[0, initStart(20)]]);
    const report = await cw.send(new GetInsightRuleReportCommand({
      RuleName: 'bytes', StartTime: new Date(base), EndTime: new Date(base + 600000), Period: 600, Metrics: ['Sum', 'Maximum', 'Minimum', 'Average'],
    }));
    assert.equal(report.AggregationStatistic, 'Sum');
    assert.deepEqual(report.Contributors.map((c) => [c.Keys, c.ApproximateAggregateValue]), [[['10.0.0.1'], 125], [['10.0.0.2'], 50]]);
    const { Timestamp, ...m } = report.MetricDatapoints[0];
    assert.deepEqual(m, { Sum: 175, Maximum: 100, Minimum: 25, Average: 175 / 3 });

    const listed = await cw.send(new DescribeInsightRulesCommand({}));
    assert.deepEqual(listed.InsightRules.map((r) => [r.Name, r.State, r.Schema, r.ManagedRule]),
      [['bytes', 'ENABLED', 'CloudWatchLogRule/1', false], ['rv', 'DISABLED', 'CloudWatchLogRule/1', false]]);
    assert.equal(listed.InsightRules[1].Definition, lambdaRule);
    const page1 = await cw.send(new DescribeInsightRulesCommand({ MaxResults: 1 }));
    assert.deepEqual(page1.InsightRules.map((r) => r.Name), ['bytes']);
    const page2 = await cw.send(new DescribeInsightRulesCommand({ MaxResults: 1, NextToken: page1.NextToken }));
    assert.deepEqual(page2.InsightRules.map((r) => r.Name), ['rv']);
    assert.equal(page2.NextToken, undefined);
    const badToken = await awsError(cw.send(new DescribeInsightRulesCommand({ NextToken: 'bogus' })));
    assert.equal(badToken.name, 'InvalidNextToken');

    // The disabled rule saw nothing; once enabled it counts new events only.
    const rvReport = () => cw.send(new GetInsightRuleReportCommand({ RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 1200000), Period: 60 }));
    assert.equal((await rvReport()).AggregateValue, 0);
    const enabled = await cw.send(new EnableInsightRulesCommand({ RuleNames: ['rv', 'nope'] }));
    assert.deepEqual(enabled.Failures.map((f) => [f.FailureResource, f.ExceptionType]), [['nope', 'ResourceNotFoundException']]);
    await putLines(logs, '/aws/lambda/f', 's2', base, [[5, initStart(21)]]);
    assert.equal((await rvReport()).AggregateValue, 1);
    assert.deepEqual((await cw.send(new DisableInsightRulesCommand({ RuleNames: ['rv'] }))).Failures, []);
    await putLines(logs, '/aws/lambda/f', 's3', base, [[6, initStart(21)]]);
    assert.equal((await rvReport()).AggregateValue, 1);

    const deleted = await cw.send(new DeleteInsightRulesCommand({ RuleNames: ['rv', 'ghost'] }));
    assert.deepEqual(deleted.Failures.map((f) => f.FailureResource), ['ghost']);
    assert.deepEqual((await cw.send(new DescribeInsightRulesCommand({}))).InsightRules.map((r) => r.Name), ['bytes']);
    const gone = await awsError(rvReport());
    assert.equal(gone.name, 'ResourceNotFoundException');
    assert.equal(gone.$metadata.httpStatusCode, 404);
  } finally {
    await server.stop();
  }
});

test('Invalid rules and report requests get CloudWatch errors and store nothing', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-cfg-'));
  const cfg = path.join(dir, 'config.json');
  writeFileSync(cfg, JSON.stringify({ insights: { max_rules_per_region: 2 } }));
  const server = await startServer({ args: ['--config', cfg] });
  try {
    const cw = cwClient(server.endpoint);
    const refused = async (input, name, pattern) => {
      const e = await awsError(cw.send(new PutInsightRuleCommand(input)));
      assert.equal(e.name, name, `${JSON.stringify(input)}: ${e.message}`);
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.match(e.message, pattern);
      return e;
    };
    const rule = (over) => JSON.stringify({ ...JSON.parse(lambdaRule), ...over });
    const e = await refused({ RuleName: 'r', RuleDefinition: rule({ Contribution: { Keys: ['a', 'b', 'c', 'd', 'e'] } }) },
      'InvalidParameterValueException', /Contribution.Keys must list 1 to 4 fields/);
    assert.equal(e.Code, 'InvalidParameterValue');  // the query-compatible code
    await refused({ RuleName: 'r', RuleDefinition: rule({ Contribution: { Keys: ['eventType'], Filters: [{ Match: 'eventType', Contains: ['INIT'] }] } }) },
      'InvalidParameterValueException', /unknown operator 'Contains'/);
    await refused({ RuleName: 'r', RuleDefinition: '{"Schema":{"Name":"CloudWatchLogRule","Version":1},"LogGroupNames":["g"],"LogFormat":"JSON","AggregateOn":"Count","Contribution":{"Keys":["$.ip"],"Filters":[{"Match":"$.m","In":["PUT",]}]}}' },
      'InvalidParameterValueException', /not a valid JSON object/);
    await refused({ RuleName: 'r', RuleDefinition: rule({ LogGroupARNs: ['arn:aws:logs:us-east-1:123456789012:log-group:x'] }) },
      'InvalidParameterValueException', /either LogGroupNames or LogGroupARNs/);
    await refused({ RuleName: 'r', RuleDefinition: rule({ AggregateOn: 'Sum' }) },
      'InvalidParameterValueException', /needs Contribution.ValueOf/);
    await refused({ RuleName: 'x'.repeat(129), RuleDefinition: lambdaRule }, 'InvalidParameterValueException', /RuleName/);
    await refused({ RuleName: 'r', RuleDefinition: lambdaRule, RuleState: 'PAUSED' }, 'InvalidParameterValueException', /RuleState/);
    await refused({ RuleDefinition: lambdaRule }, 'MissingRequiredParameterException', /RuleName is required/);
    await refused({ RuleName: 'r' }, 'MissingRequiredParameterException', /RuleDefinition is required/);
    assert.deepEqual((await cw.send(new DescribeInsightRulesCommand({}))).InsightRules, []);

    await cw.send(new PutInsightRuleCommand({ RuleName: 'one', RuleDefinition: lambdaRule }));
    await cw.send(new PutInsightRuleCommand({ RuleName: 'two', RuleDefinition: lambdaRule }));
    const limit = await awsError(cw.send(new PutInsightRuleCommand({ RuleName: 'three', RuleDefinition: lambdaRule })));
    assert.equal(limit.name, 'LimitExceededException');
    await cw.send(new PutInsightRuleCommand({ RuleName: 'two', RuleDefinition: lambdaRule, RuleState: 'DISABLED' }));

    const now = Date.now();
    const report = (over) => awsError(cw.send(new GetInsightRuleReportCommand({
      RuleName: 'one', StartTime: new Date(now - 3600000), EndTime: new Date(now), Period: 300, ...over })));
    assert.equal((await report({ RuleName: 'missing' })).name, 'ResourceNotFoundException');
    for (const [over, pattern] of [
      [{ Period: 45 }, /multiple of 60/],
      [{ EndTime: new Date(now - 7200000) }, /EndTime must be greater than StartTime/],
      [{ MaxContributorCount: 101 }, /MaxContributorCount/],
      [{ Metrics: ['P99'] }, /not a report metric/],
      [{ OrderBy: 'Average' }, /OrderBy must be Sum or Maximum/],
      [{ Period: 60, StartTime: new Date(now - 3 * 86400000) }, /more than 1440 datapoints/],
    ]) {
      const err = await report(over);
      assert.equal(err.name, 'InvalidParameterValueException', JSON.stringify(over));
      assert.match(err.message, pattern);
    }
    assert.equal((await awsError(cw.send(new DeleteInsightRulesCommand({})))).name, 'MissingRequiredParameterException');
  } finally {
    await server.stop();
  }
});

test('Counted events and rules survive SIGKILL and restart', async () => {
  const first = await startServer();
  const base = Math.floor(Date.now() / 60000) * 60000 - 1200000;
  const cw1 = cwClient(first.endpoint);
  await cw1.send(new PutInsightRuleCommand({ RuleName: 'rv', RuleDefinition: lambdaRule }));
  await putLines(logsClient(first.endpoint), '/aws/lambda/k', 's', base, [[0, initStart(20)], [1, initStart(21)], [2, initStart(21)]]);
  await first.kill('SIGKILL');
  const second = await startServer({ dataDir: first.dataDir });
  try {
    const cw = cwClient(second.endpoint);
    const report = await cw.send(new GetInsightRuleReportCommand({ RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 600000), Period: 600 }));
    assert.deepEqual(report.Contributors.map((c) => [c.Keys[0], c.ApproximateAggregateValue]), [['python:3.12.v21', 2], ['python:3.12.v20', 1]]);
    await putLines(logsClient(second.endpoint), '/aws/lambda/k', 's2', base, [[3, initStart(21)]]);
    const after = await cw.send(new GetInsightRuleReportCommand({ RuleName: 'rv', StartTime: new Date(base), EndTime: new Date(base + 600000), Period: 600 }));
    assert.equal(after.AggregateValue, 4);
  } finally {
    await second.stop();
  }
});

test('lambkin insights report draws the chart in the terminal and writes PNG and SVG images', async () => {
  const server = await startServer();
  try {
    const cw = cwClient(server.endpoint);
    await cw.send(new PutInsightRuleCommand({ RuleName: 'RuntimeVersions', RuleDefinition: lambdaRule }));
    const base = Math.floor(Date.now() / 300000) * 300000 - 3600000;
    await putLines(logsClient(server.endpoint), '/aws/lambda/cli', 's', base,
      [[0, initStart(20)], [0, initStart(20)], [5, initStart(20)], [5, initStart(21)], [10, initStart(21)], [10, initStart(21)]]);
    const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-chart-'));
    const cli = (...args) => promisify(execFile)(lambkinBin, ['insights', 'report', ...args],
      { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } });
    const { stdout } = await cli('RuntimeVersions', '--period', '5m', '--since', '2h',
      '--png', path.join(dir, 'c.png'), '--svg', path.join(dir, 'c.svg'));
    assert.match(stdout, /^RuntimeVersions: Count per 5m, us-east-1\n/);
    assert.match(stdout, /\n {2}● python:3\.12\.v20\s+3\s+arn:aws:lambda:us-east-1::runtime:/);
    assert.match(stdout, /\n {2}■ python:3\.12\.v21\s+3\s+arn:aws:lambda:us-east-1::runtime:/);
    assert.match(stdout, /UTC\n/);
    assert.equal(readFileSync(path.join(dir, 'c.png')).subarray(1, 4).toString(), 'PNG');
    assert.match(readFileSync(path.join(dir, 'c.svg'), 'utf8'), /<svg/);
    const json = JSON.parse((await cli('RuntimeVersions', '--period', '5m', '--since', '2h', '--json')).stdout);
    assert.equal(json.AggregateValue, 6);
    assert.deepEqual(json.MetricDatapoints.map((p) => p.UniqueContributors), [1, 2, 1]);
    const missing = await cli('nope').catch((e) => e);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Rule nope does not exist/);
  } finally {
    await server.stop();
  }
});

test('Older SDKs that speak the Query protocol (Debian boto3) work too', async () => {
  const server = await startServer();
  try {
    const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_insights.py');
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, server.endpoint, lambdaRule]);
    const out = JSON.parse(stdout);
    assert.deepEqual(out.rules, [['rv', 'ENABLED', 'CloudWatchLogRule/1']]);
    assert.deepEqual(out.labels, ['runtimeVersion', 'runtimeVersionArn']);
    assert.equal(out.total, 3);
    assert.deepEqual(out.contributors, [
      [['python:3.12.v21', 'arn:aws:lambda:us-east-1::runtime:bb'], 2, [[-120000, 2]]],
      [['python:3.12.v20', 'arn:aws:lambda:us-east-1::runtime:aa'], 1, [[-180000, 1]]],
    ]);
    assert.deepEqual(out.samples, [1, 2]);
    assert.deepEqual(out.disable_failures, ['nope']);
    assert.deepEqual(out.error, ['InvalidParameterValue', 400]);
    assert.equal(out.missing, 'ResourceNotFound' + 'Exception');
    assert.deepEqual(out.deleted, []);
    assert.deepEqual(out.after, []);
  } finally {
    await server.stop();
  }
});
