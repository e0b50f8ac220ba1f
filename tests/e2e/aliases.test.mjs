// CreateAlias / GetAlias / UpdateAlias / DeleteAlias / ListAliases with RoutingConfig weights.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand, PublishVersionCommand, UpdateFunctionConfigurationCommand,
  CreateAliasCommand, GetAliasCommand, UpdateAliasCommand, DeleteAliasCommand,
  ListAliasesCommand, DeleteFunctionCommand, GetFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { startServer, providedZip, role, account, awsError } from './helpers.mjs';

let server, lambda;
const aliasArn = (a) => `arn:aws:lambda:us-east-1:${account}:function:al-fn:${a}`;

before(async () => {
  server = await startServer();
  lambda = server.client();
  await lambda.send(new CreateFunctionCommand({
    FunctionName: 'al-fn', Runtime: 'provided.al2023', Handler: 'h', Role: role,
    Code: { ZipFile: providedZip() }, Publish: true }));
  await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'al-fn', Timeout: 9 }));
  await lambda.send(new PublishVersionCommand({ FunctionName: 'al-fn' }));
});
after(() => server.stop());

test('alias lifecycle with weighted routing', async () => {
  const created = await lambda.send(new CreateAliasCommand({
    FunctionName: 'al-fn', Name: 'live', FunctionVersion: '1', Description: 'prod traffic',
    RoutingConfig: { AdditionalVersionWeights: { 2: 0.1 } } }));
  assert.equal(created.$metadata.httpStatusCode, 201);
  assert.equal(created.AliasArn, aliasArn('live'));
  assert.deepEqual(created.RoutingConfig, { AdditionalVersionWeights: { 2: 0.1 } });
  const got = await lambda.send(new GetAliasCommand({ FunctionName: 'al-fn', Name: 'live' }));
  assert.equal(got.FunctionVersion, '1');
  assert.equal(got.RevisionId, created.RevisionId);
  // The alias qualifies reads: the configuration of its target, under the alias ARN.
  const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'al-fn', Qualifier: 'live' }));
  assert.equal(cfg.Version, '1');
  assert.equal(cfg.FunctionArn, aliasArn('live'));
  // Shift all traffic to version 2 (the rollback path in reverse), clearing the weights.
  const shifted = await lambda.send(new UpdateAliasCommand({
    FunctionName: 'al-fn', Name: 'live', FunctionVersion: '2', RoutingConfig: { AdditionalVersionWeights: {} },
    RevisionId: got.RevisionId }));
  assert.equal(shifted.FunctionVersion, '2');
  assert.equal(shifted.RoutingConfig, undefined);
  const stale = await awsError(lambda.send(new UpdateAliasCommand({
    FunctionName: 'al-fn', Name: 'live', FunctionVersion: '1', RevisionId: got.RevisionId })));
  assert.equal(stale.name, 'PreconditionFailedException');
  await lambda.send(new CreateAliasCommand({ FunctionName: 'al-fn', Name: 'canary', FunctionVersion: '$LATEST' }));
  const list = await lambda.send(new ListAliasesCommand({ FunctionName: 'al-fn' }));
  assert.deepEqual(list.Aliases.map((a) => a.Name), ['canary', 'live']);
  const onTwo = await lambda.send(new ListAliasesCommand({ FunctionName: 'al-fn', FunctionVersion: '2' }));
  assert.deepEqual(onTwo.Aliases.map((a) => a.Name), ['live']);
  const page = await lambda.send(new ListAliasesCommand({ FunctionName: 'al-fn', MaxItems: 1 }));
  assert.equal(page.Aliases.length, 1);
  const next = await lambda.send(new ListAliasesCommand({ FunctionName: 'al-fn', Marker: page.NextMarker }));
  assert.deepEqual(next.Aliases.map((a) => a.Name), ['live']);
  // A version an alias routes to cannot be deleted.
  const inUse = await awsError(lambda.send(new DeleteFunctionCommand({ FunctionName: 'al-fn', Qualifier: '2' })));
  assert.equal(inUse.name, 'ResourceConflictException');
  const del = await lambda.send(new DeleteAliasCommand({ FunctionName: 'al-fn', Name: 'canary' }));
  assert.equal(del.$metadata.httpStatusCode, 204);
  const gone = await awsError(lambda.send(new GetAliasCommand({ FunctionName: 'al-fn', Name: 'canary' })));
  assert.equal(gone.name, 'ResourceNotFoundException');
  assert.equal(gone.message, `Cannot find alias arn: ${aliasArn('canary')}`);
});

test('alias errors are the AWS errors', async () => {
  const create = (over) => lambda.send(new CreateAliasCommand({ FunctionName: 'al-fn', Name: 'x', FunctionVersion: '1', ...over }));
  const cases = [
    [{ RoutingConfig: { AdditionalVersionWeights: { 2: 0.1, 3: 0.2 } } }, 'InvalidParameterValueException', 'Number of items in AdditionalVersionWeights cannot be greater than 1'],
    [{ RoutingConfig: { AdditionalVersionWeights: { 2: 2 } } }, 'ValidationException', "1 validation error detected: Value '{2=2.0}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"],
    [{ RoutingConfig: { AdditionalVersionWeights: { $LATEST: 0.5 } } }, 'ValidationException', "1 validation error detected: Value '{$LATEST=0.5}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+]"],
    [{ RoutingConfig: { AdditionalVersionWeights: { 1: 0.5 } } }, 'InvalidParameterValueException', 'Invalid function version 1. Function version 1 is already included in routing configuration.'],
    [{ FunctionVersion: '$LATEST', RoutingConfig: { AdditionalVersionWeights: { 1: 0.5 } } }, 'InvalidParameterValueException', '$LATEST is not supported for an alias pointing to more than 1 version'],
    [{ FunctionVersion: '10' }, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:us-east-1:${account}:function:al-fn:10`],
    [{ Name: '2024' }, 'ValidationException', "1 validation error detected: Value '2024' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"],
    [{ Name: 'live' }, 'ResourceConflictException', `Alias already exists: ${aliasArn('live')}`],
  ];
  for (const [over, name, message] of cases) {
    const err = await awsError(create(over));
    assert.equal(err.name, name, JSON.stringify(over));
    assert.equal(err.message, message);
  }
  const missing = await awsError(lambda.send(new UpdateAliasCommand({ FunctionName: 'al-fn', Name: 'nope', FunctionVersion: '1' })));
  assert.equal(missing.message, `Alias not found: ${aliasArn('nope')}`);
  const list = await lambda.send(new ListAliasesCommand({ FunctionName: 'al-fn' }));
  assert.deepEqual(list.Aliases.map((a) => a.Name), ['live']);
});
