// A function's execution role: in production (`lambkin serve --production`) Lambda must be able
// to assume it, so CreateFunction and UpdateFunctionConfiguration refuse a Role that is not a
// role of the IAM directory in the caller's account, as AWS refuses a role it cannot assume, and
// change nothing. Development mode takes any well-formed role ARN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  LambdaClient, CreateFunctionCommand, UpdateFunctionConfigurationCommand, GetFunctionConfigurationCommand,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import { startServer, providedZip, awsError, account, role as undeclaredRole } from './helpers.mjs';

const admin = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
const deployer = { accessKeyId: 'AKIADEPLOYER0000001', secretAccessKey: 'deployer-secret' };
const execRole = `arn:aws:iam::${account}:role/app-exec`;
const otherExecRole = `arn:aws:iam::${account}:role/app-exec-2`;
const foreignRole = 'arn:aws:iam::444455556666:role/app-exec';
const cannotAssume = 'The role defined for the function cannot be assumed by Lambda.';

// The server's account with a deployer and two execution roles; another account with a role of
// the same name.
const declaration = {
  accounts: {
    [account]: {
      users: { deployer: { policies: { Admin: admin }, access_keys: [{ id: deployer.accessKeyId, secret: deployer.secretAccessKey }] } },
      roles: { 'app-exec': {}, 'app-exec-2': {} },
    },
    '444455556666': { roles: { 'app-exec': {} } },
  },
};

const createInput = (name, role) => ({
  FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: providedZip() },
});

test('In production a function\'s role must be a role of the directory in the caller\'s account', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-exec-role-'));
  const file = path.join(dir, 'iam.json');
  writeFileSync(file, JSON.stringify(declaration));
  const server = await startServer({ args: ['--production', '--iam', file] });
  try {
    const lambda = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: deployer, maxAttempts: 1 });
    for (const missing of [undeclaredRole, foreignRole]) {
      const e = await awsError(lambda.send(new CreateFunctionCommand(createInput('f', missing))));
      assert.equal(e.name, 'InvalidParameterValueException', missing);
      assert.equal(e.message, cannotAssume);
      assert.equal(e.$metadata.httpStatusCode, 400);
    }
    assert.deepEqual((await lambda.send(new ListFunctionsCommand({}))).Functions, [], 'nothing was created');

    const created = await lambda.send(new CreateFunctionCommand(createInput('f', execRole)));
    assert.equal(created.Role, execRole);

    // Changing the role: to another declared role works; to an unknown one is refused and the
    // function keeps its role.
    const e = await awsError(lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'f', Role: undeclaredRole, Timeout: 9 })));
    assert.equal(e.name, 'InvalidParameterValueException');
    assert.equal(e.message, cannotAssume);
    let config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'f' }));
    assert.equal(config.Role, execRole);
    assert.equal(config.Timeout, 3, 'a refused update changes nothing');
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'f', Role: otherExecRole }));
    config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'f' }));
    assert.equal(config.Role, otherExecRole);
    // Updates that do not name a role are not affected.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'f', Timeout: 7 }));
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'f' }))).Timeout, 7);
  } finally {
    await server.stop();
  }
});

test('In development any well-formed role ARN is accepted', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    const created = await lambda.send(new CreateFunctionCommand(createInput('g', undeclaredRole)));
    assert.equal(created.Role, undeclaredRole);
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'g', Role: foreignRole }));
    assert.equal((await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'g' }))).Role, foreignRole);
    // A malformed role is a validation error in both modes.
    const e = await awsError(lambda.send(new CreateFunctionCommand(createInput('h', 'r1'))));
    assert.equal(e.name, 'ValidationException');
  } finally {
    await server.stop();
  }
});
