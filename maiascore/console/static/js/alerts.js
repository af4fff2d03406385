// Alerts: what is firing now, what fired lately, and the rules that watch the dashboards' metrics.
import { api, can } from './api.js';
import { clear, h } from './dom.js';
import { fmtNum, fmtTime } from './format.js';

export const VIEW_ALERTS = 'View Alerts';

function valueText(extension, value) {
  if (value === null || value === undefined) return 'no data';
  return `${fmtNum(value)}${extension.unit === '%' ? '%' : ''}`;
}

function alertRow(alert) {
  const m = alert.maiascore || {};
  const active = alert.alertState === 'trigger';
  return h('tr', { dataset: { alertId: alert.id, state: alert.alertState } },
    h('td', {}, h('span', { class: `severity severity-${alert.alertSeverity}`, text: alert.alertSeverity })),
    h('td', {}, h('span', { class: `status ${active ? 'status-failed' : 'status-processed'}`, text: active ? 'Active' : 'Cleared' })),
    h('td', { text: m.ruleName }),
    h('td', {}, h('code', { text: m.expression })),
    h('td', { text: valueText(m, active ? m.lastValue : m.endValue) }),
    h('td', { text: fmtTime(alert.startDate) }),
    h('td', { text: alert.endDate ? fmtTime(alert.endDate) : '—' }));
}

function alertTable(caption, alerts, empty) {
  if (!alerts.length) return h('p', { class: 'empty-state', text: empty });
  return h('table', { class: 'data' },
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, ['Severity', 'State', 'Rule', 'Condition', 'Value', 'Started', 'Cleared'].map((t) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, alerts.map(alertRow)));
}

function ruleRow(rule) {
  const m = rule.maiascore || {};
  const where = m.dashboardId ? h('a', { href: `#/dashboards/${encodeURIComponent(m.dashboardId)}`, text: `Dashboard ${m.dashboardId}` }) : '—';
  return h('tr', { dataset: { ruleId: rule.ruleId } },
    h('td', { text: rule.ruleName }),
    h('td', {}, h('code', { text: rule.expression })),
    h('td', { text: `${m.dataSource} · ${m.metric}` }),
    h('td', { text: `${rule.roundsViolatingRequired} of ${rule.roundsViolatingOutOf} × ${m.windowSeconds} s` }),
    h('td', { text: valueText(m, m.lastValue) }),
    h('td', {}, m.activeAlertId ? h('span', { class: 'status status-failed', text: 'Alerting' }) : h('span', { class: 'status status-processed', text: 'OK' })),
    h('td', {}, where));
}

export async function list(main) {
  main.append(h('div', { class: 'page-head' }, h('div', {}, h('h1', { text: 'Alerts' }),
    h('p', { class: 'lead', text: 'Alert rules watch dashboard metrics; an alert starts when its rule\'s condition holds and clears when it stops.' }))));
  if (!can(VIEW_ALERTS)) {
    main.append(h('p', { class: 'empty-state', text: 'Your role cannot view alerts in this account group.' }));
    return null;
  }
  const box = h('div', { class: 'alerts-page' });
  main.append(box);
  const load = async () => {
    const [active, recent, rules] = await Promise.all([
      api('/v7/alerts', { query: { state: 'trigger' } }),
      api('/v7/alerts', { query: { window: '7d', state: 'clear', max: 50 } }),
      api('/v7/alerts/rules')]);
    clear(box).append(
      h('section', { 'aria-labelledby': 'active-title' }, h('h2', { id: 'active-title', text: `Active alerts (${active.alerts.length})` }),
        alertTable('Alerts firing now', active.alerts, 'No alert is active.')),
      h('section', { 'aria-labelledby': 'recent-title' }, h('h2', { id: 'recent-title', text: 'Cleared in the last 7 days' }),
        alertTable('Recently cleared alerts', recent.alerts, 'No alert cleared in the last 7 days.')),
      h('section', { 'aria-labelledby': 'rules-title' }, h('h2', { id: 'rules-title', text: `Alert rules (${rules.alertRules.length})` }),
        rules.alertRules.length ? h('table', { class: 'data' }, h('caption', { text: 'Alert rules of this account group' }),
          h('thead', {}, h('tr', {}, ['Rule', 'Condition', 'Metric', 'Evaluation', 'Last value', 'State', 'Dashboard'].map((t) => h('th', { scope: 'col', text: t })))),
          h('tbody', {}, rules.alertRules.map(ruleRow)))
          : h('p', { class: 'empty-state', text: 'No alert rules yet; create them with POST /v7/alerts/rules (see the alerts documentation).' })));
    main.dataset.loaded = String(Number(main.dataset.loaded || 0) + 1);
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), 30000);
  return () => clearInterval(timer);
}

// The rules on a dashboard's widgets, by widget id (empty when the user may not view alerts).
export async function rulesByWidget(dashboardId) {
  if (!can(VIEW_ALERTS)) return new Map();
  const answer = await api('/v7/alerts/rules', { query: { dashboardId } });
  const byWidget = new Map();
  for (const rule of answer.alertRules || []) {
    const widgetId = (rule.maiascore || {}).widgetId;
    if (!widgetId) continue;
    if (!byWidget.has(widgetId)) byWidget.set(widgetId, []);
    byWidget.get(widgetId).push(rule);
  }
  return byWidget;
}

// A line under a widget's title for each rule on it, marked when its alert is active.
export function ruleBadges(rules) {
  return h('ul', { class: 'widget-rules', 'aria-label': 'Alert rules on this widget' }, rules.map((rule) => {
    const firing = Boolean((rule.maiascore || {}).activeAlertId);
    return h('li', { class: firing ? 'rule alerting' : 'rule', dataset: { ruleId: rule.ruleId } },
      h('span', { class: `status ${firing ? 'status-failed' : 'status-processed'}`, text: firing ? 'Alerting' : 'OK' }), ' ',
      h('a', { href: '#/alerts', text: rule.ruleName }), ' ', h('code', { text: rule.expression }));
  }));
}
