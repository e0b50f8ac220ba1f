// A function: configuration, versions and aliases, the Runtime settings panel with its runtime
// management configuration (and an editor offering the valid runtime versions with what each
// changes), the runtime history, recent INIT_START lines, the Contributor Insights chart and a
// test invoke with the log tail.
import {
  GetFunctionCommand, GetRuntimeManagementConfigCommand, InvokeCommand, ListAliasesCommand,
  ListVersionsByFunctionCommand, PutRuntimeManagementConfigCommand,
} from '@aws-sdk/client-lambda';
import { all, describeError, isDenied, lambda, logs, operator } from '../api.js';
import { clear, copyButton, definitionList, h, section, table, when } from '../dom.js';
import { reload, showError, showNotice } from '../main.js';
import { insightsChart } from './insights.js';

const MODES = [
  ['Auto', 'Auto', 'Lambkin updates the runtime version by itself, in a two-phase rollout. The recommended mode.'],
  ['FunctionUpdate', 'Function update', 'The runtime version changes only when you update the function\'s code or configuration.'],
  ['Manual', 'Manual', 'The function stays on the version you choose. For rolling back after an incompatibility: temporary, and you own its patching.'],
];

const q = (qualifier) => (qualifier === '$LATEST' ? undefined : qualifier);

export async function functionPage(main, session, [name], alive) {
  const versionParam = new URLSearchParams(location.hash.split('?')[1] || '').get('qualifier');
  const qualifier = versionParam || '$LATEST';
  // $LATEST is named the way the Lambda console names it: by the unqualified function.
  const client = lambda(session);
  const [fn, versions, aliases] = await Promise.all([
    client.send(new GetFunctionCommand({ FunctionName: name, Qualifier: q(qualifier) })),
    all(async (Marker) => {
      const r = await client.send(new ListVersionsByFunctionCommand({ FunctionName: name, Marker }));
      return [r.Versions, r.NextMarker];
    }).catch((e) => (isDenied(e) ? null : Promise.reject(e))),
    all(async (Marker) => {
      const r = await client.send(new ListAliasesCommand({ FunctionName: name, Marker }));
      return [r.Aliases, r.NextMarker];
    }).catch((e) => (isDenied(e) ? null : Promise.reject(e))),
  ]);
  if (!alive()) return;
  const c = fn.Configuration;
  const picker = h('select', { id: 'qualifier', 'aria-label': 'Function version' },
    (versions || [{ Version: '$LATEST' }]).map((v) => h('option', { value: v.Version, selected: v.Version === qualifier }, v.Version)));
  picker.addEventListener('change', () => {
    location.hash = `#/functions/${encodeURIComponent(name)}${picker.value === '$LATEST' ? '' : `?qualifier=${encodeURIComponent(picker.value)}`}`;
  });

  const runtimePanel = h('div');
  const history = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const inits = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const chart = h('div');
  clear(main,
    h('p', {}, h('a', { href: '#/functions' }, '← Functions')),
    h('div', { class: 'page-head' }, h('h1', {}, name),
      h('label', { for: 'qualifier' }, 'Version'), picker),
    h('p', { class: 'mono wrap' }, c.FunctionArn, ' ', copyButton(c.FunctionArn, 'Copy ARN')),
    c.Description ? h('p', {}, c.Description) : null,
    section('Runtime settings', runtimePanel),
    section('Test', testInvoke(session, name, qualifier)),
    section('Recent INIT_START lines', inits),
    section('Runtime history', history),
    section('Runtime versions over time (Contributor Insights)', chart),
    section('Configuration', definitionList([
      ['Package type', c.PackageType],
      ['State', `${c.State}${c.StateReason ? ` — ${c.StateReason}` : ''}`],
      ['Last update', `${c.LastUpdateStatus || '—'}${c.LastUpdateStatusReason ? ` — ${c.LastUpdateStatusReason}` : ''}`],
      ['Memory', `${c.MemorySize} MB`], ['Timeout', `${c.Timeout} s`],
      ['Ephemeral storage', c.EphemeralStorage ? `${c.EphemeralStorage.Size} MB` : null],
      ['Role', c.Role], ['Code size', `${c.CodeSize} bytes`], ['Code SHA-256', c.CodeSha256],
      c.PackageType === 'Image' ? ['Image', fn.Code?.ImageUri || fn.Code?.ResolvedImageUri] : null,
      ['Layers', (c.Layers || []).map((l) => l.Arn).join(', ') || null],
      ['Last modified', c.LastModified], ['Revision', c.RevisionId],
    ])),
    section('Versions', versions ? table(null, ['Version', 'Description', 'Runtime version', 'Last modified'],
      versions.map((v) => [h('a', { href: `#/functions/${encodeURIComponent(name)}${v.Version === '$LATEST' ? '' : `?qualifier=${v.Version}`}` }, v.Version),
        v.Description || '', h('span', { class: 'mono' }, v.RuntimeVersionConfig?.RuntimeVersionArn || '—'), v.LastModified])) : h('p', { class: 'muted' }, 'Not allowed to list versions.')),
    section('Aliases', aliases ? (aliases.length ? table(null, ['Alias', 'Version', 'Weights'],
      aliases.map((a) => [a.Name, a.FunctionVersion, Object.entries(a.RoutingConfig?.AdditionalVersionWeights || {}).map(([v, w]) => `${v}: ${w}`).join(', ') || '—'])) : h('p', { class: 'muted' }, 'No aliases.')) : h('p', { class: 'muted' }, 'Not allowed to list aliases.')));
  main.dataset.ready = 'function';

  renderRuntimePanel(runtimePanel, session, fn, qualifier, alive);
  loadHistory(history, session, name, qualifier, alive);
  loadInits(inits, session, name, c.LoggingConfig?.LogGroup || `/aws/lambda/${name}`, alive);
  insightsChart(chart, session, alive).catch((e) => { clear(chart, h('p', { class: 'muted' }, describeError(e))); });
}

async function renderRuntimePanel(panel, session, fn, qualifier, alive) {
  const c = fn.Configuration;
  const name = c.FunctionName;
  const basics = definitionList([['Runtime', c.Runtime || 'container image'], ['Handler', c.Handler || '—'], ['Architecture', (c.Architectures || ['x86_64'])[0]]]);
  if (c.PackageType === 'Image') {
    clear(panel, basics, h('p', {}, 'An image function is never updated automatically: its runtime is in its image. Rebuild the image on a newer base image to patch it.'));
    return;
  }
  let config;
  try {
    config = await lambda(session).send(new GetRuntimeManagementConfigCommand({ FunctionName: name, Qualifier: q(qualifier) }));
  } catch (e) {
    clear(panel, basics, h('p', { class: 'error' }, describeError(e)));
    return;
  }
  const { catalogOf } = await import('./functions.js');
  const catalog = await catalogOf(session, session.region);
  if (!alive()) return;
  const arn = c.RuntimeVersionConfig?.RuntimeVersionArn;
  const current = arn ? catalog.byArn.get(arn) : undefined;
  const modeLabel = MODES.find((m) => m[0] === config.UpdateRuntimeOn)?.[1] || config.UpdateRuntimeOn;
  const edit = h('button', { type: 'button', id: 'edit-runtime-management' }, 'Edit runtime management configuration');
  const body = h('div', { id: 'runtime-management' },
    h('h3', {}, 'Runtime management configuration'),
    definitionList([
      ['Update runtime version', h('span', { id: 'update-mode' }, modeLabel)],
      ['Runtime version ARN', arn ? h('span', { class: 'mono wrap' }, h('span', { id: 'runtime-version-arn' }, arn), ' ', copyButton(arn)) : '—'],
      ['Runtime version', h('span', { id: 'runtime-version-name' }, current?.Name || '—')],
      config.UpdateRuntimeOn === 'Manual' ? ['Pinned to', h('span', { class: 'mono wrap' }, config.RuntimeVersionArn)] : null,
    ]),
    edit);
  edit.addEventListener('click', () => editor(panel, session, fn, qualifier, config, catalog, current,
    () => renderRuntimePanel(panel, session, fn, qualifier, alive), reload));
  clear(panel, basics, body);
}

function editor(panel, session, fn, qualifier, config, catalog, current, cancel, saved) {
  const c = fn.Configuration;
  const arch = (c.Architectures || ['x86_64'])[0];
  const offered = (catalog.versions || [])
    .filter((v) => v.Runtime === c.Runtime && v.State !== 'blocked')
    .sort((a, b) => b.Version - a.Version);
  const error = h('p', { class: 'error', role: 'alert' });
  const manual = h('fieldset', { id: 'manual-versions' }, h('legend', {}, `Runtime version (${c.Runtime}, ${arch}, ${session.region}), newest first`));
  if (offered.length) {
    for (const v of offered) {
      const arn = v.Arns[arch];
      const id = `rv-${v.Version}`;
      const diff = h('div', { class: 'diff' });
      const show = h('button', { type: 'button', class: 'small' }, current && current.Name !== v.Name ? `Changes from ${current.Name}` : 'Packages');
      show.addEventListener('click', () => showDiff(diff, session, current, v));
      manual.append(h('div', { class: 'choice' },
        h('input', { type: 'radio', name: 'runtime-version', id, value: arn, checked: config.RuntimeVersionArn === arn || (!config.RuntimeVersionArn && current?.Name === v.Name) }),
        h('label', { for: id }, h('strong', {}, v.Name),
          ` published ${when(v.PublishedAt)}, ${v.Severity} severity${v.State !== 'released' ? `, ${v.State}` : ''}${current?.Name === v.Name ? ' (current)' : ''}`),
        h('div', { class: 'mono small-text wrap' }, arn), show, diff));
    }
  } else {
    manual.append(h('label', { for: 'manual-arn' }, 'Runtime version ARN'),
      h('input', { id: 'manual-arn', name: 'manual-arn', class: 'mono', size: 60, value: config.RuntimeVersionArn || '' }));
  }
  const form = h('form', { id: 'runtime-management-form', 'aria-labelledby': 'rmc-title' },
    h('h3', { id: 'rmc-title' }, 'Edit runtime management configuration'),
    h('fieldset', {}, h('legend', {}, 'Update runtime version'),
      MODES.map(([value, label, help]) => h('div', { class: 'choice' },
        h('input', { type: 'radio', name: 'mode', id: `mode-${value}`, value, checked: config.UpdateRuntimeOn === value }),
        h('label', { for: `mode-${value}` }, h('strong', {}, label), ` — ${help}`)))),
    manual, error,
    h('div', { class: 'actions' },
      h('button', { type: 'button', onclick: cancel }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary' }, 'Save')));
  const sync = () => { manual.hidden = form.mode.value !== 'Manual'; };
  form.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const mode = form.mode.value;
    const input = { FunctionName: c.FunctionName, Qualifier: q(qualifier), UpdateRuntimeOn: mode };
    if (mode === 'Manual') {
      const chosen = offered.length ? form.querySelector('input[name="runtime-version"]:checked')?.value : form['manual-arn'].value.trim();
      if (!chosen) { error.textContent = 'Choose the runtime version to pin.'; return; }
      input.RuntimeVersionArn = chosen;
    }
    try {
      await lambda(session).send(new PutRuntimeManagementConfigCommand(input));
      showNotice(`${c.FunctionName} (${qualifier}): update mode ${mode}${input.RuntimeVersionArn ? `, pinned to ${input.RuntimeVersionArn}` : ''}.`);
      saved();
    } catch (err) {
      error.textContent = describeError(err);
    }
  });
  clear(panel, form);
  form.querySelector('input[name="mode"]:checked')?.focus();
}

async function showDiff(target, session, current, v) {
  if (target.childElementCount) return clear(target);
  try {
    if (!current || current.Name === v.Name) {
      const detail = await operator(session, 'GET', `runtime-versions/${encodeURIComponent(v.Name)}`);
      const packages = detail.BillOfMaterials || detail.Packages;
      return clear(target, Array.isArray(packages)
        ? table(null, ['Ecosystem', 'Package', 'Version'], packages.map((p) => [p.Ecosystem, p.Name, p.Version]))
        : h('p', { class: 'muted' }, `${v.Packages} packages`));
    }
    const d = await operator(session, 'GET', `runtime-versions/${encodeURIComponent(current.Name)}/diff/${encodeURIComponent(v.Name)}`);
    const rows = [
      ...d.Changed.map((x) => ['changed', x.Ecosystem, x.Name, `${x.From} → ${x.To}`]),
      ...d.Added.map((x) => ['added', x.Ecosystem, x.Name, x.Version]),
      ...d.Removed.map((x) => ['removed', x.Ecosystem, x.Name, x.Version]),
    ];
    clear(target, rows.length ? table(`${d.From} → ${d.To}`, ['Change', 'Ecosystem', 'Package', 'Version'], rows)
      : h('p', { class: 'muted' }, 'Same packages.'));
  } catch (e) {
    clear(target, h('p', { class: 'error' }, describeError(e)));
  }
}

async function loadHistory(target, session, name, qualifier, alive) {
  try {
    const r = await operator(session, 'GET', 'history', { query: { function: name, region: session.region, qualifier } });
    if (!alive()) return;
    const list = [...r.History].reverse();
    clear(target, list.length ? table(null, ['When', 'Version', 'From', 'To', 'Cause', 'Mode'],
      list.map((e) => [when(e.At), e.Qualifier, e.From || '—', e.To || '—', e.Cause, e.UpdateMode]), { id: 'runtime-history' })
      : h('p', { class: 'muted' }, 'No runtime version changes yet.'));
  } catch (e) {
    clear(target, h('p', { class: 'muted' }, describeError(e)));
  }
}

// An environment's start: INIT_START, or under the JSON log format its platform.initStart
// record, shown as the text line it stands for.
function initLine(message) {
  const text = message.trim();
  if (!text.startsWith('{')) return text;
  try {
    const { record } = JSON.parse(text);
    return `INIT_START Runtime Version: ${record.runtimeVersion}\tRuntime Version ARN: ${record.runtimeVersionArn}`;
  } catch {
    return text;
  }
}

async function loadInits(target, session, name, group, alive) {
  const { FilterLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const refresh = h('button', { type: 'button', class: 'small', id: 'refresh-inits' }, 'Refresh');
  refresh.addEventListener('click', () => loadInits(target, session, name, group, alive));
  try {
    const client = await logs(session);
    const events = [];
    let nextToken;
    for (let i = 0; i < 20; i++) {
      const r = await client.send(new FilterLogEventsCommand({ logGroupName: group, filterPattern: '?INIT_START ?"platform.initStart"', nextToken }));
      events.push(...(r.events || []));
      nextToken = r.nextToken;
      if (!nextToken) break;
    }
    if (!alive()) return;
    events.sort((a, b) => a.timestamp - b.timestamp);
    const recent = events.slice(-20).reverse();
    clear(target, refresh, recent.length
      ? h('ol', { class: 'log-lines', id: 'init-lines' }, recent.map((e) => h('li', {}, h('time', {}, when(e.timestamp)), ' ', h('code', {}, initLine(e.message)))))
      : h('p', { class: 'muted', id: 'init-lines' }, 'No environment started yet: invoke the function.'));
  } catch (e) {
    clear(target, refresh, h('p', { class: 'muted' }, e.name === 'ResourceNotFoundException' ? 'No logs yet: invoke the function.' : describeError(e)));
  }
}

function testInvoke(session, name, qualifier) {
  const payload = h('textarea', { id: 'test-payload', rows: 4, class: 'mono', 'aria-label': 'Event JSON', spellcheck: 'false' }, '{}');
  const out = h('div', { id: 'test-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'test-invoke' }, 'Invoke');
  const form = h('form', {}, h('label', { for: 'test-payload' }, `Event for ${qualifier}`), payload, h('div', { class: 'actions' }, button), out);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    clear(out, h('p', { class: 'muted' }, 'Invoking…'));
    try {
      JSON.parse(payload.value);
    } catch (err) {
      clear(out, h('p', { class: 'error' }, `The event is not JSON: ${err.message}`));
      button.disabled = false;
      return;
    }
    try {
      const r = await lambda(session).send(new InvokeCommand({ FunctionName: name, Qualifier: q(qualifier), Payload: new TextEncoder().encode(payload.value), LogType: 'Tail' }));
      const decoded = r.LogResult ? new TextDecoder().decode(Uint8Array.from(atob(r.LogResult), (ch) => ch.charCodeAt(0))) : '';
      clear(out,
        h('p', { class: r.FunctionError ? 'error' : 'ok' }, r.FunctionError ? `Failed (${r.FunctionError})` : 'Succeeded', ` — status ${r.StatusCode}, version ${r.ExecutedVersion}`),
        h('h3', {}, 'Response'), h('pre', { id: 'test-response' }, new TextDecoder().decode(r.Payload || new Uint8Array())),
        h('h3', {}, 'Log tail (last 4 KB)'), h('pre', { id: 'test-log' }, decoded));
    } catch (err) {
      clear(out, h('p', { class: 'error' }, describeError(err)));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

export { showError };
