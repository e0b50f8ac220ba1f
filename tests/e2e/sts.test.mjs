// STS GetCallerIdentity, as the AWS CLI, SDKs and tools call it to learn who their credentials
// are: the unmodified SDK for JavaScript v3, Debian's boto3 (the Query protocol, XML answers),
// a function calling it as its execution role, and AWS's errors for bad credentials and for
// the operations Lambkin does not serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { STSClient, GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { CreateFunctionCommand, InvokeCommand } from '@aws-sdk/client-lambda';
import { startServer, makeZip, role, account, awsError, devCredentials, signedFetch, lambkinBin, runtimeVersions } from './helpers.mjs';

const run = promisify(execFile);
let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.stop();
});

const sts = (credentials = devCredentials) => new STSClient({ endpoint: server.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });

test('GetCallerIdentity names the development user, its account and a stable unique id', async () => {
  const me = await sts().send(new GetCallerIdentityCommand({}));
  assert.equal(me.$metadata.httpStatusCode, 200);
  assert.equal(me.Account, account);
  assert.equal(me.Arn, `arn:aws:iam::${account}:user/lambkin-developer`);
  assert.match(me.UserId, /^AIDA[A-Z0-9]{17}$/);
  assert.equal((await sts().send(new GetCallerIdentityCommand({}))).UserId, me.UserId, 'the same id every time');
});

test('a user with no policy at all may still ask who it is; another user gets its own id', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-sts-'));
  const file = path.join(dir, 'iam.json');
  writeFileSync(file, JSON.stringify({ accounts: { '210987654321': { users: { nobody: {} } } } }));
  const env = { ...process.env, LAMBKIN_ENDPOINT: server.endpoint };
  await run(lambkinBin, ['iam', 'apply', file], { env });
  const key = JSON.parse((await run(lambkinBin, ['iam', 'create-access-key', '--account', '210987654321', '--user', 'nobody', '--json'], { env })).stdout);
  const nobody = await sts({ accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey }).send(new GetCallerIdentityCommand({}));
  assert.deepEqual([nobody.Account, nobody.Arn], ['210987654321', 'arn:aws:iam::210987654321:user/nobody']);
  assert.match(nobody.UserId, /^AIDA[A-Z0-9]{17}$/);
  assert.notEqual(nobody.UserId, (await sts().send(new GetCallerIdentityCommand({}))).UserId);
});

test('bad credentials and other operations get STS\'s errors', async () => {
  const unknown = await awsError(sts({ accessKeyId: 'AKIANOSUCHKEY0000000', secretAccessKey: 'x' }).send(new GetCallerIdentityCommand({})));
  assert.equal(unknown.name, 'InvalidClientTokenId');
  assert.equal(unknown.$metadata.httpStatusCode, 403);
  const badSecret = await awsError(sts({ accessKeyId: devCredentials.accessKeyId, secretAccessKey: 'wrong' }).send(new GetCallerIdentityCommand({})));
  assert.equal(badSecret.name, 'SignatureDoesNotMatch');
  assert.equal(badSecret.$metadata.httpStatusCode, 403);
  const assume = await awsError(sts().send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 's' })));
  assert.equal(assume.name, 'InvalidAction');
  assert.equal(assume.$metadata.httpStatusCode, 400);
  assert.match(assume.message, /does not implement the STS operation AssumeRole/);
  // By hand: GET with the query, and an operation AWS has never had.
  const get = await signedFetch(server.endpoint, { path: '/', rawQuery: 'Action=GetCallerIdentity&Version=2011-06-15', service: 'sts' });
  assert.equal(get.status, 200);
  assert.match(await get.text(), /<Arn>arn:aws:iam::123456789012:user\/lambkin-developer<\/Arn>/);
  const nonsense = await signedFetch(server.endpoint, { path: '/', rawQuery: 'Action=Nonsense&Version=2011-06-15', service: 'sts' });
  assert.equal(nonsense.status, 400);
  assert.match(await nonsense.text(), /<Code>InvalidAction<\/Code><Message>Could not find operation Nonsense for version 2011-06-15<\/Message>/);
});

test('Debian boto3 reads the caller identity (Query protocol)', async () => {
  const script = `
import boto3, json, sys
c = boto3.client('sts', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id='${devCredentials.accessKeyId}', aws_secret_access_key='${devCredentials.secretAccessKey}')
me = c.get_caller_identity()
print(json.dumps([me['Account'], me['Arn'], me['UserId']]))
`;
  const { stdout } = await run('/usr/bin/python3', ['-c', script, server.endpoint]);
  const [acct, arn, id] = JSON.parse(stdout);
  assert.deepEqual([acct, arn], [account, `arn:aws:iam::${account}:user/lambkin-developer`]);
  assert.match(id, /^AIDA[A-Z0-9]{17}$/);
});

test('a function asks who it is and hears its execution role session (a role with no policy)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lambkin-sts-'));
  const file = path.join(dir, 'iam.json');
  writeFileSync(file, JSON.stringify({ accounts: { [account]: { roles: { 'whoami-role': {} } } } }));
  await run(lambkinBin, ['iam', 'apply', file], { env: { ...process.env, LAMBKIN_ENDPOINT: server.endpoint } });
  const py = (await runtimeVersions(server.endpoint)).find((v) => v.Runtime.startsWith('python3.')).Runtime;
  const lambda = server.client();
  await lambda.send(new CreateFunctionCommand({ FunctionName: 'whoami', Runtime: py, Handler: 'app.handler', Role: `arn:aws:iam::${account}:role/whoami-role`,
    Code: { ZipFile: makeZip({ 'app.py': `import boto3, os
def handler(event, context):
    me = boto3.client('sts', endpoint_url=os.environ['AWS_ENDPOINT_URL']).get_caller_identity()
    return [me['Account'], me['Arn'], me['UserId']]
` }) } }));
  const r = await lambda.send(new InvokeCommand({ FunctionName: 'whoami' }));
  const out = JSON.parse(Buffer.from(r.Payload).toString());
  assert.equal(r.FunctionError, undefined, JSON.stringify(out));
  assert.deepEqual(out.slice(0, 2), [account, `arn:aws:sts::${account}:assumed-role/whoami-role/whoami`]);
  assert.match(out[2], /^AROA[A-Z0-9]{17}:whoami$/);
});
