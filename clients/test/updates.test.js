'use strict';
// updateEntry on trainings (PUT /trainings/:id, issue 11 item 5): the fields a client may change
// on a training that has not started, and a clear refusal for the rest.
const { test } = require('node:test');
const { assert, loggedIn, runId, rejectsWith } = require('./helpers');

let strapi;
const run = runId('updates');
let training;
const inDays = (days) => new Date(Date.now() + days * 24 * 3600 * 1000).toISOString();

// Set up once, on first use (hooks differ across Node versions; this works on Node 18 too).
let ready;
const setup = () => {
  ready = ready || (async () => {
    strapi = await loggedIn();
    training = await strapi.createEntry('trainings', {
      uuid: `${run}-0`, meta: { dataset: 'german-credit', note: 'before' }, scheduledAt: inDays(1),
    });
  })();
  return ready;
};

test('updateEntry changes the note and the schedule of a training not yet started', async () => {
  await setup();
  const updated = await strapi.updateEntry('trainings', training.id, {
    meta: { dataset: 'german-credit', note: 'after' }, scheduledAt: inDays(2),
  });
  assert.equal(updated.id, training.id);
  assert.equal(updated.meta.note, 'after');
  assert.equal(updated.status, 'scheduled');
  assert.ok(new Date(updated.scheduledAt) > new Date(training.scheduledAt));
  assert.equal((await strapi.getEntry('trainings', training.id)).meta.note, 'after');
});

test('updateEntry refuses what cannot change, with the reason', async () => {
  await setup();
  await rejectsWith(strapi.updateEntry('trainings', training.id, { scheduledAt: '2001-01-01T00:00:00Z' }), /.+/);
  await rejectsWith(strapi.updateEntry('trainings', '0123456789abcdef01234567', { meta: { note: 'x' } }),
    /^Training not found$/);
  const canceled = await strapi.deleteEntry('trainings', training.id);
  assert.equal(canceled.status, 'canceled');
  await rejectsWith(strapi.updateEntry('trainings', training.id, { meta: { seed: 7 } }),
    /^The training is canceled: only meta\.note can change now/);
  assert.equal((await strapi.updateEntry('trainings', training.id, { meta: { note: 'late' } })).meta.note, 'late');
});
