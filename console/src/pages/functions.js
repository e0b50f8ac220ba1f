// Functions: every function of the region with its runtime, update mode and runtime version,
// badged when that version is behind the newest released one or its runtime is deprecated.
// Search and sort work on the whole list; 100 rows show at a time.
import { GetRuntimeManagementConfigCommand, ListFunctionsCommand } from '@aws-sdk/client-lambda';
import { all, isDenied, lambda, operator } from '../api.js';
import { badge, clear, h, when } from '../dom.js';
import { showError } from '../main.js';

const PAGE = 100;

// What Lambkin's operator API adds when the caller may read it; each part is optional.
export async function catalogOf(session, region) {
  const optional = (p) => p.then((v) => v, (e) => (isDenied(e) ? null : Promise.reject(e)));
  const [versions, runtimes] = await Promise.all([
    optional(operator(session, 'GET', 'runtime-versions', { query: { region } })),
    optional(operator(session, 'GET', 'runtimes')),
  ]);
  const byArn = new Map();
  const newest = new Map();  // runtime → newest released version
  for (const v of versions?.RuntimeVersions || []) {
    for (const arn of Object.values(v.Arns || {})) byArn.set(arn, v);
    if (v.State === 'released' && (!newest.has(v.Runtime) || newest.get(v.Runtime).Version < v.Version)) {
      newest.set(v.Runtime, v);
    }
  }
  const lifecycles = new Map((runtimes?.Runtimes || []).map((r) => [r.Runtime, r.ReleaseLifecycle]));
  return { versions: versions?.RuntimeVersions || null, byArn, newest, lifecycles };
}

// Behind and lifecycle badges for a function version.
export function badgesFor({ behind, newestName, releaseState, next, mode, packageType }) {
  const out = [];
  if (packageType === 'Image') out.push(badge('image', 'info', 'Container image: never patched automatically; rebuild it on a newer base'));
  if (behind > 0) out.push(badge(`${behind} behind`, 'warn', newestName ? `The newest released version is ${newestName}` : undefined));
  if (releaseState && releaseState !== 'GA') out.push(badge(releaseState.toLowerCase(), 'danger', next ? `${next.Event} on ${next.Date}` : undefined));
  else if (next) out.push(badge(`${next.Event.toLowerCase()} ${next.Date}`, 'warn'));
  if (mode === 'Manual') out.push(badge('pinned', 'warn', 'Manual: a temporary rollback'));
  return out;
}

export async function functionsPage(main, session, _params, alive) {
  const region = session.region;
  const status = h('p', { class: 'muted', role: 'status' }, `Loading functions in ${region}…`);
  const search = h('input', { id: 'fn-search', type: 'search', placeholder: 'Name, runtime, version or mode', 'aria-label': 'Search functions', autocomplete: 'off' });
  const sort = h('select', { id: 'fn-sort', 'aria-label': 'Sort by' },
    [['name', 'Name'], ['runtime', 'Runtime'], ['mode', 'Update mode'], ['version', 'Runtime version'], ['behind', 'Most behind first'], ['modified', 'Last modified']]
      .map(([v, t]) => h('option', { value: v }, t)));
  const tbody = h('tbody');
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const table = h('div', { class: 'table-wrap' }, h('table', { id: 'functions' },
    h('caption', { class: 'visually-hidden' }, `Functions in ${region}`),
    h('thead', {}, h('tr', {}, ['Function', 'Runtime', 'Update mode', 'Runtime version', 'Status', 'Last modified'].map((x) => h('th', { scope: 'col' }, x)))),
    tbody));
  clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Functions'), h('span', { class: 'muted' }, region)),
    h('div', { class: 'toolbar' }, search, h('label', { for: 'fn-sort' }, 'Sort'), sort), status, table, pager);

  const optionalReport = operator(session, 'GET', 'compliance/report', { query: { region } })
    .catch((e) => (isDenied(e) ? null : Promise.reject(e)));
  const [functions, catalog, report] = await Promise.all([
    all(async (Marker) => {
      const r = await lambda(session).send(new ListFunctionsCommand({ Marker, MaxItems: 50 }));
      return [r.Functions, r.NextMarker];
    }),
    catalogOf(session, region),
    optionalReport,
  ]);
  if (!alive()) return;
  const rows = new Map();
  for (const r of report?.FunctionVersions || []) {
    if (r.Version === '$LATEST' && r.Region === region) rows.set(r.FunctionName, r);
  }
  const items = functions.map((f) => {
    const r = rows.get(f.FunctionName);
    const arn = f.RuntimeVersionConfig?.RuntimeVersionArn;
    const v = arn ? catalog.byArn.get(arn) : undefined;
    const newest = f.Runtime ? catalog.newest.get(f.Runtime) : undefined;
    const lifecycle = f.Runtime ? catalog.lifecycles.get(f.Runtime) : undefined;
    return {
      name: f.FunctionName,
      runtime: f.Runtime || (f.PackageType === 'Image' ? 'container image' : ''),
      architecture: (f.Architectures || ['x86_64'])[0],
      packageType: f.PackageType || 'Zip',
      mode: r?.UpdateMode,
      version: r?.RuntimeVersion || v?.Name || (arn ? `${arn.slice(-12)}…` : ''),
      behind: r ? r.VersionsBehind : v && newest ? Math.max(0, catalog.versions.filter((x) => x.Runtime === v.Runtime && x.State === 'released' && x.Version > v.Version).length) : 0,
      newestName: r?.NewestRuntimeVersion || newest?.Name,
      releaseState: r?.ReleaseState || lifecycle?.ReleaseState,
      next: r?.NextLifecycleDate || lifecycle?.NextLifecycleDate || null,
      modified: f.LastModified,
    };
  });
  const notes = [];
  if (!report) notes.push('Update modes are read per function (the compliance report, lambkin:GetComplianceReport, gives them at once).');
  if (!catalog.versions) notes.push('Runtime version names need lambkin:ListRuntimeVersions.');
  status.textContent = `${items.length} function${items.length === 1 ? '' : 's'} in ${region}. ${notes.join(' ')}`;

  let page = 0;
  const modeCache = new Map();
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const key = sort.value;
    const shown = items.filter((i) => !q || [i.name, i.runtime, i.version, i.mode || ''].some((x) => x.toLowerCase().includes(q)));
    const cmp = {
      name: (a, b) => a.name.localeCompare(b.name),
      runtime: (a, b) => a.runtime.localeCompare(b.runtime) || a.name.localeCompare(b.name),
      mode: (a, b) => (a.mode || '').localeCompare(b.mode || '') || a.name.localeCompare(b.name),
      version: (a, b) => a.version.localeCompare(b.version, undefined, { numeric: true }) || a.name.localeCompare(b.name),
      behind: (a, b) => b.behind - a.behind || a.name.localeCompare(b.name),
      modified: (a, b) => (b.modified || '').localeCompare(a.modified || ''),
    }[key];
    shown.sort(cmp);
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    const slice = shown.slice(page * PAGE, page * PAGE + PAGE);
    clear(tbody, slice.map((i) => {
      const mode = h('td', { class: 'mode' }, i.mode || modeCache.get(i.name) || '…');
      const tr = h('tr', { 'data-function': i.name },
        h('th', { scope: 'row' }, h('a', { href: `#/functions/${encodeURIComponent(i.name)}` }, i.name)),
        h('td', {}, i.runtime, i.packageType === 'Zip' ? h('span', { class: 'muted' }, ` ${i.architecture}`) : null),
        mode,
        h('td', { class: 'mono' }, i.version || '—'),
        h('td', { class: 'badges' }, badgesFor({ ...i, mode: i.mode || modeCache.get(i.name) })),
        h('td', {}, when(i.modified)));
      if (!i.mode && !modeCache.has(i.name) && i.packageType === 'Zip') fetchMode(i, mode);
      else if (!i.mode && i.packageType === 'Image') mode.textContent = '—';
      return tr;
    }));
    if (!slice.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, q ? 'No function matches.' : 'No functions yet.')));
    clear(pager, pages > 1 ? [
      h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; render(); } }, 'Previous'),
      h('span', {}, ` Page ${page + 1} of ${pages} `),
      h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; render(); } }, 'Next'),
    ] : []);
  };
  // Without the report, each visible row asks for its function's configuration, a few at a time.
  let inFlight = 0;
  const queue = [];
  function fetchMode(item, cell) {
    queue.push([item, cell]);
    pump();
  }
  function pump() {
    while (inFlight < 4 && queue.length) {
      const [item, cell] = queue.shift();
      inFlight++;
      lambda(session).send(new GetRuntimeManagementConfigCommand({ FunctionName: item.name }))
        .then((c) => { modeCache.set(item.name, c.UpdateRuntimeOn); cell.textContent = c.UpdateRuntimeOn; })
        .catch((e) => { modeCache.set(item.name, '?'); cell.textContent = '?'; cell.title = e.message; })
        .finally(() => { inFlight--; if (alive()) pump(); });
    }
  }
  search.addEventListener('input', () => { page = 0; render(); });
  sort.addEventListener('change', () => { page = 0; render(); });
  render();
  main.dataset.ready = 'functions';
}

export { showError };
