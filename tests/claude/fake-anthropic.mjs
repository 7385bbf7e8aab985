// fake-anthropic.mjs: a scripted Anthropic Messages API for the tests that
// run the real Claude Code CLI.  No dependencies: node's own http, https.
//
//   node fake-anthropic.mjs --script FILE --log FILE [--listen HOST:PORT]
//        [--tls-listen HOST:PORT --tls-cert FILE --tls-key FILE]
//        [--ready FILE]
//
// --listen serves plain HTTP (a gateway given by ANTHROPIC_BASE_URL);
// --tls-listen serves HTTPS (api.anthropic.com itself, reached by CONNECT
// through a sprite's proxy, its certificate from a throwaway CA).  Either
// port may be 0: --ready FILE gets {"http":PORT,"https":PORT} once both
// listen.
//
// The script is JSON, read again at every request (a test may rewrite it):
//   {"rules": [{"match": "TEXT", "reply": REPLY}, ...], "default": REPLY}
// A rule applies when TEXT is in what the user said last: the last block
// of the request's last user message that is a tool result or a text (not
// a <system-reminder>).  Only the last: after a failed turn the CLI sends
// the failed prompt again, merged with the new one into one message.  The
// first rule that applies wins, else "default", else a short text reply.  Only the
// conversation's own requests (those offering tools) are scripted: the
// CLI's side requests (titles, topics) get a short text reply.
// A REPLY is one of
//   {"text": "..."}                               end of the turn
//   {"text": "...", "tool": NAME, "input": {...}} a tool_use turn
//   {"status": 529, "error": "overloaded_error", "message": "..."}
// with "delay_ms" to answer late, and "once": true for a rule that applies
// only the first time (then the next rule is looked at).
//
// Every request is logged as one JSON line: method, path, whether it was
// streamed, its model, whether it offered tools, the rule that answered
// (index or "default" or "side"), the status, and the last user message's
// content as sent (the tests read tool results from it).  Credentials are
// logged as which header carried them, never their values.

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const opt = {};
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i], v = process.argv[i + 1];
	if (!k.startsWith('--') || v === undefined) {
		process.stderr.write(`fake-anthropic: bad argument "${k}"\n`);
		process.exit(2);
	}
	opt[k.slice(2)] = v;
}
if (!opt.script || !opt.log || !(opt.listen || opt['tls-listen'])) {
	process.stderr.write('usage: fake-anthropic.mjs --script FILE --log FILE [--listen H:P] [--tls-listen H:P --tls-cert F --tls-key F] [--ready FILE]\n');
	process.exit(2);
}

const used = new Set();   // "once" rules already taken
let serial = 0;   // replies, for their ids
let requests = 0; // requests, for the log
const started = Date.now();

function lastUserText(body) {
	const msgs = Array.isArray(body.messages) ? body.messages : [];
	const last = [...msgs].reverse().find((m) => m && m.role === 'user');
	if (!last) return { text: '', content: null };
	const parts = [];
	const walk = (c) => {
		if (typeof c === 'string') parts.push(c);
		else if (Array.isArray(c)) c.forEach(walk);
		else if (c && typeof c === 'object') {
			if (c.type === 'text' && typeof c.text === 'string') parts.push(c.text);
			else if (c.type === 'tool_result') walk(c.content);
		}
	};
	const blocks = typeof last.content === 'string' ? [last.content] : Array.isArray(last.content) ? last.content : [];
	const said = [...blocks].reverse().find((b) => typeof b === 'string' || (b && (b.type === 'tool_result' ||
		(b.type === 'text' && typeof b.text === 'string' && !b.text.startsWith('<system-reminder>')))));
	if (said !== undefined) walk(said);
	return { text: parts.join('\n'), content: last.content };
}

function pick(body, scripted) {
	if (!scripted) return { rule: 'side', reply: { text: 'Scripted title' } };
	let script;
	try {
		script = JSON.parse(fs.readFileSync(opt.script, 'utf8'));
	} catch (e) {
		return { rule: 'bad-script', reply: { status: 500, error: 'api_error', message: `fake-anthropic: cannot read the script: ${e.message}` } };
	}
	const { text } = lastUserText(body);
	const rules = Array.isArray(script.rules) ? script.rules : [];
	for (let i = 0; i < rules.length; i++) {
		const r = rules[i];
		if (typeof r.match !== 'string' || !text.includes(r.match)) continue;
		if (r.reply && r.reply.once) {
			if (used.has(i)) continue;
			used.add(i);
		}
		return { rule: i, reply: r.reply || {} };
	}
	return { rule: 'default', reply: script.default || { text: 'Done.' } };
}

function usage(out) {
	return { input_tokens: 12, output_tokens: out, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
}

function contentOf(reply, id) {
	const content = [];
	if (reply.text) content.push({ type: 'text', text: reply.text });
	if (reply.tool) content.push({ type: 'tool_use', id: `toolu_fake${id}`, name: reply.tool, input: reply.input || {} });
	return content;
}

function sse(res, event, data) {
	res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function answer(req, res, body, logline) {
	const id = ++serial;
	const scripted = Array.isArray(body.tools) && body.tools.length > 0;
	const { rule, reply } = pick(body, scripted);
	logline.rule = rule;
	const send = () => {
		if (reply.status) {
			logline.status = reply.status;
			res.writeHead(reply.status, { 'content-type': 'application/json', 'request-id': `req_fake${id}` });
			res.end(JSON.stringify({ type: 'error', error: { type: reply.error || 'api_error', message: reply.message || 'scripted error' } }));
			return;
		}
		logline.status = 200;
		const content = contentOf(reply, id);
		const stop = reply.tool ? 'tool_use' : 'end_turn';
		const model = body.model || 'claude-fake';
		if (!body.stream) {
			res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_fake${id}` });
			res.end(JSON.stringify({ id: `msg_fake${id}`, type: 'message', role: 'assistant', model, content,
				stop_reason: stop, stop_sequence: null, usage: usage(5) }));
			return;
		}
		res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_fake${id}` });
		sse(res, 'message_start', { type: 'message_start', message: { id: `msg_fake${id}`, type: 'message', role: 'assistant',
			model, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) } });
		content.forEach((block, index) => {
			if (block.type === 'text') {
				sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
				sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: block.text } });
			} else {
				sse(res, 'content_block_start', { type: 'content_block_start', index,
					content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
				sse(res, 'content_block_delta', { type: 'content_block_delta', index,
					delta: { type: 'input_json_delta', partial_json: JSON.stringify(block.input) } });
			}
			sse(res, 'content_block_stop', { type: 'content_block_stop', index });
		});
		sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 5 } });
		sse(res, 'message_stop', { type: 'message_stop' });
		res.end();
	};
	if (reply.delay_ms) setTimeout(send, reply.delay_ms);
	else send();
}

function handler(scheme) {
	return (req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const path = req.url.split('?')[0];
			const logline = { n: ++requests, ms: Date.now() - started, scheme, method: req.method, path,
				auth: req.headers['x-api-key'] ? 'x-api-key' : req.headers.authorization ? 'authorization' : null };
			for (const h of Object.keys(req.headers))
				if (h.startsWith('x-fake-')) logline[h] = req.headers[h];
			let body = null;
			try {
				body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
			} catch {
				body = null;
			}
			res.on('finish', () => fs.appendFileSync(opt.log, JSON.stringify(logline) + '\n'));
			if (req.method === 'POST' && path === '/v1/messages' && body) {
				logline.model = body.model || null;
				logline.stream = !!body.stream;
				logline.tools = Array.isArray(body.tools) ? body.tools.length : 0;
				logline.last_user = lastUserText(body).content;
				answer(req, res, body, logline);
			} else if (req.method === 'POST' && path === '/v1/messages/count_tokens') {
				logline.status = 200;
				res.writeHead(200, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ input_tokens: 12 }));
			} else {
				logline.status = 404;
				res.writeHead(404, { 'content-type': 'application/json' });
				res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `fake-anthropic: no ${req.method} ${path}` } }));
			}
		});
	};
}

function hostPort(s) {
	const i = s.lastIndexOf(':');
	return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
}

const ports = {};
const pending = [];
function listen(server, where, key) {
	const { host, port } = hostPort(where);
	pending.push(new Promise((ok, fail) => {
		server.once('error', fail);
		server.listen(port, host, () => { ports[key] = server.address().port; ok(); });
	}));
}
if (opt.listen) {
	// A plain-HTTP gateway closes each connection after its answer: the
	// sprite's proxy forwards one request per connection (issue 17).
	const s = http.createServer((req, res) => { res.shouldKeepAlive = false; handler('http')(req, res); });
	listen(s, opt.listen, 'http');
}
if (opt['tls-listen']) {
	const s = https.createServer({ cert: fs.readFileSync(opt['tls-cert']), key: fs.readFileSync(opt['tls-key']) }, handler('https'));
	listen(s, opt['tls-listen'], 'https');
}
Promise.all(pending).then(() => {
	if (opt.ready) fs.writeFileSync(opt.ready, JSON.stringify(ports) + '\n');
}, (e) => {
	process.stderr.write(`fake-anthropic: cannot listen: ${e.message}\n`);
	process.exit(1);
});
