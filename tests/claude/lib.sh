# shellcheck shell=sh
# tests/claude/lib.sh: the real Claude Code CLI and our scripted Anthropic
# API, for tests/91-claude-code.t and scripts/bench-turn.  Sourced; needs
# $TOP (the checkout) and a private directory $T.

CLAUDE_CLI=$TOP/tests/claude/node_modules/@anthropic-ai/claude-code/bin/claude.exe
CLAUDE_DIR=$TOP/tests/claude/node_modules
CLAUDE_VERSION=$(jq -r '.dependencies["@anthropic-ai/claude-code"]' "$TOP/tests/claude/package.json")

# claude_installed: the pinned CLI runs here.
claude_installed() {
	[ "$("$CLAUDE_CLI" --version 2>/dev/null | cut -d' ' -f1)" = "$CLAUDE_VERSION" ]
}

# fake_api_start SCRIPT LOG: a throwaway CA ($T/tls/ca.crt) and, from it, a
# certificate for api.anthropic.com; the fake API serving HTTPS on port 443
# of a loopback address of its own ($API_IP) and HTTP on a free port of
# 127.0.0.1 ($GW_PORT), answering as SCRIPT says, logging to LOG.  Sets
# FAKE_PID; returns 1, having said why on stderr, when it cannot.
fake_api_start() {
	_tls=$T/tls
	mkdir -p "$_tls"
	if ! {
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$_tls/ca.key" \
			-out "$_tls/ca.crt" -days 2 -subj "/CN=sprite-tools test CA" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$_tls/api.key" \
				-out "$_tls/api.csr" -subj "/CN=api.anthropic.com" &&
			printf '%s\n' "subjectAltName=DNS:api.anthropic.com" "basicConstraints=CA:FALSE" \
				"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$_tls/api.ext" &&
			openssl x509 -req -in "$_tls/api.csr" -CA "$_tls/ca.crt" -CAkey "$_tls/ca.key" -CAcreateserial \
				-days 2 -extfile "$_tls/api.ext" -out "$_tls/api.crt"
	} >"$_tls/openssl.log" 2>&1; then
		echo "openssl could not make the certificates: $(tail -n 1 "$_tls/openssl.log")" >&2
		return 1
	fi
	# 127.77.x.y: port 443 of an address nobody else uses.
	# shellcheck disable=SC2046 # two numbers, split on purpose
	set -- "$@" $(od -An -N2 -tu1 /dev/urandom)
	API_IP=127.77.$(($3 % 250 + 2)).$(($4 % 250 + 2))
	rm -f "$T/fake.ready"
	node "$TOP/tests/claude/fake-anthropic.mjs" --script "$1" --log "$2" --listen 127.0.0.1:0 \
		--tls-listen "$API_IP:443" --tls-cert "$_tls/api.crt" --tls-key "$_tls/api.key" \
		--ready "$T/fake.ready" >"$T/fake.log" 2>&1 &
	FAKE_PID=$!
	_i=0
	while [ ! -s "$T/fake.ready" ] && [ "$_i" -lt 100 ] && kill -0 "$FAKE_PID" 2>/dev/null; do
		sleep 0.1
		_i=$((_i + 1))
	done
	[ -s "$T/fake.ready" ] || { echo "the fake API did not start: $(cat "$T/fake.log")" >&2; return 1; }
	GW_PORT=$(jq .http "$T/fake.ready")
}

# claude_in_sprite SPRITE: the pinned CLI on the sprite's PATH (spritesd
# shares $CLAUDE_DIR into it).
claude_in_sprite() {
	sprite-exec -s "$1" -- sh -c 'mkdir -p ~/.local/bin && ln -sf "$1" ~/.local/bin/claude' sh "$CLAUDE_CLI"
}
