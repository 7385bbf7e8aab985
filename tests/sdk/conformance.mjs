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
//
// `conformance.mjs --start-and-leave SCRIPT` is a helper the attach check
// runs as a child process: it spawns `sh -c SCRIPT` in SDK_TEST_SPRITE with
// the SDK, waits for its first line of output, prints "started" and exits,
// so that its connection goes away the way a client's does when it dies
// (SDK 0.1.0's SpriteCommand has no public way to close or detach).

import { SpritesClient, Sprite, APIError, ExecError } from '@fly/sprites';
import { setup, check, show, is, ok, rejects, describe, timed, run } from './harness.mjs';
import { randomBytes } from 'node:crypto';
import { spawn as spawnProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const { url, token, name, client } = setup('conformance.mjs', 'sdk-conformance');
let sprite;

// How long one step inside a check (an output, an exit) may take; the whole
// check still has TIMEOUT_MS.
const STEP_MS = 10000;

// follow(cmd): watch a SpriteCommand (what sprite.spawn returns).  Collects
// stdout, stderr and text messages; f.until(cond, what) waits for cond(f) to
// hold, failing on an SDK error, when the command ends first, or after
// STEP_MS; f.spawned() waits for the WebSocket to open, f.exited() for the
// exit code and the end of both streams (the 'exit' event can come before
// the last 'data' one).
function follow(cmd) {
	const f = { cmd, out: [], err: [], messages: [], error: null, code: undefined, spawned_: false, ended: 0 };
	const waiting = new Set();
	const notify = () => { for (const w of [...waiting]) w(); };
	cmd.stdout.on('data', c => { f.out.push(c); notify(); });
	cmd.stderr.on('data', c => { f.err.push(c); notify(); });
	cmd.stdout.on('end', () => { f.ended++; notify(); });
	cmd.stderr.on('end', () => { f.ended++; notify(); });
	cmd.on('message', m => { f.messages.push(m); notify(); });
	cmd.on('spawn', () => { f.spawned_ = true; notify(); });
	cmd.on('exit', code => { f.code = code; notify(); });
	cmd.on('error', e => { f.error ??= e; notify(); });
	f.stdout = () => Buffer.concat(f.out);
	f.text = () => f.stdout().toString();
	f.stderrText = () => Buffer.concat(f.err).toString();
	f.over = () => f.code !== undefined && f.ended === 2;
	f.until = (cond, what, ms = STEP_MS) => new Promise((resolve, reject) => {
		const stop = (fn, v) => { clearTimeout(timer); waiting.delete(test); fn(v); };
		const why = () => `stdout so far ${show(f.text())}, stderr ${show(f.stderrText())}`;
		const timer = setTimeout(() => stop(reject, new Error(`${what}: not seen in ${ms} ms; ${why()}`)), ms);
		const test = () => {
			let v;
			try {
				v = cond(f);
			} catch (e) {
				return stop(reject, e);
			}
			if (v)
				return stop(resolve, v);
			if (f.error)
				return stop(reject, new Error(`${what}: the SDK failed first: ${describe(f.error)}`));
			if (f.over())
				return stop(reject, new Error(`${what}: the command ended first (exit ${f.code}); ${why()}`));
		};
		waiting.add(test);
		test();
	});
	f.spawned = () => f.until(g => g.spawned_, 'the WebSocket opening (spawn event)');
	f.exited = () => f.until(g => g.over(), 'the exit').then(() => f.code);
	return f;
}

// The session listed with exactly this command (fails unless exactly one).
async function listed(command) {
	const all = await timed(sprite.listSessions(), 'listSessions');
	const mine = all.filter(s => s.command === command);
	if (mine.length !== 1)
		throw new Error(`sessions with command ${show(command)}: ${mine.length}, want 1; listSessions gave ${show(all)}`);
	return mine[0];
}

// A script printing "line 1".."line 10" a tenth of a second apart, which
// after line 5 waits for the file GATE to appear, then exits 3.  Lines 1-5
// exist before anyone attaches; 6-10 only once the test creates GATE.
function gatedScript(gate) {
	return `i=1; while [ $i -le 10 ]; do echo "line $i"; ` +
		`if [ $i -eq 5 ]; then while [ ! -e ${gate} ]; do sleep 0.02; done; fi; ` +
		`i=$((i + 1)); sleep 0.1; done; exit 3`;
}
const lines = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => `line ${a + i}\n`).join('');

if (process.argv[2] === '--start-and-leave') {
	const f = follow(client.sprite(name).spawn('sh', ['-c', process.argv[3]]));
	try {
		await f.until(g => g.text().startsWith('line 1\n'), 'the first line');
	} catch (e) {
		console.error(`conformance.mjs --start-and-leave: ${describe(e)}`);
		process.exit(1);
	}
	console.log('started');
	process.exit(0);
}

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

check('spawn cat: stdin streamed in 3 writes 50 ms apart, each echoed before the next; stdout exact, exit 0', async () => {
	const f = follow(sprite.spawn('cat', []));
	await f.spawned();
	const parts = ['first\n', 'second, with no newline', ' and the third\n'];
	let want = '';
	for (const [i, part] of parts.entries()) {
		if (i)
			await sleep(50);
		f.cmd.stdin.write(part);
		want += part;
		// cat writes what it reads at once: each write comes back on its own.
		await f.until(g => g.text() === want, `write ${i + 1} echoed`);
	}
	f.cmd.stdin.end();
	is(await f.exited(), 0, 'exit code');
	is(f.text(), want, 'stdout');
	is(f.stderrText(), '', 'stderr');
});

check('spawn cat: 1 MiB of random bytes through stdin comes back byte-exact, exit 0', async () => {
	const data = randomBytes(1 << 20);
	const f = follow(sprite.spawn('cat', []));
	await f.spawned();
	// Writes of uneven sizes, one byte to 256 KiB, so frames split anywhere.
	const sizes = [1, 1000, 65536, 262144, 4095, 300000];
	let at = 0;
	for (let i = 0; at < data.length; i++) {
		const n = Math.min(sizes[i % sizes.length], data.length - at);
		f.cmd.stdin.write(data.subarray(at, at + n));
		at += n;
	}
	f.cmd.stdin.end();
	is(await f.exited(), 0, 'exit code');
	const got = f.stdout();
	is(got.length, data.length, 'bytes on stdout');
	if (!got.equals(data)) {
		let i = 0;
		while (got[i] === data[i])
			i++;
		throw new Error(`stdout differs from stdin from byte ${i} on`);
	}
	is(f.stderrText(), '', 'stderr');
});

check('spawn with tty, 30x100: `stty size; tty` prints "30 100" and a /dev/pts path', async () => {
	const f = follow(sprite.spawn('sh', ['-c', 'stty size; tty'], { tty: true, rows: 30, cols: 100 }));
	await f.exited();
	// The terminal's output, CRs included, and nothing else.
	ok(/^30 100\r\n\/dev\/pts\/\d+\r\n$/.test(f.text()),
	   `stdout is ${show(f.text())}, want "30 100\\r\\n/dev/pts/N\\r\\n"`);
	const info = f.messages.find(m => m?.type === 'session_info');
	ok(info, `no session_info message among ${show(f.messages)}`);
	is(info.tty, true, 'session_info tty');
	is(info.rows, 30, 'session_info rows');
	is(info.cols, 100, 'session_info cols');
	// No exit code is checked: in TTY mode SDK 0.1.0 ignores the server's
	// {"type":"exit","exit_code":N} text message (it only passes it on as a
	// 'message' event) and makes the code up from the close frame instead.
});

check('tty shell driven through stdin: stty size 30 100, cmd.resize(120, 40), stty size 40 120', async () => {
	const f = follow(sprite.spawn('sh', [], { tty: true, rows: 30, cols: 100 }));
	await f.spawned();
	// The terminal echoes what is typed, and the shell prompts ("# "),
	// in an order that varies: an answer is a line ending in it.
	const answer = size => g => new RegExp(`(^|[\n ])${size}\r\n`).test(g.text());
	f.cmd.stdin.write('stty size\n');
	await f.until(answer('30 100'), '"30 100" from the first stty size');
	f.cmd.resize(120, 40);
	f.cmd.stdin.write('stty size\n');
	await f.until(answer('40 120'), '"40 120" from stty size after the resize');
	f.cmd.stdin.write('exit\n');
	await f.exited();  // TTY: the exit code is not checked (see above)
});

check('listSessions shows a running spawn (tty false) and a createSession one (tty true)', async () => {
	const plain = follow(sprite.spawn('sleep', ['30']));
	const term = follow(sprite.createSession('sleep', ['31']));
	try {
		await plain.spawned();
		await term.spawned();
		const p = await listed('sleep 30');
		ok(typeof p.id === 'string' && /^\d+$/.test(p.id), `id is ${show(p.id)}, want a number as a string`);
		is(p.isActive, true, 'sleep 30: isActive');
		is(p.tty, false, 'sleep 30: tty');
		is(p.workdir, '/home/sprite', 'sleep 30: workdir');
		ok(p.created instanceof Date && Math.abs(Date.now() - p.created) < 60000,
		   `sleep 30: created is ${show(p.created)}, want about now`);
		const t = await listed('sleep 31');
		is(t.isActive, true, 'sleep 31: isActive');
		is(t.tty, true, 'sleep 31: tty');
		// In TTY mode the SDK passes session_info on: its id is the listed one.
		const info = term.messages.find(m => m?.type === 'session_info');
		ok(info, `createSession: no session_info message among ${show(term.messages)}`);
		is(info.session_id, t.id, 'sleep 31: the id in session_info');
		ok(t.id !== p.id, 'the two sessions have the same id');
	} finally {
		plain.cmd.kill('SIGKILL');
		term.cmd.kill('SIGKILL');
	}
	is(await plain.exited(), 137, 'sleep 30 killed: exit code');
	await term.exited();
});

check('attachSession while the starter stays connected: scrollback, then live output, then exit 3, to both', async () => {
	const gate = `/tmp/sdk-gate-kept.${process.pid}`;
	const script = gatedScript(gate);
	const owner = follow(sprite.spawn('sh', ['-c', script]));
	await owner.until(g => g.text() === lines(1, 5), 'lines 1-5 on the starter');
	const s = await listed(`sh -c ${script}`);
	is(s.isActive, true, 'isActive before attaching');
	const att = follow(sprite.attachSession(s.id));
	// Lines 1-5 were printed before the attach: they can only come from the
	// server's scrollback.
	await att.until(g => g.text() === lines(1, 5), 'lines 1-5 (the scrollback) on the attached client');
	await timed(sprite.execFile('touch', [gate]), 'touch the gate');
	is(await att.exited(), 3, 'attached: exit code');
	is(att.text(), lines(1, 10), 'attached: stdout');
	is(await owner.exited(), 3, 'starter: exit code');
	is(owner.text(), lines(1, 10), 'starter: stdout');
	is(att.stderrText() + owner.stderrText(), '', 'stderr of both');
});

check('attachSession after the starting process died: scrollback, then live output, then exit 3', async () => {
	const gate = `/tmp/sdk-gate-left.${process.pid}`;
	const script = gatedScript(gate);
	// Another node process starts it and exits after its first line.
	const child = spawnProcess(process.execPath,
		[...process.execArgv, fileURLToPath(import.meta.url), '--start-and-leave', script],
		{ env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
	let childOut = '', childErr = '';
	child.stdout.on('data', c => childOut += c);
	child.stderr.on('data', c => childErr += c);
	const code = await timed(new Promise((resolve, reject) => {
		child.on('error', reject);
		child.on('close', resolve);
	}), 'the starting process');
	is(`${code} ${childOut}${childErr}`, '0 started\n', 'the starting process: exit status and output');
	const s = await listed(`sh -c ${script}`);
	is(s.isActive, true, 'isActive after the starter left');
	const att = follow(sprite.attachSession(s.id));
	await att.until(g => g.text() === lines(1, 5), 'lines 1-5 (the scrollback)');
	await timed(sprite.execFile('touch', [gate]), 'touch the gate');
	is(await att.exited(), 3, 'exit code');
	is(att.text(), lines(1, 10), 'stdout');
	is(att.stderrText(), '', 'stderr');
});

check("spawn sleep 30, cmd.kill('SIGTERM'): exit code 143", async () => {
	const f = follow(sprite.spawn('sleep', ['30']));
	await f.spawned();
	const t0 = Date.now();
	f.cmd.kill('SIGTERM');
	is(await f.exited(), 143, 'exit code');
	ok(Date.now() - t0 < 5000, `the exit took ${Date.now() - t0} ms`);
	is(f.text() + f.stderrText(), '', 'output');
});

check("spawn sleep 30, cmd.signal('INT') (no SIG prefix): exit code 130", async () => {
	const f = follow(sprite.spawn('sleep', ['30']));
	await f.spawned();
	f.cmd.signal('INT');
	is(await f.exited(), 130, 'exit code');
});

check("killSession(id, 'SIGTERM') streams signal, exited, complete 143; the spawner sees exit 143", async () => {
	const f = follow(sprite.spawn('sleep', ['32']));
	await f.spawned();
	const s = await listed('sleep 32');
	const events = [];
	const stream = await timed(sprite.killSession(s.id, 'SIGTERM', '5s'), 'killSession');
	await timed((async () => { for await (const ev of stream) events.push(ev); })(), 'the kill events');
	is(events.map(e => e.type).join(' '), 'signal exited complete', 'event types');
	is(events[0].signal, 'SIGTERM', 'signal event: signal');
	is(events[0].pid, Number(s.id), 'signal event: pid');
	is(events[2].exitCode, 143, 'complete event: exitCode');
	is(await f.exited(), 143, "the spawner's exit code");
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

await run();
