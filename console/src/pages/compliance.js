// Compliance: the shared-responsibility report (docs/compliance.md), filterable, with who must
// act and why, most urgent first.
import { operator } from '../api.js';
import { showError } from '../main.js';
import { badge, clear, h, table, when } from '../dom.js';

const ACTOR = { nobody: ['nobody', 'ok'], operator: ['operator', 'warn'], 'function owner': ['function owner', 'danger'] };

export async function compliancePage(main, session, _params, alive) {
  const status = h('p', { class: 'muted', role: 'status' }, 'Loading the report…');
  const scope = h('select', { id: 'cr-scope', 'aria-label': 'Regions' }, h('option', { value: session.region }, `region ${session.region}`), h('option', { value: '' }, 'every region'));
  const who = h('select', { id: 'cr-who', 'aria-label': 'Who must act' }, ['', 'function owner', 'operator', 'nobody'].map((v) => h('option', { value: v }, v ? `must act: ${v}` : 'anyone')));
  const search = h('input', { id: 'cr-search', type: 'search', placeholder: 'Function, runtime, reason', 'aria-label': 'Search the report' });
  const csv = h('button', { type: 'button' }, 'Download CSV');
  const out = h('div');
  clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Compliance')),
    h('p', { class: 'muted' }, 'Who must act on each function version, per the shared responsibility model: nobody (Auto, up to date), the operator (a rollout of theirs holds it back), or the function owner (pins, function-update mode, images, runtimes ending their life, dependencies).'),
    h('div', { class: 'toolbar' }, scope, who, search, csv), status, out);
  let report;
  const load = async () => {
    report = await operator(session, 'GET', 'compliance/report', { query: { region: scope.value, format: 'json' } });
    if (alive()) render();
  };
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const rows = report.FunctionVersions.filter((r) => (!who.value || r.MustAct === who.value) &&
      (!q || JSON.stringify([r.FunctionName, r.Runtime, r.RuntimeVersion, r.Reasons]).toLowerCase().includes(q)));
    status.textContent = `${rows.length} of ${report.FunctionVersions.length} function versions, generated ${when(report.GeneratedAt)}.`;
    clear(out, table(null, ['Must act', 'Function version', 'Region', 'Runtime', 'Mode', 'Runtime version', 'Behind', 'Why', 'Last ran'],
      rows.map((r) => {
        const [label, kind] = ACTOR[r.MustAct] || [r.MustAct, 'info'];
        return [badge(label, kind),
          h('a', { href: `#/functions/${encodeURIComponent(r.FunctionName)}${r.Version === '$LATEST' ? '' : `?qualifier=${r.Version}`}` }, `${r.FunctionName}:${r.Version}`),
          r.Region, `${r.Runtime || '—'}${r.ReleaseState && r.ReleaseState !== 'GA' ? ` (${r.ReleaseState.toLowerCase()})` : ''}`,
          r.UpdateMode, r.RuntimeVersion || '—',
          r.VersionsBehind ? `${r.VersionsBehind} (${r.DaysBehind} days)` : '—',
          r.Reasons.length ? h('ul', { class: 'reasons' }, r.Reasons.map((x) => h('li', {}, x.Reason))) : '—',
          r.LastInvoked ? `${when(r.LastInvoked)} (${r.Invocations30Days} in 30 days)` : 'never'];
      }), { id: 'compliance' }));
    main.dataset.ready = 'compliance';
  };
  csv.addEventListener('click', async () => {
    try {
      const text = await operator(session, 'GET', 'compliance/report', { query: { region: scope.value, format: 'csv' }, raw: true });
      const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: `lambkin-compliance-${scope.value || 'all'}.csv` });
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      showError(e, 'Download CSV');
    }
  });
  scope.addEventListener('change', load);
  who.addEventListener('change', render);
  search.addEventListener('input', render);
  await load();
}
