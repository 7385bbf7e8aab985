// SDK conformance, checkpoints: drive a Sprites API server's checkpoint calls
// with the official JavaScript SDK (@fly/sprites, pinned in package.json
// beside this file): createCheckpoint, listCheckpoints, getCheckpoint and
// restoreCheckpoint, with their NDJSON progress streams.  Nothing of ours is
// used: if this passes, the SDK works against the server as it would against
// api.sprites.dev.
//
// Environment: SPRITES_API_URL (the server), SPRITES_TOKEN (its token),
// SDK_TEST_SPRITE (the sprite to use; default sdk-checkpoints).
//
// Output, one line per result, for tests/82-sdk-checkpoints.t to turn into
// TAP (the same form as conformance.mjs):
//   plan<TAB>N
//   ok<TAB>DESCRIPTION
//   not ok<TAB>DESCRIPTION      with "#<TAB>TEXT" lines saying why
// Every check is reported, and the script exits 0 if all passed.

import { CheckpointStream, RestoreStream } from '@fly/sprites';
import { setup, check, show, is, ok, rejects, message, run } from './harness.mjs';

const { name, client } = setup('checkpoints.mjs', 'sdk-checkpoints');
let sprite;

// Every message of a checkpoint or restore stream, read with for await.
async function drain(stream) {
	const all = [];
	for await (const m of stream)
		all.push(m);
	return all;
}

// The stream's messages end with one complete whose data is want, after
// info lines; every message has a time.
function endsWith(messages, want) {
	const types = messages.map(m => m.type);
	ok(types.length >= 2 && types.slice(0, -1).every(t => t === 'info'),
	   `message types ${show(types)}: want info lines, then complete`);
	is(types.at(-1), 'complete', 'the last message');
	is(messages.at(-1).data, want, 'its data');
	for (const m of messages)
		ok(typeof m.time === 'string' && !isNaN(new Date(m.time)), `message ${show(m)} has no valid time`);
}

async function cat(path) {
	const r = await sprite.execFile('sh', ['-c', `cat ${path} 2>/dev/null || echo absent`]);
	return r.stdout;
}

check('createSprite for the checkpoint checks', async () => {
	sprite = await client.createSprite(name);
	is(sprite.name, name, 'sprite.name');
});

check('createCheckpoint("sdk first") streams info lines, then complete "Checkpoint v0 created"', async () => {
	await sprite.execFile('sh', ['-c', 'echo original >/workspace/state.txt']);
	const stream = await sprite.createCheckpoint('sdk first');
	ok(stream instanceof CheckpointStream, `createCheckpoint returned ${show(stream)}, not a CheckpointStream`);
	endsWith(await drain(stream), 'Checkpoint v0 created');
});

check('listCheckpoints has v0 with its comment, a valid createTime, isAuto false', async () => {
	const all = await sprite.listCheckpoints();
	ok(Array.isArray(all), `listCheckpoints returned ${show(all)}, not an array`);
	is(all.length, 1, `checkpoints in ${show(all)}`);
	is(all[0].id, 'v0', 'id');
	is(all[0].comment, 'sdk first', 'comment');
	is(all[0].isAuto, false, 'isAuto');
	ok(all[0].createTime instanceof Date && Math.abs(Date.now() - all[0].createTime) < 120000,
	   `createTime is ${show(all[0].createTime)}, want about now`);
});

check('getCheckpoint("v0") returns it', async () => {
	const cp = await sprite.getCheckpoint('v0');
	is(cp.id, 'v0', 'id');
	is(cp.comment, 'sdk first', 'comment');
});

check('getCheckpoint of an unknown id fails with "Checkpoint not found"', async () => {
	const e = await rejects(() => sprite.getCheckpoint('v9'), 'getCheckpoint("v9")');
	is(message(e), 'Checkpoint not found: v9', 'the error');
});

check('processAll on a second createCheckpoint: v1, and listCheckpoints gives v1 then v0', async () => {
	await sprite.execFile('sh', ['-c', 'echo changed >/workspace/state.txt; echo extra >/workspace/extra.txt']);
	const stream = await sprite.createCheckpoint();
	const messages = [];
	await stream.processAll(m => { messages.push(m); });
	endsWith(messages, 'Checkpoint v1 created');
	const ids = (await sprite.listCheckpoints()).map(c => c.id);
	is(ids.join(' '), 'v1 v0', 'ids, newest first');
	is((await sprite.getCheckpoint('v1')).sourceId, 'v0', 'v1 sourceId');
});

check('restoreCheckpoint("v0") streams "Restored to v0" and the files are as they were', async () => {
	await sprite.execFile('sh', ['-c', 'echo later >/workspace/state.txt']);
	const stream = await sprite.restoreCheckpoint('v0');
	ok(stream instanceof RestoreStream, `restoreCheckpoint returned ${show(stream)}, not a RestoreStream`);
	endsWith(await drain(stream), 'Restored to v0');
	is(await cat('/workspace/state.txt'), 'original\n', '/workspace/state.txt');
	is(await cat('/workspace/extra.txt'), 'absent\n', '/workspace/extra.txt (made after v0)');
});

check('restoreCheckpoint("v1") brings the later files back', async () => {
	endsWith(await drain(await sprite.restoreCheckpoint('v1')), 'Restored to v1');
	is(await cat('/workspace/state.txt'), 'changed\n', '/workspace/state.txt');
	is(await cat('/workspace/extra.txt'), 'extra\n', '/workspace/extra.txt');
});

check('restoreCheckpoint of an unknown id fails with status 404', async () => {
	const e = await rejects(() => sprite.restoreCheckpoint('v9'), 'restoreCheckpoint("v9")');
	ok(/status 404/.test(message(e)), `threw ${show(message(e))}, want a status 404 error`);
});

check('deleteSprite takes the checkpoints with it', async () => {
	await client.deleteSprite(name);
	sprite = await client.createSprite(name);
	is((await sprite.listCheckpoints()).length, 0, 'checkpoints of a new sprite of the same name');
	await client.deleteSprite(name);
});

await run();
