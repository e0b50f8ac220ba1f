// Function URLs: the configuration operations with AWS's answers and errors, and the URLs
// themselves served by Lambkin — a real `curl` to an AuthType NONE URL (payload format 2.0
// event in, the function's structured answer out: status, headers, cookies, base64 bodies),
// CORS preflight, and AuthType AWS_IAM with and without a SigV4 signature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateFunctionCommand, CreateFunctionUrlConfigCommand, GetFunctionUrlConfigCommand, UpdateFunctionUrlConfigCommand,
  DeleteFunctionUrlConfigCommand, ListFunctionUrlConfigsCommand, AddPermissionCommand, PublishVersionCommand,
  CreateAliasCommand,
} from '@aws-sdk/client-lambda';
import { startServer, makeZip, account, role, awsError, signedFetch, devCredentials } from './helpers.mjs';

const run = promisify(execFile);
let server;
let lambda;
const fnArn = (name, q) => `arn:aws:lambda:us-east-1:${account}:function:${name}${q ? `:${q}` : ''}`;

const handler = `
import json
def handler(event, context):
    path = event.get('rawPath')
    if path == '/plain':
        return {'plain': True}
    if path == '/boom':
        raise Exception('boom')
    return {'statusCode': 201, 'headers': {'x-echo': 'yes', 'content-type': 'application/json'},
            'cookies': ['a=1; Path=/', 'b=2'], 'body': json.dumps(event)}
`;

// curl -i: status, headers (lower-case names, repeated ones kept) and body.
async function curl(url, args = []) {
  const { stdout } = await run('curl', ['-sS', '-i', ...args, url], { encoding: 'buffer', maxBuffer: 1 << 24 });
  const text = stdout.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
  const headers = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    const name = line.slice(0, i).toLowerCase();
    (headers[name] ??= []).push(line.slice(i + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: stdout.subarray(split + 4).toString() };
}

before(async () => {
  server = await startServer();
  lambda = server.client();
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'web', Runtime: 'python3.11', Handler: 'index.handler',
    Role: role, Code: { ZipFile: makeZip({ 'index.py': handler }) } }));
});
after(async () => { await server?.stop(); });

test('URL configurations: create, get, update, list, delete as AWS answers them', async () => {
  const created = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' }));
  assert.equal(created.$metadata.httpStatusCode, 201);
  assert.match(created.FunctionUrl, /^http:\/\/[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:\d+\/$/);
  assert.equal(created.FunctionArn, fnArn('web'));
  assert.equal(created.AuthType, 'NONE');
  assert.match(created.CreationTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }));
  assert.equal(got.FunctionUrl, created.FunctionUrl);
  assert.equal(got.InvokeMode, 'BUFFERED');
  assert.ok(got.LastModifiedTime);

  let e = await awsError(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'NONE' })));
  assert.equal(e.name, 'ResourceConflictException');
  assert.equal(e.message, `Failed to create function url config for [functionArn = ${fnArn('web')}]. Error message:  FunctionUrlConfig exists for this Lambda function`);
  for (const q of ['1', '$LATEST']) {
    e = await awsError(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: q })));
    assert.equal(e.name, 'ValidationException');
    assert.equal(e.message, `1 validation error detected: Value '${q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)`);
  }
  e = await awsError(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'nope', AuthType: 'NONE' })));
  assert.equal(e.message, 'Function does not exist');
  e = await awsError(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'nope' })));
  assert.equal(e.message, 'The resource you requested does not exist.');
  e = await awsError(lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'ghost', AuthType: 'NONE' })));
  assert.equal(e.message, 'Function does not exist');
  e = await awsError(lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'ghost', AuthType: 'BOGUS' })));
  assert.equal(e.name, 'ValidationException');
  e = await awsError(lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', InvokeMode: 'RESPONSE_STREAM' })));
  assert.equal(e.name, 'InvalidParameterValueException');

  const v = await lambda.send(new PublishVersionCommand({ FunctionName: 'web' }));
  await lambda.send(new CreateAliasCommand({ FunctionName: 'web', Name: 'live', FunctionVersion: v.Version }));
  const aliased = await lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live', AuthType: 'AWS_IAM' }));
  assert.equal(aliased.FunctionArn, fnArn('web', 'live'));
  assert.notEqual(aliased.FunctionUrl, created.FunctionUrl);
  const list = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web' }));
  assert.deepEqual(list.FunctionUrlConfigs.map((c) => c.FunctionArn), [fnArn('web'), fnArn('web', 'live')]);
  const page = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web', MaxItems: 1 }));
  assert.equal(page.FunctionUrlConfigs.length, 1);
  const rest = await lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'web', Marker: page.NextMarker }));
  assert.deepEqual(rest.FunctionUrlConfigs.map((c) => c.FunctionArn), [fnArn('web', 'live')]);
  await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live' }));
  e = await awsError(lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web', Qualifier: 'live' })));
  assert.equal(e.message, 'The resource you requested does not exist.');
  e = await awsError(lambda.send(new ListFunctionUrlConfigsCommand({ FunctionName: 'nope' })));
  assert.equal(e.message, 'Function does not exist');
});

test('curl to an AuthType NONE URL: the 2.0 event in, the structured answer out', async () => {
  const { FunctionUrl: url } = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }));
  // Without the function policy's grant to anyone, the URL is forbidden.
  let r = await curl(url);
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.body), { Message: 'Forbidden' });
  await lambda.send(new AddPermissionCommand({ FunctionName: 'web', StatementId: 'public', Action: 'lambda:InvokeFunctionUrl',
    Principal: '*', FunctionUrlAuthType: 'NONE' }));

  r = await curl(`${url}my/path?x=1&x=2&y=z`, ['-X', 'POST', '-H', 'X-Custom: hello', '-b', 'c1=v1; c2=v2',
    '-H', 'content-type: text/plain', '--data-binary', 'Hello from client!']);
  assert.equal(r.status, 201);
  assert.deepEqual(r.headers['x-echo'], ['yes']);
  assert.deepEqual(r.headers['set-cookie'], ['a=1; Path=/', 'b=2']);
  assert.ok(r.headers['x-amzn-requestid']);
  const event = JSON.parse(r.body);
  const id = new URL(url).hostname.split('.')[0];
  assert.equal(event.version, '2.0');
  assert.equal(event.routeKey, '$default');
  assert.equal(event.rawPath, '/my/path');
  assert.equal(event.rawQueryString, 'x=1&x=2&y=z');
  assert.deepEqual(event.queryStringParameters, { x: '1,2', y: 'z' });
  assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
  assert.equal(event.headers['x-custom'], 'hello');
  assert.equal(event.body, 'Hello from client!');
  assert.equal(event.isBase64Encoded, false);
  assert.equal(event.requestContext.accountId, 'anonymous');
  assert.equal(event.requestContext.apiId, id);
  assert.equal(event.requestContext.domainPrefix, id);
  assert.equal(event.requestContext.domainName, `${id}.lambda-url.us-east-1.localhost`);
  assert.equal(event.requestContext.http.method, 'POST');
  assert.equal(event.requestContext.http.path, '/my/path');
  assert.equal(event.requestContext.http.sourceIp, '127.0.0.1');
  assert.match(event.requestContext.http.userAgent, /^curl\//);
  assert.equal(event.requestContext.stage, '$default');
  assert.equal(event.requestContext.requestId, r.headers['x-amzn-requestid'][0]);

  // A body that is not text arrives base64-encoded.
  const binary = await run('sh', ['-c', `printf '\\377\\000\\001' | curl -sS -X PUT --data-binary @- '${url}bin'`]);
  const binEvent = JSON.parse(binary.stdout);
  assert.equal(binEvent.isBase64Encoded, true);
  assert.equal(binEvent.body, '/wAB');

  // The path form, for clients that cannot set Host; a non-structured answer is a JSON 200.
  r = await curl(`${server.endpoint}/lambda-url/${id}/plain`);
  assert.equal(r.status, 200);
  assert.deepEqual(r.headers['content-type'], ['application/json']);
  assert.deepEqual(JSON.parse(r.body), { plain: true });
  r = await curl(`${server.endpoint}/lambda-url/${id}/boom`);
  assert.equal(r.status, 502);
  // Unknown URLs are forbidden, not found; the rest of the listener is untouched.
  r = await curl(`${server.endpoint}/lambda-url/${'0'.repeat(32)}/`);
  assert.equal(r.status, 403);
  r = await curl(`${server.endpoint}/2015-03-31/functions`);
  assert.equal(r.status, 403);
  assert.match(r.body, /MissingAuthenticationToken/);
});

test('CORS preflight and response headers follow the configuration', async () => {
  const { FunctionUrl: url } = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', Cors: {
    AllowOrigins: ['https://example.com'], AllowMethods: ['POST'], AllowHeaders: ['x-custom'], ExposeHeaders: ['x-echo'],
    MaxAge: 60, AllowCredentials: true } }));
  const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'web' }));
  assert.deepEqual(got.Cors, { AllowOrigins: ['https://example.com'], AllowMethods: ['POST'], AllowHeaders: ['x-custom'],
    ExposeHeaders: ['x-echo'], MaxAge: 60, AllowCredentials: true });
  let r = await curl(url, ['-X', 'OPTIONS', '-H', 'Origin: https://example.com', '-H', 'Access-Control-Request-Method: POST']);
  assert.equal(r.status, 200);
  assert.deepEqual(r.headers['access-control-allow-origin'], ['https://example.com']);
  assert.deepEqual(r.headers['access-control-allow-methods'], ['POST']);
  assert.deepEqual(r.headers['access-control-allow-headers'], ['x-custom']);
  assert.deepEqual(r.headers['access-control-max-age'], ['60']);
  assert.deepEqual(r.headers['access-control-allow-credentials'], ['true']);
  r = await curl(url, ['-H', 'Origin: https://example.com']);
  assert.equal(r.status, 201);
  assert.deepEqual(r.headers['access-control-allow-origin'], ['https://example.com']);
  assert.deepEqual(r.headers['access-control-expose-headers'], ['x-echo']);
  r = await curl(url, ['-H', 'Origin: https://evil.example']);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
});

test('AuthType AWS_IAM: SigV4-signed requests pass, unsigned and badly signed ones are forbidden', async () => {
  const { FunctionUrl: url } = await lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: 'web', AuthType: 'AWS_IAM', Cors: {} }));
  const id = new URL(url).hostname.split('.')[0];
  let r = await curl(url);
  assert.equal(r.status, 403);
  assert.deepEqual(JSON.parse(r.body), { Message: 'Forbidden' });
  const signed = await signedFetch(server.endpoint, { method: 'POST', path: `/lambda-url/${id}/signed`, body: '{"a":1}',
    headers: { 'content-type': 'application/json' } });
  assert.equal(signed.status, 201);
  const event = JSON.parse(await signed.text());
  assert.equal(event.requestContext.accountId, account);
  assert.equal(event.requestContext.authorizer.iam.userArn, `arn:aws:iam::${account}:user/lambkin-developer`);
  assert.equal(event.requestContext.authorizer.iam.accessKey, devCredentials.accessKeyId);
  assert.equal(event.rawPath, '/signed');
  const forged = await signedFetch(server.endpoint, { path: `/lambda-url/${id}/`, secret: 'wrong' });
  assert.equal(forged.status, 403);
  // And the URL goes with its configuration.
  await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: 'web' }));
  r = await curl(url);
  assert.equal(r.status, 403);
});
