#!/bin/sh
# The agent's environment, against a real spritesd: task sprite init and
# sync carry Claude Code's provider and model variables that are set, and
# --env's, into the sprite's 0600 env file (values exact, whatever they
# hold), copy the CA bundle and the Google credentials, let the providers'
# hosts into the network policy and remember the --env names (never a
# value: not in the database, not on any command line run in the sprite);
# task sprite env lists the file masked; the errors come before anything
# is made.
# What runs in the sprite is expanded there:
# shellcheck disable=SC2016
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

unset TMUX XDG_DATA_HOME XDG_CONFIG_HOME CLAUDE_CONFIG_DIR MY_TOKEN LONG_SECRET EXTRA_ONE EMPTY_ONE
export TASK_DB="$T/tasks.db" HOME="$T/home"
mkdir -p "$HOME"
# No claude in the sprite: a stand-in, so that init does not ask for it.
export TASK_AGENT='sh -c "sleep 60"'
S=task-web
q() { sqlite3 -batch -cmd '.timeout 10000' "$TASK_DB" "$@"; }
in_sprite() { sprite-exec -s "$S" -- sh -c "$@"; }
# get NAME: the value of NAME in the sprite's env file, as the launcher
# sees it, byte for byte.
get() { in_sprite '. ~/.config/task/agent.env && eval "printf %s \"\${$1}\""' sh "$1"; }
names() { in_sprite 'sed -n "s/^export //p" ~/.config/task/agent.env' | tr '\n' ' '; }
rules() { sprite-policy -s "$S" get | jq -c '[.rules[] | .domain + ":" + .action]'; }

sed -n "/^AGENT_ENV='/,/'\$/p" "$TOP/lib/task/sprite.sh" | sed "s/^AGENT_ENV='//" | cut -d' ' -f1 >"$T/names"
missing=
while read -r n; do
	grep -qw -- "$n" "$TOP/tests/lib.sh" || missing="$missing $n"
done <"$T/names"
is "$missing" "" "tests/lib.sh unsets every variable that task sprite init carries"

R=$T/repo
git init -q -b main "$R"
echo hi >"$R/README"
if ! { git -C "$R" add -A && git -C "$R" -c user.name=t -c user.email=t@example.com commit -q -m first; }; then
	echo "Bail out! cannot make a git repository"
	exit 1
fi
task project add web "$R" >/dev/null || { echo "Bail out! task project add"; exit 1; }
start_spritesd

# ---- the errors, before anything is made ----
run task sprite init web --env NOPE_UNSET
is "$rc" 2 "--env naming a variable not set: exit 2"
stderr_is 'task: --env NOPE_UNSET: NOPE_UNSET is not set here (or is empty): export it, or leave --env NOPE_UNSET out' \
	"and one line naming it"
run env EMPTY_ONE='' task sprite init web --env EMPTY_ONE
is "$rc" 2 "--env naming an empty variable: exit 2 (never an empty value)"
run task sprite init web --env '1BAD'
is "$rc" 2 "--env with a name that is not a variable's: exit 2"
stderr_is 'task: --env "1BAD": not a variable name (letters, digits and _, not starting with a digit)' "and one line"
run task sprite init web --env 'A;B'
is "$rc" 2 "--env with a shell metacharacter: exit 2"
run task sprite init web --env HTTPS_PROXY
is "$rc" 2 "--env HTTPS_PROXY: exit 2"
stderr_is 'task: --env HTTPS_PROXY: a sprite reaches the network through its own proxy, which this would bypass: not carried' \
	"the sprite's own proxy is not overridden"
run task sprite init web --env PATH
is "$rc" 2 "--env PATH: exit 2"
run task sprite init web --env
is "$rc" 2 "--env without a name: exit 2"
stderr_is 'task: --env needs a variable name: task sprite init PROJECT [--allow HOST]... [--env NAME]...' "and the usage"
run env NODE_EXTRA_CA_CERTS="$T/missing.pem" task sprite init web
is "$rc" 1 "NODE_EXTRA_CA_CERTS naming no file: exit 1"
stderr_is "task: NODE_EXTRA_CA_CERTS names $T/missing.pem, which is not a file that can be read here: set it to one, or unset it" \
	"and one line naming it"
run env ANTHROPIC_BASE_URL=gateway.example.com task sprite init web
is "$rc" 1 "ANTHROPIC_BASE_URL without a scheme: exit 1"
stderr_is 'task: ANTHROPIC_BASE_URL is not a URL with a host: set it as https://HOST[:PORT]/..., or unset it' \
	"and one line, without its value"
is "$(sprite-list | wc -l)/$(q "SELECT count(*) FROM settings WHERE key LIKE 'sprite_tools.env.%'")/$(q "SELECT sprite_name FROM projects")" \
	"0/0/" "none of them made a sprite or remembered a name"

# ---- init: an Anthropic gateway, a CA, two --env ----
key='sk-ant-'"'"'q"x $HOME `touch /tmp/pwned-97` $(touch /tmp/pwned-97)
line2-wxyz'
tok='tok
'
long='long-secret-0123456789'
printf -- '-----BEGIN CERTIFICATE-----\nMIIBcorp\n-----END CERTIFICATE-----\n' >"$T/ca.pem"
# Every command that init runs in the sprite, as spritesd lists the
# sprite's sessions (each one until a second after its end).
(while [ ! -e "$T/stop" ]; do sprite-sessions -s "$S" 2>/dev/null; sleep 0.2; done >"$T/sessions") &
WPID=$!
run env ANTHROPIC_API_KEY="$key" ANTHROPIC_BASE_URL='https://user:pw@Gateway.Example.com:8443/v1' ANTHROPIC_MODEL=claude-test-model \
	NODE_EXTRA_CA_CERTS="$T/ca.pem" MY_TOKEN="$tok" LONG_SECRET="$long" \
	task sprite init web --env MY_TOKEN --env LONG_SECRET
touch "$T/stop"
wait "$WPID"
is "$rc" 0 "task sprite init web --env MY_TOKEN --env LONG_SECRET: exit 0"
is "$(printf '%s' "$out" | jq -c '[.allow, .env]')" \
	'[["api.anthropic.com","github.com","gateway.example.com"],["ANTHROPIC_API_KEY","ANTHROPIC_BASE_URL","ANTHROPIC_MODEL","NODE_EXTRA_CA_CERTS","MY_TOKEN","LONG_SECRET"]]' \
	"it prints the allow-list, with the gateway's host alone, and the names carried"
like "$err" "task: ANTHROPIC_BASE_URL: gateway.example.com joins the allow-list" "it says which host joined, for which variable"
is "$(rules)" '["api.anthropic.com:allow","github.com:allow","gateway.example.com:allow"]' "the sprite's policy is that"
is "$(in_sprite 'stat -c %a ~/.config/task/agent.env')/$(names)" \
	"600/ANTHROPIC_API_KEY ANTHROPIC_BASE_URL ANTHROPIC_MODEL NODE_EXTRA_CA_CERTS MY_TOKEN LONG_SECRET " \
	"the env file: mode 0600, those variables"
get ANTHROPIC_API_KEY >"$T/got"
printf '%s' "$key" | cmp -s - "$T/got"
ok $? "a value with quotes, \$, backquotes and a newline, read back exactly by the launcher's shell"
get MY_TOKEN >"$T/got"
printf '%s' "$tok" | cmp -s - "$T/got"
ok $? "a value ending in a newline keeps it"
is "$(get ANTHROPIC_BASE_URL)/$(get LONG_SECRET)" "https://user:pw@Gateway.Example.com:8443/v1/$long" "the others as they were"
is "$(in_sprite 'ls /tmp/pwned-97 2>/dev/null | wc -l')" 0 "nothing in them ran"
is "$(in_sprite '. ~/.config/task/agent.env && echo "$NODE_EXTRA_CA_CERTS" && stat -c %a "$NODE_EXTRA_CA_CERTS" && cat "$NODE_EXTRA_CA_CERTS"')" \
	"/home/sprite/.config/task/ca/extra-ca.pem
600
$(cat "$T/ca.pem")" "the CA bundle copied into the sprite, NODE_EXTRA_CA_CERTS naming the copy"
is "$(in_sprite 'jq -c .env ~/.claude/settings.json')" \
	'{"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC":"1","DISABLE_AUTOUPDATER":"1","DISABLE_TELEMETRY":"1","DISABLE_ERROR_REPORTING":"1","DISABLE_FEEDBACK_COMMAND":"1","DISABLE_BUG_COMMAND":"1","CLAUDE_CODE_DISABLE_TERMINAL_TITLE":"1","CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL":"1"}' \
	"Claude Code's settings in the sprite: the switches for unattended use"
is "$(q "SELECT key || ' ' || value FROM settings WHERE key LIKE 'sprite_tools.env.%'")" \
	'sprite_tools.env.1 ["MY_TOKEN","LONG_SECRET"]' "the --env names remembered for the project, in settings"

run task sprite env web
is "$rc" 0 "task sprite env web: exit 0"
is "$out" '{"name":"ANTHROPIC_API_KEY","value":"sk-a…wxyz"}
{"name":"ANTHROPIC_BASE_URL","value":"https://…@Gateway.Example.com:8443/v1"}
{"name":"ANTHROPIC_MODEL","value":"claude-test-model"}
{"name":"LONG_SECRET","value":"long…6789"}
{"name":"MY_TOKEN","value":"…"}
{"name":"NODE_EXTRA_CA_CERTS","value":"/home/sprite/.config/task/ca/extra-ca.pem"}' \
	"a line per variable, by name: secrets masked (a short one wholly), a URL without its password, the rest whole"

# No value anywhere but in the sprite's file: not in the database, not in
# any command line run in the sprite (every one went through stdin).
secrets() { grep -a -c -F -e line2-wxyz -e "$long" -e user:pw -e MIIBcorp "$@"; }
is "$(q .dump | secrets)/$(cat "$T"/tasks.db* | secrets)" "0/0" "no value in the database"
jq -r .command "$T/sessions" | sort -u >"$T/commands"
is "$(secrets "$T/commands")/$(grep -c -e 'cat >.config/task/agent.env.new' -e ' sh .config/task/ca/extra-ca.pem$' "$T/commands")" \
	"0/2" "nor on any command line that init ran in the sprite (the env file's and the CA's writes among them)"

# ---- sync: the values refreshed, the remembered names carried ----
key2='sk-ant-second-key-0123-abcd'
run env ANTHROPIC_API_KEY="$key2" MY_TOKEN=t2 task sprite sync web
is "$rc" 2 "sync while a remembered --env name is not set: exit 2"
stderr_is 'task: LONG_SECRET is not set here (or is empty), and task sprite init web --env LONG_SECRET carries it: export it, or run task sprite init web without --env LONG_SECRET' \
	"and one line saying what to do"
is "$(get MY_TOKEN)" tok "nothing written"
run env ANTHROPIC_API_KEY="$key2" MY_TOKEN=t2 LONG_SECRET="$long" EXTRA_ONE=extra-value-0123456789 \
	ANTHROPIC_VERTEX_BASE_URL=https://Vertex-GW.example.com/ task sprite sync web --env EXTRA_ONE
is "$rc/$(printf '%s' "$out" | jq -c .env)" \
	'0/["ANTHROPIC_API_KEY","ANTHROPIC_VERTEX_BASE_URL","MY_TOKEN","LONG_SECRET","EXTRA_ONE"]' \
	"task sprite sync web --env EXTRA_ONE: the names carried now"
is "$(names)" "ANTHROPIC_API_KEY ANTHROPIC_VERTEX_BASE_URL MY_TOKEN LONG_SECRET EXTRA_ONE " "the env file rewritten from this environment"
is "$(get ANTHROPIC_API_KEY)/$(get MY_TOKEN)/$(get EXTRA_ONE)" "$key2/t2/extra-value-0123456789" "with the new values"
is "$(in_sprite 'ls ~/.config/task/ca')" "" "the CA copy no variable names any more is gone"
is "$(q "SELECT value FROM settings WHERE key = 'sprite_tools.env.1'")" '["MY_TOKEN","LONG_SECRET","EXTRA_ONE"]' \
	"sync's --env name is remembered too"
like "$err" "task: ANTHROPIC_VERTEX_BASE_URL: vertex-gw.example.com joins the allow-list" "a new base URL's host joins"
is "$(rules)" '["api.anthropic.com:allow","github.com:allow","gateway.example.com:allow","vertex-gw.example.com:allow"]' \
	"the policy: that host added, nothing taken away"

# ---- init again: Bedrock and Vertex ----
printf '{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\nMIIEgcp\\n"}\n' >"$T/gcp.json"
run env CLAUDE_CODE_USE_BEDROCK=1 AWS_REGION=eu-west-3 AWS_ACCESS_KEY_ID=AKIAEXAMPLE00001234 AWS_SECRET_ACCESS_KEY=aws-secret-0123456789 \
	CLAUDE_CODE_USE_VERTEX=true CLOUD_ML_REGION=global ANTHROPIC_VERTEX_PROJECT_ID=proj-1 GOOGLE_APPLICATION_CREDENTIALS="$T/gcp.json" \
	task sprite init web
is "$rc" 0 "task sprite init web on Bedrock and Vertex: exit 0"
is "$(printf '%s' "$out" | jq -c .allow)" \
	'["github.com","bedrock-runtime.eu-west-3.amazonaws.com","bedrock.eu-west-3.amazonaws.com","aiplatform.googleapis.com","oauth2.googleapis.com"]' \
	"the allow-list: Bedrock's endpoints for the region, Vertex's global one and Google's token exchange; no api.anthropic.com"
is "$(rules)" '["github.com:allow","bedrock-runtime.eu-west-3.amazonaws.com:allow","bedrock.eu-west-3.amazonaws.com:allow","aiplatform.googleapis.com:allow","oauth2.googleapis.com:allow"]' \
	"init sets the whole policy again"
is "$(printf '%s\n' "$err" | grep -e 'allow-list' -e 'stays out')" \
	'task: CLAUDE_CODE_USE_BEDROCK: bedrock-runtime.eu-west-3.amazonaws.com joins the allow-list
task: CLAUDE_CODE_USE_BEDROCK: bedrock.eu-west-3.amazonaws.com joins the allow-list
task: CLAUDE_CODE_USE_VERTEX: aiplatform.googleapis.com joins the allow-list
task: CLAUDE_CODE_USE_VERTEX: oauth2.googleapis.com joins the allow-list
task: api.anthropic.com stays out of the allow-list: the agent reaches its model through Bedrock and Vertex (--allow api.anthropic.com lets it in)' \
	"it says which host joined for which variable, and why the API stays out"
is "$(q "SELECT count(*) FROM settings WHERE key LIKE 'sprite_tools.env.%'")" 0 "init without --env forgets the names"
run task sprite env web
is "$out" '{"name":"ANTHROPIC_VERTEX_PROJECT_ID","value":"proj-1"}
{"name":"AWS_ACCESS_KEY_ID","value":"AKIA…1234"}
{"name":"AWS_REGION","value":"eu-west-3"}
{"name":"AWS_SECRET_ACCESS_KEY","value":"aws-…6789"}
{"name":"CLAUDE_CODE_USE_BEDROCK","value":"1"}
{"name":"CLAUDE_CODE_USE_VERTEX","value":"true"}
{"name":"CLOUD_ML_REGION","value":"global"}
{"name":"GOOGLE_APPLICATION_CREDENTIALS","value":"/home/sprite/.config/task/google/credentials.json"}' \
	"task sprite env: the provider's variables"
in_sprite '. ~/.config/task/agent.env && stat -c %a "$GOOGLE_APPLICATION_CREDENTIALS" && cat "$GOOGLE_APPLICATION_CREDENTIALS"' >"$T/got"
{ echo 600; cat "$T/gcp.json"; } | cmp -s - "$T/got"
ok $? "the Google credentials copied, 0600, the variable naming the copy"

# The region's forms: an AWS region not shaped like one is passed over,
# Vertex's multi-region location has a host of its own.
run env CLAUDE_CODE_USE_BEDROCK=1 AWS_REGION=bad.region AWS_DEFAULT_REGION=ap-south-1 CLAUDE_CODE_USE_VERTEX=1 CLOUD_ML_REGION=eu \
	task sprite sync web
is "$rc/$(printf '%s\n' "$err" | grep 'joins the allow-list')" '0/task: CLAUDE_CODE_USE_BEDROCK: bedrock-runtime.ap-south-1.amazonaws.com joins the allow-list
task: CLAUDE_CODE_USE_BEDROCK: bedrock.ap-south-1.amazonaws.com joins the allow-list
task: CLAUDE_CODE_USE_VERTEX: aiplatform.eu.rep.googleapis.com joins the allow-list' \
	"sync: AWS_DEFAULT_REGION's endpoints, Vertex's eu endpoint; the hosts there already are not said again"

# Nothing to carry: the file stays as it is.
run task sprite sync web
is "$rc/$(printf '%s' "$out" | jq -c .env)/$(names)" \
	"0/null/CLAUDE_CODE_USE_BEDROCK AWS_REGION AWS_DEFAULT_REGION CLAUDE_CODE_USE_VERTEX CLOUD_ML_REGION " \
	"sync with none of the variables set: the sprite's file kept"
in_sprite 'rm ~/.config/task/agent.env'
run task sprite env web
is "$rc/$out" "0/" "task sprite env without a file there: exit 0, nothing printed"
stderr_is 'task: sprite task-web has no agent environment (~/.config/task/agent.env): task sprite sync web writes it' \
	"and one line saying so"
run task sprite env web --env X
is "$rc" 2 "task sprite env takes no option: exit 2"

plan "$tap_n"
done_testing
