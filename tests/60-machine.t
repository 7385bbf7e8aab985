#!/bin/sh
# A sprite is one machine: a tmux server, background jobs and the PID
# namespace are shared by every exec.  It is also a machine of its own: it
# sees neither another sprite's processes and files nor the host's, its
# system directories are read-only, and its home, /workspace and /tmp are its
# own persistent directories.  Destroying it leaves nothing of it running.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



# ex SPRITE CMD...: run CMD in SPRITE without stdin ($rc, $out, $err).
ex() {
	sp=$1
	shift
	run sprite-exec -s "$sp" -n -- "$@"
}

# ns_procs NS: host pids of the processes whose PID namespace is NS.
ns_procs() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$1" ] && printf '%s ' "${p#/proc/}"
	done
}

command -v tmux >/dev/null || { echo "Bail out! tmux is not installed: run scripts/install-deps"; exit 1; }
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
for n in one two doomed; do
	sprite-create "$n" >/dev/null || echo "Bail out! cannot create sprite $n"
done

# ---- another sprite's processes, and the host's, are not seen ----
# First of all, while "two" runs nothing: all it sees is its own pid 1
# (spritesd's sprite-init) and the ps that looks.
ex two ps -eo comm=
is "$rc/$out" "0/$(printf 'sprite-init\nps')" "a sprite with nothing running sees 2 processes: its init, ps"

# ---- tmux: one exec starts a server, later ones use it ----
ex one tmux new-session -d -s work -x 80 -y 24 sh
is "$rc/$out$err" "0/" "tmux new-session -d -s work in one exec"
ex one tmux has-session -t work
is "$rc/$err" "0/" "tmux has-session -t work succeeds from a later exec"
ex one tmux send-keys -t work 'echo "pane:$((6 * 7))"' Enter
is "$rc" 0 "tmux send-keys to the session from a third exec"
got=
i=0
while [ "$i" -lt 50 ]; do
	ex one tmux capture-pane -p -t work
	got=$(printf '%s\n' "$out" | grep -x 'pane:42')
	[ -n "$got" ] && break
	sleep 0.1
	i=$((i + 1))
done
is "$got" "pane:42" "tmux capture-pane from a fourth exec shows what the keys ran"

# ---- background jobs and the PID namespace ----
ex one sh -c 'sleep 600 >/dev/null 2>&1 & echo $! >/tmp/bg.pid'
is "$rc" 0 "an exec starts a background job and writes its pid to a file"
ex one sh -c 'p=$(cat /tmp/bg.pid); kill -0 "$p" && tr "\0" " " <"/proc/$p/cmdline"'
is "$rc/$out" "0/sleep 600 " "the pid written by one exec is alive in the next, and is that job"
ex one pgrep -x sleep
like " $(printf '%s' "$out" | tr '\n' ' ') " " $(sprite-exec -s one -n -- cat /tmp/bg.pid) " \
	"pgrep in the next exec finds the background job"
ex one sh -c 'tr "\0" " " </proc/1/cmdline'
init1=$out
ex one sh -c 'tr "\0" " " </proc/1/cmdline'
is "$out" "$init1" "/proc/1/cmdline is the same in two execs"
is "$init1" "/.sprite/init --sprite-init " "pid 1 is the sandbox's init"
ex one readlink /proc/self/ns/pid
ns1=$out
ex one readlink /proc/self/ns/pid
is "$out" "$ns1" "two execs are in the same PID namespace"
isnt_host=0
[ "$ns1" != "$(readlink /proc/$$/ns/pid)" ] || isnt_host=1
ok "$isnt_host" "which is not the host's ($ns1)"
ex two readlink /proc/self/ns/pid
[ -n "$out" ] && [ "$out" != "$ns1" ]
ok $? "another sprite has a PID namespace of its own ($out)"

# ---- isolation: processes ----
marker=$((700000 + $$))
ex one sh -c "sleep $marker >/dev/null 2>&1 &"
is "$rc" 0 "sprite one starts a marker process (sleep $marker)"
pgrep -fx "sleep $marker" >/dev/null
ok $? "the host sees the marker (it really runs)"
ex two pgrep -f "$marker"
is "$rc/$out" "1/" "sprite two's pgrep does not find sprite one's marker"
ex two ps -eo args=
unlike "$out" "$marker" "nor does its ps"
ex two sh -c 'cat /proc/1/comm; hostname'
is "$out" "$(printf 'sprite-init\ntwo')" "sprite two's pid 1 is its own sandbox's init"
ex one pgrep -x spritesd
is "$rc/$out" "1/" "a sprite does not see spritesd"
ex one ps -eo args=
unlike "$out" "$(basename "$0")" "nor the test's shell (by name)"
host_cmd=$(tr '\0' ' ' </proc/$$/cmdline)
ex one sh -c "tr '\\0' ' ' </proc/$$/cmdline 2>/dev/null"
[ "$out" != "$host_cmd" ]
ok $? "nor the test's shell by its pid ($$)"

# ---- isolation: another sprite's files ----
ex one sh -c 'echo secret >/home/sprite/one-secret; echo secret >/workspace/one-secret; echo secret >/tmp/one-secret'
is "$rc" 0 "sprite one writes files in /home/sprite, /workspace and /tmp"
for d in /home/sprite /workspace /tmp; do
	ex two test -e "$d/one-secret"
	is "$rc" 1 "sprite two does not see sprite one's $d/one-secret"
done
ex two sh -c 'find /home/sprite /workspace -mindepth 1 | wc -l; find /tmp -name "one-*" | wc -l'
is "$out" "$(printf '0\n0')" "sprite two's home and /workspace are empty, its /tmp has nothing of one's"
ex two test -e "$STATE/sprites/one"
is "$rc" 1 "nor sprite one's directory on the host ($STATE/sprites/one)"

# ---- isolation: the host's home and work directories ----
ex one test -e /root
is "$rc" 1 "the host's /root is not visible"
ex one test -e "$HOME"
is "$rc" 1 "the host's \$HOME ($HOME) is not visible"
ex one test -e "$TOP"
is "$rc" 1 "the repository ($TOP) is not visible"
ex one test -e "$T"
is "$rc" 1 "the test's directory (\$T) is not visible"
ex one test -e "$STATE"
is "$rc" 1 "spritesd's state directory is not visible"

# ---- system directories are read-only ----
for d in /usr /etc /bin; do
	probe="$d/.sprite-probe-$$"
	ex one touch "$probe"
	is "$rc" 1 "touch $probe fails"
	stderr_is "touch: cannot touch '$probe': Read-only file system" "with 'Read-only file system'"
	[ ! -e "$probe" ]
	ok $? "and nothing appeared on the host in $d"
	rm -f "$probe"
done

# ---- environment ----
ex one sh -c 'printf "%s\n" "$HOME" "$PATH"; pwd'
is "$out" "$(printf '%s\n' /home/sprite /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /home/sprite)" \
	"HOME=/home/sprite, the standard PATH, and the home is the working directory"

# ---- /workspace and /tmp persist ----
ex one sh -c 'echo w-data >/workspace/w.txt; echo t-data >/tmp/t.txt'
is "$rc" 0 "an exec writes /workspace/w.txt and /tmp/t.txt"
ex one cat /workspace/w.txt /tmp/t.txt /var/tmp/t.txt
is "$rc/$out" "0/$(printf 'w-data\nt-data\nt-data')" "the next exec reads them (and /var/tmp is /tmp)"
is "$(cat "$STATE/sprites/one/fs/workspace/w.txt" "$STATE/sprites/one/fs/tmp/t.txt" 2>&1)" \
	"$(printf 'w-data\nt-data')" "they are kept in the sprite's directory on the host, not in memory"

# ---- destroy: nothing of the sprite keeps running ----
# (One line: spritesd loses an argument's newline and all that follows it.)
ex doomed sh -c 'tmux new-session -d -s agent "sleep 4000"; sleep 4001 >/dev/null 2>&1 & setsid sh -c "while :; do sleep 1; done" >/dev/null 2>&1 </dev/null & nohup sleep 4002 >/dev/null 2>&1 & echo started'
is "$rc/$out" "0/started" "sprite doomed starts a tmux server and background processes"
ex doomed pgrep -c -x -f 'sleep 4000|sleep 4001|sleep 4002|sh -c while :; do sleep 1; done|tmux new-session -d -s agent sleep 4000'
is "$out" 5 "all of them run"
init=$(jq -r .init_pid "$STATE/sprites/doomed/sandbox.json" 2>/dev/null)
ns=$(readlink "/proc/$init/ns/pid" 2>/dev/null)
like "$ns" "pid:[" "the sandbox's pid 1 ($init) and its PID namespace ($ns) are known"
n_before=$(ns_procs "$ns" | wc -w)
[ "$n_before" -ge 6 ]
ok $? "the host sees the sandbox's processes in that namespace ($n_before)"
[ "$(sprite_procs doomed | wc -l)" -ge 6 ]
ok $? "and its cgroup holds them"
run sprite-destroy doomed
is "$rc/$err" "0/" "sprite-destroy doomed"
is "$(sprite_procs doomed)" "" "afterwards no process is left in the sprite's cgroup"
# SIGKILL takes effect as the kernel gets to it: give a loaded machine 10 s.
i=0
while [ -n "$(ns_procs "$ns")" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is "$(ns_procs "$ns")" "" "and none is left in its PID namespace"
for p in $(ns_procs "$ns"); do diag "left: $(ps -o pid=,ppid=,stat=,args= -p "$p")"; done
[ ! -e "$STATE/sprites/doomed" ]
ok $? "its directory is gone"
is "$(find "$STATE/sprites" -maxdepth 1 -name '*doomed*' | wc -l | tr -d ' ')" 0 "with no leftover of it"
is "$(sprite-list | jq -r .name | tr '\n' ' ')" "one two " "it is no longer listed"
ex one tmux has-session -t work
is "$rc" 0 "the other sprites are untouched (one's tmux server is still there)"

plan "$tap_n"
done_testing
