// SigV4 authentication: every Lambda, Logs and CloudWatch request is verified against the
// caller's secret key; a refused request changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LambdaClient, ListFunctionsCommand, CreateFunctionCommand } from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { startServer, makeZip, role, awsError, devCredentials, signedFetch } from './helpers.mjs';

test('Bad signatures, unknown keys, stale dates and missing credentials are refused and change nothing', async () => {
  const server = await startServer();
  try {
    const create = JSON.stringify({ FunctionName: 'f', Runtime: 'provided.al2023', Handler: 'h', Role: role,
      Code: { ZipFile: makeZip({ bootstrap: '#!/bin/sh\n' }).toString('base64') } });
    const attempt = async (over) => {
      const res = await signedFetch(server.endpoint, { method: 'POST', path: '/2015-03-31/functions', body: create,
        headers: { 'content-type': 'application/json' }, ...over });
      return { status: res.status, type: res.headers.get('x-amzn-errortype'), date: res.headers.get('date'), body: await res.json() };
    };
    const wrongSecret = await attempt({ secret: 'not-the-secret' });
    assert.equal(wrongSecret.status, 403);
    assert.equal(wrongSecret.type, 'InvalidSignatureException');
    assert.equal(wrongSecret.body.message, 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
    const unknown = await attempt({ accessKey: 'AKIAUNKNOWN000000000' });
    assert.equal(unknown.status, 403);
    assert.equal(unknown.type, 'UnrecognizedClientException');
    assert.equal(unknown.body.message, 'The security token included in the request is invalid.');
    const stale = await attempt({ date: new Date(Date.now() - 20 * 60000) });
    assert.equal(stale.status, 403);
    assert.ok(Math.abs(Date.parse(stale.date) - Date.now()) < 5000, 'every response carries the server\'s Date');
    assert.equal(stale.type, 'InvalidSignatureException');
    assert.match(stale.body.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const otherService = await attempt({ service: 'logs' });
    assert.equal(otherService.status, 403);
    assert.match(otherService.body.message, /Credential should be scoped to correct service: 'lambda'/);
    const anonymous = await fetch(`${server.endpoint}/2015-03-31/functions`, { method: 'POST', body: create });
    assert.equal(anonymous.status, 403);
    assert.equal(anonymous.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException');

    const lambda = server.client();
    assert.deepEqual((await lambda.send(new ListFunctionsCommand({}))).Functions, [], 'nothing was created');
    assert.equal((await attempt({})).status, 201, 'the same request, properly signed, works');

    // An SDK whose clock is 20 minutes off is refused once, corrects its clock from the
    // response's Date and succeeds on the retry.
    const skewed = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 2,
      credentials: devCredentials, systemClockOffset: -20 * 60000 });
    assert.deepEqual((await skewed.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName), ['f']);

    // The SDKs see the errors by name, for every API.
    const badLambda = new LambdaClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { ...devCredentials, secretAccessKey: 'wrong' } });
    assert.equal((await awsError(badLambda.send(new ListFunctionsCommand({})))).name, 'InvalidSignatureException');
    const badLogs = new CloudWatchLogsClient({ endpoint: server.endpoint, region: 'us-east-1', maxAttempts: 1,
      credentials: { ...devCredentials, accessKeyId: 'AKIAUNKNOWN000000000' } });
    const e = await awsError(badLogs.send(new DescribeLogGroupsCommand({})));
    assert.equal(e.name, 'UnrecognizedClientException');
    assert.equal(e.$metadata.httpStatusCode, 403);
    const badCreate = await awsError(badLambda.send(new CreateFunctionCommand({ FunctionName: 'g', Runtime: 'provided.al2023',
      Handler: 'h', Role: role, Code: { ZipFile: makeZip({ bootstrap: '#!/bin/sh\n' }) } })));
    assert.equal(badCreate.$metadata.httpStatusCode, 403);
    assert.deepEqual((await lambda.send(new ListFunctionsCommand({}))).Functions.map((f) => f.FunctionName), ['f']);
  } finally {
    await server.stop();
  }
});
