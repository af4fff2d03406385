'use strict';
// Every SDK method on the `reports` content type, with the query forms that work with flat keys.
const { test } = require('node:test');
const { assert, loggedIn, runId, rejectsWith, ids } = require('./helpers');

let strapi;
const run = runId('reports');
const created = [];

// Set up once, on first use (hooks differ across Node versions; this works on Node 18 too).
let ready;
const setup = () => {
  ready = ready || (async () => {
    strapi = await loggedIn();
    for (const [index, income] of [1200, 3400, 5600].entries()) {
      created.push(await strapi.createEntry('reports', {
        uuid: `${run}-${index}`,
        referenceId: `${run}-ref-${index}`,
        features: { income, employment: index % 2 ? 'salaried' : 'self-employed' },
      }));
    }
  })();
  return ready;
};

test('createEntry stores a queued report and returns it', async () => {
  await setup();
  const report = created[0];
  assert.match(report.id, /^[0-9a-f]{24}$/);
  assert.equal(report.uuid, `${run}-0`);
  assert.equal(report.referenceId, `${run}-ref-0`);
  assert.equal(report.type, 'reference');
  assert.equal(report.processed, false);
  assert.ok(['queued', 'waiting_for_model'].includes(report.status), report.status);
  assert.deepEqual(report.features, { income: 1200, employment: 'self-employed' });
  assert.ok(report.created_at && report.published_at && report.updated_at);
  assert.equal(typeof report.users_permissions_user.email, 'string');
});

test('createEntry with a known uuid returns the stored report', async () => {
  await setup();
  const again = await strapi.createEntry('reports', { uuid: `${run}-0`, features: { income: 1 } });
  assert.equal(again.id, created[0].id);
  assert.deepEqual(again.features, created[0].features);
});

test('getEntry returns one report', async () => {
  await setup();
  const report = await strapi.getEntry('reports', created[1].id);
  assert.equal(report.id, created[1].id);
  assert.equal(report.uuid, `${run}-1`);
});

test('getEntries filters, sorts and pages with flat keys', async () => {
  await setup();
  const mine = await strapi.getEntries('reports', { uuid_contains: run, _sort: 'uuid:ASC' });
  assert.deepEqual(mine.map((r) => r.uuid), [`${run}-0`, `${run}-1`, `${run}-2`]);

  const desc = await strapi.getEntries('reports', { uuid_contains: run, _sort: 'uuid:DESC', _limit: 2 });
  assert.deepEqual(desc.map((r) => r.uuid), [`${run}-2`, `${run}-1`]);

  const page = await strapi.getEntries('reports', { uuid_contains: run, _sort: 'uuid:ASC', _start: 1, _limit: 1 });
  assert.deepEqual(page.map((r) => r.uuid), [`${run}-1`]);

  const one = await strapi.getEntries('reports', { uuid: `${run}-2` });
  assert.deepEqual(ids(one), [created[2].id]);

  const comma = await strapi.getEntries('reports', { uuid_in: `${run}-0,${run}-2` });
  assert.deepEqual(ids(comma), ids([created[0], created[2]]));

  const notMine = await strapi.getEntries('reports', { uuid_contains: run, uuid_ne: `${run}-1` });
  assert.deepEqual(ids(notMine), ids([created[0], created[2]]));

  const unscored = await strapi.getEntries('reports', { uuid_contains: run, processed: false, score_null: true });
  assert.equal(unscored.length, 3);

  const since = await strapi.getEntries('reports', { uuid_contains: run, created_at_gte: created[0].created_at });
  assert.equal(since.length, 3);

  const byId = await strapi.getEntries('reports', { id: created[1].id });
  assert.deepEqual(ids(byId), [created[1].id]);
});

test('getEntryCount counts with the same filters', async () => {
  await setup();
  assert.equal(await strapi.getEntryCount('reports', { uuid_contains: run }), 3);
  assert.equal(await strapi.getEntryCount('reports', { uuid_contains: run, uuid_nin: `${run}-0` }), 2);
  assert.equal(await strapi.getEntryCount('reports', { uuid: `${run}-none` }), 0);
  assert.equal(typeof (await strapi.getEntryCount('reports')), 'number');
});

test('updateEntry changes the editable fields', async () => {
  await setup();
  const updated = await strapi.updateEntry('reports', created[1].id, {
    referenceId: `${run}-ref-1-changed`,
    outcome: 'good',
  });
  assert.equal(updated.id, created[1].id);
  assert.equal(updated.referenceId, `${run}-ref-1-changed`);
  assert.equal(updated.outcome, 'good');
  const read = await strapi.getEntry('reports', created[1].id);
  assert.equal(read.referenceId, `${run}-ref-1-changed`);
});

test('updateEntry accepts a report echoed back as it was read (computed fields are ignored)', async () => {
  await setup();
  const read = await strapi.getEntry('reports', created[2].id);
  const echoed = await strapi.updateEntry('reports', read.id, { ...read, referenceId: `${run}-echo` });
  assert.equal(echoed.referenceId, `${run}-echo`);
  assert.equal(echoed.status, read.status);
});

test('deleteEntry deletes and returns the report; it is then not found', async () => {
  await setup();
  const extra = await strapi.createEntry('reports', { uuid: `${run}-doomed`, features: { income: 1 } });
  const deleted = await strapi.deleteEntry('reports', extra.id);
  assert.equal(deleted.id, extra.id);
  assert.equal(deleted.uuid, `${run}-doomed`);
  await rejectsWith(strapi.getEntry('reports', extra.id), /^Report not found$/);
  await rejectsWith(strapi.deleteEntry('reports', extra.id), /^Report not found$/);
  await rejectsWith(strapi.updateEntry('reports', extra.id, { referenceId: 'x' }), /^Report not found$/);
});

test('errors reach the caller as their message', async () => {
  await setup();
  await rejectsWith(strapi.getEntry('reports', 'not-an-id'), /^Report not found$/);
  await rejectsWith(strapi.createEntry('reports', { type: 'loan', features: {} }), /Unknown report type 'loan'/);
  await rejectsWith(strapi.createEntry('reports', { features: 'not json', nope: 1 }), /^Request validation failed$/);
  await rejectsWith(strapi.updateEntry('reports', created[0].id, { outcome: 'maybe' }),
    /^Request validation failed$/);
  await rejectsWith(strapi.updateEntry('reports', created[0].id, { uuid: `${run}-1` }),
    /already has this uuid/);
  await rejectsWith(strapi.getEntries('reports', { password: 'x' }), /^Unknown filter 'password'/);
  await rejectsWith(strapi.getEntries('reports', { score_gte: 'high' }), /^Invalid value 'high' for filter/);
  await rejectsWith(strapi.getEntries('reports', { _sort: 'features:ASC' }), /sort/i);
  await rejectsWith(strapi.getEntries('reports', { _limit: 'many' }), /_limit/);
  await rejectsWith(strapi.getEntryCount('reports', { nope: 1 }), /^Unknown filter 'nope'/);
});
