// Rollouts (operators): per runtime version, its regions by wave with phase, progress, bake and
// health-gate state, holds and predicted breaks, and the operator actions behind a confirmation.
// Refreshes every 5 seconds; with a simulated clock, the clock can be advanced from here.
import { describeError, operator } from '../api.js';
import { badge, clear, confirmDialog, h, section, table, when } from '../dom.js';
import { showError, showNotice } from '../main.js';

const ACTIONS = [
  ['pause', 'Pause', 'Stops phase 2 everywhere until resumed.', false],
  ['resume', 'Resume', 'Resumes phase 2 (in every region, or the region named).', true],
  ['advance', 'Advance', 'Moves to the next step now, skipping the rest of the bake (in the region named, or the next one due).', true],
  ['fast-track', 'Fast-track', 'Migrates every remaining Auto function version in every region now, without waves or bake.', false],
  ['abort', 'Abort', 'Ends the rollout: no more function versions move to this runtime version.', false],
];

export async function rolloutsPage(main, session, _params, alive) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const clock = h('div', { class: 'clock' });
  clear(main, h('div', { class: 'page-head' }, h('h1', {}, 'Rollouts'), clock), body);
  let timer;
  const refresh = async () => {
    clearTimeout(timer);
    if (!alive()) return;
    try {
      const [status, now] = await Promise.all([operator(session, 'GET', 'rollouts'), operator(session, 'GET', 'clock').catch(() => null)]);
      if (!alive()) return;
      renderClock(clock, session, now, refresh);
      render(body, session, status, refresh);
      main.dataset.ready = 'rollouts';
    } catch (e) {
      if (!alive()) return;
      clear(body, h('p', { class: 'error', role: 'alert' }, describeError(e)));
      return;
    }
    timer = setTimeout(refresh, 5000);
  };
  await refresh();
}

function renderClock(target, session, now, refresh) {
  if (!now) return clear(target);
  const parts = [h('span', { id: 'server-clock' }, `Server clock ${when(now.NowMillis)}${now.Simulated ? ' (simulated)' : ''}`)];
  if (now.Simulated) {
    const input = h('input', { id: 'advance-by', value: '24h', size: 6, 'aria-label': 'Advance the clock by' });
    const form = h('form', { class: 'inline' }, input, h('button', { type: 'submit', class: 'small', id: 'advance-clock' }, 'Advance clock'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await operator(session, 'POST', 'clock/advance', { body: { Duration: input.value.trim() } });
        refresh();
      } catch (err) {
        showError(err, 'Advance clock');
      }
    });
    parts.push(form);
  }
  clear(target, parts);
}

function render(body, session, status, refresh) {
  const rollouts = status.Rollouts || [];
  const out = [];
  if (!rollouts.length) out.push(h('p', { class: 'muted' }, 'No rollouts: publishing a runtime version starts one.'));
  for (const r of [...rollouts].reverse()) {
    const regions = [...r.Regions].sort((a, b) => a.Wave - b.Wave || a.Region.localeCompare(b.Region));
    const waves = new Map();
    for (const g of regions) {
      if (!waves.has(g.Wave)) waves.set(g.Wave, []);
      waves.get(g.Wave).push(g);
    }
    const regionSelect = h('select', { 'aria-label': `Region for ${r.RuntimeVersion} actions` },
      h('option', { value: '' }, 'all regions / next due'), regions.map((g) => h('option', { value: g.Region }, g.Region)));
    const active = r.State !== 'aborted' && r.State !== 'complete' && r.State !== 'completed';
    const actions = h('div', { class: 'actions wrap' }, regionSelect, ACTIONS.map(([verb, label, help, regional]) => {
      const b = h('button', { type: 'button', disabled: !active, 'data-action': verb }, label);
      b.addEventListener('click', async () => {
        const region = regional ? regionSelect.value : '';
        const ok = await confirmDialog(`${label} ${r.RuntimeVersion}${region ? ` in ${region}` : ''}?`, help, label);
        if (!ok) return;
        try {
          await operator(session, 'POST', `rollouts/${encodeURIComponent(r.RuntimeVersion)}/${verb}`, { body: region ? { Region: region } : {} });
          showNotice(`${label}: ${r.RuntimeVersion}${region ? ` in ${region}` : ''}.`);
          refresh();
        } catch (e) {
          showError(e, `${label} ${r.RuntimeVersion}`);
        }
      });
      return b;
    }));
    const map = h('ol', { class: 'waves', 'aria-label': `Waves of ${r.RuntimeVersion}` }, [...waves].map(([wave, list]) =>
      h('li', {}, h('h3', {}, `Wave ${wave}`), h('ul', { class: 'regions' }, list.map((g) => regionCard(g))))));
    out.push(section(`${r.RuntimeVersion}`,
      h('p', { class: 'rollout-summary', 'data-rollout': r.RuntimeVersion },
        badge(r.State, r.State === 'paused' ? 'warn' : r.State === 'aborted' ? 'danger' : 'info'), ` ${r.Runtime}, ${r.Severity} severity, ${r.Pacing} pacing, started ${when(r.CreatedAt)}${r.PausedAt ? `, paused ${when(r.PausedAt)}` : ''}; version ${r.VersionState}`),
      actions, map,
      r.PredictedBreaks?.length ? h('div', {}, h('h3', {}, 'Predicted to break in phase 2'),
        table(null, ['Function version', 'Region', 'Reason', 'Held'], r.PredictedBreaks.map((p) => [`${p.FunctionName}:${p.Version}`, p.Region, p.Reason, p.Held ? 'held out of phase 2' : 'no']))) : null,
      r.Events?.length ? h('details', {}, h('summary', {}, `History (${r.Events.length} events)`),
        h('ol', { class: 'log-lines' }, [...r.Events].reverse().map((e) => h('li', {}, h('time', {}, when(e.At)), ` ${e.Region ? `[${e.Region}] ` : ''}${e.Text}`)))) : null));
  }
  if (status.StaleImages?.length) {
    out.push(section('Image functions on older bases (never patched automatically)',
      table(null, ['Function version', 'Region', 'Base', 'Newest', 'Action'], status.StaleImages.map((s) => [`${s.FunctionName}:${s.Version}`, s.Region, s.BaseRuntimeVersion, s.NewestRuntimeVersion, s.Action]))));
  }
  clear(body, out);
}

function regionCard(g) {
  const total = Math.max(g.Candidates, g.Migrated + g.Remaining, 1);
  const done = g.Migrated;
  const held = g.Held ? badge(`held: ${g.Held}`, 'danger') : null;
  return h('li', { class: 'region', 'data-region': g.Region },
    h('h4', {}, g.Region, g.RuntimeManagementControls ? '' : h('span', { class: 'muted small-text' }, ' (no controls)')),
    h('p', {}, h('strong', { class: 'phase' }, g.Phase), g.Batches ? ` · batch ${g.Batch}/${g.Batches}` : ''),
    h('label', { class: 'small-text' }, `${done} of ${total} migrated`, h('progress', { max: total, value: done })),
    g.Reverted ? h('p', { class: 'small-text' }, `${g.Reverted} reverted by the health gate`) : null,
    g.NextStep ? h('p', { class: 'small-text' }, `next: ${g.NextStep}${g.NextStepAt ? ` at ${when(g.NextStepAt)}` : ''}`) : null,
    g.BakeExtensions ? h('p', { class: 'small-text' }, `bake extended ${g.BakeExtensions}×`) : null,
    held, g.Note ? h('p', { class: 'small-text muted' }, g.Note) : null);
}

export { showError };
