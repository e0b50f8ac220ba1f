// AWS's recorded answers (LocalStack's snapshots of real AWS, tests/aws/services/lambda_/
// test_lambda_api.snapshot.json) replayed with the unmodified JS SDK: RevisionId changes exactly
// where AWS's does, Publish answers, members Lambkin honours or refuses, and error texts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
  UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand, PublishVersionCommand,
  DeleteFunctionCommand, InvokeCommand, CreateAliasCommand, UpdateAliasCommand,
  PutFunctionConcurrencyCommand, GetFunctionConcurrencyCommand, TagResourceCommand,
  UntagResourceCommand, ListVersionsByFunctionCommand, PublishLayerVersionCommand,
} from '@aws-sdk/client-lambda';
import {
  startServer, pythonZip, nodeZip, role, account, awsError, signedFetch,
} from './helpers.mjs';

let server, lambda;

before(async () => {
  server = await startServer();
  lambda = server.client();
});
after(() => server.stop());

const arn = (name, qualifier) =>
  `arn:aws:lambda:us-east-1:${account}:function:${name}${qualifier ? `:${qualifier}` : ''}`;

const create = (name, extra = {}) => lambda.send(new CreateFunctionCommand({
  FunctionName: name, Runtime: 'nodejs20.x', Handler: 'index.handler', Role: role,
  Code: { ZipFile: nodeZip() }, ...extra,
}));
const get = async (name, qualifier) =>
  (await lambda.send(new GetFunctionCommand({ FunctionName: name, Qualifier: qualifier }))).Configuration;

test('RevisionId: a write answers one, the finished function another (test_function_revisions_basic)', async () => {
  const created = await create('rev-basic');
  const rev2 = (await get('rev-basic')).RevisionId;
  assert.notEqual(rev2, created.RevisionId);
  // The create's RevisionId is stale once the create finished.
  const stale = await awsError(lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'rev-basic', ZipFile: nodeZip(), RevisionId: created.RevisionId })));
  assert.equal(stale.name, 'PreconditionFailedException');
  assert.equal(stale.message, 'The Revision Id provided does not match the latest Revision Id. '
    + 'Call the GetFunction/GetAlias API to retrieve the latest Revision Id');

  const code = await lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'rev-basic', ZipFile: nodeZip(), RevisionId: rev2 }));
  assert.equal(code.LastUpdateStatus, 'InProgress');
  assert.notEqual(code.RevisionId, rev2);
  const rev4 = await get('rev-basic');
  assert.equal(rev4.LastUpdateStatus, 'Successful');
  assert.notEqual(rev4.RevisionId, code.RevisionId);

  const conf = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'rev-basic', Timeout: 9, RevisionId: rev4.RevisionId }));
  assert.equal(conf.LastUpdateStatus, 'InProgress');
  const rev6 = await get('rev-basic');
  assert.notEqual(rev6.RevisionId, conf.RevisionId);
  assert.notEqual(rev6.RevisionId, rev4.RevisionId);
  // Reads do not change it.
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rev-basic' }));
  assert.equal(config.RevisionId, rev6.RevisionId);
});

test('RevisionId: versions have their own; publishing changes $LATEST\'s; aliases do not (test_function_revisions_version_and_alias)', async () => {
  await create('rev-ver');
  const rev2 = (await get('rev-ver')).RevisionId;
  const wrong = await awsError(lambda.send(new PublishVersionCommand({
    FunctionName: 'rev-ver', RevisionId: 'wrong' })));
  assert.equal(wrong.name, 'PreconditionFailedException');
  const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'rev-ver', RevisionId: rev2 }));
  assert.equal(v1.FunctionArn, arn('rev-ver', '1'));
  assert.notEqual(v1.RevisionId, rev2);
  assert.equal((await get('rev-ver', '1')).RevisionId, v1.RevisionId);
  const rev3 = (await get('rev-ver')).RevisionId;
  assert.notEqual(rev3, rev2);
  assert.notEqual(rev3, v1.RevisionId);

  const alias = await lambda.send(new CreateAliasCommand({
    FunctionName: 'rev-ver', Name: 'revision_alias', FunctionVersion: '1' }));
  assert.equal((await get('rev-ver')).RevisionId, rev3);
  assert.equal((await get('rev-ver', '1')).RevisionId, v1.RevisionId);
  const staleAlias = await awsError(lambda.send(new UpdateAliasCommand({
    FunctionName: 'rev-ver', Name: 'revision_alias', RevisionId: 'wrong' })));
  assert.equal(staleAlias.name, 'PreconditionFailedException');
  const updated = await lambda.send(new UpdateAliasCommand({
    FunctionName: 'rev-ver', Name: 'revision_alias', Description: 'x', RevisionId: alias.RevisionId }));
  assert.notEqual(updated.RevisionId, alias.RevisionId);

  // A publish with nothing changed answers the same version, RevisionId and all.
  const again = await lambda.send(new PublishVersionCommand({ FunctionName: 'rev-ver' }));
  assert.equal(again.Version, '1');
  assert.equal(again.RevisionId, v1.RevisionId);
  assert.equal((await get('rev-ver')).RevisionId, rev3);
});

test('RevisionId: TagResource and UntagResource give $LATEST a new one (TestLambdaTags::test_tag_lifecycle)', async () => {
  await create('rev-tags', { Tags: { key_a: 'value_a' } });
  const before = (await get('rev-tags')).RevisionId;
  await lambda.send(new TagResourceCommand({ Resource: arn('rev-tags'), Tags: { key_b: 'value_b' } }));
  const tagged = (await get('rev-tags')).RevisionId;
  assert.notEqual(tagged, before);
  await lambda.send(new UntagResourceCommand({ Resource: arn('rev-tags'), TagKeys: ['key_b'] }));
  assert.notEqual((await get('rev-tags')).RevisionId, tagged);
});

test('CreateFunction with Publish answers version 1 under the unqualified ARN (test_publish_version_on_create)', async () => {
  const out = await create('pub-create', { Publish: true });
  assert.equal(out.$metadata.httpStatusCode, 201);
  assert.equal(out.Version, '1');
  assert.equal(out.FunctionArn, arn('pub-create'));
  assert.equal(out.State, 'Pending');
  const latest = await get('pub-create');
  const v1 = await get('pub-create', '1');
  assert.equal(v1.FunctionArn, arn('pub-create', '1'));
  assert.equal(v1.State, 'Active');
  assert.equal(latest.Version, '$LATEST');
  assert.equal(new Set([out.RevisionId, latest.RevisionId, v1.RevisionId]).size, 3);
  const repeated = await lambda.send(new PublishVersionCommand({ FunctionName: 'pub-create' }));
  assert.equal(repeated.Version, '1');
  assert.equal(repeated.RevisionId, v1.RevisionId);
});

test('UpdateFunctionCode with Publish answers the new version under its qualified ARN (test_publish_with_update)', async () => {
  await create('pub-update');
  const before = (await get('pub-update')).RevisionId;
  const out = await lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'pub-update', ZipFile: pythonZip(), Publish: true }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  assert.equal(out.Version, '1');
  assert.equal(out.FunctionArn, arn('pub-update', '1'));
  assert.equal(out.State, 'Pending');
  assert.equal(out.StateReason, 'The function is being created.');
  assert.equal(out.StateReasonCode, 'Creating');
  assert.equal(out.LastUpdateStatus, undefined);
  const v1 = await get('pub-update', '1');
  assert.equal(v1.CodeSha256, out.CodeSha256);
  assert.equal(v1.State, 'Active');
  const latest = await get('pub-update');
  assert.notEqual(latest.RevisionId, before);
  const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'pub-update' }));
  assert.deepEqual(versions.Versions.map((v) => v.Version), ['$LATEST', '1']);
});

test('TracingConfig is stored and echoed; PassThrough is the default', async () => {
  const plain = await create('trace-default');
  assert.deepEqual(plain.TracingConfig, { Mode: 'PassThrough' });
  const active = await create('trace-active', { TracingConfig: { Mode: 'Active' } });
  assert.deepEqual(active.TracingConfig, { Mode: 'Active' });
  assert.deepEqual((await get('trace-active')).TracingConfig, { Mode: 'Active' });
  // An update of something else keeps it; an update of it changes it.
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'trace-active', Timeout: 5 }));
  assert.deepEqual((await get('trace-active')).TracingConfig, { Mode: 'Active' });
  const passed = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'trace-active', TracingConfig: { Mode: 'PassThrough' } }));
  assert.deepEqual(passed.TracingConfig, { Mode: 'PassThrough' });
  const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'trace-active' }));
  assert.deepEqual(v1.TracingConfig, { Mode: 'PassThrough' });
  const bad = await awsError(create('trace-bad', { TracingConfig: { Mode: 'Sometimes' } }));
  assert.equal(bad.name, 'ValidationException');
  assert.equal(bad.message, "1 validation error detected: Value 'Sometimes' at 'tracingConfig.mode' "
    + 'failed to satisfy constraint: Member must satisfy enum value set: [Active, PassThrough]');
  await assert.rejects(get('trace-bad'), { name: 'ResourceNotFoundException' });
});

test('VpcConfig: subnets and security groups are refused, an empty one is echoed as AWS does (test_vpc_config)', async () => {
  const refused = await awsError(create('vpc-fn', {
    VpcConfig: { SubnetIds: ['subnet-0123abcd'], SecurityGroupIds: ['sg-0123abcd'] } }));
  assert.equal(refused.name, 'InvalidParameterValueException');
  assert.match(refused.message, /VpcConfig/);
  await assert.rejects(get('vpc-fn'), { name: 'ResourceNotFoundException' });
  const badId = await awsError(create('vpc-fn', { VpcConfig: { SubnetIds: ['not_a_subnet'] } }));
  assert.equal(badId.name, 'ValidationException');
  assert.equal(badId.message, "1 validation error detected: Value '[not_a_subnet]' at "
    + "'vpcConfig.subnetIds' failed to satisfy constraint: Member must satisfy constraint: [Member "
    + 'must have length less than or equal to 1024, Member must have length greater than or equal '
    + 'to 0, Member must satisfy regular expression pattern: subnet-[0-9a-z]*]');

  const plain = await create('vpc-fn');
  assert.equal(plain.VpcConfig, undefined);
  const emptied = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'vpc-fn', VpcConfig: { SubnetIds: [], SecurityGroupIds: [] } }));
  const empty = { Ipv6AllowedForDualStack: false, SecurityGroupIds: [], SubnetIds: [], VpcId: '' };
  assert.deepEqual(emptied.VpcConfig, empty);
  assert.deepEqual((await get('vpc-fn')).VpcConfig, empty);
  const update = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'vpc-fn', VpcConfig: { SubnetIds: ['subnet-1'] } })));
  assert.equal(update.name, 'InvalidParameterValueException');
});

test('Members Lambkin cannot honour are refused with a 400 naming them, and change nothing', async () => {
  await create('refuse-fn');
  const before = await get('refuse-fn');
  const cases = [
    [{ DeadLetterConfig: { TargetArn: 'arn:aws:sqs:us-east-1:123456789012:dlq' } }, /DeadLetterConfig/],
    [{ KMSKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/abc' }, /KMSKeyArn/],
    [{ FileSystemConfigs: [{ Arn: 'arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1', LocalMountPath: '/mnt/x' }] }, /FileSystemConfigs/],
    [{ SnapStart: { ApplyOn: 'PublishedVersions' } }, /SnapStart/],
  ];
  for (const [member, name] of cases) {
    const e = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({
      FunctionName: 'refuse-fn', ...member })));
    assert.equal(e.name, 'InvalidParameterValueException', JSON.stringify(member));
    assert.equal(e.$metadata.httpStatusCode, 400);
    assert.match(e.message, name);
    const c = await awsError(create('refuse-new', member));
    assert.equal(c.name, 'InvalidParameterValueException', JSON.stringify(member));
  }
  const signing = await awsError(create('refuse-new', {
    CodeSigningConfigArn: `arn:aws:lambda:us-east-1:${account}:code-signing-config:csc-0123456789abcdefg` }));
  assert.match(signing.message, /CodeSigningConfigArn/);
  await assert.rejects(get('refuse-new'), { name: 'ResourceNotFoundException' });
  assert.equal((await get('refuse-fn')).RevisionId, before.RevisionId);
  // What Lambkin does anyway is accepted: a LoggingConfig, no SnapStart, no DLQ.
  const fine = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'refuse-fn', LoggingConfig: { LogFormat: 'Text', LogGroup: '/aws/lambda/refuse-fn' },
    SnapStart: { ApplyOn: 'None' }, DeadLetterConfig: {}, KMSKeyArn: '' }));
  assert.deepEqual(fine.LoggingConfig, { LogFormat: 'Text', LogGroup: '/aws/lambda/refuse-fn' });
  assert.deepEqual(fine.SnapStart, { ApplyOn: 'None', OptimizationStatus: 'Off' });
  const snap = await awsError(create('refuse-new', { SnapStart: { ApplyOn: 'invalidOption' } }));
  assert.equal(snap.name, 'ValidationException');
  assert.equal(snap.message, "1 validation error detected: Value 'invalidOption' at 'snapStart.applyOn' "
    + 'failed to satisfy constraint: Member must satisfy enum value set: [PublishedVersions, None]');
});

test('GetFunction carries Concurrency when reserved concurrency is set (test_function_concurrency)', async () => {
  await create('conc-fn');
  assert.equal((await lambda.send(new GetFunctionCommand({ FunctionName: 'conc-fn' }))).Concurrency, undefined);
  await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'conc-fn', ReservedConcurrentExecutions: 1 }));
  const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'conc-fn' }));
  assert.deepEqual(got.Concurrency, { ReservedConcurrentExecutions: 1 });
  const missing = await awsError(lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'no-such-fn' })));
  assert.equal(missing.name, 'ResourceNotFoundException');
  assert.equal(missing.message, `Function not found: ${arn('no-such-fn')}`);
  const put = await awsError(lambda.send(new PutFunctionConcurrencyCommand({
    FunctionName: 'no-such-fn', ReservedConcurrentExecutions: 1 })));
  assert.equal(put.message, `Function not found: ${arn('no-such-fn', '$LATEST')}`);
});

test('Names longer than 64 characters: 404 on Get/Delete/Invoke, 400 on Create (test_function_name_and_qualifier_validation)', async () => {
  const long = 'a'.repeat(65);
  for (const [command, suffix] of [
    [new GetFunctionCommand({ FunctionName: long }), ''],
    [new DeleteFunctionCommand({ FunctionName: long }), ''],
    [new InvokeCommand({ FunctionName: long }), ':$LATEST'],
  ]) {
    const e = await awsError(lambda.send(command));
    assert.equal(e.name, 'ResourceNotFoundException');
    assert.equal(e.$metadata.httpStatusCode, 404);
    assert.equal(e.message, `Function not found: ${arn(long)}${suffix}`);
  }
  const c = await awsError(create(long));
  assert.equal(c.name, 'InvalidParameterValueException');
  assert.equal(c.message, `1 validation error detected: Value '${long}' at 'functionName' failed to `
    + 'satisfy constraint: Member must have length less than or equal to 64');
});

test('A malformed function name is a ValidationException before any permission check (test_invalid_invoke)', async () => {
  // The account part is not an account: AWS validates the name first, whoever asks.
  for (const name of ['arn:aws:lambda:us-east-1:123400000000@function:myfn',
    'arn:aws:lambda:us-east-1::function:my-function',
    'arn:aws:lambda:us-east-1:210987654321:function:bad!name']) {
    for (const command of [new GetFunctionCommand({ FunctionName: name }),
      new DeleteFunctionCommand({ FunctionName: name }),
      new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') })]) {
      const e = await awsError(lambda.send(command));
      assert.equal(e.name, 'ValidationException', `${command.constructor.name} ${name}: ${e.message}`);
      assert.equal(e.$metadata.httpStatusCode, 400);
      assert.ok(e.message.startsWith(`1 validation error detected: Value '${name}' at 'functionName' `
        + 'failed to satisfy constraint: Member must satisfy regular expression pattern: '), e.message);
    }
  }
  // A well-formed name of another account is still a matter of permissions.
  const other = await awsError(lambda.send(new GetFunctionCommand({
    FunctionName: 'arn:aws:lambda:us-east-1:210987654321:function:theirs' })));
  assert.equal(other.name, 'AccessDeniedException');
});

test('CreateFunction checks its layers before whether the name is taken (test_layer_function_exceptions)', async () => {
  const west = server.client('eu-west-1');
  const layer = await west.send(new PublishLayerVersionCommand({
    LayerName: 'west-layer', Content: { ZipFile: nodeZip() }, CompatibleRuntimes: ['nodejs20.x'] }));
  await create('layer-order');
  const e = await awsError(create('layer-order', { Layers: [layer.LayerVersionArn] }));
  assert.equal(e.name, 'InvalidParameterValueException');
  assert.equal(e.$metadata.httpStatusCode, 400);
  assert.equal(e.message, 'Layers are not in the same region as the function. Layers are expected to be in region us-east-1.');
});

test('The 4 KB environment error quotes the variables in the order the request wrote them (test_large_environment_fails_multiple_keys)', async () => {
  const variables = { SMALL_VAR: 'ok', LARGE_VAR: 'x'.repeat(4064) };
  const e = await awsError(create('env-order', { Environment: { Variables: variables } }));
  assert.equal(e.name, 'InvalidParameterValueException');
  assert.equal(e.message, 'Lambda was unable to configure your environment variables because the environment '
    + `variables you have provided exceeded the 4KB limit. String measured: ${JSON.stringify(variables)}`);
});

test('Tag errors as AWS answers them (test_tag_exceptions)', async () => {
  await create('tag-err');
  const empty = await awsError(lambda.send(new TagResourceCommand({ Resource: arn('tag-err'), Tags: {} })));
  assert.equal(empty.name, 'InvalidParameterValueException');
  assert.equal(empty.message, 'An error occurred and the request cannot be processed.');
  const pattern = 'arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:'
    + '(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|'
    + 'event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|'
    + '(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})';
  for (const resource of ['arn:aws:something', `arn:aws:lambda:us-east-1:${account}:foobar:x`]) {
    const e = await awsError(lambda.send(new TagResourceCommand({ Resource: resource, Tags: { a: 'b' } })));
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.message, `1 validation error detected: Value '${resource}' at 'resource' failed to `
      + `satisfy constraint: Member must satisfy regular expression pattern: ${pattern}`);
  }
  const esm = `arn:aws:lambda:us-east-1:${account}:event-source-mapping:0123abcd-0123-4567-89ab-0123456789ab`;
  const e = await awsError(lambda.send(new TagResourceCommand({ Resource: esm, Tags: { a: 'b' } })));
  assert.equal(e.name, 'ResourceNotFoundException');
  assert.equal(e.message, `Event source mapping not found: ${esm}`);
  const qualified = await awsError(lambda.send(new TagResourceCommand({ Resource: arn('tag-err', '1'), Tags: { a: 'b' } })));
  assert.equal(qualified.message, 'Tags on function aliases and versions are not supported. Please specify a function ARN.');
  const missing = await awsError(lambda.send(new TagResourceCommand({ Resource: arn('doesnotexist'), Tags: { a: 'b' } })));
  assert.equal(missing.message, `Function not found: ${arn('doesnotexist')}`);
});

test('Errors name what AWS names: runtime enum, CreateAlias qualifier, bodies without Type or with a null Message', async () => {
  const runtime = await awsError(create('bad-runtime', { Runtime: 'non-existent-runtime' }));
  assert.equal(runtime.name, 'InvalidParameterValueException');
  assert.equal(runtime.message, "Value non-existent-runtime at 'runtime' failed to satisfy constraint: "
    + 'Member must satisfy enum value set: [nodejs20.x, python3.14, provided.al2023, python3.12, '
    + 'python3.13, nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, '
    + 'ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, '
    + 'nodejs18.x, provided.al2, java8.al2] or be a valid ARN');

  const alias = await awsError(lambda.send(new CreateAliasCommand({
    FunctionName: 'alias-missing-fn', Name: 'custom', FunctionVersion: '1' })));
  assert.equal(alias.name, 'ResourceNotFoundException');
  assert.equal(alias.message, `Function not found: ${arn('alias-missing-fn', '1')}`);

  await create('alias-latest');
  await lambda.send(new PublishVersionCommand({ FunctionName: 'alias-latest' }));
  const latest = await awsError(lambda.send(new CreateAliasCommand({
    FunctionName: 'alias-latest', Name: 'custom', FunctionVersion: '$LATEST',
    RoutingConfig: { AdditionalVersionWeights: { 1: 0.5 } } })));
  assert.equal(latest.name, 'InvalidParameterValueException');
  assert.equal(latest.message, '$LATEST is not supported for an alias pointing to more than 1 version');
  // The raw bodies: no Type on that one; a null Message for another account's function.
  const raw = await signedFetch(server.endpoint, {
    method: 'POST', path: '/2015-03-31/functions/alias-latest/aliases',
    body: JSON.stringify({ Name: 'custom', FunctionVersion: '$LATEST',
      RoutingConfig: { AdditionalVersionWeights: { 1: 0.5 } } }) });
  assert.equal(raw.status, 400);
  const rawBody = await raw.json();
  assert.equal('Type' in rawBody, false);
  assert.equal(rawBody.message, '$LATEST is not supported for an alias pointing to more than 1 version');
  const other = await signedFetch(server.endpoint, {
    path: '/2015-03-31/functions/arn:aws:lambda:us-east-1:210987654321:function:theirs' });
  assert.equal(other.status, 403);
  assert.equal(other.headers.get('x-amzn-errortype'), 'AccessDeniedException');
  const otherBody = await other.json();
  assert.equal(otherBody.Message, null);

  // Invoke headers Lambkin cannot honour are refused, not ignored.
  const tenant = await signedFetch(server.endpoint, {
    method: 'POST', path: '/2015-03-31/functions/alias-latest/invocations', body: '{}',
    headers: { 'x-amz-tenant-id': 'tenant-1' } });
  assert.equal(tenant.status, 400);
  assert.match((await tenant.json()).message, /X-Amz-Tenant-Id/);
});

test('Debian boto3 sees the same answers', async () => {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_recorded.py');
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, server.endpoint, role]);
  const out = JSON.parse(stdout);
  assert.deepEqual(out.tracing, { Mode: 'Active' });
  assert.equal(out.get_tracing, 'Active');
  assert.deepEqual(out.vpc_error, ['InvalidParameterValueException', 400]);
  assert.equal(out.publish_arn, arn('boto-fn', '1'));
  assert.equal(out.publish_version, '1');
  assert.equal(out.revision_changed, true);
  assert.equal(out.stale_precondition, 'PreconditionFailedException');
  assert.deepEqual(out.long_name, ['ResourceNotFoundException', 404]);
  assert.equal(out.empty_tags, 'InvalidParameterValueException');
  assert.deepEqual(out.concurrency, { ReservedConcurrentExecutions: 2 });
});
