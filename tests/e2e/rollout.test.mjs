// The two-phase, region-by-region rollout of a published runtime version, driven by the
// simulated clock: phase 1 on create/update, the phase-2 sweep of Auto versions ($LATEST and
// published) in batches, FunctionUpdate and Manual versions left alone, regions without
// runtime management controls, the health gate holding a region and reverting a regressed
// function, operator resume/block/deprecate, and both rollback paths (Manual pin, alias).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateFunctionCommand, InvokeCommand, UpdateFunctionConfigurationCommand, UpdateFunctionCodeCommand,
  GetFunctionConfigurationCommand, PutRuntimeManagementConfigCommand, PublishVersionCommand,
  CreateAliasCommand, UpdateAliasCommand,
} from '@aws-sdk/client-lambda';
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { role, devCredentials, awsError, pythonImage, versionEcho, startRolloutServer } from './helpers.mjs';

const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

const regions = { default_region: 'us-east-1', runtime_management: ['us-east-1', 'eu-west-1'], without_runtime_management: ['cn-north-1'] };

test('phase 1 on create/update, phase 2 sweeps Auto versions region by region; FunctionUpdate and Manual stay', async () => {
  const t = await startRolloutServer({ regions, rollout: { pacing: { high: { regions_per_wave: 1 } }, gate: { min_samples: 3, max_bake_extensions: 1 } } });
  servers.push(t.server);
  const us = t.server.client('us-east-1'), eu = t.server.client('eu-west-1'), cn = t.server.client('cn-north-1');
  const create = (client, name, extra = {}) => client.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: versionEcho() }, ...extra }));
  const rvOf = async (client, name, q) =>
    (await client.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: q }))).RuntimeVersionConfig.RuntimeVersionArn;
  const invoke = async (client, name, q) =>
    JSON.parse(Buffer.from((await client.send(new InvokeCommand({ FunctionName: name, Qualifier: q }))).Payload).toString());

  await create(us, 'auto', { Publish: true });
  await create(us, 'fu', { Publish: true });
  for (const q of ['$LATEST', '1']) {
    await us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'fu', Qualifier: q, UpdateRuntimeOn: 'FunctionUpdate' }));
  }
  await create(us, 'pinned');
  await us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'pinned', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await t.arnOf(1) }));
  await create(eu, 'auto-eu');
  await create(cn, 'cn');
  assert.equal(await invoke(us, 'auto'), `${t.family}.v1`);

  const published = await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '2', '--image', pythonImage, '--severity', 'high');
  assert.match(published, new RegExp(`published ${t.family}.v2`));
  let [r] = await t.status();
  assert.equal(r.RuntimeVersion, `${t.family}.v2`);
  assert.deepEqual(r.Regions.map((g) => [g.Region, g.Wave, g.Phase]),
    [['us-east-1', 0, 'phase1'], ['eu-west-1', 1, 'pending'], ['cn-north-1', 2, 'pending']]);
  assert.equal(r.Regions[0].Remaining, 2, 'auto:$LATEST and auto:1 are the Auto versions to sweep');

  // Phase 1: creates and updates in us-east-1 get v2; eu-west-1 has not started.
  await create(us, 'fresh');
  assert.equal(await rvOf(us, 'fresh'), await t.arnOf(2));
  await create(eu, 'fresh-eu');
  assert.equal(await rvOf(eu, 'fresh-eu'), await t.arnOf(1, 'eu-west-1'));
  await us.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'fu', Description: 'deploy' }));
  assert.equal(await rvOf(us, 'fu'), await t.arnOf(2), 'FunctionUpdate $LATEST takes v2 on update');
  assert.equal(await rvOf(us, 'auto'), await t.arnOf(1), 'phase 1 leaves untouched functions alone');

  // The next wave starts once the first has baked (6 h for high severity).
  await t.cli('clock', 'advance', '6h');
  [r] = await t.status();
  assert.deepEqual(r.Regions.map((g) => g.Phase), ['phase1', 'phase1', 'pending']);

  // Phase 2 after two days: batch 1 is one version.
  await t.cli('clock', 'advance', '42h');
  [r] = await t.status();
  assert.equal(r.Regions[0].Phase, 'phase2');
  assert.equal(r.Regions[0].Migrated, 1);
  assert.equal(r.Regions[0].Remaining, 1);
  assert.match(await t.cli('rollout', 'status'), /us-east-1\s+0\s+phase2/);

  // A week later every region is complete.
  await t.cli('clock', 'advance', '7d');
  [r] = await t.status();
  assert.deepEqual(r.Regions.map((g) => [g.Phase, g.Migrated, g.Remaining]), [['complete', 2, 0], ['complete', 2, 0], ['complete', 1, 0]]);
  assert.equal(r.State, 'complete');

  assert.equal(await rvOf(us, 'auto'), await t.arnOf(2));
  assert.equal(await rvOf(us, 'auto', '1'), await t.arnOf(2), 'published Auto versions are swept too');
  assert.equal(await rvOf(us, 'fu', '1'), await t.arnOf(1), 'published FunctionUpdate versions are never touched');
  assert.equal(await rvOf(us, 'pinned'), await t.arnOf(1), 'Manual versions are never touched');
  assert.equal(await rvOf(eu, 'auto-eu'), await t.arnOf(2, 'eu-west-1'));
  assert.equal(await rvOf(eu, 'fresh-eu'), await t.arnOf(2, 'eu-west-1'));
  assert.equal(await rvOf(cn, 'cn'), await t.arnOf(2, 'cn-north-1'), 'regions without controls follow the same sequence');

  // The warm environment was recycled: the next INIT_START shows v2.
  assert.equal(await invoke(us, 'auto'), `${t.family}.v2`);
  const logs = new CloudWatchLogsClient({ endpoint: t.server.endpoint, region: 'us-east-1', credentials: devCredentials, maxAttempts: 1 });
  const inits = (await logs.send(new FilterLogEventsCommand({ logGroupName: '/aws/lambda/auto', filterPattern: 'INIT_START' })))
    .events.map((e) => e.message.split(/\s+/)[3]);
  assert.deepEqual(inits, [`${t.family}.v1`, `${t.family}.v2`]);

  // The history is the store's edit log.
  const h = await t.history('auto');
  assert.deepEqual(h.map((e) => [e.Qualifier, e.From, e.To, e.Cause]), [
    ['$LATEST', null, `${t.family}.v1`, 'create'],
    ['1', null, `${t.family}.v1`, 'publish'],
    ['$LATEST', `${t.family}.v1`, `${t.family}.v2`, 'phase2'],
    ['1', `${t.family}.v1`, `${t.family}.v2`, 'phase2'],
  ]);
  assert.match(await t.cli('rollout', 'history', 'auto', '--qualifier', '1'), /phase-2 sweep \(batch \d\)/);
});

test('the health gate holds a region and reverts the regressed function; resume, pin, block, deprecate, alias rollback', async () => {
  const t = await startRolloutServer({ regions, rollout: { gate: { min_samples: 3, max_bake_extensions: 0, revert_on_halt: true } } });
  servers.push(t.server);
  const us = t.server.client('us-east-1');
  const create = (name, zip = versionEcho()) => us.send(new CreateFunctionCommand({
    FunctionName: name, Runtime: t.python, Handler: 'app.handler', Role: role, Code: { ZipFile: zip } }));
  const rvOf = async (name, q) =>
    (await us.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: q }))).RuntimeVersionConfig.RuntimeVersionArn;
  const invoke = (name, q) => us.send(new InvokeCommand({ FunctionName: name, Qualifier: q }));

  await create('bad', versionEcho('.v2'));  // first in the sweep order: batch 1
  await create('good1');
  await create('good2');
  // Rollback path (b): a published FunctionUpdate version behind an alias.
  await create('svc');
  await us.send(new PublishVersionCommand({ FunctionName: 'svc' }));
  await us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'svc', Qualifier: '1', UpdateRuntimeOn: 'FunctionUpdate' }));
  await us.send(new CreateAliasCommand({ FunctionName: 'svc', Name: 'live', FunctionVersion: '1' }));
  for (let i = 0; i < 3; i++) assert.equal((await invoke('bad')).FunctionError, undefined);

  // Critical: phase 1 and phase 2 start together everywhere; batch 1 migrates `bad`.
  await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '2', '--image', pythonImage, '--severity', 'critical');
  assert.equal(await rvOf('bad'), await t.arnOf(2));
  for (let i = 0; i < 3; i++) assert.equal((await invoke('bad')).FunctionError, 'Unhandled');

  await t.cli('clock', 'advance', '1h');
  let [r] = await t.status();
  const us1 = r.Regions.find((g) => g.Region === 'us-east-1');
  assert.match(us1.Held, /rose from 0\.0% \(0\/3\) to 100\.0% \(3\/3\).*worst: bad:\$LATEST/);
  assert.equal(us1.Reverted, 1);
  assert.equal(await rvOf('bad'), await t.arnOf(1), 'the regressed version went back');
  assert.equal((await invoke('bad')).FunctionError, undefined);
  assert.match(await t.cli('rollout', 'status'), /HELD[\s\S]*held: batch 1: error rate/);
  assert.deepEqual((await t.history('bad')).map((e) => e.Cause), ['create', 'phase2', 'revert']);
  // While held, no further wave/batch runs, even much later.
  await t.cli('clock', 'advance', '2d');
  assert.equal((await rvOf('good1')), await t.arnOf(1));

  // Its owner pins it (rollback path a), the operator resumes: the rest migrates, `bad` stays.
  await us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'bad', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await t.arnOf(1) }));
  await t.cli('rollout', 'resume', `${t.family}.v2`);
  await t.cli('clock', 'advance', '1d');
  [r] = await t.status();
  assert.equal(r.Regions.find((g) => g.Region === 'us-east-1').Phase, 'complete');
  for (const fn of ['good1', 'good2', 'svc']) assert.equal(await rvOf(fn), await t.arnOf(2), fn);
  assert.equal(await rvOf('bad'), await t.arnOf(1));
  assert.equal(await rvOf('svc', '1'), await t.arnOf(1), 'FunctionUpdate published version keeps v1');

  // Rollback path (b): v2 in a new published version behind the alias, then the alias back.
  await us.send(new UpdateFunctionCodeCommand({ FunctionName: 'svc', ZipFile: versionEcho('.v2') }));
  await us.send(new PublishVersionCommand({ FunctionName: 'svc' }));
  await us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'svc', Qualifier: '2', UpdateRuntimeOn: 'FunctionUpdate' }));
  await us.send(new UpdateAliasCommand({ FunctionName: 'svc', Name: 'live', FunctionVersion: '2' }));
  assert.equal((await invoke('svc', 'live')).FunctionError, 'Unhandled');
  await us.send(new UpdateAliasCommand({ FunctionName: 'svc', Name: 'live', FunctionVersion: '1' }));
  const back = await invoke('svc', 'live');
  assert.equal(back.FunctionError, undefined);
  assert.equal(JSON.parse(Buffer.from(back.Payload).toString()), `${t.family}.v1`);

  // A bad v3: blocking it aborts its rollout and moves Auto versions back to v2.
  await t.cli('runtime', 'publish', '--runtime', t.python, '--version', '3', '--image', pythonImage, '--severity', 'critical');
  await t.cli('clock', 'advance', '1d');
  assert.equal(await rvOf('good1'), await t.arnOf(3));
  const blocked = await t.cli('runtime', 'block', `${t.family}.v3`, '--reason', 'segfaults');
  assert.match(blocked, /is now blocked/);
  for (const fn of ['good1', 'good2']) assert.equal(await rvOf(fn), await t.arnOf(2), fn);
  assert.equal((await t.history('good1')).at(-1).Cause, 'block');
  [r] = await t.status();
  assert.equal(r.State, 'aborted');
  const refusePin = await awsError(us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'good1', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await t.arnOf(3) })));
  assert.equal(refusePin.name, 'InvalidParameterValueException');
  assert.match(refusePin.message, /is blocked and cannot be chosen/);
  await create('after-block');
  assert.equal(await rvOf('after-block'), await t.arnOf(2), 'a blocked version is never newest');

  // Deprecation: not the newest; an old version refuses new pins, existing pins keep running.
  await assert.rejects(t.cli('runtime', 'deprecate', `${t.family}.v2`), (e) => /newest version/.test(e.stderr));
  assert.match(await t.cli('runtime', 'deprecate', `${t.family}.v1`), /is now deprecated/);
  const refuseOld = await awsError(us.send(new PutRuntimeManagementConfigCommand({ FunctionName: 'good2', UpdateRuntimeOn: 'Manual', RuntimeVersionArn: await t.arnOf(1) })));
  assert.match(refuseOld.message, /is deprecated and cannot be chosen/);
  assert.equal(await rvOf('bad'), await t.arnOf(1));
  assert.equal((await invoke('bad')).FunctionError, undefined);
});
