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

import { SpritesClient, Sprite } from '@fly/sprites';
import { inspect } from 'node:util';

const url = process.env.SPRITES_API_URL;
const token = process.env.SPRITES_TOKEN;
const name = process.env.SDK_TEST_SPRITE || 'sdk-policy';
if (!url || !token) {
	console.error('policy.mjs: set SPRITES_API_URL and SPRITES_TOKEN');
	process.exit(2);
}

const checks = [];
function check(desc, fn) { checks.push({ desc, fn }); }

const show = v => inspect(v, { breakLength: Infinity, depth: null });
function is(got, want, what) {
	if (got !== want)
		throw new Error(`${what}: got ${show(got)}, want ${show(want)}`);
}
function ok(cond, what) {
	if (!cond)
		throw new Error(what);
}
// Run fn, which must fail; return what it threw.
async function rejects(fn, what) {
	try {
		const v = await fn();
		throw Object.assign(new Error(`${what}: succeeded with ${show(v)}, want an error`), { notThrown: true });
	} catch (e) {
		if (e?.notThrown)
			throw e;
		return e;
	}
}
const describe = e => (e instanceof Error ? e.message : show(e));

const TIMEOUT_MS = 20000;
function timed(p, what) {
	let t;
	return Promise.race([
		p,
		new Promise((_, reject) => {
			t = setTimeout(() => reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
		}),
	]).finally(() => clearTimeout(t));
}

const client = new SpritesClient(token, { baseURL: url });
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
	ok(/status 404/.test(describe(e)), `threw ${show(describe(e))}, want a status 404 error`);
});

check('deleteSprite', async () => {
	await client.deleteSprite(name);
});

console.log(`plan\t${checks.length}`);
let failed = 0;
for (const { desc, fn } of checks) {
	try {
		await timed(fn(), desc);
		console.log(`ok\t${desc}`);
	} catch (e) {
		failed++;
		console.log(`not ok\t${desc}`);
		for (const line of describe(e).split('\n'))
			console.log(`#\t${line}`);
	}
}
process.exit(failed ? 1 : 0);
