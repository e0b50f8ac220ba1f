// PutRuntimeManagementConfig / GetRuntimeManagementConfig with the real SDK: modes, name
// forms, published versions, Manual pinning rules and regions without the controls.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand, GetFunctionConfigurationCommand, PublishVersionCommand,
  UpdateFunctionConfigurationCommand, UpdateFunctionCodeCommand,
  PutRuntimeManagementConfigCommand, GetRuntimeManagementConfigCommand, GetFunctionCommand,
} from '@aws-sdk/client-lambda';
import { startServer, providedZip, role, account, awsError, runtimeVersions } from './helpers.mjs';

let server, lambda, versions;
const fnArn = (name, q) => `arn:aws:lambda:us-east-1:${account}:function:${name}${q ? `:${q}` : ''}`;
const arnOf = (rt, arch = 'x86_64', list = versions) => list.find((v) => v.Runtime === rt).Arns[arch];

async function create(name, extra = {}) {
  return lambda.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: providedZip() }, ...extra }));
}

before(async () => {
  server = await startServer();
  lambda = server.client();
  versions = await runtimeVersions(server.endpoint);
  await create('rm-fn');
});
after(() => server.stop());

test('a new function version is Auto; Get returns UpdateRuntimeOn and FunctionArn only', async () => {
  const got = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'rm-fn' }));
  assert.equal(got.UpdateRuntimeOn, 'Auto');
  assert.equal(got.FunctionArn, fnArn('rm-fn'));
  assert.equal(got.RuntimeVersionArn, undefined);
});

test('every FunctionName form works, percent-encoded as the SDK sends it', async () => {
  const forms = [
    'rm-fn', `${account}:function:rm-fn`, fnArn('rm-fn'), fnArn('rm-fn', '$LATEST'),
    `us-east-1:${account}:function:rm-fn`,
  ];
  for (const FunctionName of forms) {
    const got = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName }));
    assert.equal(got.UpdateRuntimeOn, 'Auto', FunctionName);
  }
  const put = await lambda.send(new PutRuntimeManagementConfigCommand({
    FunctionName: fnArn('rm-fn'), Qualifier: '$LATEST', UpdateRuntimeOn: 'FunctionUpdate' }));
  assert.equal(put.UpdateRuntimeOn, 'FunctionUpdate');
  assert.equal(put.FunctionArn, fnArn('rm-fn'));
  const mismatch = await awsError(lambda.send(new GetRuntimeManagementConfigCommand({
    FunctionName: fnArn('rm-fn', '1'), Qualifier: '$LATEST' })));
  assert.equal(mismatch.name, 'InvalidParameterValueException');
  assert.equal(mismatch.message, 'The derived qualifier from the function name does not match the specified qualifier.');
  const otherRegion = await awsError(lambda.send(new GetRuntimeManagementConfigCommand({
    FunctionName: `arn:aws:lambda:eu-west-1:${account}:function:rm-fn` })));
  assert.equal(otherRegion.name, 'ResourceNotFoundException');
  assert.equal(otherRegion.message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
  const otherAccount = await awsError(lambda.send(new GetRuntimeManagementConfigCommand({
    FunctionName: 'arn:aws:lambda:us-east-1:999999999999:function:rm-fn' })));
  assert.equal(otherAccount.$metadata.httpStatusCode, 403);
  assert.equal(otherAccount.name, 'AccessDeniedException');
  await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'rm-fn', UpdateRuntimeOn: 'Auto' }));
});

test('Manual pins a runtime version ARN of the function runtime, region and architecture', async () => {
  const pin = arnOf('provided.al2023');
  const put = await lambda.send(new PutRuntimeManagementConfigCommand({
    FunctionName: 'rm-fn', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: pin }));
  assert.deepEqual({ m: put.UpdateRuntimeOn, a: put.RuntimeVersionArn, f: put.FunctionArn },
    { m: 'Manual', a: pin, f: fnArn('rm-fn') });
  const got = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'rm-fn' }));
  assert.equal(got.RuntimeVersionArn, pin);
  const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rm-fn' }));
  assert.equal(cfg.RuntimeVersionConfig.RuntimeVersionArn, pin);

  // While $LATEST is Manual the runtime and architecture cannot change, and nothing changes.
  const before = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rm-fn' }));
  const rt = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({
    FunctionName: 'rm-fn', Runtime: 'nodejs20.x', Timeout: 20 })));
  assert.equal(rt.name, 'InvalidParameterValueException');
  assert.match(rt.message, /runtime update mode is Manual/);
  const arch = await awsError(lambda.send(new UpdateFunctionCodeCommand({
    FunctionName: 'rm-fn', ZipFile: providedZip(), Architectures: ['arm64'] })));
  assert.equal(arch.name, 'InvalidParameterValueException');
  const after = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'rm-fn' }));
  assert.deepEqual(after, { ...before, $metadata: after.$metadata });
  // Other changes are fine and keep the pin.
  const ok = await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'rm-fn', Timeout: 20 }));
  assert.equal(ok.RuntimeVersionConfig.RuntimeVersionArn, pin);
  await lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'rm-fn', UpdateRuntimeOn: 'Auto' }));
  const back = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'rm-fn' }));
  assert.equal(back.UpdateRuntimeOn, 'Auto');
  assert.equal(back.RuntimeVersionArn, undefined);
});

test('Put refuses what AWS refuses and changes nothing', async () => {
  const wrongArch = arnOf('provided.al2023', 'arm64');
  const westVersions = await runtimeVersions(server.endpoint, 'us-west-2');
  const cases = [
    [{ UpdateRuntimeOn: 'Manual' }, 'InvalidParameterValueException', /RuntimeVersionArn is required/],
    [{ UpdateRuntimeOn: 'Auto', RuntimeVersionArn: arnOf('provided.al2023') }, 'InvalidParameterValueException', /only be specified when UpdateRuntimeOn is Manual/],
    [{ UpdateRuntimeOn: 'Manual', RuntimeVersionArn: wrongArch }, 'InvalidParameterValueException', /for architecture x86_64 in region us-east-1/],
    [{ UpdateRuntimeOn: 'Manual', RuntimeVersionArn: arnOf('nodejs20.x') }, 'InvalidParameterValueException', /is not a runtime version of provided.al2023/],
    [{ UpdateRuntimeOn: 'Manual', RuntimeVersionArn: arnOf('provided.al2023', 'x86_64', westVersions) }, 'InvalidParameterValueException', /in region us-east-1/],
    [{ UpdateRuntimeOn: 'Sometimes' }, 'ValidationException', /^1 validation error detected: Value 'Sometimes' at 'updateRuntimeOn' failed to satisfy constraint: Member must satisfy enum value set: \[Auto, Manual, FunctionUpdate\]$/],
    [{ UpdateRuntimeOn: 'Manual', RuntimeVersionArn: 'arn:aws:lambda:us-east-1:runtime:abc' }, 'ValidationException', /at 'runtimeVersionArn' failed to satisfy constraint/],
    [{ UpdateRuntimeOn: undefined }, 'ValidationException', /^1 validation error detected: Value null at 'updateRuntimeOn' failed to satisfy constraint: Member must not be null$/],
  ];
  for (const [over, name, message] of cases) {
    const err = await awsError(lambda.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'rm-fn', ...over })));
    assert.equal(err.name, name, JSON.stringify(over));
    assert.match(err.message, message);
    assert.equal(err.$metadata.httpStatusCode, 400);
  }
  const got = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'rm-fn' }));
  assert.equal(got.UpdateRuntimeOn, 'Auto');
  const missing = await awsError(lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'nope' })));
  assert.equal(missing.name, 'ResourceNotFoundException');
  assert.equal(missing.message, `Function not found: ${fnArn('nope')}`);
  const alias = await awsError(lambda.send(new PutRuntimeManagementConfigCommand({
    FunctionName: 'rm-fn', Qualifier: 'prod', UpdateRuntimeOn: 'Auto' })));
  assert.equal(alias.name, 'InvalidParameterValueException');
});

test('published versions carry their own config, copied from $LATEST at publish time', async () => {
  await create('pub-fn');
  await lambda.send(new PutRuntimeManagementConfigCommand({
    FunctionName: 'pub-fn', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: arnOf('provided.al2023') }));
  const v1 = await lambda.send(new PublishVersionCommand({ FunctionName: 'pub-fn' }));
  const got1 = await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'pub-fn', Qualifier: v1.Version }));
  assert.equal(got1.UpdateRuntimeOn, 'Manual');
  assert.equal(got1.RuntimeVersionArn, arnOf('provided.al2023'));
  assert.equal(got1.FunctionArn, fnArn('pub-fn', '1'));
  const put = await lambda.send(new PutRuntimeManagementConfigCommand({
    FunctionName: 'pub-fn', Qualifier: '1', UpdateRuntimeOn: 'FunctionUpdate' }));
  assert.equal(put.FunctionArn, fnArn('pub-fn', '1'));
  assert.equal((await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'pub-fn', Qualifier: '1' }))).UpdateRuntimeOn, 'FunctionUpdate');
  assert.equal((await lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'pub-fn' }))).UpdateRuntimeOn, 'Manual');
  const nine = await awsError(lambda.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'pub-fn', Qualifier: '9' })));
  assert.equal(nine.name, 'ResourceNotFoundException');
  assert.equal(nine.message, `Function not found: ${fnArn('pub-fn', '9')}`);
});

test('regions without runtime management controls: every function is Auto, controls are refused', async () => {
  const cn = server.client('cn-north-1');
  const out = await cn.send(new CreateFunctionCommand({
    FunctionName: 'cn-fn', Runtime: 'provided.al2023', Handler: 'h',
    Role: 'arn:aws-cn:iam::123456789012:role/r', Code: { ZipFile: providedZip() } }));
  assert.equal(out.FunctionArn, `arn:aws-cn:lambda:cn-north-1:${account}:function:cn-fn`);
  const cnVersions = await runtimeVersions(server.endpoint, 'cn-north-1');
  assert.equal(out.RuntimeVersionConfig.RuntimeVersionArn, arnOf('provided.al2023', 'x86_64', cnVersions));
  assert.match(out.RuntimeVersionConfig.RuntimeVersionArn, /^arn:aws-cn:lambda:cn-north-1::runtime:[0-9a-f]{64}$/);
  const got = await cn.send(new GetRuntimeManagementConfigCommand({ FunctionName: 'cn-fn' }));
  assert.equal(got.UpdateRuntimeOn, 'Auto');
  await cn.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'cn-fn', UpdateRuntimeOn: 'Auto' }));
  for (const mode of ['FunctionUpdate', 'Manual']) {
    const err = await awsError(cn.send(new PutRuntimeManagementConfigCommand({
      FunctionName: 'cn-fn', UpdateRuntimeOn: mode,
      RuntimeVersionArn: mode === 'Manual' ? out.RuntimeVersionConfig.RuntimeVersionArn : undefined })));
    assert.equal(err.name, 'InvalidParameterValueException');
    assert.match(err.message, /not supported in region cn-north-1/);
  }
  // Functions are per region: us-east-1 does not see cn-fn.
  const err = await awsError(lambda.send(new GetFunctionCommand({ FunctionName: 'cn-fn' })));
  assert.equal(err.name, 'ResourceNotFoundException');
  const unknown = server.client('xx-nowhere-9');
  const refused = await awsError(unknown.send(new GetFunctionCommand({ FunctionName: 'cn-fn' })));
  assert.equal(refused.name, 'UnrecognizedClientException');
});
