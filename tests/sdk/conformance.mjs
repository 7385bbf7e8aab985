// SDK conformance: drive a Sprites API server with the official JavaScript
// SDK (@fly/sprites, pinned in package.json beside this file) and check what
// it sees.  Nothing of ours is used here: if this passes, the SDK works
// against the server as it would against api.sprites.dev.
//
// Environment: SPRITES_API_URL (the server), SPRITES_TOKEN (its token),
// SDK_TEST_SPRITE (the sprite name to use; default sdk-conformance).
//
// Output, one line per result, for tests/50-sdk.t to turn into TAP:
//   plan<TAB>N
//   ok<TAB>DESCRIPTION            the check passed
//   not ok<TAB>DESCRIPTION        it failed; "#" lines below tell why
//   #<TAB>TEXT                    diagnostics
// The script always prints all N results (a check that cannot run because an
// earlier step failed is reported as failed), and exits 0 if all passed.

import { SpritesClient, Sprite, APIError, ExecError } from '@fly/sprites';
import { inspect } from 'node:util';

const url = process.env.SPRITES_API_URL;
const token = process.env.SPRITES_TOKEN;
const name = process.env.SDK_TEST_SPRITE || 'sdk-conformance';
if (!url || !token) {
	console.error('conformance.mjs: set SPRITES_API_URL and SPRITES_TOKEN');
	process.exit(2);
}

const checks = [];
function check(desc, fn) { checks.push({ desc, fn }); }

// Assertion helpers: throw an Error whose message says what was got and wanted.
const show = v => inspect(v, { breakLength: Infinity });
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
function describe(e) {
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

check('createSprite returns a Sprite with the name asked for', async () => {
	sprite = await client.createSprite(name);
	ok(sprite instanceof Sprite, `createSprite returned ${show(sprite)}, not a Sprite`);
	is(sprite.name, name, 'sprite.name');
	ok(typeof sprite.id === 'string' && sprite.id !== '', `sprite.id is ${show(sprite.id)}, want a non-empty string`);
});

check('createSprite of an existing name fails with APIError 400', async () => {
	const e = await rejects(() => client.createSprite(name), 'second createSprite');
	ok(e instanceof APIError, `threw ${describe(e)}, want an APIError`);
	is(e.statusCode, 400, 'statusCode');
});

check('getSprite returns it, with a known status', async () => {
	const s = await client.getSprite(name);
	is(s.name, name, 'name');
	is(s.id, sprite.id, 'id (same as createSprite)');
	ok(['cold', 'warm', 'running'].includes(s.status), `status is ${show(s.status)}, want cold, warm or running`);
	ok(s.createdAt instanceof Date && !isNaN(s.createdAt), `createdAt is ${show(s.createdAt)}, want a valid date`);
});

check('listSprites includes it', async () => {
	const r = await client.listSprites();
	const names = r.sprites.map(s => s.name);
	ok(names.includes(name), `listSprites names are ${show(names)}, want them to include ${show(name)}`);
	is(r.hasMore, false, 'hasMore');
});

check('listAllSprites includes it, as a Sprite', async () => {
	const all = await client.listAllSprites();
	const mine = all.filter(s => s.name === name);
	is(mine.length, 1, `sprites named ${name} among ${show(all.map(s => s.name))}`);
	ok(mine[0] instanceof Sprite, 'the entry is not a Sprite');
});

check('listSprites with a prefix filters by it', async () => {
	const hit = await client.listSprites({ prefix: name.slice(0, 3) });
	ok(hit.sprites.some(s => s.name === name), `prefix ${show(name.slice(0, 3))} misses it`);
	const miss = await client.listSprites({ prefix: 'zz-no-such-prefix' });
	is(miss.sprites.length, 0, 'sprites listed for prefix "zz-no-such-prefix"');
});

check('execFile echo hello: stdout exactly hello and a newline, stderr empty, exit 0', async () => {
	const r = await timed(sprite.execFile('echo', ['hello']), 'execFile');
	is(r.stdout, 'hello\n', 'stdout');
	is(r.stderr, '', 'stderr');
	is(r.exitCode, 0, 'exitCode');
});

check('exec (a command line) runs it', async () => {
	const r = await timed(sprite.exec('printf %s-%s a b'), 'exec');
	is(r.stdout, 'a-b', 'stdout');
});

check('stderr is captured apart from stdout', async () => {
	const r = await timed(sprite.execFile('sh', ['-c', 'echo out; echo err >&2; echo out2']), 'execFile');
	is(r.stdout, 'out\nout2\n', 'stdout');
	is(r.stderr, 'err\n', 'stderr');
	is(r.exitCode, 0, 'exitCode');
});

check('exit 3 rejects with ExecError, exitCode 3, output kept', async () => {
	const e = await rejects(() => timed(sprite.execFile('sh', ['-c', 'echo partial; echo bad >&2; exit 3']), 'execFile'),
	                        'execFile of exit 3');
	ok(e instanceof ExecError, `threw ${describe(e)}, want an ExecError`);
	is(e.exitCode, 3, 'exitCode');
	is(e.stdout, 'partial\n', 'stdout');
	is(e.stderr, 'bad\n', 'stderr');
});

check('execFile cwd and env are honoured', async () => {
	const r = await timed(sprite.execFile('sh', ['-c', 'pwd; echo "$SDK_VAR"'], { cwd: '/tmp', env: { SDK_VAR: 'a b=c' } }),
	                      'execFile');
	is(r.stdout, '/tmp\na b=c\n', 'stdout');
});

check('spawn: stdin written and ended reaches the command', async () => {
	const cmd = sprite.spawn('cat', []);
	const chunks = [];
	cmd.stdout.on('data', c => chunks.push(c));
	// 'exit' can come before the last 'data' event: wait for the stream's end too.
	const drained = new Promise(r => cmd.stdout.on('end', r));
	const code = await timed(new Promise((resolve, reject) => {
		cmd.on('error', reject);
		cmd.on('exit', resolve);
		cmd.on('spawn', () => {
			cmd.stdin.write('line 1\n');
			cmd.stdin.end('line 2\n');
		});
	}), 'spawn cat');
	await timed(drained, 'end of stdout');
	is(code, 0, 'exit code');
	is(Buffer.concat(chunks).toString(), 'line 1\nline 2\n', 'stdout');
});

check('a wrong token is refused with APIError 401', async () => {
	const bad = new SpritesClient(token + 'x', { baseURL: url });
	const e = await rejects(() => bad.getSprite(name), 'getSprite with a wrong token');
	ok(e instanceof APIError, `threw ${describe(e)}, want an APIError`);
	is(e.statusCode, 401, 'statusCode');
});

check('deleteSprite removes it', async () => {
	await client.deleteSprite(name);
	const r = await client.listSprites();
	const names = r.sprites.map(s => s.name);
	ok(!names.includes(name), `listSprites still has it: ${show(names)}`);
});

check('getSprite after delete fails with APIError 404', async () => {
	const e = await rejects(() => client.getSprite(name), 'getSprite of a deleted sprite');
	ok(e instanceof APIError, `threw ${describe(e)}, want an APIError`);
	is(e.statusCode, 404, 'statusCode');
});

check('deleteSprite of a missing sprite fails with APIError 404', async () => {
	const e = await rejects(() => client.deleteSprite(name), 'deleteSprite of a deleted sprite');
	ok(e instanceof APIError, `threw ${describe(e)}, want an APIError`);
	is(e.statusCode, 404, 'statusCode');
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
