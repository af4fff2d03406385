// Model health of one version: PSI per feature against the 0.1 / 0.25 lines, calibration, and the
// challenger beside the champion, from GET /models/{version}/monitoring (the last 7 days).
import { api, ApiError, describe } from './api.js';
import { h } from './dom.js';
import { fmtNum, fmtPct } from './format.js';

const STATUS_CLASS = { stable: 'ok', moderate: 'warn', shifted: 'bad' };

function figure(item, digits = 3, pct = false) {
  if (!item) return '—';
  if (item.value === null || item.value === undefined) return `— (${item.note || 'not available'})`;
  return `${pct ? fmtPct(item.value) : fmtNum(item.value, digits)} (n = ${item.count})`;
}

function status(value) {
  return value ? h('span', { class: `badge psi-${STATUS_CLASS[value] || 'ok'}`, text: value }) : '';
}

function psiBars(body, features) {
  const shown = features.filter((f) => f.value !== null).reverse();
  const box = h('div', { class: `chart bars ${shown.length > 10 ? 'tall' : 'medium'}`, role: 'img',
    'aria-label': `PSI of ${shown.length} features against the training baseline` });
  body.append(box);
  const instance = window.echarts.init(box, null, { renderer: 'canvas' });
  const line = (x, name, color) => ({ xAxis: x, name, lineStyle: { color, type: 'dashed' }, label: { formatter: name } });
  instance.setOption({
    animation: false,
    aria: { enabled: true },
    grid: { left: 8, right: 48, top: 24, bottom: 24, containLabel: true },
    xAxis: { type: 'value', name: 'PSI', nameLocation: 'middle', nameGap: 24, max: (v) => Math.max(0.3, v.max * 1.1) },
    yAxis: { type: 'category', data: shown.map((f) => f.feature), axisLabel: { width: 220, overflow: 'truncate' } },
    tooltip: { renderMode: 'richText', confine: true, trigger: 'item', formatter: (p) => `${shown[p.dataIndex].feature}: PSI ${fmtNum(p.value, 4)} (${shown[p.dataIndex].status})` },
    series: [{
      type: 'bar',
      name: 'PSI',
      data: shown.map((f) => ({ value: f.value, itemStyle: { color: f.status === 'shifted' ? '#c23b4b' : f.status === 'moderate' ? '#d9822b' : '#3a9d5d' } })),
      label: { show: true, position: 'right', formatter: (p) => fmtNum(p.value, 3) },
      markLine: { silent: true, symbol: 'none', data: [line(0.1, 'moderate 0.1', '#d9822b'), line(0.25, 'shifted 0.25', '#c23b4b')] },
    }],
  });
  return instance;
}

function calibrationPlot(body, bands) {
  const box = h('div', { class: 'chart roc', role: 'img', 'aria-label': `Calibration: predicted against observed bad rate in ${bands.length} score bands` });
  body.append(box);
  const instance = window.echarts.init(box, null, { renderer: 'canvas' });
  instance.setOption({
    animation: false,
    aria: { enabled: true },
    grid: { left: 44, right: 24, top: 16, bottom: 36, containLabel: true },
    xAxis: { type: 'value', min: 0, max: 1, name: 'Predicted bad rate', nameLocation: 'middle', nameGap: 28 },
    yAxis: { type: 'value', min: 0, max: 1, name: 'Observed bad rate', nameLocation: 'middle', nameGap: 32 },
    tooltip: { renderMode: 'richText', confine: true, trigger: 'item', formatter: (p) => (p.seriesIndex === 0 ? `band ${bands[p.dataIndex].band}: ${bands[p.dataIndex].count} reports\npredicted ${fmtPct(p.value[0])} · observed ${fmtPct(p.value[1])}` : 'perfect calibration') },
    series: [
      { type: 'line', name: 'Score bands', symbolSize: 8, data: bands.map((b) => [b.predictedBadRate, b.observedBadRate]) },
      { type: 'line', name: 'Perfect', silent: true, showSymbol: false, lineStyle: { type: 'dashed', color: '#6b7a8f' }, data: [[0, 0], [1, 1]] },
    ],
  });
  return instance;
}

function comparisonTable(comparisons) {
  const rows = [];
  for (const c of comparisons) {
    rows.push(h('tr', {}, h('th', { scope: 'row', text: `v${c.version}` }),
      h('td', { text: String(c.count) }), h('td', { text: figure(c.agreement, 3, true) }), h('td', { text: figure(c.scoreCorrelation) }),
      h('td', { text: `${figure(c.champion.auc)} / ${figure(c.challenger.auc)}` }),
      h('td', { text: `${figure(c.champion.ks)} / ${figure(c.challenger.ks)}` })));
  }
  return h('div', { class: 'table-wrap' }, h('table', { class: 'list challenger' },
    h('caption', { text: 'Challenger against champion, on the same reports' }),
    h('thead', {}, h('tr', {}, ['Challenger', 'Scored by both', 'Agreement', 'Score correlation', 'AUC champion / challenger', 'KS champion / challenger'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows)));
}

// Draws into ``box``; returns the charts it made. A version without a baseline says so.
export async function drawHealth(box, version) {
  let health;
  try {
    health = await api(`/models/${encodeURIComponent(version)}/monitoring`);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 409 || error.status === 404)) {
      box.append(h('p', { class: 'empty-state', text: describe(error) }));
      return [];
    }
    throw error;
  }
  const perf = health.performance;
  box.dataset.version = health.version;
  box.append(h('dl', { class: 'facts health-facts' }, [
    ['Reports scored (7 days)', String(health.count)],
    ['Score PSI', h('span', {}, figure(health.scorePsi), ' ', status(health.scorePsi.status))],
    ['Reports with an outcome', String(perf.labelled)],
    ['AUC', figure(perf.auc)], ['Gini', figure(perf.gini)], ['KS', figure(perf.ks)],
    ['Bad rate', figure(perf.badRate, 3, true)], ['Brier score', figure(perf.calibration.brier, 4)],
    ['Calibration error', figure(perf.calibration.error, 4)],
    ['Challenger', health.challenger ? `v${health.challenger.version}` : 'none'],
  ].map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])));
  const charts = [];
  const withValue = health.features.filter((f) => f.value !== null);
  if (withValue.length) {
    const section = h('section', { class: 'psi-section', 'aria-labelledby': 'psi-title' }, h('h3', { id: 'psi-title', text: 'Feature stability (PSI against training)' }));
    box.append(section);
    charts.push(psiBars(section, health.features));
  }
  if (perf.calibration.bands.length) {
    const section = h('section', { class: 'calibration-section', 'aria-labelledby': 'calibration-title' }, h('h3', { id: 'calibration-title', text: 'Calibration by score band' }));
    box.append(section);
    charts.push(calibrationPlot(section, perf.calibration.bands));
  }
  if (health.comparisons.length) box.append(comparisonTable(health.comparisons));
  box.dataset.state = 'drawn';
  return charts;
}
