'use strict';
// Every SDK method the service has on the `trainings` content type, except updateEntry
// (PUT /trainings/:id, see updates.test.js). Trainings are scheduled a day ahead so nothing runs.
const { test } = require('node:test');
const { assert, loggedIn, runId, rejectsWith, ids } = require('./helpers');

let strapi;
const run = runId('trainings');
const created = [];
const tomorrow = () => new Date(Date.now() + 24 * 3600 * 1000).toISOString();

// Set up once, on first use (hooks differ across Node versions; this works on Node 18 too).
let ready;
const setup = () => {
  ready = ready || (async () => {
    strapi = await loggedIn();
    for (const index of [0, 1]) {
      created.push(await strapi.createEntry('trainings', {
        uuid: `${run}-${index}`,
        meta: { dataset: 'german-credit', note: `sdk ${index}` },
        scheduledAt: tomorrow(),
      }));
    }
  })();
  return ready;
};

test('createEntry schedules a training and returns it', async () => {
  await setup();
  const training = created[0];
  assert.match(training.id, /^[0-9a-f]{24}$/);
  assert.equal(training.uuid, `${run}-0`);
  assert.equal(training.status, 'scheduled');
  assert.equal(training.progress, 0);
  assert.equal(training.meta.dataset, 'german-credit');
  assert.equal(training.meta.note, 'sdk 0');
  assert.equal(training.active, false);
  assert.ok(training.scheduledAt && training.created_at && training.published_at);
});

test('createEntry with a known uuid returns the stored training', async () => {
  await setup();
  const again = await strapi.createEntry('trainings', { uuid: `${run}-0`, meta: { dataset: 'german-credit' } });
  assert.equal(again.id, created[0].id);
});

test('getEntry returns one training', async () => {
  await setup();
  const training = await strapi.getEntry('trainings', created[1].id);
  assert.equal(training.id, created[1].id);
  assert.equal(training.status, 'scheduled');
});

test('getEntries and getEntryCount filter, sort and page', async () => {
  await setup();
  const mine = await strapi.getEntries('trainings', { uuid_contains: run, _sort: 'uuid:DESC' });
  assert.deepEqual(mine.map((t) => t.uuid), [`${run}-1`, `${run}-0`]);
  const first = await strapi.getEntries('trainings', { uuid_contains: run, _sort: 'uuid:ASC', _limit: 1 });
  assert.deepEqual(first.map((t) => t.uuid), [`${run}-0`]);
  const scheduled = await strapi.getEntries('trainings', { uuid_contains: run, status: 'scheduled', progress_lt: 1 });
  assert.deepEqual(ids(scheduled), ids(created));
  assert.equal(await strapi.getEntryCount('trainings', { uuid_contains: run }), 2);
  assert.equal(await strapi.getEntryCount('trainings', { uuid_contains: run, status_ne: 'scheduled' }), 0);
  assert.equal(await strapi.getEntryCount('trainings', { uuid_in: `${run}-0,${run}-1` }), 2);
});

test('deleteEntry cancels a scheduled training, then deletes the canceled one', async () => {
  await setup();
  const extra = await strapi.createEntry('trainings', {
    uuid: `${run}-doomed`, meta: { dataset: 'german-credit' }, scheduledAt: tomorrow(),
  });
  const canceled = await strapi.deleteEntry('trainings', extra.id);
  assert.equal(canceled.id, extra.id);
  assert.equal(canceled.status, 'canceled');
  assert.equal((await strapi.getEntry('trainings', extra.id)).status, 'canceled');
  const deleted = await strapi.deleteEntry('trainings', extra.id);
  assert.equal(deleted.id, extra.id);
  await rejectsWith(strapi.getEntry('trainings', extra.id), /^Training not found$/);
});

test('errors reach the caller as their message', async () => {
  await setup();
  await rejectsWith(strapi.getEntry('trainings', 'nope'), /^Training not found$/);
  await rejectsWith(strapi.deleteEntry('trainings', '0123456789abcdef01234567'), /^Training not found$/);
  await rejectsWith(strapi.createEntry('trainings', { cron: 'every day' }), /^Request validation failed$/);
  await rejectsWith(strapi.createEntry('trainings', {
    meta: { dataset: 'german-credit' }, scheduledAt: '2001-01-01T00:00:00Z',
  }), /^Request validation failed$/);
  await rejectsWith(strapi.getEntries('trainings', { password: 'x' }), /^Unknown filter 'password'/);
});
