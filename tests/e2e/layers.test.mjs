// Lambda layers with the real SDK: every layer operation's answers and AWS's errors, functions
// using layers (extracted in order into a read-only /opt), a published version keeping its layer
// versions, another account's layer used through AddLayerVersionPermission, and boto3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LambdaClient, PublishLayerVersionCommand, GetLayerVersionCommand, GetLayerVersionByArnCommand,
  ListLayersCommand, ListLayerVersionsCommand, DeleteLayerVersionCommand,
  AddLayerVersionPermissionCommand, RemoveLayerVersionPermissionCommand,
  GetLayerVersionPolicyCommand, CreateFunctionCommand, UpdateFunctionConfigurationCommand,
  GetFunctionConfigurationCommand, PublishVersionCommand, InvokeCommand, DeleteFunctionCommand,
} from '@aws-sdk/client-lambda';
import { startServer, makeZip, role, account, awsError, runtimeVersions } from './helpers.mjs';

const other = '111122223333';
const otherKey = { accessKeyId: 'AKIAOTHERACCOUNT001', secretAccessKey: 'akiaotheraccount001-secret' };
const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

let server, lambda, otherLambda, pythonRuntime;

before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-layers-'));
  const iam = path.join(dir, 'iam.json');
  writeFileSync(iam, JSON.stringify({ accounts: { [other]: { users: { dev: {
    policies: { Admin: admin }, access_keys: [{ id: otherKey.accessKeyId, secret: otherKey.secretAccessKey }] } } } } }));
  server = await startServer({ args: ['--iam', iam] });
  lambda = server.client();
  otherLambda = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: otherKey, maxAttempts: 1 });
  pythonRuntime = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
});
after(() => server.stop());

const layerArn = (name, owner = account) => `arn:aws:lambda:us-east-1:${owner}:layer:${name}`;
const sha256 = (buf) => createHash('sha256').update(buf).digest('base64');
const decoder = new TextDecoder();

async function invoke(client, name, qualifier) {
  const out = await client.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier }));
  assert.equal(out.FunctionError, undefined, decoder.decode(out.Payload));
  return JSON.parse(decoder.decode(out.Payload));
}

// A Python handler that reports what its layers put in /opt.
const reporterZip = () => makeZip({
  'index.py': [
    'import os',
    'def handler(event, context):',
    '    import shared, first_only',
    '    try:',
    '        open("/opt/python/new.txt", "w")',
    '        writable = True',
    '    except OSError:',
    '        writable = False',
    '    return {"shared": shared.WHO, "first": first_only.VALUE,',
    '            "second": os.path.exists("/opt/python/second_only.py"),',
    '            "txt": open("/opt/data.txt").read(), "writable": writable}',
  ].join('\n'),
});

test('PublishLayerVersion, Get, GetByArn, List and Delete answer as AWS', async () => {
  const zip = makeZip({ 'python/m.py': 'X = 1\n' });
  const published = await lambda.send(new PublishLayerVersionCommand({
    LayerName: 'basics', Description: 'the basics', LicenseInfo: 'MIT', Content: { ZipFile: zip },
    CompatibleRuntimes: ['python3.12'], CompatibleArchitectures: ['x86_64'] }));
  assert.equal(published.$metadata.httpStatusCode, 201);
  assert.equal(published.LayerArn, layerArn('basics'));
  assert.equal(published.LayerVersionArn, `${layerArn('basics')}:1`);
  assert.equal(published.Version, 1);
  assert.equal(published.Description, 'the basics');
  assert.equal(published.LicenseInfo, 'MIT');
  assert.deepEqual(published.CompatibleRuntimes, ['python3.12']);
  assert.deepEqual(published.CompatibleArchitectures, ['x86_64']);
  assert.equal(published.Content.CodeSha256, sha256(zip));
  assert.equal(published.Content.CodeSize, zip.length);
  assert.match(published.CreatedDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
  // Content.Location: a presigned link to the archive.
  assert.deepEqual(Buffer.from(await (await fetch(published.Content.Location)).arrayBuffer()), zip);

  // Without compatibilities the members are absent; empty lists are echoed.
  const bare = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'basics', Content: { ZipFile: zip } }));
  assert.equal(bare.Version, 2);
  assert.equal(bare.CompatibleRuntimes, undefined);
  assert.equal(bare.LicenseInfo, undefined);
  const empty = await lambda.send(new PublishLayerVersionCommand({
    LayerName: 'empty', Content: { ZipFile: zip }, CompatibleRuntimes: [], CompatibleArchitectures: [] }));
  assert.deepEqual(empty.CompatibleRuntimes, []);
  assert.deepEqual(empty.CompatibleArchitectures, []);

  const got = await lambda.send(new GetLayerVersionCommand({ LayerName: 'basics', VersionNumber: 1 }));
  assert.equal(got.LayerVersionArn, published.LayerVersionArn);
  assert.equal(got.Content.CodeSha256, published.Content.CodeSha256);
  const byArn = await lambda.send(new GetLayerVersionByArnCommand({ Arn: published.LayerVersionArn }));
  assert.equal(byArn.Version, 1);
  assert.equal(byArn.Description, 'the basics');
  const byLayerArn = await lambda.send(new GetLayerVersionCommand({ LayerName: layerArn('basics'), VersionNumber: 2 }));
  assert.equal(byLayerArn.Version, 2);

  const versions = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'basics' }));
  assert.deepEqual(versions.LayerVersions.map((v) => v.Version), [2, 1]);
  assert.equal(versions.LayerVersions[1].LayerVersionArn, published.LayerVersionArn);
  assert.equal(versions.LayerVersions[1].Content, undefined);
  const py = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'basics', CompatibleRuntime: 'python3.12' }));
  assert.deepEqual(py.LayerVersions.map((v) => v.Version), [1]);
  const paged = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'basics', MaxItems: 1 }));
  assert.equal(paged.LayerVersions.length, 1);
  const rest = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'basics', Marker: paged.NextMarker }));
  assert.deepEqual(rest.LayerVersions.map((v) => v.Version), [1]);
  assert.deepEqual((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'nothing' }))).LayerVersions, []);

  const layers = await lambda.send(new ListLayersCommand({}));
  const basics = layers.Layers.find((l) => l.LayerName === 'basics');
  assert.equal(basics.LayerArn, layerArn('basics'));
  assert.equal(basics.LatestMatchingVersion.Version, 2);
  const matching = await lambda.send(new ListLayersCommand({ CompatibleRuntime: 'python3.12', CompatibleArchitecture: 'x86_64' }));
  assert.deepEqual(matching.Layers.map((l) => [l.LayerName, l.LatestMatchingVersion.Version]), [['basics', 1]]);

  // Deleting is idempotent; numbers are never reused.
  for (const v of [1, 2, 2, 7]) {
    const del = await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'basics', VersionNumber: v }));
    assert.equal(del.$metadata.httpStatusCode, 204);
  }
  assert.equal((await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'nothing', VersionNumber: 1 }))).$metadata.httpStatusCode, 204);
  assert.deepEqual((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'basics' }))).LayerVersions, []);
  const again = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'basics', Content: { ZipFile: zip } }));
  assert.equal(again.Version, 3);
});

test('Layer operations refuse bad input with AWS errors', async () => {
  const zip = makeZip({ 'a.txt': 'a' });
  await lambda.send(new PublishLayerVersionCommand({ LayerName: 'errs', Content: { ZipFile: zip } }));
  const missing = await awsError(lambda.send(new GetLayerVersionCommand({ LayerName: 'nope', VersionNumber: 1 })));
  assert.equal(missing.name, 'ResourceNotFoundException');
  assert.equal(missing.$metadata.httpStatusCode, 404);
  assert.equal(missing.message, 'The resource you requested does not exist.');
  const missingVersion = await awsError(lambda.send(new GetLayerVersionCommand({ LayerName: 'errs', VersionNumber: 2 })));
  assert.equal(missingVersion.message, 'The resource you requested does not exist.');
  for (const v of [0, -1]) {
    const low = await awsError(lambda.send(new GetLayerVersionCommand({ LayerName: 'errs', VersionNumber: v })));
    assert.equal(low.name, 'InvalidParameterValueException');
    assert.equal(low.message, 'Layer Version Cannot be less than 1');
  }
  const deleteLow = await awsError(lambda.send(new DeleteLayerVersionCommand({ LayerName: 'errs', VersionNumber: -1 })));
  assert.equal(deleteLow.message, 'Layer Version Cannot be less than 1');
  const noVersion = await awsError(lambda.send(new GetLayerVersionByArnCommand({ Arn: layerArn('errs') })));
  assert.equal(noVersion.name, 'ValidationException');
  assert.equal(noVersion.message, `1 validation error detected: Value '${layerArn('errs')}' at 'arn' failed to satisfy constraint: `
    + 'Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)');
  const byArnMissing = await awsError(lambda.send(new GetLayerVersionByArnCommand({ Arn: `${layerArn('errs')}:2` })));
  assert.equal(byArnMissing.name, 'ResourceNotFoundException');

  const runtime = await awsError(lambda.send(new ListLayersCommand({ CompatibleRuntime: 'runtimedoesnotexist' })));
  assert.equal(runtime.name, 'ValidationException');
  assert.match(runtime.message, /^1 validation error detected: Value 'runtimedoesnotexist' at 'compatibleRuntime' failed to satisfy constraint: Member must satisfy enum value set: \[ruby3\.5, ruby2\.6, /);
  const arch = await awsError(lambda.send(new ListLayersCommand({ CompatibleArchitecture: 'archdoesnotexist' })));
  assert.equal(arch.message, "1 validation error detected: Value 'archdoesnotexist' at 'compatibleArchitecture' failed to satisfy constraint: Member must satisfy enum value set: [x86_64, arm64]");
  const both = await awsError(lambda.send(new PublishLayerVersionCommand({
    LayerName: 'bad', Content: { ZipFile: zip }, CompatibleRuntimes: ['invalidruntime'], CompatibleArchitectures: ['invalidarch'] })));
  assert.match(both.message, /^2 validation errors detected: Value '\[invalidruntime\]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy enum value set: \[nodejs20\.x, python3\.14, .*; Value '\[invalidarch\]' at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[x86_64, arm64\], Member must not be null\]$/);
  const s3 = await awsError(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { S3Bucket: 'b', S3Key: 'k' } })));
  assert.equal(s3.name, 'InvalidParameterValueException');
  assert.match(s3.message, /Content\.S3Bucket is not supported/);
  const notZip = await awsError(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad', Content: { ZipFile: Buffer.from('not a zip') } })));
  assert.equal(notZip.name, 'InvalidParameterValueException');
  const badName = await awsError(lambda.send(new PublishLayerVersionCommand({ LayerName: 'bad name!', Content: { ZipFile: zip } })));
  assert.equal(badName.name, 'ValidationException');
  // Nothing refused was published.
  assert.deepEqual((await lambda.send(new ListLayerVersionsCommand({ LayerName: 'bad' }))).LayerVersions, []);
});

test('Layer version policies: add, get, remove, with AWS errors', async () => {
  const zip = makeZip({ 'a.txt': 'a' });
  await lambda.send(new PublishLayerVersionCommand({ LayerName: 'pol', Content: { ZipFile: zip } }));
  const none = await awsError(lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'pol', VersionNumber: 1 })));
  assert.equal(none.name, 'ResourceNotFoundException');
  assert.equal(none.message, 'No policy is associated with the given resource.');
  const added = await lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol', VersionNumber: 1, StatementId: 's1', Action: 'lambda:GetLayerVersion', Principal: '*' }));
  assert.equal(added.$metadata.httpStatusCode, 201);
  assert.deepEqual(JSON.parse(added.Statement), {
    Sid: 's1', Effect: 'Allow', Principal: '*', Action: 'lambda:GetLayerVersion', Resource: `${layerArn('pol')}:1` });
  const dup = await awsError(lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol', VersionNumber: 1, StatementId: 's1', Action: 'lambda:GetLayerVersion', Principal: '*' })));
  assert.equal(dup.name, 'ResourceConflictException');
  assert.equal(dup.message, 'The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.');
  const action = await awsError(lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol', VersionNumber: 1, StatementId: 's9', Action: '*', Principal: '*' })));
  assert.equal(action.message, "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion");
  const wrong = await awsError(lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol', VersionNumber: 1, StatementId: 's2', Action: 'lambda:GetLayerVersion', Principal: '*', RevisionId: 'wrong' })));
  assert.equal(wrong.name, 'PreconditionFailedException');
  assert.equal(wrong.message, 'The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id');
  const noLayer = await awsError(lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol-nope', VersionNumber: 1, StatementId: 's3', Action: 'lambda:GetLayerVersion', Principal: '*' })));
  assert.equal(noLayer.name, 'ResourceNotFoundException');
  assert.equal(noLayer.message, `Layer version ${layerArn('pol-nope')}:1 does not exist.`);

  const s2 = await lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'pol', VersionNumber: 1, StatementId: 's2', Action: 'lambda:GetLayerVersion', Principal: other,
    RevisionId: added.RevisionId }));
  assert.deepEqual(JSON.parse(s2.Statement).Principal, { AWS: `arn:aws:iam::${other}:root` });
  const policy = await lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'pol', VersionNumber: 1 }));
  assert.equal(policy.RevisionId, s2.RevisionId);
  const doc = JSON.parse(policy.Policy);
  assert.equal(doc.Version, '2012-10-17');
  assert.equal(doc.Id, 'default');
  assert.deepEqual(doc.Statement.map((s) => s.Sid), ['s1', 's2']);

  const noStatement = await awsError(lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName: 'pol', VersionNumber: 1, StatementId: 'doesnotexist' })));
  assert.equal(noStatement.message, 'Statement doesnotexist is not found in resource policy.');
  const wrongRemove = await awsError(lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName: 'pol', VersionNumber: 1, StatementId: 's2', RevisionId: 'wrong' })));
  assert.equal(wrongRemove.name, 'PreconditionFailedException');
  const removed = await lambda.send(new RemoveLayerVersionPermissionCommand({ LayerName: 'pol', VersionNumber: 1, StatementId: 's2' }));
  assert.equal(removed.$metadata.httpStatusCode, 204);
  const after = await lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'pol', VersionNumber: 1 }));
  assert.notEqual(after.RevisionId, s2.RevisionId);
  assert.deepEqual(JSON.parse(after.Policy).Statement.map((s) => s.Sid), ['s1']);
});

test('A function with two layers sees both in a read-only /opt, the later overriding', async () => {
  const first = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'first', Content: { ZipFile: makeZip({
    'python/shared.py': 'WHO = "first"\n', 'python/first_only.py': 'VALUE = 1\n', 'data.txt': 'from first' }) } }));
  const second = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'second', Content: { ZipFile: makeZip({
    'python/shared.py': 'WHO = "second"\n', 'python/second_only.py': '', 'data.txt': 'from second' }) } }));
  const created = await lambda.send(new CreateFunctionCommand({
    FunctionName: 'layered', Runtime: pythonRuntime, Handler: 'index.handler', Role: role,
    Code: { ZipFile: reporterZip() }, Layers: [first.LayerVersionArn, second.LayerVersionArn] }));
  assert.deepEqual(created.Layers, [
    { Arn: first.LayerVersionArn, CodeSize: first.Content.CodeSize },
    { Arn: second.LayerVersionArn, CodeSize: second.Content.CodeSize }]);
  assert.deepEqual(await invoke(lambda, 'layered'),
    { shared: 'second', first: 1, second: true, txt: 'from second', writable: false });

  // The other order: the first layer wins now; the change reaches new environments.
  const updated = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'layered', Layers: [second.LayerVersionArn, first.LayerVersionArn] }));
  assert.deepEqual(updated.Layers.map((l) => l.Arn), [second.LayerVersionArn, first.LayerVersionArn]);
  const swapped = await invoke(lambda, 'layered');
  assert.equal(swapped.shared, 'first');
  assert.equal(swapped.txt, 'from first');

  // An empty list removes them.
  const cleared = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'layered', Layers: [] }));
  assert.equal(cleared.Layers, undefined);
  await lambda.send(new DeleteFunctionCommand({ FunctionName: 'layered' }));
});

test('A published version keeps its layer version after the layer is updated and deleted', async () => {
  const v1 = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'lib', Content: { ZipFile: makeZip({
    'python/shared.py': 'WHO = "v1"\n', 'python/first_only.py': 'VALUE = 1\n', 'data.txt': 'one' }) } }));
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'pinned', Runtime: pythonRuntime, Handler: 'index.handler', Role: role,
    Code: { ZipFile: reporterZip() }, Layers: [v1.LayerVersionArn] }));
  const published = await lambda.send(new PublishVersionCommand({ FunctionName: 'pinned' }));
  assert.deepEqual(published.Layers.map((l) => l.Arn), [v1.LayerVersionArn]);
  const v2 = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'lib', Content: { ZipFile: makeZip({
    'python/shared.py': 'WHO = "v2"\n', 'python/first_only.py': 'VALUE = 2\n', 'data.txt': 'two' }) } }));
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'pinned', Layers: [v2.LayerVersionArn] }));
  // Deleting the layer version breaks no function that uses it.
  await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'lib', VersionNumber: 1 }));
  const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'pinned', Qualifier: published.Version }));
  assert.deepEqual(config.Layers.map((l) => l.Arn), [v1.LayerVersionArn]);
  assert.equal((await invoke(lambda, 'pinned', published.Version)).shared, 'v1');
  assert.equal((await invoke(lambda, 'pinned')).shared, 'v2');
});

test('Layers of a function: AWS limits and errors, and nothing changes', async () => {
  const zip = makeZip({ 'a.txt': 'a' });
  const arns = [];
  for (let i = 0; i < 6; i++) {
    arns.push((await lambda.send(new PublishLayerVersionCommand({ LayerName: `six-${i}`, Content: { ZipFile: zip } }))).LayerVersionArn);
  }
  const again = (await lambda.send(new PublishLayerVersionCommand({ LayerName: 'six-0', Content: { ZipFile: zip } }))).LayerVersionArn;
  const create = (Layers) => lambda.send(new CreateFunctionCommand({
    FunctionName: 'limits', Runtime: pythonRuntime, Handler: 'index.handler', Role: role,
    Code: { ZipFile: reporterZip() }, Layers }));
  const six = await awsError(create(arns));
  assert.equal(six.name, 'InvalidParameterValueException');
  assert.equal(six.message, 'Cannot reference more than 5 layers.');
  const same = await awsError(create([arns[0], again]));
  assert.equal(same.message, `Two different versions of the same layer are not allowed to be referenced in the same function. ${arns[0]} and ${again} are versions of the same layer.`);
  const missing = await awsError(create([`${layerArn('doesnotexist')}:1`]));
  assert.equal(missing.name, 'InvalidParameterValueException');
  assert.equal(missing.message, `Layer version ${layerArn('doesnotexist')}:1 does not exist.`);
  const region = await awsError(create(['arn:aws:lambda:eu-west-1:123456789012:layer:six-0:1']));
  assert.equal(region.message, 'Layers are not in the same region as the function. Layers are expected to be in region us-east-1.');
  const unversioned = await awsError(create([layerArn('six-0')]));
  assert.equal(unversioned.name, 'ValidationException');
  assert.match(unversioned.message, /^1 validation error detected: Value '\[arn:aws:lambda:us-east-1:123456789012:layer:six-0\]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: \[Member must have length less than or equal to 2048, /);
  // None of these created the function.
  const gone = await awsError(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'limits' })));
  assert.equal(gone.name, 'ResourceNotFoundException');
  const five = await create(arns.slice(0, 5));
  assert.equal(five.Layers.length, 5);
  // A write's answer carries a RevisionId of its own (AWS's is replaced once the update
  // finishes): compare reads.
  const before = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'limits' }));
  const stillFive = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'limits', Layers: arns })));
  assert.equal(stillFive.message, 'Cannot reference more than 5 layers.');
  const shown = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'limits' }));
  assert.deepEqual(shown.Layers.map((l) => l.Arn), arns.slice(0, 5));
  assert.equal(shown.RevisionId, before.RevisionId);
});

test("Another account uses a layer version only once AddLayerVersionPermission allows it", async () => {
  const shared = await lambda.send(new PublishLayerVersionCommand({ LayerName: 'shared', Content: { ZipFile: makeZip({
    'python/shared.py': 'WHO = "owner"\n', 'python/first_only.py': 'VALUE = 7\n', 'data.txt': 'shared' }) } }));
  const denied = await awsError(otherLambda.send(new GetLayerVersionByArnCommand({ Arn: shared.LayerVersionArn })));
  assert.equal(denied.name, 'AccessDeniedException');
  assert.equal(denied.$metadata.httpStatusCode, 403);
  assert.equal(denied.message, `User: arn:aws:iam::${other}:user/dev is not authorized to perform: lambda:GetLayerVersion on resource: ${shared.LayerVersionArn} because no resource-based policy allows the lambda:GetLayerVersion action`);
  const create = () => otherLambda.send(new CreateFunctionCommand({
    FunctionName: 'borrower', Runtime: pythonRuntime, Handler: 'index.handler', Role: `arn:aws:iam::${other}:role/r`,
    Code: { ZipFile: reporterZip() }, Layers: [shared.LayerVersionArn] }));
  assert.equal((await awsError(create())).name, 'AccessDeniedException');
  // The owner's policy calls stay the owner's.
  const foreign = await awsError(otherLambda.send(new GetLayerVersionPolicyCommand({ LayerName: layerArn('shared'), VersionNumber: 1 })));
  assert.equal(foreign.name, 'AccessDeniedException');

  await lambda.send(new AddLayerVersionPermissionCommand({
    LayerName: 'shared', VersionNumber: 1, StatementId: 'other', Action: 'lambda:GetLayerVersion', Principal: other }));
  const got = await otherLambda.send(new GetLayerVersionCommand({ LayerName: layerArn('shared'), VersionNumber: 1 }));
  assert.equal(got.LayerVersionArn, shared.LayerVersionArn);
  const created = await create();
  assert.deepEqual(created.Layers.map((l) => l.Arn), [shared.LayerVersionArn]);
  const out = await invoke(otherLambda, 'borrower');
  assert.equal(out.shared, 'owner');
  assert.equal(out.first, 7);
});

test('Debian boto3 publishes, gets, lists and deletes layer versions', async () => {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_layers.py');
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, server.endpoint]);
  const out = JSON.parse(stdout);
  assert.deepEqual(out.published, [1, 2]);
  assert.equal(out.arn, `${layerArn('boto')}:1`);
  assert.equal(out.size, out.zip_size);
  assert.deepEqual(out.listed, [2, 1]);
  assert.ok(out.layers.includes('boto'));
  assert.deepEqual(out.missing, ['ResourceNotFoundException', 404, 'The resource you requested does not exist.']);
  assert.deepEqual(out.low, ['InvalidParameterValueException', 400]);
  assert.deepEqual(out.after_delete, [2]);
});
