// The JavaScript SDK's side of scripts/bench: sequential execFile('true')
// calls in one process (the SDK's best case: node started, SDK loaded), each
// timed on its own.  Uses only the official SDK (@fly/sprites).
//
// Environment: SPRITES_API_URL and SPRITES_TOKEN (by default the local
// spritesd's, read from $XDG_STATE_HOME/spritesd/{url,token} as our commands
// do), BENCH_SPRITE (the sprite),
// BENCH_RUNS (timed runs, default 60), BENCH_WARMUP (untimed runs first,
// default 5), BENCH_LABEL (default "sdk").  With BENCH_RUNS=0 and
// BENCH_WARMUP=1 it does one untimed exec: scripts/bench times that from
// outside as the one-shot cost (node start + SDK import + one exec).
//
// Output: one line per timed run, "LABEL<TAB>MILLISECONDS".
import { SpritesClient } from '@fly/sprites';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';

const env = process.env;
const runs = Number(env.BENCH_RUNS ?? 60);
const warmup = Number(env.BENCH_WARMUP ?? 5);
const label = env.BENCH_LABEL || 'sdk';
const state = `${env.XDG_STATE_HOME || `${homedir()}/.local/state`}/spritesd`;
const local = f => readFileSync(`${state}/${f}`, 'utf8').trim();
let url, token;
try {
	url = env.SPRITES_API_URL || local('url');
	token = env.SPRITES_TOKEN || local('token');
} catch (e) {
	console.error(`bench.mjs: no SPRITES_API_URL/SPRITES_TOKEN and no local spritesd: ${e.message}`);
	process.exit(2);
}
if (!env.BENCH_SPRITE) {
	console.error('bench.mjs: set BENCH_SPRITE');
	process.exit(2);
}
const sprite = new SpritesClient(token, { baseURL: url }).sprite(env.BENCH_SPRITE);

async function once() {
	const r = await sprite.execFile('true');
	if (r.exitCode !== 0 || r.stdout !== '' || r.stderr !== '')
		throw new Error(`execFile('true') gave ${JSON.stringify(r)}`);
}

try {
	for (let i = 0; i < warmup; i++)
		await once();
	const out = [];
	for (let i = 0; i < runs; i++) {
		const t0 = performance.now();
		await once();
		out.push(`${label}\t${(performance.now() - t0).toFixed(3)}`);
	}
	if (out.length)
		console.log(out.join('\n'));
} catch (e) {
	console.error(`bench.mjs: ${e?.stack || e}`);
	process.exit(1);
}
process.exit(0);
