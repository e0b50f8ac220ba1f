// Function policies: AddPermission / GetPolicy / RemovePermission on the wire as AWS answers them
// (the statement document, errors, RevisionId), and authorisation that combines a function's
// policy with identity policies and SCPs as AWS does — another account's caller may invoke a
// function only when its own identity policy AND the function policy allow it, and an explicit
// deny in the caller's identity policy or SCP still wins.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LambdaClient, CreateFunctionCommand, AddPermissionCommand, GetPolicyCommand, RemovePermissionCommand,
  GetFunctionCommand, InvokeCommand, PublishVersionCommand, CreateAliasCommand, GetAliasCommand,
  DeleteFunctionCommand,
} from '@aws-sdk/client-lambda';
import { startServer, makeZip, account, role, awsError, shellBootstrap, storeQuery } from './helpers.mjs';

const other = '444455556666';
const fenced = '555566667777';
const outsider = '777788889999';  // not in the organization
const lambdaAll = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:*', Resource: '*' }] };
const key = (id) => ({ id, secret: `${id.toLowerCase()}-secret` });
const creds = (id) => ({ accessKeyId: id, secretAccessKey: `${id.toLowerCase()}-secret` });

// bob (another account) may use Lambda; carol of the same account explicitly may not invoke;
// dave's account sits in an OU whose SCP denies invoking; erin (the function's own account) has
// no identity policy at all.
const declaration = {
  organization: {
    management_account: '999999999999',
    root: { accounts: [other], units: { Fenced: { accounts: [fenced] } } },
    policies: {
      NoInvoke: {
        targets: ['Fenced'],
        document: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'lambda:InvokeFunction', Resource: '*' }] },
      },
    },
  },
  accounts: {
    [other]: {
      users: {
        bob: { policies: { Lambda: lambdaAll }, access_keys: [key('AKIABOB000000000001')] },
        carol: {
          policies: {
            Lambda: { Version: '2012-10-17', Statement: [
              { Effect: 'Allow', Action: 'lambda:*', Resource: '*' },
              { Effect: 'Deny', Action: 'lambda:InvokeFunction', Resource: '*' }] },
          },
          access_keys: [key('AKIACAROL0000000001')],
        },
      },
    },
    [fenced]: { users: { dave: { policies: { Lambda: lambdaAll }, access_keys: [key('AKIADAVE00000000001')] } } },
    [outsider]: { users: { frank: { policies: { Lambda: lambdaAll }, access_keys: [key('AKIAFRANK0000000001')] } } },
    [account]: { users: { erin: { access_keys: [key('AKIAERIN00000000001')] } } },
  },
};

let server;
let dev;
const as = (id) => new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: creds(id) });
const fnArn = (name, q) => `arn:aws:lambda:us-east-1:${account}:function:${name}${q ? `:${q}` : ''}`;
const echo = () => makeZip({ bootstrap: shellBootstrap({ handle: 'echo \'{"hello":"cross"}\'' }) });
const create = (name) => dev.send(new CreateFunctionCommand({
  FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: echo() } }));
const decode = (payload) => JSON.parse(Buffer.from(payload).toString());

before(async () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'lambkin-policy-')), 'iam.json');
  writeFileSync(file, JSON.stringify(declaration));
  server = await startServer({ args: ['--iam', file] });
  dev = server.client();
});
after(async () => { await server?.stop(); });

test('AddPermission answers the statement AWS builds; GetPolicy the policy and its RevisionId', async () => {
  await create('pol');
  const added = await dev.send(new AddPermissionCommand({
    FunctionName: 'pol', StatementId: 's3', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com',
    SourceArn: 'arn:aws:s3:::test-bucket' }));
  assert.equal(added.$metadata.httpStatusCode, 201);
  assert.equal(added.Statement, JSON.stringify({
    Sid: 's3', Effect: 'Allow', Principal: { Service: 's3.amazonaws.com' }, Action: 'lambda:InvokeFunction',
    Resource: fnArn('pol'), Condition: { ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::test-bucket' } } }));
  // Every optional member, in AWS's order.
  const all = await dev.send(new AddPermissionCommand({
    FunctionName: 'pol', StatementId: 'urlPermission', Action: 'lambda:InvokeFunctionUrl', Principal: '*',
    SourceArn: 'arn:aws:s3:::test-bucket', SourceAccount: account, PrincipalOrgID: 'o-1234567890',
    FunctionUrlAuthType: 'NONE' }));
  assert.equal(all.Statement, JSON.stringify({
    Sid: 'urlPermission', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl', Resource: fnArn('pol'),
    Condition: {
      StringEquals: { 'AWS:SourceAccount': account, 'lambda:FunctionUrlAuthType': 'NONE', 'aws:PrincipalOrgID': 'o-1234567890' },
      ArnLike: { 'AWS:SourceArn': 'arn:aws:s3:::test-bucket' } } }));
  const byAccount = await dev.send(new AddPermissionCommand({
    FunctionName: 'pol', StatementId: 'account-id', Action: 'lambda:InvokeFunction', Principal: other }));
  assert.deepEqual(JSON.parse(byAccount.Statement).Principal, { AWS: `arn:aws:iam::${other}:root` });

  const policy = await dev.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  const doc = JSON.parse(policy.Policy);
  assert.equal(doc.Version, '2012-10-17');
  assert.equal(doc.Id, 'default');
  assert.deepEqual(doc.Statement.map((s) => s.Sid), ['s3', 'urlPermission', 'account-id']);
  // The policy has a RevisionId of its own (AWS's recordings of 2025): a change of the
  // function, publishing a version, leaves it as it was, and the function's stays its own.
  const fn = await dev.send(new GetFunctionCommand({ FunctionName: 'pol' }));
  assert.notEqual(policy.RevisionId, fn.Configuration.RevisionId);
  await dev.send(new PublishVersionCommand({ FunctionName: 'pol' }));
  assert.equal((await dev.send(new GetPolicyCommand({ FunctionName: 'pol' }))).RevisionId, policy.RevisionId);

  const stale = await awsError(dev.send(new AddPermissionCommand({
    FunctionName: 'pol', StatementId: 'x', Action: 'lambda:InvokeFunction', Principal: other, RevisionId: 'wrong' })));
  assert.equal(stale.name, 'PreconditionFailedException');
  assert.equal(stale.$metadata.httpStatusCode, 412);
  assert.equal(stale.message, 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id');
  // The function's RevisionId is not the policy's.
  const latest = (await dev.send(new GetFunctionCommand({ FunctionName: 'pol' }))).Configuration.RevisionId;
  assert.equal((await awsError(dev.send(new RemovePermissionCommand({
    FunctionName: 'pol', StatementId: 'urlPermission', RevisionId: latest })))).name, 'PreconditionFailedException');
  await dev.send(new RemovePermissionCommand({ FunctionName: 'pol', StatementId: 'urlPermission', RevisionId: policy.RevisionId }));
  const after = await dev.send(new GetPolicyCommand({ FunctionName: 'pol' }));
  assert.notEqual(after.RevisionId, policy.RevisionId);
  assert.deepEqual(JSON.parse(after.Policy).Statement.map((s) => s.Sid), ['s3', 'account-id']);
  // Changing the policy leaves the function's RevisionId alone.
  assert.equal((await dev.send(new GetFunctionCommand({ FunctionName: 'pol' }))).Configuration.RevisionId, latest);
  // A function without a policy: its own RevisionId is the current one, the policy it had is stale.
  await create('pol-none');
  const none = (await dev.send(new GetFunctionCommand({ FunctionName: 'pol-none' }))).Configuration.RevisionId;
  assert.equal((await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'pol-none', StatementId: 's',
    Action: 'lambda:InvokeFunction', Principal: other, RevisionId: 'wrong' })))).message,
  'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id');
  await dev.send(new AddPermissionCommand({ FunctionName: 'pol-none', StatementId: 's',
    Action: 'lambda:InvokeFunction', Principal: other, RevisionId: none }));
  const first = (await dev.send(new GetPolicyCommand({ FunctionName: 'pol-none' }))).RevisionId;
  await dev.send(new RemovePermissionCommand({ FunctionName: 'pol-none', StatementId: 's', RevisionId: first }));
  assert.equal((await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'pol-none', StatementId: 's',
    Action: 'lambda:InvokeFunction', Principal: other, RevisionId: first })))).name, 'PreconditionFailedException');
});

test('Policy errors are AWS\'s', async () => {
  await create('errs');
  const conflict = async (sid) => awsError(dev.send(new AddPermissionCommand({
    FunctionName: 'errs', StatementId: sid, Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' })));
  let e = await conflict('example.com');
  assert.equal(e.name, 'ValidationException');
  assert.equal(e.message, "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
  e = await awsError(dev.send(new GetPolicyCommand({ FunctionName: 'errs' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal(e.message, 'The resource you requested does not exist.');
  e = await awsError(dev.send(new RemovePermissionCommand({ FunctionName: 'errs', StatementId: 's3' })));
  assert.equal(e.message, 'No policy is associated with the given resource.');
  await dev.send(new AddPermissionCommand({ FunctionName: 'errs', StatementId: 's3', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' }));
  e = await conflict('s3');
  assert.equal(e.name, 'ResourceConflictException');
  assert.equal(e.message, 'The statement id (s3) provided already exists. Please provide a new statement id, or remove the existing statement.');
  e = await awsError(dev.send(new RemovePermissionCommand({ FunctionName: 'errs', StatementId: 'non-existent' })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal(e.message, 'Statement non-existent is not found in resource policy.');
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'errs:$LATEST', Qualifier: '$LATEST', StatementId: 'l',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' })));
  assert.equal(e.name, 'InvalidParameterValueException');
  assert.equal(e.message, 'We currently do not support adding policies for $LATEST.');
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'errs', StatementId: 'p', Action: 'lambda:InvokeFunction',
    Principal: 'invalid.nonaws.com' })));
  assert.equal(e.message, 'The provided principal was invalid. Please check the principal and try again.');
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'doesnotexist', StatementId: 'p', Action: 'lambda:InvokeFunction',
    Principal: 's3.amazonaws.com' })));
  assert.equal(e.message, `Function not found: ${fnArn('doesnotexist')}`);
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'errs:alias-doesnotexist', StatementId: 'p',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' })));
  assert.equal(e.message, `Cannot find alias arn: ${fnArn('errs', 'alias-doesnotexist')}`);
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'errs', Qualifier: '42', StatementId: 'p',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' })));
  assert.equal(e.message, `Function not found: ${fnArn('errs', '42')}`);
  e = await awsError(dev.send(new RemovePermissionCommand({ FunctionName: 'doesnotexist', StatementId: 's3' })));
  assert.equal(e.message, `No policy found for: ${fnArn('doesnotexist')}`);
  // Policies per version and alias, each with its own RevisionId.
  const v1 = await dev.send(new PublishVersionCommand({ FunctionName: 'errs' }));
  e = await awsError(dev.send(new GetPolicyCommand({ FunctionName: 'errs', Qualifier: v1.Version })));
  assert.equal(e.message, 'The resource you requested does not exist.');
  await dev.send(new AddPermissionCommand({ FunctionName: `errs:${v1.Version}`, Qualifier: v1.Version, StatementId: 's3',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' }));
  const pv = await dev.send(new GetPolicyCommand({ FunctionName: 'errs', Qualifier: v1.Version }));
  assert.equal(JSON.parse(pv.Policy).Statement[0].Resource, fnArn('errs', v1.Version));
  const alias = await dev.send(new CreateAliasCommand({ FunctionName: 'errs', Name: 'live', FunctionVersion: v1.Version }));
  e = await awsError(dev.send(new AddPermissionCommand({ FunctionName: 'errs', Qualifier: 'live', StatementId: 's3',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', RevisionId: 'wrong' })));
  assert.equal(e.message, 'The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id');
  // As AWS's recording (test_lambda_permission_fn_versioning): the alias has no policy yet, so
  // the RevisionId CreateAlias answered is the current one.
  await dev.send(new AddPermissionCommand({ FunctionName: `errs:live`, Qualifier: 'live', StatementId: 's3',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', RevisionId: alias.RevisionId }));
  const pa = await dev.send(new GetPolicyCommand({ FunctionName: 'errs', Qualifier: 'live' }));
  assert.equal((await dev.send(new GetAliasCommand({ FunctionName: 'errs', Name: 'live' }))).RevisionId, alias.RevisionId);
  assert.notEqual(pa.RevisionId, alias.RevisionId);
  assert.notEqual(pa.RevisionId, pv.RevisionId);
  await dev.send(new AddPermissionCommand({ FunctionName: 'errs', Qualifier: 'live', StatementId: 's3-2',
    Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com', RevisionId: pa.RevisionId }));
  assert.notEqual((await dev.send(new GetPolicyCommand({ FunctionName: 'errs', Qualifier: 'live' }))).RevisionId, pa.RevisionId);
});

test('A function policy holds at most 20 KB: the statement that would pass it is refused and nothing changes', async () => {
  await create('big');
  const add = (i) => dev.send(new AddPermissionCommand({
    FunctionName: 'big', StatementId: `s${i}`, Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com',
    SourceArn: `arn:aws:s3:::bucket-${String(i).padStart(40, '0')}` }));
  let i = 0;
  let refused;
  for (; i < 200 && !refused; ++i) {
    refused = await add(i).then(() => undefined, (e) => e);
  }
  assert.ok(refused, 'a 20 KB policy was never refused');
  assert.equal(refused.name, 'PolicyLengthExceededException');
  assert.equal(refused.$metadata.httpStatusCode, 400);
  const policy = await dev.send(new GetPolicyCommand({ FunctionName: 'big' }));
  const size = Buffer.byteLength(policy.Policy);
  assert.ok(size <= 20480 && size > 20480 - 400, `the policy kept is ${size} bytes`);
  assert.match(refused.message, /^The final policy size \(\d+\) is bigger than the limit \(20480\)\.$/);
  assert.ok(Number(refused.message.match(/\((\d+)\)/)[1]) > 20480);
  assert.equal(JSON.parse(policy.Policy).Statement.length, i - 1, 'the refused statement was not kept');
  // The refused statement left the policy's RevisionId as it was.
  await dev.send(new AddPermissionCommand({ FunctionName: 'big', StatementId: 's0', Action: 'lambda:InvokeFunction',
    Principal: 's3.amazonaws.com', RevisionId: policy.RevisionId })).then(
    () => assert.fail('a duplicate Sid was added'), (e) => assert.equal(e.name, 'ResourceConflictException'));
  // Removing one makes room again.
  await dev.send(new RemovePermissionCommand({ FunctionName: 'big', StatementId: 's0' }));
  await add(i);
});

test('Another account invokes only when the function policy allows it, and a deny still wins', async () => {
  await create('shared');
  const bob = as('AKIABOB000000000001');
  const invoke = (client, FunctionName = fnArn('shared')) => client.send(new InvokeCommand({ FunctionName, Payload: '{}' }));
  let e = await awsError(invoke(bob));
  assert.equal(e.name, 'AccessDeniedException');
  assert.equal(e.$metadata.httpStatusCode, 403);
  assert.equal(e.message, `User: arn:aws:iam::${other}:user/bob is not authorized to perform: lambda:InvokeFunction on resource: ${fnArn('shared')} because no resource-based policy allows the lambda:InvokeFunction action`);
  // A function of the same name in bob's own account is not this one.
  e = await awsError(invoke(bob, 'shared'));
  assert.equal(e.name, 'ResourceNotFoundException');

  await dev.send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'other-account', Action: 'lambda:InvokeFunction', Principal: other }));
  const out = await invoke(bob);
  assert.equal(out.StatusCode, 200);
  assert.deepEqual(decode(out.Payload), { hello: 'cross' });
  // The grant is InvokeFunction only.
  e = await awsError(bob.send(new GetFunctionCommand({ FunctionName: fnArn('shared') })));
  assert.equal(e.name, 'AccessDeniedException');
  // An explicit deny in the caller's identity policy wins over the function policy's allow.
  e = await awsError(invoke(as('AKIACAROL0000000001')));
  assert.match(e.message, /with an explicit deny in an identity-based policy$/);
  // So does one in an SCP of the caller's account, also when the function policy names it.
  await dev.send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'fenced', Action: 'lambda:InvokeFunction', Principal: fenced }));
  e = await awsError(invoke(as('AKIADAVE00000000001')));
  assert.match(e.message, /with an explicit deny in a service control policy$/);
  // Within the function's account, the function policy alone grants: erin has no identity policy.
  const erin = as('AKIAERIN00000000001');
  e = await awsError(invoke(erin, 'shared'));
  assert.match(e.message, /because no identity-based policy allows the lambda:InvokeFunction action$/);
  await dev.send(new AddPermissionCommand({ FunctionName: 'shared', StatementId: 'erin', Action: 'lambda:InvokeFunction',
    Principal: `arn:aws:iam::${account}:user/erin` }));
  assert.deepEqual(decode((await invoke(erin, 'shared')).Payload), { hello: 'cross' });
  // Removing the grant takes it back at once.
  await dev.send(new RemovePermissionCommand({ FunctionName: 'shared', StatementId: 'other-account' }));
  e = await awsError(invoke(bob));
  assert.equal(e.name, 'AccessDeniedException');
  // Statements go with their function.
  await dev.send(new DeleteFunctionCommand({ FunctionName: 'shared' }));
  await create('shared');
  e = await awsError(dev.send(new GetPolicyCommand({ FunctionName: 'shared' })));
  assert.equal(e.name, 'ResourceNotFoundException');
});

test('Principal * with PrincipalOrgID grants every account of the organization and no other', async () => {
  await create('org-wide');
  const orgId = storeQuery(server.dataDir, 'SELECT id FROM iam_organization');
  assert.match(orgId, /^o-[a-z0-9]{10}$/);
  await dev.send(new AddPermissionCommand({ FunctionName: 'org-wide', StatementId: 'org', Action: 'lambda:InvokeFunction',
    Principal: '*', PrincipalOrgID: orgId }));
  const invoke = (id) => as(id).send(new InvokeCommand({ FunctionName: fnArn('org-wide'), Payload: '{}' }));
  assert.deepEqual(decode((await invoke('AKIABOB000000000001')).Payload), { hello: 'cross' });
  const e = await awsError(invoke('AKIAFRANK0000000001'));
  assert.equal(e.name, 'AccessDeniedException');
  assert.match(e.message, /^User: arn:aws:iam::777788889999:user\/frank is not authorized .* because no resource-based policy allows/);
  // Another organization's id grants nobody here.
  await dev.send(new AddPermissionCommand({ FunctionName: 'org-wide', StatementId: 'elsewhere', Action: 'lambda:GetFunction',
    Principal: '*', PrincipalOrgID: 'o-0000000000' }));
  assert.equal((await awsError(as('AKIABOB000000000001').send(new GetFunctionCommand({ FunctionName: fnArn('org-wide') })))).name,
    'AccessDeniedException');
});

test('boto3 (Debian) adds, reads and removes permissions', async () => {
  await create('boto');
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_policy.py');
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, server.endpoint, 'boto']);
  const out = JSON.parse(stdout);
  assert.equal(out.added.Sid, 'boto');
  assert.deepEqual(out.added.Principal, { AWS: `arn:aws:iam::${other}:root` });
  assert.equal(out.policy.Statement.length, 1);
  assert.notEqual(out.revision, out.function_revision);
  assert.deepEqual(out.stale, ['PreconditionFailedException', 412]);
  assert.deepEqual(out.conflict, ['ResourceConflictException', 409]);
  assert.equal(out.removed, 204);
  assert.deepEqual(out.gone, ['ResourceNotFoundException', 404]);
  assert.equal(out.url.AuthType, 'NONE');
  assert.match(out.url.FunctionUrl, /^http:\/\/[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:\d+\/$/);
  assert.equal(out.url_get.FunctionUrl, out.url.FunctionUrl);
  assert.ok(out.url_get.LastModifiedTime);
  assert.deepEqual(out.url_conflict, ['ResourceConflictException', 409]);
});
