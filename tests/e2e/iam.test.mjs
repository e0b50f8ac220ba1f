// IAM: identities, identity policies and service control policies decide who may do what, with
// AWS's AccessDenied messages. The Lambda docs' high-compliance setup — deny
// PutRuntimeManagementConfig organisation-wide, except for a break-glass role or for functions
// with an exception tag only a security role may set — tested both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LambdaClient, CreateFunctionCommand, GetRuntimeManagementConfigCommand, PutRuntimeManagementConfigCommand,
  TagResourceCommand, UntagResourceCommand, ListTagsCommand, GetFunctionCommand, ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import {
  CloudWatchLogsClient, DescribeLogGroupsCommand, CreateLogGroupCommand,
  TagResourceCommand as TagLogsResourceCommand, ListTagsLogGroupCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { CloudWatchClient, DescribeInsightRulesCommand } from '@aws-sdk/client-cloudwatch';
import { startServer, providedZip, awsError, runtimeVersions, lambkinBin, devCredentials, adminFetch, denyRuntimePinning, signedFetch } from './helpers.mjs';

const run = promisify(execFile);
const member = '111122223333';
const management = '999999999999';
const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const key = (id) => ({ id, secret: `${id.toLowerCase()}-secret` });
const creds = (id) => ({ accessKeyId: id, secretAccessKey: `${id.toLowerCase()}-secret` });

// The organisation: the high-compliance SCP (spec §8 B) on the Workloads OU holding the member
// account; the management account is outside its reach.
const declaration = {
  organization: {
    management_account: management,
    root: { units: { Workloads: { accounts: [member] } } },
    policies: {
      DenyRuntimePinning: {
        targets: ['Workloads'],
        document: {
          Version: '2012-10-17',
          Statement: [
            denyRuntimePinning,
            { Sid: 'ProtectExceptionTag', Effect: 'Deny', Action: ['lambda:TagResource', 'lambda:UntagResource'],
              Resource: '*',
              Condition: {
                'ForAnyValue:StringEquals': { 'aws:TagKeys': ['runtime-pin-exception'] },
                ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/SecurityAdmin' } } },
          ],
        },
      },
    },
  },
  accounts: {
    [member]: {
      roles: {
        Dev: { policies: { Admin: admin }, sessions: { alice: key('ASIADEVALICE0000001') } },
        LambdaRuntimeRollbackBreakGlass: { policies: { Admin: admin }, sessions: { oncall: key('ASIABREAKGLASS00001') } },
        SecurityAdmin: { policies: { Admin: admin }, sessions: { sec: key('ASIASECURITY0000001') } },
      },
      users: {
        reader: {
          policies: { Read: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['lambda:Get*', 'lambda:List*'], Resource: '*' }] } },
          access_keys: [key('AKIAREADER000000001')],
        },
        logger: {
          policies: { LogsExceptTheirs: { Version: '2012-10-17', Statement: [
            { Effect: 'Allow', Action: 'logs:*', Resource: '*' },
            { Effect: 'Deny', Action: 'logs:*', Resource: 'arn:aws:logs:*:*:log-group:theirs:*' }] } },
          access_keys: [key('AKIALOGGER000000001')],
        },
      },
    },
    [management]: { users: { ops: { policies: { Admin: admin }, access_keys: [key('AKIAMANAGEMENT00001')] } } },
  },
};

function writeDeclaration(value) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lambkin-iam-')), 'iam.json');
  writeFileSync(file, JSON.stringify(value));
  return file;
}

const lambdaAs = (server, id) => new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds(id) });
const create = (client, name, Tags) => client.send(new CreateFunctionCommand({
  FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: `arn:aws:iam::${member}:role/lambkin-test`,
  Code: { ZipFile: providedZip() }, Tags }));
const fnArn = (account, name) => `arn:aws:lambda:us-east-1:${account}:function:${name}`;

test('The high-compliance SCP denies runtime pinning except for the break-glass role and approved functions', async () => {
  const server = await startServer({ args: ['--iam', writeDeclaration(declaration)] });
  try {
    const dev = lambdaAs(server, 'ASIADEVALICE0000001');
    const breakGlass = lambdaAs(server, 'ASIABREAKGLASS00001');
    const security = lambdaAs(server, 'ASIASECURITY0000001');
    const ops = lambdaAs(server, 'AKIAMANAGEMENT00001');
    const arn = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime === 'provided.al2023').Arns.x86_64;
    const manual = (name) => new PutRuntimeManagementConfigCommand({ FunctionName: name, UpdateRuntimeOn: 'Manual', RuntimeVersionArn: arn });

    await create(dev, 'orders');
    await create(dev, 'billing', { team: 'payments' });
    const denied = await awsError(dev.send(manual('orders')));
    assert.equal(denied.name, 'AccessDeniedException');
    assert.equal(denied.$metadata.httpStatusCode, 403);
    assert.equal(denied.message, `User: arn:aws:sts::${member}:assumed-role/Dev/alice is not authorized to perform: `
      + `lambda:PutRuntimeManagementConfig on resource: ${fnArn(member, 'orders')} with an explicit deny in a service control policy`);
    // Denied with the qualifier too, and reading is not affected: the function stays in Auto.
    const qualified = await awsError(dev.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'orders', Qualifier: '$LATEST', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: arn })));
    assert.match(qualified.message, /on resource: arn:aws:lambda:us-east-1:111122223333:function:orders:\$LATEST with an explicit deny/);
    assert.equal((await dev.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'orders' }))).UpdateRuntimeOn, 'Auto');

    // The break-glass role may roll back.
    const pinned = await breakGlass.send(manual('orders'));
    assert.equal(pinned.UpdateRuntimeOn, 'Manual');
    assert.equal(pinned.RuntimeVersionArn, arn);

    // Developers cannot grant themselves the exception; the security role can.
    const selfTag = await awsError(dev.send(new TagResourceCommand({ Resource: fnArn(member, 'billing'), Tags: { 'runtime-pin-exception': 'approved' } })));
    assert.equal(selfTag.name, 'AccessDeniedException');
    assert.match(selfTag.message, /not authorized to perform: lambda:TagResource on resource: .*:function:billing with an explicit deny in a service control policy$/);
    await dev.send(new TagResourceCommand({ Resource: fnArn(member, 'billing'), Tags: { owner: 'alice' } }));
    await security.send(new TagResourceCommand({ Resource: fnArn(member, 'billing'), Tags: { 'runtime-pin-exception': 'approved' } }));
    assert.deepEqual((await dev.send(new ListTagsCommand({ Resource: fnArn(member, 'billing') }))).Tags,
      { team: 'payments', owner: 'alice', 'runtime-pin-exception': 'approved' });
    assert.equal((await dev.send(manual('billing'))).UpdateRuntimeOn, 'Manual', 'an approved function may be pinned');
    const untag = await awsError(dev.send(new UntagResourceCommand({ Resource: fnArn(member, 'billing'), TagKeys: ['runtime-pin-exception'] })));
    assert.equal(untag.name, 'AccessDeniedException');
    await dev.send(new UntagResourceCommand({ Resource: fnArn(member, 'billing'), TagKeys: ['owner'] }));
    assert.deepEqual((await dev.send(new GetFunctionCommand({ FunctionName: 'billing' }))).Tags,
      { team: 'payments', 'runtime-pin-exception': 'approved' });

    // SCPs do not affect the management account.
    await create(ops, 'platform');
    assert.equal((await ops.send(manual('platform'))).UpdateRuntimeOn, 'Manual');

    // Identity policies: a read-only user can read but is implicitly denied the rest.
    const reader = lambdaAs(server, 'AKIAREADER000000001');
    assert.deepEqual((await reader.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName).sort(), ['billing', 'orders']);
    const write = await awsError(create(reader, 'sneaky'));
    assert.equal(write.name, 'AccessDeniedException');
    assert.equal(write.message, `User: arn:aws:iam::${member}:user/reader is not authorized to perform: lambda:CreateFunction `
      + `on resource: ${fnArn(member, 'sneaky')} because no identity-based policy allows the lambda:CreateFunction action`);
    const logs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds('AKIAREADER000000001') });
    const logsDenied = await awsError(logs.send(new DescribeLogGroupsCommand({})));
    assert.equal(logsDenied.name, 'AccessDeniedException');
    assert.equal(logsDenied.$metadata.httpStatusCode, 403);
    assert.match(logsDenied.message, /user\/reader is not authorized to perform: logs:DescribeLogGroups on resource: arn:aws:logs:us-east-1:111122223333:log-group:\*:\* because no identity-based policy allows/);
    const cw = new CloudWatchClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds('AKIAREADER000000001') });
    const cwDenied = await awsError(cw.send(new DescribeInsightRulesCommand({})));
    assert.equal(cwDenied.$metadata.httpStatusCode, 403);
    assert.equal(cwDenied.name, 'AccessDenied', 'the query-compatible code, as CloudWatch sends it');
    assert.match(cwDenied.message, /cloudwatch:DescribeInsightRules on resource: \* because no identity-based policy allows/);

    // Nothing denied changed anything; restarting keeps the directory.
    assert.equal((await reader.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'orders' }))).UpdateRuntimeOn, 'Manual');
    await server.kill('SIGKILL');
    const again = await startServer({ dataDir: server.dataDir });
    try {
      const devAgain = lambdaAs(again, 'ASIADEVALICE0000001');
      assert.equal((await awsError(devAgain.send(manual('orders')))).name, 'AccessDeniedException');
      assert.deepEqual((await devAgain.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName).sort(), ['billing', 'orders']);
    } finally {
      await again.stop();
    }
  } finally {
    await server.kill();
  }
});

test('CloudWatch Logs authorises the log group a call acts on, whatever else the request names', async () => {
  const server = await startServer({ args: ['--iam', writeDeclaration(declaration)] });
  try {
    const logsAs = (id) => new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds(id) });
    const admin = logsAs('ASIADEVALICE0000001');
    const logger = logsAs('AKIALOGGER000000001');
    await admin.send(new CreateLogGroupCommand({ logGroupName: 'theirs', tags: { owner: 'them' } }));
    await logger.send(new CreateLogGroupCommand({ logGroupName: 'mine' }));
    const groupArn = (name, partition = 'aws') => `arn:${partition}:logs:us-east-1:${member}:log-group:${name}`;
    // A resourceArn added to another operation is not what it is authorised on.
    const denied = await signedFetch(server.endpoint, { method: 'POST', path: '/', service: 'logs',
      accessKey: 'AKIALOGGER000000001', secret: creds('AKIALOGGER000000001').secretAccessKey,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Logs_20140328.DeleteLogGroup' },
      body: JSON.stringify({ logGroupName: 'theirs', resourceArn: groupArn('mine') }) });
    assert.equal(denied.status, 403);
    assert.equal((await denied.json()).__type, 'AccessDeniedException');
    // A tagging call's ARN must be this account's and region's group exactly: another partition
    // spelled in it names nothing here, and the denied group keeps its tags.
    const elsewhere = await awsError(logger.send(new TagLogsResourceCommand({ resourceArn: groupArn('theirs', 'aws-cn'), tags: { owner: 'me' } })));
    assert.equal(elsewhere.name, 'ResourceNotFoundException');
    assert.equal((await awsError(logger.send(new TagLogsResourceCommand({ resourceArn: groupArn('theirs'), tags: { owner: 'me' } })))).name,
      'AccessDeniedException');
    await logger.send(new TagLogsResourceCommand({ resourceArn: groupArn('mine'), tags: { owner: 'me' } }));
    assert.deepEqual((await admin.send(new ListTagsLogGroupCommand({ logGroupName: 'theirs' }))).tags, { owner: 'them' });
    assert.deepEqual((await admin.send(new DescribeLogGroupsCommand({}))).logGroups.map((g) => g.logGroupName), ['mine', 'theirs']);
  } finally {
    await server.kill();
  }
});

test('lambkin iam manages keys and policies on a running server; malformed policies change nothing', async () => {
  const server = await startServer();
  const env = { ...process.env, LAMBKIN_ENDPOINT: server.endpoint };
  const cli = (...args) => run(lambkinBin, ['iam', ...args], { env });
  try {
    const file = writeDeclaration({ accounts: { '123456789012': { users: { carol: {
      policies: { Only: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'lambda:List*', Resource: '*' } } } } } } } });
    const applied = await cli('apply', file);
    assert.match(applied.stdout, /arn:aws:iam::123456789012:user\/carol  policies: Only/);
    const created = JSON.parse((await cli('create-access-key', '--user', 'carol', '--json')).stdout);
    assert.match(created.AccessKeyId, /^AKIA[A-Z0-9]{16}$/);
    assert.equal(created.Arn, 'arn:aws:iam::123456789012:user/carol');
    const carol = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { accessKeyId: created.AccessKeyId, secretAccessKey: created.SecretAccessKey } });
    assert.deepEqual((await carol.send(new ListFunctionsCommand({}))).Functions, []);
    assert.equal((await awsError(carol.send(new GetFunctionCommand({ FunctionName: 'x' })))).name, 'AccessDeniedException');

    const shown = JSON.parse((await cli('show', '--json')).stdout);
    assert.deepEqual(shown.accounts['123456789012'].users.carol.access_keys, [{ id: created.AccessKeyId }]);
    assert.ok(!JSON.stringify(shown).includes(created.SecretAccessKey), 'secrets are never shown');

    const bad = writeDeclaration({ accounts: { '123456789012': { users: { carol: {
      policies: { Only: { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 'lambda', Resource: '*' } } } } } } } });
    const refused = await cli('apply', bad).then(() => null, (e) => e);
    assert.ok(refused, 'a malformed policy is refused');
    assert.match(refused.stderr, /policy Only: Actions\/Conditions must be prefaced by a vendor, e\.g\., iam, sdb, ec2, etc\.: lambda/);
    assert.deepEqual((await carol.send(new ListFunctionsCommand({}))).Functions, [], 'the old policy still applies');

    const notObject = await adminFetch(server.endpoint, '/lambkin/v1/iam/access-keys', { method: 'POST', body: '[1]' });
    assert.equal(notObject.status, 400);
    assert.equal((await notObject.json()).__type, 'InvalidRequestContentException');

    await cli('delete-access-key', created.AccessKeyId);
    assert.equal((await awsError(carol.send(new ListFunctionsCommand({})))).name, 'UnrecognizedClientException');
  } finally {
    await server.stop();
  }
});

test('--production removes the development key; --auth none accepts unsigned requests', async () => {
  const production = await startServer({ args: ['--production'] });
  try {
    const e = await awsError(production.client().send(new ListFunctionsCommand({})));
    assert.equal(e.name, 'UnrecognizedClientException');
  } finally {
    await production.stop();
  }
  const open = await startServer({ args: ['--auth', 'none'] });
  try {
    const res = await fetch(`${open.endpoint}/2015-03-31/functions`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).Functions, []);
    const signedWrongly = new LambdaClient({ endpoint: open.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { ...devCredentials, secretAccessKey: 'anything' } });
    assert.deepEqual((await signedWrongly.send(new ListFunctionsCommand({}))).Functions, []);
  } finally {
    await open.stop();
  }
});
