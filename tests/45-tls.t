#!/bin/sh
# TLS: spritesd serving https:// and wss:// with a certificate from a private
# CA (made here with openssl).  Trusting that CA through SSL_CERT_FILE, the
# REST commands (libcurl) and sprite-exec (libwebsockets) work; with only the
# system's CAs, both refuse the certificate with a clear message.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null 2>&1; then
	echo "1..1"
	echo "not ok 1 - openssl is installed: this test makes its certificates with it (install it: apt-get install openssl)"
	exit 1
fi




# ---- a private CA and a certificate for 127.0.0.1 and localhost ----
tls="$T/tls"
mkdir -p "$tls"
ca="$tls/ca.crt"
if ! {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tls/ca.key" -out "$ca" -days 2 -subj "/CN=sprite-tools test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" &&
	printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
		"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/server.ext" &&
	openssl x509 -req -in "$tls/server.csr" -CA "$ca" -CAkey "$tls/ca.key" -CAcreateserial \
		-days 2 -extfile "$tls/server.ext" -out "$tls/server.crt" &&
	openssl verify -CAfile "$ca" "$tls/server.crt"
} >"$tls/openssl.log" 2>&1; then
	echo "Bail out! openssl could not make the test certificates:"
	sed 's/^/# /' "$tls/openssl.log"
	exit 1
fi

start_spritesd --tls-cert "$tls/server.crt" --tls-key "$tls/server.key"
URL=$SPRITESD_URL
like "$URL" "https://127.0.0.1:" "spritesd with --tls-cert/--tls-key writes an https:// URL"

# ---- trusting the CA ----
run env SSL_CERT_FILE="$ca" sprite-create secure
is "$rc" 0 "sprite-create over https: exit 0"
is "$(printf '%s' "$out" | jq -r .name)" secure "it prints the sprite"
run env SSL_CERT_FILE="$ca" sprite-list
is "$rc/$(jq -r .name "$T/out")" "0/secure" "sprite-list over https lists it"
run env SSL_CERT_FILE="$ca" sprite-exec -s secure -n -- sh -c 'echo out; echo err >&2; exit 3'
is "$rc" 3 "sprite-exec over wss: the command's status"
is "$out|$err" "out|err" "sprite-exec over wss: stdout and stderr"
head -c 1048576 /dev/urandom >"$T/random"
run env SSL_CERT_FILE="$ca" sprite-exec -s secure -- cat <"$T/random"
is "$rc" 0 "1 MiB through cat over wss: exit 0"
cmp -s "$T/random" "$T/out"
ok $? "and it comes back byte-exact"
run env SSL_CERT_FILE="$ca" sprite-list --api "https://localhost:$SPRITESD_PORT"
is "$rc/$(jq -r .name "$T/out")" "0/secure" "sprite-list via https://localhost (the certificate's DNS name)"
run env SSL_CERT_FILE="$ca" sprite-exec --api "https://localhost:$SPRITESD_PORT" -s secure -n -- echo via-localhost
is "$rc/$out" "0/via-localhost" "sprite-exec via wss://localhost"

# Answers without a body (204, the /control 404) must end cleanly too: over
# TLS, curl and the SDKs negotiate HTTP/2 when the server offers it.
run env SSL_CERT_FILE="$ca" sprite-create doomed
is "$rc" 0 "another sprite created over https"
run env SSL_CERT_FILE="$ca" sprite-destroy doomed
[ "$rc" -eq 0 ] && [ -z "$out$err" ]
ok $? "sprite-destroy over https: exit 0, quietly"
[ -n "$err" ] && diag "sprite-destroy said: $err"
run env SSL_CERT_FILE="$ca" sprite-list
is "$(jq -r .name "$T/out" | tr '\n' ' ')" "secure " "the destroyed sprite is gone"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$STATE/token")" >"$T/auth")
code=$(curl -sS --noproxy '*' --max-time 10 --cacert "$ca" -H @"$T/auth" -o "$T/body" \
	-w '%{http_code}' "$URL/v1/sprites/secure/control" 2>"$T/err")
st=$?
is "$code" 404 "GET /control over https: 404"
ok "$st" "and the answer ends cleanly (curl exits 0)"

# ---- the system's CAs only: the certificate is refused ----
run env -u SSL_CERT_FILE -u SSL_CERT_DIR sprite-list
is "$rc" 1 "sprite-list with the system CAs only: exit 1"
is "$out" "" "nothing listed"
like "$err" "sprite-list: cannot reach $URL: " "it says it cannot reach the server"
like "$err" "certificate" "and that the certificate is the reason"
unlike "$err" "is spritesd running?" "without suggesting spritesd is not running"
run env -u SSL_CERT_FILE -u SSL_CERT_DIR sprite-create untrusted
is "$rc" 1 "sprite-create with the system CAs only: exit 1"
like "$err" "certificate" "it says the certificate is the reason"
run env -u SSL_CERT_FILE -u SSL_CERT_DIR sprite-exec -s secure -n -- echo ran
is "$rc" 255 "sprite-exec with the system CAs only: exit 255"
is "$out" "" "nothing ran"
is "$(wc -l <"$T/err" | tr -d ' ')" 1 "one line on stderr"
like "$err" "sprite-exec: cannot reach $URL: " "it says it cannot reach the server"
case "$err" in *certificate*) st=0 ;; *) st=1 ;; esac
ok "$st" "and that the certificate is the reason"
case "$err" in *"is spritesd running?"*) st=1 ;; *) st=0 ;; esac
ok "$st" "without suggesting spritesd is not running"
[ -n "$err" ] && diag "sprite-exec said: $err"

# Refused handshakes leave spritesd serving, and nothing was created.
kill -0 "$SPRITESD_PID" 2>/dev/null
ok $? "spritesd is still running after the refused handshakes"
run env SSL_CERT_FILE="$ca" sprite-list
is "$rc/$(jq -r .name "$T/out" | tr '\n' ' ')" "0/secure " "and still serves; the refused create made nothing"

plan "$tap_n"
done_testing
