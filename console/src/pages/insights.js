// The Contributor Insights transition chart: one line per contributor (for the runtime-version
// rule, per runtime version) over the last hours of the server's clock, drawn as SVG with a
// marker shape and dash pattern per line so it reads without colour.
import { DescribeInsightRulesCommand, GetInsightRuleReportCommand, PutInsightRuleCommand } from '@aws-sdk/client-cloudwatch';
import { cloudwatch, describeError, operator } from '../api.js';
import { clear, h, svg, when } from '../dom.js';

const RULE = {
  Schema: { Name: 'CloudWatchLogRule', Version: 1 },
  AggregateOn: 'Count',
  Contribution: { Filters: [{ Match: 'eventType', In: ['INIT_START'] }], Keys: ['runtimeVersion', 'runtimeVersionArn'] },
  LogFormat: 'CLF',
  LogGroupNames: ['/aws/lambda/*'],
  Fields: { 1: 'eventType', 4: 'runtimeVersion', 8: 'runtimeVersionArn' },
};
const DASHES = ['', '6 3', '2 3', '8 3 2 3', '1 2', '10 4'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'cross', 'bar'];

async function serverNow(session) {
  try {
    return (await operator(session, 'GET', 'clock')).NowMillis;
  } catch {
    return Date.now();
  }
}

export async function insightsChart(target, session, alive, hours = 6) {
  const cw = await cloudwatch(session);
  const rules = (await cw.send(new DescribeInsightRulesCommand({}))).InsightRules || [];
  if (!alive()) return;
  if (!rules.length) {
    const create = h('button', { type: 'button' }, 'Create the runtime-version rule');
    create.addEventListener('click', async () => {
      try {
        await cw.send(new PutInsightRuleCommand({ RuleName: 'RuntimeVersions', RuleDefinition: JSON.stringify(RULE), RuleState: 'ENABLED' }));
        insightsChart(target, session, alive, hours);
      } catch (e) {
        target.append(h('p', { class: 'error' }, describeError(e)));
      }
    });
    return clear(target, h('p', { class: 'muted' }, 'No Contributor Insights rule in this region. The runtime-version rule counts INIT_START lines by runtime version, so an update shows as one line handing over to the next.'), create);
  }
  const preferred = rules.find((r) => /runtimeVersion/.test(r.Definition || '')) || rules[0];
  const select = h('select', { 'aria-label': 'Insight rule', id: 'insight-rule' }, rules.map((r) => h('option', { value: r.Name, selected: r === preferred }, r.Name)));
  const span = h('select', { 'aria-label': 'Time range' }, [[1, 'last hour'], [6, 'last 6 hours'], [24, 'last day'], [24 * 7, 'last week'], [24 * 30, 'last 30 days']]
    .map(([v, t]) => h('option', { value: v, selected: v === hours }, t)));
  const area = h('div', { class: 'chart' });
  const draw = async () => {
    const end = await serverNow(session);
    const range = Number(span.value) * 3600e3;
    const period = Math.max(60, Math.ceil(range / 1000 / 60 / 60) * 60);
    try {
      const r = await cw.send(new GetInsightRuleReportCommand({
        RuleName: select.value, StartTime: new Date(end - range), EndTime: new Date(end), Period: period, MaxContributorCount: 6,
      }));
      if (!alive()) return;
      clear(area, render(r, end - range, end, period));
    } catch (e) {
      clear(area, h('p', { class: 'error' }, describeError(e)));
    }
  };
  select.addEventListener('change', draw);
  span.addEventListener('change', draw);
  clear(target, h('div', { class: 'toolbar' }, select, span, h('button', { type: 'button', class: 'small', onclick: draw }, 'Refresh')), area);
  await draw();
}

function render(report, start, end, period) {
  const contributors = report.Contributors || [];
  if (!contributors.length) return h('p', { class: 'muted' }, 'No contributions in this range.');
  const W = 640, H = 220, L = 36, B = 24, T = 8, R = 8;
  const buckets = Math.max(1, Math.round((end - start) / (period * 1000)));
  const series = contributors.map((c) => {
    const values = new Array(buckets).fill(0);
    for (const p of c.Datapoints || []) {
      const i = Math.floor((new Date(p.Timestamp).getTime() - start) / (period * 1000));
      if (i >= 0 && i < buckets) values[i] += p.ApproximateValue || 0;
    }
    return { name: (c.Keys || [])[0] || '?', keys: c.Keys || [], total: c.ApproximateAggregateValue, values };
  });
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i) => L + ((W - L - R) * (i + 0.5)) / buckets;
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `INIT_START count per ${period / 60} minutes by ${series.map((s) => s.name).join(', ')}`, class: 'plot' },
    svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
    svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
    svg('text', { x: L - 4, y: T + 8, 'text-anchor': 'end', class: 'tick' }, String(max)),
    svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end', class: 'tick' }, '0'),
    svg('text', { x: L, y: H - 6, class: 'tick' }, when(start)),
    svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end', class: 'tick' }, when(end)),
    series.map((s, k) => svg('g', { class: `series s${k % 6}` },
      svg('polyline', { points: s.values.map((v, i) => `${x(i)},${y(v)}`).join(' '), fill: 'none', 'stroke-dasharray': DASHES[k % 6] || undefined }),
      s.values.map((v, i) => (v > 0 ? marker(MARKERS[k % 6], x(i), y(v)) : null)))));
  const legend = h('ul', { class: 'legend' }, series.map((s, k) => h('li', {},
    svg('svg', { viewBox: '0 0 24 12', width: 24, height: 12, 'aria-hidden': 'true', class: `series s${k % 6}` },
      svg('line', { x1: 0, y1: 6, x2: 24, y2: 6, 'stroke-dasharray': DASHES[k % 6] || undefined }), marker(MARKERS[k % 6], 12, 6)),
    ` ${s.name} — ${s.total}`, s.keys[1] ? h('span', { class: 'mono muted small-text' }, ` ${s.keys[1]}`) : null)));
  return h('figure', {}, chart, h('figcaption', {}, legend));
}

function marker(shape, cx, cy) {
  const r = 3.5;
  switch (shape) {
    case 'square': return svg('rect', { x: cx - r, y: cy - r, width: 2 * r, height: 2 * r });
    case 'triangle': return svg('polygon', { points: `${cx},${cy - r} ${cx + r},${cy + r} ${cx - r},${cy + r}` });
    case 'diamond': return svg('polygon', { points: `${cx},${cy - r} ${cx + r},${cy} ${cx},${cy + r} ${cx - r},${cy}` });
    case 'cross': return svg('path', { d: `M${cx - r} ${cy - r}L${cx + r} ${cy + r}M${cx - r} ${cy + r}L${cx + r} ${cy - r}`, class: 'stroke' });
    case 'bar': return svg('rect', { x: cx - 1, y: cy - r, width: 2, height: 2 * r });
    default: return svg('circle', { cx, cy, r });
  }
}
