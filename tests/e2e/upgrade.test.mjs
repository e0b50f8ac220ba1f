// Upgrade: a data directory written by the previous release (fixtures/previous-release: the
// SQLite store and code packages of commit 0bfb02e, before numbered migrations) opens with this
// release, is migrated, keeps everything it held and works; a second start runs no migration.
// This is about the SQLite data directory, so the server is given `--store sqlite` even when the
// suite runs on PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DeleteFunctionCommand, DeleteFunctionConcurrencyCommand, GetAliasCommand, GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand, GetRuntimeManagementConfigCommand, InvokeCommand, LambdaClient,
  ListFunctionsCommand, ListTagsCommand, ListVersionsByFunctionCommand,
} from '@aws-sdk/client-lambda';
import {
  CloudWatchLogsClient, DescribeLogGroupsCommand, FilterLogEventsCommand, GetLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CloudWatchClient, DescribeInsightRulesCommand, GetInsightRuleReportCommand,
} from '@aws-sdk/client-cloudwatch';
import { account, awsError, builtRuntimes, devCredentials, lambkinBin, startServer, waitFor as waitForAny } from './helpers.mjs';
import { lambdaRule } from './fixtures/previous-release/rule.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtureDir = path.join(here, 'fixtures', 'previous-release');
const fixture = JSON.parse(readFileSync(path.join(fixtureDir, 'fixture.json'), 'utf8'));
const region = 'us-east-1';
const fnArn = (name) => `arn:aws:lambda:${region}:${account}:function:${name}`;
const run = promisify(execFile);

// The migrations this release records for a store (subsystem → numbers); a later migration
// of a subsystem, or a new subsystem, is accepted (and checked to run once).
const expectedMigrations = {
  catalog: [1], functions: [1, 2], logs: [1], event_queue: [1, 2], invocation_stats: [1],
  rollout: [1], insights: [1], iam: [1], cluster: [1],
};

let scratch, dataDir, oldDb, server, lambda, logs, cw;

const sql = (db, query) => execFileSync('sqlite3', ['-readonly', db, query]).toString().trim();
const rows = (db, query) => { const out = sql(db, query); return out ? out.split('\n') : []; };
const store = () => path.join(dataDir, 'lambkin.db');

async function start() {
  server = await startServer({ dataDir, args: ['--store', 'sqlite'] });
  const options = { endpoint: server.endpoint, region, credentials: devCredentials, maxAttempts: 1 };
  lambda = new LambdaClient(options);
  logs = new CloudWatchLogsClient(options);
  cw = new CloudWatchClient(options);
}

const waitFor = (what, fn) => waitForAny(what, fn, 30000, 200);

async function invoke(FunctionName, payload, client = lambda) {
  const out = await client.send(new InvokeCommand({ FunctionName, Payload: Buffer.from(JSON.stringify(payload)) }));
  assert.equal(out.StatusCode, 200);
  assert.equal(out.FunctionError, undefined, Buffer.from(out.Payload ?? []).toString());
  return JSON.parse(Buffer.from(out.Payload).toString());
}

const messages = async (group, filterPattern) => {
  const out = [];
  let nextToken;
  do {
    const page = await logs.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern, nextToken }));
    out.push(...page.events.map((e) => e.message));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
};

// The store's schema and migration records: what a second start must leave as it is.
const schemaState = () => ({
  migrations: rows(store(), 'SELECT subsystem, number, applied_at FROM schema_migrations ORDER BY subsystem, number'),
  schema: rows(store(), "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY type, name"),
});

// What the API says about the functions (all of it stored, nothing volatile).
async function functionState() {
  const state = {};
  for (const q of ['upgrade-sh', 'upgrade-py', 'upgrade-py:1', 'upgrade-py:2']) {
    state[q] = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: q }));
    delete state[q].$metadata;
  }
  state.alias = await lambda.send(new GetAliasCommand({ FunctionName: 'upgrade-py', Name: 'live' }));
  delete state.alias.$metadata;
  return state;
}

before(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'lambkin-upgrade-'));
  dataDir = path.join(scratch, 'data');
  // The directory as the previous release left it: its store and its code packages.
  cpSync(path.join(fixtureDir, 'lambkin.db'), path.join(dataDir, 'lambkin.db'));
  cpSync(path.join(fixtureDir, 'code'), path.join(dataDir, 'code'), { recursive: true });
  // An untouched copy to compare with (a read of the fixture in place would leave -shm files).
  oldDb = path.join(scratch, 'old.db');
  cpSync(path.join(fixtureDir, 'lambkin.db'), oldDb);
  // The upgrade happens soon after the previous release queued its Event invocation: an event
  // older than MaximumEventAgeInSeconds (6 hours by default) would rightly be dropped instead.
  execFileSync('sqlite3', [path.join(dataDir, 'lambkin.db'), `UPDATE event_invocations SET enqueued_at = ${Date.now()}`]);
  assert.equal(sql(oldDb, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'"), '0',
    'the fixture is from before numbered migrations');
  // The fixture's functions run on the built-in runtime images it was written with (published
  // once per store): they must be the ones built here.
  for (const row of rows(oldDb, "SELECT DISTINCT r.runtime || ' ' || json_extract(r.image, '$.Digest') FROM runtime_versions r "
    + 'JOIN function_versions f ON f.runtime_version = r.id')) {
    const [runtime, digest] = row.split(' ');
    // The image built now (its index), not a root filesystem an older build left in rootfs/.
    const index = JSON.parse(readFileSync(path.join(builtRuntimes, runtime, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, digest,
      `the built-in ${runtime} image in ${builtRuntimes} is no longer ${digest}: `
      + 'the fixture must be written again (fixtures/previous-release/README.md)');
  }
  await start();
});

after(async () => {
  await server?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('the store is migrated: schema_migrations records every subsystem, the new columns and tables exist', () => {
  const recorded = {};
  for (const row of rows(store(), 'SELECT subsystem, number, applied_at FROM schema_migrations ORDER BY subsystem, number')) {
    const [subsystem, number, appliedAt] = row.split('|');
    (recorded[subsystem] ??= []).push(Number(number));
    assert.ok(Number(appliedAt) > Date.parse(fixture.written), `${subsystem} ${number} was applied by this release`);
  }
  for (const [subsystem, numbers] of Object.entries(expectedMigrations)) {
    assert.ok(recorded[subsystem], `no migration of ${subsystem} recorded`);
    assert.deepEqual(recorded[subsystem].slice(0, numbers.length), numbers, `${subsystem}'s migrations`);
  }
  for (const [subsystem, numbers] of Object.entries(recorded)) {
    assert.deepEqual(numbers, numbers.map((_, i) => i + 1), `${subsystem}'s migrations run in order, each once`);
  }
  const columns = (table) => rows(store(), `SELECT name FROM pragma_table_info('${table}')`);
  assert.ok(columns('event_invocations').includes('lease_owner') && columns('event_invocations').includes('lease_until'));
  assert.ok(columns('log_events').includes('head'));
  assert.ok(columns('runtime_versions').includes('image'));
  assert.ok(columns('runtime_version_edits').includes('batch'));
  assert.equal(sql(store(), 'SELECT COUNT(*) FROM code_packages'), '0', 'SQLite keeps code packages on disk only');
  assert.deepEqual(rows(store(), "SELECT name FROM sqlite_master WHERE name IN ('event_invocations_due', 'event_invocations_claim') ORDER BY name"),
    ['event_invocations_claim']);
});

test('the migrated schema is the schema of a store this release creates', async () => {
  // Every table's columns and every index, in a form that does not depend on how the DDL was
  // written (a column an upgrade added comes last in the CREATE TABLE text, not in its place).
  const shape = (db) => rows(db, [
    "SELECT 'column', m.name, p.name, p.type, p.\"notnull\", COALESCE(p.dflt_value, ''), p.pk",
    "FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table'",
    "UNION ALL SELECT 'index', m.name, l.name, l.\"unique\", l.origin, l.partial,",
    "(SELECT group_concat(COALESCE(i.name, '?'), ',') FROM pragma_index_info(l.name) i)",
    "FROM sqlite_master m JOIN pragma_index_list(m.name) l WHERE m.type = 'table'",
    "UNION ALL SELECT 'foreign key', m.name, f.\"table\", f.\"from\", f.\"to\", f.on_delete, ''",
    "FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
    'ORDER BY 1, 2, 3, 4',
  ].join(' '));
  const freshDir = path.join(scratch, 'fresh');
  const fresh = await startServer({ dataDir: freshDir, args: ['--store', 'sqlite'] });
  await fresh.stop();
  const want = shape(path.join(freshDir, 'lambkin.db'));
  assert.ok(want.length > 100, `a fresh store has ${want.length} columns and indexes`);
  assert.deepEqual(shape(store()), want);
});

test('no row of the previous release is lost or altered', () => {
  // Columns that change by themselves once the server runs: the held Event invocation is
  // settled at once (its state, when, the reason); its age was reset in before().
  const volatile = { event_invocations: ['next_attempt_at', 'last_error', 'enqueued_at', 'state'] };
  const tables = rows(oldDb, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
  assert.ok(tables.length >= 25, `the fixture has ${tables.length} tables`);
  for (const table of tables) {
    const cols = rows(oldDb, `SELECT name FROM pragma_table_info('${table}')`)
      .filter((c) => !(volatile[table] ?? []).includes(c)).map((c) => `"${c}"`).join(', ');
    const missing = sql(store(), `ATTACH '${oldDb}' AS old; SELECT COUNT(*) FROM (SELECT ${cols} FROM old."${table}" EXCEPT SELECT ${cols} FROM main."${table}")`);
    assert.equal(missing, '0', `${table}: ${missing} rows of the previous release are missing or changed`);
  }
});

test('functions, versions, alias, tags, runtime management and concurrency are as they were', async () => {
  const list = await lambda.send(new ListFunctionsCommand({}));
  assert.deepEqual(list.Functions.map((f) => f.FunctionName).sort(), ['upgrade-py', 'upgrade-sh']);
  const codeSha = (file) => createHash('sha256').update(readFileSync(path.join(fixtureDir, 'code', file))).digest('base64');
  const packages = readdirSync(path.join(fixtureDir, 'code')).map(codeSha);

  const sh = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upgrade-sh' }));
  assert.equal(sh.Runtime, 'provided.al2023');
  assert.equal(sh.Handler, 'bootstrap');
  assert.equal(sh.Description, 'shell bootstrap');
  assert.equal(sh.MemorySize, 256);
  assert.equal(sh.Timeout, 7);
  assert.deepEqual(sh.Environment.Variables, { GREETING: 'hello from sh' });
  assert.ok(packages.includes(sh.CodeSha256));
  assert.equal(sh.RuntimeVersionConfig.RuntimeVersionArn, fixture.runtimeVersions['provided.al2023']);

  const py = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'upgrade-py' }));
  assert.equal(py.Runtime, 'python3.11');
  assert.equal(py.Handler, 'app.handler');
  assert.equal(py.Description, 'python two');
  assert.equal(py.MemorySize, 512);
  assert.equal(py.Timeout, 11);
  assert.deepEqual(py.Environment.Variables, { GREETING: 'hello from py' });
  assert.ok(packages.includes(py.CodeSha256));

  const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'upgrade-py' }));
  assert.deepEqual(versions.Versions.map((v) => [v.Version, v.Description, v.Timeout]),
    [['$LATEST', 'python two', 11], ['1', 'first', 9], ['2', 'second', 11]]);

  const alias = await lambda.send(new GetAliasCommand({ FunctionName: 'upgrade-py', Name: 'live' }));
  assert.equal(alias.AliasArn, `${fnArn('upgrade-py')}:live`);
  assert.equal(alias.FunctionVersion, '1');
  assert.equal(alias.Description, 'production');
  assert.deepEqual(alias.RoutingConfig, { AdditionalVersionWeights: { 2: 0.25 } });

  assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: fnArn('upgrade-py') }))).Tags,
    { team: 'upgrade', stage: 'prod' });
  assert.deepEqual((await lambda.send(new ListTagsCommand({ Resource: fnArn('upgrade-sh') }))).Tags,
    { team: 'upgrade', kind: 'shell' });

  const pinned = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'upgrade-py', Qualifier: '1' }));
  assert.equal(pinned.UpdateRuntimeOn, 'Manual');
  assert.equal(pinned.RuntimeVersionArn, fixture.runtimeVersions['python3.11']);
  assert.equal(pinned.FunctionArn, `${fnArn('upgrade-py')}:1`);
  assert.equal((await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'upgrade-py' }))).UpdateRuntimeOn, 'Auto');
  assert.equal((await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'upgrade-sh' }))).UpdateRuntimeOn, 'FunctionUpdate');

  assert.equal((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'upgrade-py' }))).ReservedConcurrentExecutions, 5);
  assert.equal((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'upgrade-sh' }))).ReservedConcurrentExecutions, 0);
});

test('the logs of the previous release are readable through the CloudWatch Logs API', async () => {
  const groups = await logs.send(new DescribeLogGroupsCommand({}));
  assert.deepEqual(groups.logGroups.map((g) => g.logGroupName).sort(),
    ['/app/upgrade', '/aws/lambda/upgrade-py', '/aws/lambda/upgrade-sh']);
  const app = await logs.send(new GetLogEventsCommand({ logGroupName: '/app/upgrade', logStreamName: 'main', startFromHead: true }));
  assert.deepEqual(app.events.map((e) => e.message), ['app line 0', 'app line 1', 'app line 2']);
  const sh = await messages('/aws/lambda/upgrade-sh');
  assert.ok(sh.includes('ran {"n":1}\n') && sh.includes('ran {"n":2}\n'), sh.join(''));
  assert.ok(sh.some((m) => m.startsWith('INIT_START Runtime Version: provided:al2023.v1\t')
    && m.includes(fixture.runtimeVersions['provided.al2023'])));
  // A filter pattern: the term index (`head`) of rows the previous release wrote.
  const done = await messages('/aws/lambda/upgrade-py', '"py v1 got"');
  assert.ok(done.includes('py v1 got {"event": "done"}\n'), 'the finished Event invocation logged');
  assert.ok(done.includes('py v1 got {"n": 1}\n'));
});

test('the Contributor Insights rule is listed and reports the INIT_START lines logged before the upgrade', async () => {
  const rules = await cw.send(new DescribeInsightRulesCommand({}));
  const rule = rules.InsightRules.find((r) => r.Name === 'RuntimeVersions');
  assert.ok(rule, 'the rule is listed');
  assert.equal(rule.State, 'ENABLED');
  assert.equal(rule.Definition, lambdaRule);
  const written = Date.parse(fixture.written);
  const report = await cw.send(new GetInsightRuleReportCommand({
    RuleName: 'RuntimeVersions', StartTime: new Date(written - 3600000), EndTime: new Date(written + 3600000), Period: 3600 }));
  const byArn = Object.fromEntries(report.Contributors.map((c) => [c.Keys[1], c.ApproximateAggregateValue]));
  assert.ok(byArn[fixture.runtimeVersions['python3.11']] >= 2, JSON.stringify(report.Contributors));
  assert.ok(byArn[fixture.runtimeVersions['provided.al2023']] >= 1, JSON.stringify(report.Contributors));
});

test("the IAM user's access key still works, under its policy", async () => {
  const user = new LambdaClient({ endpoint: server.endpoint, region, maxAttempts: 1,
    credentials: { accessKeyId: fixture.accessKey.AccessKeyId, secretAccessKey: fixture.accessKey.SecretAccessKey } });
  const list = await user.send(new ListFunctionsCommand({}));
  assert.deepEqual(list.Functions.map((f) => f.FunctionName).sort(), ['upgrade-py', 'upgrade-sh']);
  assert.equal((await invoke('upgrade-py', { as: 'user' }, user)).event.as, 'user');
  assert.equal((await awsError(user.send(new DeleteFunctionCommand({ FunctionName: 'upgrade-py' })))).name, 'AccessDeniedException');
  const shown = JSON.parse((await run(lambkinBin, ['iam', 'show', '--json'],
    { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } })).stdout);
  assert.deepEqual(shown.accounts[account].users.upgrader.access_keys, [{ id: fixture.accessKey.AccessKeyId }]);
});

test('both functions run; version 1 stays on its pinned runtime version', async () => {
  const v1 = await invoke('upgrade-py:1', { n: 'after' });
  assert.deepEqual(v1, { py: 'v1', greeting: 'hello from py', event: { n: 'after' } });
  assert.equal((await invoke('upgrade-py:live', { n: 'alias' })).event.n, 'alias');
  assert.equal((await invoke('upgrade-py', { n: 'latest' })).py, 'v1');
  const inits = await messages('/aws/lambda/upgrade-py', '"INIT_START"');
  assert.ok(inits.every((m) => m.includes(fixture.runtimeVersions['python3.11'])), inits.join(''));
  // upgrade-sh has reserved concurrency 0: throttled until that goes.
  const throttled = await awsError(invoke('upgrade-sh', { n: 'throttled' }));
  assert.equal(throttled.name, 'TooManyRequestsException');
});

test('the Event invocation the previous release queued is read and settled as AWS settles it', async () => {
  // The previous release held events of a function with reserved concurrency 0 in the queue;
  // Lambda fails them at once (condition ZeroReservedConcurrency), and so does this release
  // with the event it finds: never run, never retried.
  const id = fixture.queuedRequestId;
  await waitFor('its settlement', async () => sql(store(), `SELECT state FROM event_invocations WHERE id = '${id}'`) === 'failed');
  assert.equal(sql(store(), `SELECT attempts || ' ' || last_error || ' ' || COALESCE(lease_owner, '-') FROM event_invocations WHERE id = '${id}'`),
    '0 ZeroReservedConcurrency -');
  await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'upgrade-sh' }));
  assert.deepEqual(await invoke('upgrade-sh', { n: 3 }), { sh: { n: 3 } });
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal((await messages('/aws/lambda/upgrade-sh')).filter((m) => m === 'ran {"queued":true}\n').length, 0);
});

test('a second start opens the migrated store unchanged: no migration runs again', async () => {
  const before = { ...schemaState(), functions: await functionState() };
  await server.stop();
  await start();
  const afterRestart = { ...schemaState(), functions: await functionState() };
  assert.deepEqual(afterRestart.migrations, before.migrations, 'schema_migrations, applied_at included, is unchanged');
  assert.deepEqual(afterRestart.schema, before.schema);
  assert.deepEqual(afterRestart.functions, before.functions);
  assert.deepEqual(await invoke('upgrade-sh', { n: 4 }), { sh: { n: 4 } });
  assert.equal((await invoke('upgrade-py:1', { n: 5 })).event.n, 5);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await messages('/aws/lambda/upgrade-sh')).filter((m) => m === 'ran {"queued":true}\n').length, 0,
    'the settled Event invocation is not run after all');
});
