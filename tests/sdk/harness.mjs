// harness.mjs: what the SDK conformance scripts share: their environment,
// a client, checks with a time limit each, assertions, and the output that
// tests/lib.sh's sdk_run turns into TAP:
//   plan<TAB>N
//   ok<TAB>DESCRIPTION            the check passed
//   not ok<TAB>DESCRIPTION        it failed; "#" lines below tell why
//   #<TAB>TEXT                    diagnostics
// Every check is reported (one that cannot run because an earlier step
// failed is reported as failed), and the script exits 0 if all passed.
//
// Environment: SPRITES_API_URL (the server), SPRITES_TOKEN (its token),
// SDK_TEST_SPRITE (the sprite name to use; each script has its default).

import { SpritesClient } from '@fly/sprites';
import { inspect } from 'node:util';

// The server, the token, the sprite's name and a client; exits 2 without
// a server or a token.
export function setup(script, defaultName) {
	const url = process.env.SPRITES_API_URL;
	const token = process.env.SPRITES_TOKEN;
	const name = process.env.SDK_TEST_SPRITE || defaultName;
	if (!url || !token) {
		console.error(`${script}: set SPRITES_API_URL and SPRITES_TOKEN`);
		process.exit(2);
	}
	return { url, token, name, client: new SpritesClient(token, { baseURL: url }) };
}

const checks = [];
export function check(desc, fn) { checks.push({ desc, fn }); }

// Assertion helpers: throw an Error whose message says what was got and wanted.
export const show = v => inspect(v, { breakLength: Infinity, depth: null });
export function is(got, want, what) {
	if (got !== want)
		throw new Error(`${what}: got ${show(got)}, want ${show(want)}`);
}
export function ok(cond, what) {
	if (!cond)
		throw new Error(what);
}
// Run fn, which must fail; return what it threw.
export async function rejects(fn, what) {
	try {
		const v = await fn();
		throw Object.assign(new Error(`${what}: succeeded with ${show(v)}, want an error`), { notThrown: true });
	} catch (e) {
		if (e?.notThrown)
			throw e;
		return e;
	}
}
// What was thrown: its message alone, or with the SDK's error fields.
export const message = e => (e instanceof Error ? e.message : show(e));
export function describe(e) {
	if (!(e instanceof Error))
		return show(e);
	const extra = [];
	for (const k of ['name', 'statusCode', 'errorCode', 'exitCode'])
		if (e[k] !== undefined)
			extra.push(`${k}=${show(e[k])}`);
	return `${e.message} (${extra.join(' ')})`;
}

// Everything waits at most this long, so a hung server fails the check
// instead of the whole test.
export const TIMEOUT_MS = 20000;
export function timed(p, what) {
	let t;
	return Promise.race([
		p,
		new Promise((_, reject) => {
			t = setTimeout(() => reject(new Error(`${what}: no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
		}),
	]).finally(() => clearTimeout(t));
}

// Run the checks in order, print their results, exit.
export async function run() {
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
}
