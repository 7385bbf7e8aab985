// SDK conformance, network policy: the official JavaScript SDK's policy
// calls (Sprite.getNetworkPolicy and updateNetworkPolicy, @fly/sprites pinned
// in package.json beside this file) against a real server.  Like
// conformance.mjs, nothing of ours is used here.
//
// Environment: SPRITES_API_URL (the server), SPRITES_TOKEN (its token),
// SDK_TEST_SPRITE (the sprite name to use; default sdk-policy).
//
// Output, one line per result, for tests/86-sdk-policy.t to turn into TAP:
//   plan<TAB>N
//   ok<TAB>DESCRIPTION            the check passed
//   not ok<TAB>DESCRIPTION        it failed; "#" lines below tell why
//   #<TAB>TEXT                    diagnostics
// The script always prints all N results, and exits 0 if all passed.

import { Sprite } from '@fly/sprites';
import { setup, check, show, is, ok, rejects, message, run } from './harness.mjs';

const { name, client } = setup('policy.mjs', 'sdk-policy');
let sprite;

// The spec's example policy (sprites-api.md section 6).
const policy = {
	rules: [
		{ include: 'defaults' },
		{ domain: 'example.com', action: 'allow' },
		{ domain: '*.example.com', action: 'allow' },
		{ domain: 'blocked.com', action: 'deny' },
	],
};

check('createSprite', async () => {
	sprite = await client.createSprite(name);
	ok(sprite instanceof Sprite, `createSprite returned ${show(sprite)}, not a Sprite`);
});

check('getNetworkPolicy of a new sprite: {rules: []}', async () => {
	is(JSON.stringify(await sprite.getNetworkPolicy()), '{"rules":[]}', 'policy');
});

check('updateNetworkPolicy with the example policy succeeds (204)', async () => {
	is(await sprite.updateNetworkPolicy(policy), undefined, 'updateNetworkPolicy result');
});

check('getNetworkPolicy returns it, rule for rule', async () => {
	is(JSON.stringify(await sprite.getNetworkPolicy()), JSON.stringify(policy), 'policy');
});

check('getNetworkPolicy through client.sprite(name) too', async () => {
	is(JSON.stringify(await client.sprite(name).getNetworkPolicy()), JSON.stringify(policy), 'policy');
});

check('the sprite sees it at /.sprite/policy/network.json', async () => {
	const r = await sprite.execFile('cat', ['/.sprite/policy/network.json']);
	is(JSON.stringify(JSON.parse(r.stdout.toString())), JSON.stringify(policy), 'network.json');
});

check('updateNetworkPolicy with a bad action rejects with "Invalid policy: " and the message', async () => {
	const e = await rejects(() => sprite.updateNetworkPolicy({ rules: [{ domain: 'a.com', action: 'permit' }] }),
		'updateNetworkPolicy');
	ok(e instanceof Error, `threw ${show(e)}, want an Error`);
	ok(e.message.startsWith('Invalid policy: '), `message ${show(e.message)}, want "Invalid policy: ..."`);
	ok(e.message.includes('action \\"permit\\" is neither \\"allow\\" nor \\"deny\\"'),
		`message ${show(e.message)} does not say what is wrong`);
});

check('updateNetworkPolicy with neither domain nor include rejects (400)', async () => {
	const e = await rejects(() => sprite.updateNetworkPolicy({ rules: [{ action: 'allow' }] }), 'updateNetworkPolicy');
	ok(e.message.startsWith('Invalid policy: '), `message ${show(e.message)}, want "Invalid policy: ..."`);
});

check('a refused policy changes nothing', async () => {
	is(JSON.stringify(await sprite.getNetworkPolicy()), JSON.stringify(policy), 'policy');
});

check('updateNetworkPolicy({rules: []}) clears it', async () => {
	await sprite.updateNetworkPolicy({ rules: [] });
	is(JSON.stringify(await sprite.getNetworkPolicy()), '{"rules":[]}', 'policy');
});

check('getNetworkPolicy of a missing sprite rejects with status 404', async () => {
	const e = await rejects(() => client.sprite(`${name}-missing`).getNetworkPolicy(), 'getNetworkPolicy');
	ok(/status 404/.test(message(e)), `threw ${show(message(e))}, want a status 404 error`);
});

check('deleteSprite', async () => {
	await client.deleteSprite(name);
});

await run();
