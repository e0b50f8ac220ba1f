// CreateFunction, Get*, List*, Update*, PublishVersion, DeleteFunction with the real SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CreateFunctionCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
  ListFunctionsCommand, UpdateFunctionCodeCommand, UpdateFunctionConfigurationCommand,
  PublishVersionCommand, ListVersionsByFunctionCommand, DeleteFunctionCommand,
  paginateListFunctions,
} from '@aws-sdk/client-lambda';
import {
  startServer, makeZip, pythonZip, nodeZip, providedZip, role, account, awsError,
  runtimeVersions, signedFetch } from './helpers.mjs';

let server, lambda, pythonRuntime, versions;

before(async () => {
  server = await startServer();
  lambda = server.client();
  versions = await runtimeVersions(server.endpoint);
  pythonRuntime = versions.find((v) => v.Runtime.startsWith('python3.')).Runtime;
});
after(() => server.stop());

const arnOf = (rt, arch = 'x86_64') => versions.find((v) => v.Runtime === rt).Arns[arch];

test('CreateFunction on each built-in runtime reports AWS fields and the runtime version', async () => {
  const cases = [
    { name: 'py-fn', runtime: pythonRuntime, handler: 'index.handler', zip: pythonZip() },
    { name: 'node-fn', runtime: 'nodejs20.x', handler: 'index.handler', zip: nodeZip() },
    { name: 'custom-fn', runtime: 'provided.al2023', handler: 'any', zip: providedZip(), arch: 'arm64' },
  ];
  for (const c of cases) {
    const out = await lambda.send(new CreateFunctionCommand({
      FunctionName: c.name, Runtime: c.runtime, Handler: c.handler, Role: role,
      Code: { ZipFile: c.zip }, MemorySize: 256, Timeout: 10, Description: `the ${c.name}`,
      Environment: { Variables: { STAGE: 'test' } },
      Architectures: c.arch ? [c.arch] : undefined,
    }));
    assert.equal(out.$metadata.httpStatusCode, 201);
    assert.equal(out.FunctionName, c.name);
    assert.equal(out.FunctionArn, `arn:aws:lambda:us-east-1:${account}:function:${c.name}`);
    assert.equal(out.Runtime, c.runtime);
    assert.equal(out.Version, '$LATEST');
    assert.equal(out.State, 'Pending');
    assert.equal(out.StateReasonCode, 'Creating');
    assert.equal(out.MemorySize, 256);
    assert.equal(out.Timeout, 10);
    assert.deepEqual(out.Environment.Variables, { STAGE: 'test' });
    assert.deepEqual(out.Architectures, [c.arch ?? 'x86_64']);
    assert.equal(out.CodeSize, c.zip.length);
    assert.equal(out.CodeSha256, createHash('sha256').update(c.zip).digest('base64'));
    assert.equal(out.RuntimeVersionConfig.RuntimeVersionArn, arnOf(c.runtime, c.arch));
    assert.match(out.LastModified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    assert.equal(out.PackageType, 'Zip');
    assert.equal(out.EphemeralStorage.Size, 512);

    const got = await lambda.send(new GetFunctionCommand({ FunctionName: c.name }));
    assert.equal(got.Configuration.State, 'Active');
    assert.equal(got.Configuration.LastUpdateStatus, 'Successful');
    assert.equal(got.Configuration.RuntimeVersionConfig.RuntimeVersionArn, arnOf(c.runtime, c.arch));
    assert.equal(got.Code.RepositoryType, 'S3');
    const zip = Buffer.from(await (await fetch(got.Code.Location)).arrayBuffer());
    assert.deepEqual(zip, c.zip);
  }
});

test('GetFunctionConfiguration qualifies the ARN as AWS does', async () => {
  const plain = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'py-fn' }));
  assert.equal(plain.FunctionArn, `arn:aws:lambda:us-east-1:${account}:function:py-fn`);
  const latest = await lambda.send(new GetFunctionConfigurationCommand({
    FunctionName: 'py-fn', Qualifier: '$LATEST' }));
  assert.equal(latest.FunctionArn, `arn:aws:lambda:us-east-1:${account}:function:py-fn:$LATEST`);
  const byArn = await lambda.send(new GetFunctionConfigurationCommand({
    FunctionName: `arn:aws:lambda:us-east-1:${account}:function:py-fn` }));
  assert.equal(byArn.FunctionName, 'py-fn');
});

test('ListFunctions pages with Marker and MaxItems; list items omit state and runtime version', async () => {
  for (let i = 0; i < 5; i++) {
    await lambda.send(new CreateFunctionCommand({
      FunctionName: `page-${i}`, Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: providedZip() } }));
  }
  const first = await lambda.send(new ListFunctionsCommand({ MaxItems: 2 }));
  assert.equal(first.Functions.length, 2);
  assert.ok(first.NextMarker);
  assert.equal(first.Functions[0].RuntimeVersionConfig, undefined);
  assert.equal(first.Functions[0].State, undefined);
  const names = [];
  for await (const page of paginateListFunctions({ client: lambda, pageSize: 3 }, {})) {
    names.push(...page.Functions.map((f) => f.FunctionName));
  }
  assert.deepEqual(names, [...names].sort());
  assert.equal(new Set(names).size, names.length);
  assert.ok(['page-0', 'page-4', 'py-fn', 'node-fn', 'custom-fn'].every((n) => names.includes(n)));
  const bad = await awsError(lambda.send(new ListFunctionsCommand({ FunctionVersion: 'invalid' })));
  assert.equal(bad.name, 'ValidationException');
  assert.equal(bad.message, "1 validation error detected: Value 'invalid' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]");
});

test('UpdateFunctionCode and UpdateFunctionConfiguration change $LATEST; RuntimeVersionArn follows Runtime and Architectures', async () => {
  const zip = makeZip({ bootstrap: '#!/bin/sh\necho v2\n' });
  const code = await lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'page-0', ZipFile: zip, Architectures: ['arm64'] }));
  assert.equal(code.LastUpdateStatus, 'InProgress');
  assert.equal(code.CodeSha256, createHash('sha256').update(zip).digest('base64'));
  assert.equal(code.RuntimeVersionConfig.RuntimeVersionArn, arnOf('provided.al2023', 'arm64'));
  // As on AWS, the finished update has a RevisionId of its own: the answer's is stale.
  const finished = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'page-0' }));
  assert.notEqual(finished.RevisionId, code.RevisionId);
  const cfg = await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'page-0', Runtime: 'nodejs20.x', Handler: 'index.handler', MemorySize: 512,
    RevisionId: finished.RevisionId }));
  assert.equal(cfg.Runtime, 'nodejs20.x');
  assert.equal(cfg.MemorySize, 512);
  assert.equal(cfg.RuntimeVersionConfig.RuntimeVersionArn, arnOf('nodejs20.x', 'arm64'));
  const stale = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'page-0', Timeout: 30, RevisionId: finished.RevisionId })));
  assert.equal(stale.name, 'PreconditionFailedException');
  assert.equal(stale.$metadata.httpStatusCode, 412);
  const after = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'page-0' }));
  assert.equal(after.Timeout, 3);
});

test('PublishVersion and ListVersionsByFunction; published versions keep their runtime version', async () => {
  const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'page-1', Description: 'first' }));
  assert.equal(v1.$metadata.httpStatusCode, 201);
  assert.equal(v1.Version, '1');
  assert.equal(v1.Description, 'first');
  assert.equal(v1.FunctionArn, `arn:aws:lambda:us-east-1:${account}:function:page-1:1`);
  assert.equal(v1.RuntimeVersionConfig.RuntimeVersionArn, arnOf('provided.al2023'));
  const again = await lambda.send(new PublishVersionCommand({ FunctionName: 'page-1' }));
  assert.equal(again.Version, '1', 'unchanged $LATEST publishes no new version');
  const wrongSha = await awsError(lambda.send(new PublishVersionCommand({
    FunctionName: 'page-1', CodeSha256: 'somenonexistentsha256' })));
  assert.equal(wrongSha.name, 'InvalidParameterValueException');
  assert.match(wrongSha.message, /^CodeSHA256 \(somenonexistentsha256\) is different from current CodeSHA256 in \$LATEST/);
  await lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'page-1', Runtime: pythonRuntime, Handler: 'index.handler' }));
  const v2 = await lambda.send(new PublishVersionCommand({ FunctionName: 'page-1' }));
  assert.equal(v2.Version, '2');
  assert.equal(v2.RuntimeVersionConfig.RuntimeVersionArn, arnOf(pythonRuntime));
  const one = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'page-1', Qualifier: '1' }));
  assert.equal(one.Runtime, 'provided.al2023');
  assert.equal(one.RuntimeVersionConfig.RuntimeVersionArn, arnOf('provided.al2023'));
  const list = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'page-1' }));
  assert.deepEqual(list.Versions.map((v) => v.Version), ['$LATEST', '1', '2']);
  assert.equal(list.Versions[0].FunctionArn, `arn:aws:lambda:us-east-1:${account}:function:page-1:$LATEST`);
  const paged = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'page-1', MaxItems: 2 }));
  assert.equal(paged.Versions.length, 2);
  const rest = await lambda.send(new ListVersionsByFunctionCommand({
    FunctionName: 'page-1', Marker: paged.NextMarker }));
  assert.deepEqual(rest.Versions.map((v) => v.Version), ['2']);
  assert.equal(rest.NextMarker, undefined);
  const all = await lambda.send(new ListFunctionsCommand({ FunctionVersion: 'ALL', MaxItems: 50 }));
  assert.ok(all.Functions.some((f) => f.FunctionArn.endsWith(':page-1:2')));
});

test('DeleteFunction deletes one version or the whole function', async () => {
  const latest = await awsError(lambda.send(new DeleteFunctionCommand({ FunctionName: 'page-1', Qualifier: '$LATEST' })));
  assert.equal(latest.name, 'InvalidParameterValueException');
  assert.equal(latest.message, '$LATEST version cannot be deleted without deleting the function.');
  const del = await lambda.send(new DeleteFunctionCommand({ FunctionName: 'page-1', Qualifier: '1' }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  const gone = await awsError(lambda.send(new GetFunctionCommand({ FunctionName: 'page-1', Qualifier: '1' })));
  assert.equal(gone.name, 'ResourceNotFoundException');
  assert.equal(gone.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:page-1:1`);
  await lambda.send(new DeleteFunctionCommand({ FunctionName: 'page-1', Qualifier: '1' }));
  await lambda.send(new DeleteFunctionCommand({ FunctionName: 'page-1' }));
  const missing = await awsError(lambda.send(new GetFunctionCommand({ FunctionName: 'page-1' })));
  assert.equal(missing.$metadata.httpStatusCode, 404);
  assert.equal(missing.message, `Function not found: arn:aws:lambda:us-east-1:${account}:function:page-1`);
  const again = await awsError(lambda.send(new DeleteFunctionCommand({ FunctionName: 'page-1' })));
  assert.equal(again.name, 'ResourceNotFoundException');
});

test('bad input gets the AWS error and changes nothing', async () => {
  const create = (over) => lambda.send(new CreateFunctionCommand({
    FunctionName: 'bad-fn', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: providedZip() }, ...over }));
  const cases = [
    [{ FunctionName: 'invalid:function:name' }, 'ValidationException', /^1 validation error detected: Value 'invalid:function:name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: /],
    [{ FunctionName: 'a'.repeat(65) }, 'InvalidParameterValueException', /Member must have length less than or equal to 64$/],
    [{ Runtime: 'non-existent-runtime' }, 'InvalidParameterValueException', /^Value non-existent-runtime at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: \[.*provided\.al2023.*\] or be a valid ARN$/],
    [{ Runtime: 'python3.7' }, 'InvalidParameterValueException', /^The runtime parameter of python3.7 is no longer supported/],
    [{ Architectures: ['x86_64', 'arm64'] }, 'ValidationException', /^1 validation error detected: Value '\[x86_64, arm64\]' at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1$/],
    [{ Architectures: ['X86_64'] }, 'ValidationException', /Value '\[X86_64\]' at 'architectures' failed to satisfy constraint: Member must satisfy constraint: \[Member must satisfy enum value set: \[x86_64, arm64\], Member must not be null\]$/],
    [{ Role: 'r1' }, 'ValidationException', /Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern/],
    [{ MemorySize: 64, Timeout: 0 }, 'ValidationException', /^2 validation errors detected: /],
    [{ Code: { ZipFile: Buffer.from('this is not a zip file at all, sorry') } }, 'InvalidParameterValueException', /^Could not unzip uploaded file. Please check your file, then try to upload again.$/],
    [{ Code: { ZipFile: makeZip({ '../../etc/evil': 'x' }) } }, 'InvalidParameterValueException', /^Could not unzip uploaded file/],
    [{ Environment: { Variables: { BIG: 'x'.repeat(5000) } } }, 'InvalidParameterValueException', /^Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: \{"BIG":"x+"\}$/],
    [{ Runtime: undefined }, 'InvalidParameterValueException', /^Runtime and Handler are mandatory parameters/],
  ];
  for (const [over, name, message] of cases) {
    const err = await awsError(create(over));
    assert.equal(err.name, name, JSON.stringify(over).slice(0, 80));
    assert.match(err.message, message);
    assert.equal(err.$metadata.httpStatusCode, 400);
  }
  const err = await awsError(lambda.send(new GetFunctionCommand({ FunctionName: 'bad-fn' })));
  assert.equal(err.name, 'ResourceNotFoundException');
  const dup = await awsError(lambda.send(new CreateFunctionCommand({
    FunctionName: 'py-fn', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: providedZip() } })));
  assert.equal(dup.name, 'ResourceConflictException');
  assert.equal(dup.$metadata.httpStatusCode, 409);
});

test('over-size packages are refused with the AWS errors', async () => {
  // Zeros deflate to a small zip. "Smaller than": exactly the limit is refused, as on AWS
  // (its recorded answer for TestLambdaSizeLimits), one byte less is taken.
  const bomb = makeZip({ 'zeros.bin': Buffer.alloc(262144000) });
  const err = await awsError(lambda.send(new CreateFunctionCommand({
    FunctionName: 'bomb', Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: bomb } })));
  assert.equal(err.name, 'InvalidParameterValueException');
  assert.equal(err.message, 'Unzipped size must be smaller than 262144000 bytes');
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'just-fits', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: makeZip({ 'zeros.bin': Buffer.alloc(262144000 - 1) }) } }));
  const big = await awsError(lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'py-fn', ZipFile: Buffer.concat([makeZip({ a: 'b' }), Buffer.alloc(50 * 1024 * 1024)]) })));
  assert.equal(big.name, 'RequestEntityTooLargeException');
  assert.equal(big.$metadata.httpStatusCode, 413);
  assert.equal(big.message, 'Zipped size must be smaller than 52428800 bytes');
});

test('bytes that are not UTF-8 in the URI get a 400, not a server error', async () => {
  const res = await signedFetch(server.endpoint,
    { path: '/2021-07-20/functions/f/runtime-management-config', rawQuery: 'Qualifier=%24LATEST%FF' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('x-amzn-errortype'), 'ValidationException');
  assert.match((await res.json()).message, /at 'qualifier' failed to satisfy constraint/);
});
