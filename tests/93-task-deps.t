#!/bin/sh
# task sprite init and sync install a project's dependencies by its marker
# files, once, in the sprite: real npm (package-lock.json -> npm ci,
# package.json -> npm install), real pip into /workspace/.venv
# (requirements.txt), real bundler into the sprite's home (Gemfile), and
# bin/setup; go and cargo are stand-ins in the sprite that record how they
# were called (those toolchains are too big to install for one test).  The
# packages are local (a file: package, a wheel, a path gem), so nothing is
# fetched; spritesd resolves every registry the policy allows to this
# machine's loopback, so that nothing could be.  Then: unchanged markers
# install nothing, a changed one installs again, a failed install is
# reported and tried again, and the agent in a task's worktree uses what
# was installed (Python's environment first on its PATH).
# What runs in the sprite is expanded there:
# shellcheck disable=SC2016
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

unset TASK_AGENT ANTHROPIC_API_KEY CLAUDE_CODE_OAUTH_TOKEN TMUX XDG_DATA_HOME XDG_CONFIG_HOME CLAUDE_CONFIG_DIR
export TASK_DB="$T/tasks.db" HOME="$T/home" TMUX_TMPDIR="$T/tmux"
mkdir -p "$HOME" "$TMUX_TMPDIR"
S=task-deps
in_sprite() { sprite-exec -s "$S" -- sh -c "$@"; }
# notes: what task said it ran, marker by marker (the installers' own
# output left out).
notes() {
	printf '%s\n' "$err" | grep -E '^task: (Gemfile|package(-lock)?\.json|requirements\.txt|go\.mod|Cargo\.toml|bin/setup): '
}

for tool in npm python3 bundle ruby; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "Bail out! $tool is not installed (scripts/install-deps installs it)"
		exit 1
	}
done

# ---- the project: one of each marker, every package local ----
R=$T/repo
git init -q -b main "$R"
gitc() {
	_d=$1
	shift
	git -C "$_d" -c user.name=Tess -c user.email=tess@example.com "$@"
}
mkdir -p "$R/bin" "$R/packages/greet" "$R/wheels" "$R/greet/lib"
# bin/setup also tries to write the user's clipboard (OSC 52) on stderr.
printf '#!/bin/sh\necho "run in $PWD" >>"$HOME/setup-runs"\nprintf "setup: \\033]52;c;aGk=\\007\\302\\233done\\n" >&2\n' >"$R/bin/setup"
chmod 755 "$R/bin/setup"
printf 'node_modules/\n' >"$R/.gitignore"
# npm: a package from the repository itself; .npmrc keeps npm off the network.
printf '{"name":"greet","version":"1.0.0","main":"index.js"}\n' >"$R/packages/greet/package.json"
printf 'exports.hi = () => "hi from npm";\n' >"$R/packages/greet/index.js"
printf '{"name":"deps-demo","version":"1.0.0","dependencies":{"greet":"file:packages/greet"}}\n' >"$R/package.json"
printf 'offline=true\n' >"$R/.npmrc"
(cd "$R" && npm install --package-lock-only --offline --no-audit --no-fund >/dev/null 2>&1)
if [ ! -s "$R/package-lock.json" ]; then
	echo "Bail out! npm cannot write package-lock.json"
	exit 1
fi
# pip: a wheel in the repository, and no index.
python3 - "$R/wheels" <<'EOF' || { echo "Bail out! cannot build the wheel"; exit 1; }
import base64, hashlib, sys, zipfile
files = {
    "greet_py/__init__.py": "def hi():\n    return 'hi from pip'\n",
    "greet_py-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: greet-py\nVersion: 1.0\n",
    "greet_py-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record += "%s,sha256=%s,%d\n" % (name, digest, len(text.encode()))
files["greet_py-1.0.dist-info/RECORD"] = record + "greet_py-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1] + "/greet_py-1.0-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
EOF
printf -- '--no-index\n--find-links wheels\ngreet_py==1.0\n' >"$R/requirements.txt"
# bundler: a gem from the repository.
cat >"$R/greet/greet.gemspec" <<'EOF'
Gem::Specification.new do |s|
  s.name = "greet"
  s.version = "1.0.0"
  s.summary = "a local gem"
  s.authors = ["Tess"]
  s.files = ["lib/greet.rb"]
end
EOF
printf 'module Greet\n  def self.hi\n    "hi from bundler"\n  end\nend\n' >"$R/greet/lib/greet.rb"
printf 'gem "greet", path: "greet"\n' >"$R/Gemfile"
printf 'module example.com/deps\n\ngo 1.21\n' >"$R/go.mod"
printf '[package]\nname = "deps"\nversion = "0.1.0"\n' >"$R/Cargo.toml"
printf 'version = 3\n' >"$R/Cargo.lock"
if ! { git -C "$R" add -A && gitc "$R" commit -q -m 'one of each marker'; }; then
	echo "Bail out! cannot make a git repository"
	exit 1
fi

# Every registry the policy will allow resolves to this machine, where
# nothing listens on 443: an installer that tried the network would fail
# here, not reach the internet.
set --
for h in api.anthropic.com github.com rubygems.org index.rubygems.org registry.npmjs.org pypi.org \
	files.pythonhosted.org proxy.golang.org sum.golang.org crates.io static.crates.io index.crates.io; do
	set -- "$@" --resolve "$h=127.0.0.1"
done
start_spritesd "$@"

# The sprite, made first to hold the go and cargo stand-ins: each records
# its arguments, directory and stdin, and fails while ~/fail-NAME exists.
sprite-create "$S" >/dev/null || { echo "Bail out! sprite-create"; exit 1; }
in_sprite 'mkdir -p ~/.local/bin && for t in go cargo; do
	printf "%s\n" "#!/bin/sh" \
		"printf \"%s %s in %s stdin=%s\\\\n\" \"\${0##*/}\" \"\$*\" \"\$PWD\" \"\$(cat)\" >>\"\$HOME/tool-runs\"" \
		"[ ! -e \"\$HOME/fail-\${0##*/}\" ]" >~/.local/bin/$t
	chmod 755 ~/.local/bin/$t
done' || { echo "Bail out! cannot install the stand-ins"; exit 1; }
is "$(in_sprite 'echo hello | PATH=~/.local/bin:$PATH go mod download; cat ~/tool-runs; rm ~/tool-runs')" \
	"go mod download in /home/sprite stdin=hello" "the stand-ins record their calls"

task project add deps "$R" >/dev/null || { echo "Bail out! task project add"; exit 1; }

# ---- task sprite init: every marker, once ----
# Real npm, pip and bundler: slow when the whole suite runs in parallel.
RUN_TIMEOUT=300
run task sprite init deps --allow mirror.example.org --allow '*.pkg.example.com'
is "$rc" 0 "task sprite init deps: exit 0"
[ "$rc" = 0 ] || printf '%s\n' "$err" | sed 's/^/# stderr: /'
is "$(printf '%s' "$out" | jq -r .dependencies)" installed "it says the dependencies were installed"
like "$err" "setup: ?]52;c;aGk=??done" "what the sprite prints reaches the terminal cleaned: no escape, no C1 control"
case $err in
*"$(printf '\033')"*) ok 1 "no escape byte at all in task's stderr" ;;
*) ok 0 "no escape byte at all in task's stderr" ;;
esac
is "$(notes)" "task: Gemfile: bundle install
task: package-lock.json: npm ci --no-audit --no-fund
task: requirements.txt: python3 -m venv .venv
task: requirements.txt: .venv/bin/pip install -r requirements.txt
task: go.mod: go mod download
task: Cargo.toml: cargo fetch
task: bin/setup: ./bin/setup" "each marker's installer, in order, said on stderr"
is "$(in_sprite 'cat ~/tool-runs ~/setup-runs')" "go mod download in /workspace stdin=
cargo fetch in /workspace stdin=
run in /workspace" "go mod download, cargo fetch and bin/setup ran once each, in /workspace, stdin closed"
is "$(in_sprite 'cd /workspace && readlink node_modules/greet && node -e "console.log(require(\"greet\").hi())"')" \
	"../packages/greet
hi from npm" "npm ci installed the package in /workspace/node_modules"
is "$(in_sprite '/workspace/.venv/bin/python -c "import greet_py, sys; print(greet_py.hi()); print(sys.prefix)"')" \
	"hi from pip
/workspace/.venv" "pip installed the wheel in the virtual environment /workspace/.venv"
is "$(in_sprite 'cd /workspace && git status --porcelain; grep -x /.venv/ .git/info/exclude')" "?? Gemfile.lock
/.venv/" "git leaves .venv out (Gemfile.lock, which bundler wrote, is the project's to commit)"
is "$(in_sprite 'grep "^BUNDLE_PATH:" ~/.bundle/config; cd /workspace && bundle exec ruby -e "require %q(greet); puts Greet.hi" 2>/dev/null')" \
	'BUNDLE_PATH: "/home/sprite/.bundle/gems"
hi from bundler' "bundler installs into the sprite's home, and bundle exec finds the gem"
is "$(sprite-policy -s "$S" get | jq -r '[.rules[].domain] | join(" ")')" \
	"api.anthropic.com github.com rubygems.org index.rubygems.org registry.npmjs.org pypi.org files.pythonhosted.org proxy.golang.org sum.golang.org crates.io static.crates.io index.crates.io mirror.example.org *.pkg.example.com" \
	"the network policy allows the registries of these markers, and the hosts given with --allow"

# ---- task sprite sync: again only when a marker changed ----
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/unchanged" \
	"sync with nothing new: unchanged (though bundler wrote Gemfile.lock after the checksum was first taken)"
is "$(notes)" "" "and no installer ran"
is "$(in_sprite 'cat ~/tool-runs ~/setup-runs | wc -l')" 3 "none"
echo 'print("not a marker")' >"$R/main.py"
gitc "$R" add main.py
gitc "$R" commit -q -m 'code, no marker'
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/unchanged" "a commit touching no marker: unchanged"
printf '# a change\n' >>"$R/Cargo.lock"
gitc "$R" commit -q -am 'Cargo.lock changed'
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/installed" "a lockfile changed: installed again"
like "$(notes)" "task: requirements.txt: .venv/bin/pip install -r requirements.txt" "the environment is reused"
unlike "$(notes)" "python3 -m venv" "not made again"
is "$(in_sprite 'grep -c "cargo fetch" ~/tool-runs; wc -l <~/setup-runs')" "2
2" "cargo fetch and bin/setup ran a second time"

# A failed installer: said, not stamped, tried again at the next sync.
in_sprite 'touch ~/fail-go'
printf '\nrequire example.com/none v0.0.0\n' >>"$R/go.mod"
gitc "$R" commit -q -am 'go.mod changed'
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/failed" "go mod download fails: the sync says failed"
like "$err" "task: go.mod: go mod download failed" "which installer failed, on stderr"
like "$err" "task: installing the dependencies failed (see above): task sprite sync deps tries again" "and what to do"
in_sprite 'rm ~/fail-go'
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/installed" "the next sync, with nothing new, tries again and installs"
is "$(in_sprite 'grep -c "go mod download" ~/tool-runs')" 4 "go mod download ran each time"

# package.json without a lock file: npm install.
gitc "$R" rm -q package-lock.json
gitc "$R" commit -q -m 'no lock file'
run task sprite sync deps
is "$rc/$(printf '%s' "$out" | jq -r .dependencies)" "0/installed" "the lock file gone: installed again"
like "$(notes)" "task: package.json: npm install --no-audit --no-fund" "with npm install"

# ---- the agent, in a task's worktree, uses all of it ----
in_sprite 'cat >~/agent-env' <<'EOF'
{
	echo "VIRTUAL_ENV=$VIRTUAL_ENV"
	command -v python
	command -v pip
	python -c 'import greet_py; print(greet_py.hi())'
	node -e 'console.log(require("greet").hi())'
	bundle exec ruby -e 'require "greet"; puts Greet.hi' 2>/dev/null
	pwd
} >"$HOME/agent-env.tmp" 2>&1
mv "$HOME/agent-env.tmp" "$HOME/agent-env.out"
EOF
task add deps 'Use the dependencies' >/dev/null
run env TASK_AGENT='sh /home/sprite/agent-env' task execute 1
is "$rc" 0 "task execute 1: exit 0"
i=0
while [ "$i" -lt 200 ] && ! in_sprite 'test -s ~/agent-env.out'; do
	sleep 0.1
	i=$((i + 1))
done
is "$(in_sprite 'cat ~/agent-env.out')" "VIRTUAL_ENV=/workspace/.venv
/workspace/.venv/bin/python
/workspace/.venv/bin/pip
hi from pip
hi from npm
hi from bundler
/workspace/.task-worktrees/1-use-the-dependencies" \
	"the agent runs in its worktree with the virtual environment first on PATH, the npm package and the gem found"

plan "$tap_n"
done_testing
