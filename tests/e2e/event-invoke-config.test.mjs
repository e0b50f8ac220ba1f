// Asynchronous invocation configuration (Put/Update/Get/Delete/ListFunctionEventInvokeConfig(s))
// with AWS's recorded answers, honoured by the event queue (retries, destinations with AWS's
// invocation record), and the deprecated InvokeAsync; through the JS SDK v3 and Debian's boto3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, PublishVersionCommand, CreateAliasCommand, DeleteAliasCommand, DeleteFunctionCommand, InvokeCommand,
  InvokeAsyncCommand, PutFunctionEventInvokeConfigCommand, UpdateFunctionEventInvokeConfigCommand,
  GetFunctionEventInvokeConfigCommand, DeleteFunctionEventInvokeConfigCommand,
  ListFunctionEventInvokeConfigsCommand, UpdateFunctionConfigurationCommand, PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda';
import {
  startServer, makeZip, role, account, awsError, runtimeVersions, shellBootstrap, waitFor, logsClient,
  functionLogMessages as messages, withConfig,
} from './helpers.mjs';

const arn = (name) => `arn:aws:lambda:us-east-1:${account}:function:${name}`;
const echo = () => makeZip({ bootstrap: shellBootstrap() });
// The invocation records a destination function printed ("RECORD <json>").
async function records(logs, fn) {
  return (await messages(logs, fn)).filter((m) => m.startsWith('RECORD ')).map((m) => JSON.parse(m.slice(7)));
}

// Waits for the record of the event whose payload's id is `id` to reach function `fn`.
function recordOf(logs, fn, id) {
  return waitFor(`the record of event ${id}`, async () =>
    (await records(logs, fn)).find((x) => x.requestPayload.id === id));
}

async function expectError(promise, name, status, message) {
  const e = await awsError(promise);
  assert.equal(e.name, name, `${e.name}: ${e.message}`);
  assert.equal(e.$metadata.httpStatusCode, status);
  if (message !== undefined) assert.equal(e.message, message);
  return e;
}

test('event invoke configs: every operation as AWS answers it', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    for (const name of ['fn', 'other']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: echo() } }));
    }
    await lambda.send(new PublishVersionCommand({ FunctionName: 'fn' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));

    // Put: every member, answered with the qualified ARN and both destinations' objects.
    const before = Date.now();
    const put = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 1,
      MaximumEventAgeInSeconds: 120, DestinationConfig: { OnFailure: { Destination: arn('other') } } }));
    assert.equal(put.FunctionArn, `${arn('fn')}:$LATEST`);
    assert.equal(put.MaximumRetryAttempts, 1);
    assert.equal(put.MaximumEventAgeInSeconds, 120);
    assert.deepEqual(put.DestinationConfig, { OnSuccess: {}, OnFailure: { Destination: arn('other') } });
    assert.ok(put.LastModified instanceof Date, 'LastModified is a timestamp');
    assert.ok(Math.abs(put.LastModified.getTime() - before) < 60000);

    // Put replaces (members not given are gone); Update merges.
    const replaced = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 0 }));
    assert.equal(replaced.MaximumRetryAttempts, 0);
    assert.equal(replaced.MaximumEventAgeInSeconds, undefined);
    assert.deepEqual(replaced.DestinationConfig, { OnSuccess: {}, OnFailure: {} });
    const updated = await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumEventAgeInSeconds: 60,
      DestinationConfig: { OnSuccess: { Destination: arn('other') } } }));
    assert.equal(updated.MaximumRetryAttempts, 0);
    assert.equal(updated.MaximumEventAgeInSeconds, 60);
    assert.deepEqual(updated.DestinationConfig, { OnSuccess: { Destination: arn('other') }, OnFailure: {} });
    const got = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '$LATEST' }));
    assert.deepEqual({ ...got, $metadata: undefined }, { ...updated, $metadata: undefined });

    // Per qualifier: a version, an alias (by ARN, by shorthand), each its own.
    const version = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: '1', MaximumRetryAttempts: 1 }));
    assert.equal(version.FunctionArn, `${arn('fn')}:1`);
    const alias = await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: `${arn('fn')}:live`, MaximumRetryAttempts: 2 }));
    assert.equal(alias.FunctionArn, `${arn('fn')}:live`);
    const shorthand = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn:live' }));
    assert.equal(shorthand.MaximumRetryAttempts, 2);

    // List, in pages of MaxItems.
    const all = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn' }));
    assert.deepEqual(all.FunctionEventInvokeConfigs.map((c) => c.FunctionArn), [`${arn('fn')}:$LATEST`, `${arn('fn')}:1`, `${arn('fn')}:live`]);
    assert.equal(all.NextMarker, undefined);
    const first = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn', MaxItems: 2 }));
    assert.equal(first.FunctionEventInvokeConfigs.length, 2);
    assert.ok(first.NextMarker);
    const rest = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn', MaxItems: 2, Marker: first.NextMarker }));
    assert.deepEqual(rest.FunctionEventInvokeConfigs.map((c) => c.FunctionArn), [`${arn('fn')}:live`]);
    await expectError(lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn', MaxItems: 51 })), 'ValidationException', 400,
      "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50");
    await expectError(lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'doesnotexist' })),
      'ResourceNotFoundException', 404, "The function doesn't exist.");

    // AWS's errors.
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'doesnotexist' })),
      'InvalidParameterValueException', 400, 'You must specify at least one of error handling or destination setting.');
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'doesnotexist', MaximumRetryAttempts: 1 })),
      'ResourceNotFoundException', 404, "The function doesn't exist.");
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: arn('doesnotexist'), MaximumRetryAttempts: 1 })),
      'ResourceNotFoundException', 404, "The function doesn't exist.");
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'livedoesnotexist', MaximumRetryAttempts: 1 })),
      'ResourceNotFoundException', 404, "The function doesn't exist.");
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumRetryAttempts: 3 })),
      'ValidationException', 400,
      "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 2");
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', MaximumEventAgeInSeconds: 59 })),
      'ValidationException', 400,
      "1 validation error detected: Value '59' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 60");
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: `${arn('fn')}:live`, Qualifier: 'other', MaximumRetryAttempts: 1 })),
      'InvalidParameterValueException', 400, 'The derived qualifier from the function name does not match the specified qualifier.');
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: arn('doesnotexist') } } })),
      'InvalidParameterValueException', 400, `The destination ARN ${arn('doesnotexist')} is invalid.`);
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: arn('fn') } } })),
      'InvalidParameterValueException', 400, "You can't specify the function as a destination for itself.");
    const iamArn = arn('fn').replace(':lambda:', ':iam:');
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnSuccess: { Destination: iamArn } } })),
      'InvalidParameterValueException', 400, `The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=${iamArn}), onFailure=null) is invalid.`);
    const badArn = arn('fn').replace(':lambda:', ':_-/!lambda:');
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnFailure: { Destination: badArn } } })),
      'ValidationException', 400,
      `1 validation error detected: Value '${badArn}' at 'destinationConfig.onFailure.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\\-_.]{0,248}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)`);
    // Lambkin delivers to functions only: the other services' destinations are refused by name.
    const queue = `arn:aws:sqs:us-east-1:${account}:q`;
    await expectError(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', DestinationConfig: { OnFailure: { Destination: queue } } })),
      'InvalidParameterValueException', 400,
      `The destination ARN ${queue} in DestinationConfig.OnFailure.Destination is not supported: Lambkin delivers invocation records only to Lambda functions.`);
    // A refused Put changed nothing.
    assert.equal((await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn' }))).MaximumEventAgeInSeconds, 60);

    await expectError(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'doesnotexist', MaximumRetryAttempts: 0 })),
      'ResourceNotFoundException', 404, "The function doesn't exist.");
    await expectError(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'other', MaximumRetryAttempts: 0 })),
      'ResourceNotFoundException', 404, `The function ${arn('other')}:$LATEST doesn't have an EventInvokeConfig`);
    await expectError(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'doesnotexist' })),
      'ResourceNotFoundException', 404, `The function ${arn('doesnotexist')}:$LATEST doesn't have an EventInvokeConfig`);
    await expectError(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'doesnotexist' })),
      'ResourceNotFoundException', 404, `The function ${arn('fn')}:doesnotexist doesn't have an EventInvokeConfig`);

    // Delete: 204, then the config is gone.
    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'live' }));
    await expectError(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: `${arn('fn')}:live` })),
      'ResourceNotFoundException', 404, `The function ${arn('fn')}:live doesn't have an EventInvokeConfig`);
    await expectError(lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'live' })),
      'ResourceNotFoundException', 404, `The function ${arn('fn')}:live doesn't have an EventInvokeConfig`);

    // Deleting a version or an alias deletes its config: a re-created alias starts without one.
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'fn', Description: 'two' }));
    assert.equal((await lambda.send(new PublishVersionCommand({ FunctionName: 'fn' }))).Version, '2');
    for (const q of ['2', 'live']) {
      await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: q, MaximumRetryAttempts: 0 }));
    }
    await lambda.send(new DeleteAliasCommand({ FunctionName: 'fn', Name: 'live' }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'fn', Qualifier: '2' }));
    await lambda.send(new CreateAliasCommand({ FunctionName: 'fn', Name: 'live', FunctionVersion: '1' }));
    await expectError(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'fn', Qualifier: 'live' })),
      'ResourceNotFoundException', 404, `The function ${arn('fn')}:live doesn't have an EventInvokeConfig`);
    const left = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn' }));
    assert.ok(left.FunctionEventInvokeConfigs.every((c) => !c.FunctionArn.endsWith(':2') && !c.FunctionArn.endsWith(':live')),
      JSON.stringify(left.FunctionEventInvokeConfigs));

    // Deleting the function deletes its configs.
    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'fn' }));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'fn', Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: echo() } }));
    const after = await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: 'fn' }));
    assert.deepEqual(after.FunctionEventInvokeConfigs, []);
  } finally {
    await server.stop();
  }
});

test('a failing event lands in the OnFailure function with AWS\'s record, a success in OnSuccess', async () => {
  const cfg = withConfig({ execution: { event_retry_delays_ms: [200, 200] } });
  const server = await startServer({ args: ['--config', cfg.file] });
  try {
    const lambda = server.client();
    const logs = logsClient(server.endpoint);
    const py = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'work', Runtime: py, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'def handler(e, c):\n    print("attempt", e["id"])\n    if e.get("fail"): raise RuntimeError("nope " + e["id"])\n    return {"done": e["id"], "big": 100000000000000000000001, "a": 1}\n' }) } }));
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'dest', Runtime: py, Handler: 'app.handler', Role: role,
      Code: { ZipFile: makeZip({ 'app.py': 'import json\ndef handler(e, c):\n    print("RECORD " + json.dumps(e))\n' }) } }));
    await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'work',
      DestinationConfig: { OnSuccess: { Destination: arn('dest') }, OnFailure: { Destination: arn('dest') } } }));

    const failed = await lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: Buffer.from('{"id":"f1","fail":true}') }));
    assert.equal(failed.StatusCode, 202);
    const requestId = failed.$metadata.requestId;
    const record = await recordOf(logs, 'dest', 'f1');
    assert.equal((await messages(logs, 'work')).filter((m) => m === 'attempt f1\n').length, 3, 'two retries by default');
    assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual({ ...record, timestamp: undefined, responsePayload: undefined }, {
      version: '1.0',
      timestamp: undefined,
      requestContext: { requestId, functionArn: `${arn('work')}:$LATEST`, condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      requestPayload: { id: 'f1', fail: true },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: undefined,
    });
    assert.equal(record.responsePayload.errorMessage, 'nope f1');
    assert.equal(record.responsePayload.errorType, 'RuntimeError');

    await lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: Buffer.from('{"id":"s1"}') }));
    const success = await recordOf(logs, 'dest', 's1');
    assert.equal(success.requestContext.condition, 'Success');
    assert.equal(success.requestContext.approximateInvokeCount, 1);
    assert.deepEqual(success.responseContext, { statusCode: 200, executedVersion: '$LATEST' });
    // Members in AWS's order, and the function's answer as it wrote it (order, exact numbers).
    assert.deepEqual(Object.keys(success), ['version', 'timestamp', 'requestContext', 'requestPayload', 'responseContext', 'responsePayload']);
    assert.deepEqual(Object.keys(success.requestContext), ['requestId', 'functionArn', 'condition', 'approximateInvokeCount']);
    const raw = (await messages(logs, 'dest')).find((m) => m.includes('"requestPayload": {"id": "s1"}'));
    assert.ok(raw.includes('"responsePayload": {"done": "s1", "big": 100000000000000000000001, "a": 1}'), raw);

    // MaximumRetryAttempts 0: exactly one attempt before the record.
    await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'work', MaximumRetryAttempts: 0 }));
    await lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: Buffer.from('{"id":"f0","fail":true}') }));
    const once = await recordOf(logs, 'dest', 'f0');
    assert.equal(once.requestContext.condition, 'RetriesExhausted');
    assert.equal(once.requestContext.approximateInvokeCount, 1);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await messages(logs, 'work')).filter((m) => m === 'attempt f0\n').length, 1, 'no retry');
    assert.equal((await records(logs, 'dest')).length, 3, 'one record per event');

    // Reserved concurrency 0: the event fails at once, never run, and says why.
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'work', ReservedConcurrentExecutions: 0 }));
    await lambda.send(new InvokeCommand({ FunctionName: 'work', InvocationType: 'Event', Payload: Buffer.from('{"id":"z0"}') }));
    const zero = await recordOf(logs, 'dest', 'z0');
    assert.deepEqual({ ...zero, timestamp: undefined, requestContext: { ...zero.requestContext, requestId: undefined } }, {
      version: '1.0', timestamp: undefined,
      requestContext: { requestId: undefined, functionArn: `${arn('work')}:$LATEST`, condition: 'ZeroReservedConcurrency', approximateInvokeCount: 0 },
      requestPayload: { id: 'z0' } });
    assert.equal((await messages(logs, 'work')).filter((m) => m === 'attempt z0\n').length, 0);
  } finally {
    await server.stop();
    cfg.cleanup();
  }
});

test('InvokeAsync queues the event as an Event invocation', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    const logs = logsClient(server.endpoint);
    await lambda.send(new CreateFunctionCommand({ FunctionName: 'old', Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: makeZip({ bootstrap: shellBootstrap({ handle: 'echo "async $EVENT" >&2; echo "{}"' }) }) } }));
    const out = await lambda.send(new InvokeAsyncCommand({ FunctionName: 'old', InvokeArgs: Buffer.from('{"legacy":1}') }));
    assert.equal(out.Status, 202);
    await waitFor('the InvokeAsync event', async () => (await messages(logs, 'old')).includes('async {"legacy":1}\n'));
    await expectError(lambda.send(new InvokeAsyncCommand({ FunctionName: 'doesnotexist', InvokeArgs: Buffer.from('{}') })),
      'ResourceNotFoundException', 404);
    await expectError(lambda.send(new InvokeAsyncCommand({ FunctionName: 'old', InvokeArgs: Buffer.from('not json') })),
      'InvalidRequestContentException', 400);
  } finally {
    await server.stop();
  }
});

test('boto3: put, get, list and delete an event invoke config, and invoke_async', async () => {
  const server = await startServer();
  try {
    const lambda = server.client();
    for (const name of ['bfn', 'bdest']) {
      await lambda.send(new CreateFunctionCommand({ FunctionName: name, Runtime: 'provided.al2023', Handler: 'h', Role: role, Code: { ZipFile: echo() } }));
    }
    const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'boto3_event_invoke_config.py');
    const { stdout } = await promisify(execFile)('/usr/bin/python3', [script, server.endpoint]);
    const out = JSON.parse(stdout);
    assert.deepEqual(out.put, { FunctionArn: `${arn('bfn')}:$LATEST`, MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 300,
      DestinationConfig: { OnSuccess: {}, OnFailure: { Destination: arn('bdest') } } });
    assert.equal(out.last_modified_is_datetime, true);
    assert.deepEqual(out.get, out.put);
    assert.deepEqual(out.listed, [`${arn('bfn')}:$LATEST`]);
    assert.equal(out.delete_status, 204);
    assert.deepEqual(out.get_after_delete, ['ResourceNotFoundException', 404,
      `The function ${arn('bfn')}:$LATEST doesn't have an EventInvokeConfig`]);
    assert.deepEqual(out.put_none, ['InvalidParameterValueException', 400,
      'You must specify at least one of error handling or destination setting.']);
    assert.equal(out.invoke_async, 202);
  } finally {
    await server.stop();
  }
});
