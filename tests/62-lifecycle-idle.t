#!/bin/sh
# Idle sprites go cold (spritesd --idle-timeout 2): a new sprite is cold; it
# runs during and right after an exec; with nothing running it goes cold
# within a few seconds, keeping its files, and the next exec wakes it without
# the caller noticing.  A background job keeps it running until the job ends;
# an agent in tmux keeps it running.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



now_ms() { echo $(($(date +%s%N) / 1000000)); }

# status NAME: the sprite's status, as sprite-list says.
status() { sprite-list | jq -r --arg n "$1" 'select(.name == $n) | .status'; }

# wait_status NAME WANT MAX_MS: poll every 100 ms until NAME's status is WANT;
# false if it is not after MAX_MS.
wait_status() {
	deadline=$(($(now_ms) + $3))
	while [ "$(status "$1")" != "$2" ]; do
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# cmds NAME: the command lines of sprite NAME's processes (its cgroup's:
# quick, where a walk of the host's /proc is slow in a loaded run).
cmds() {
	for p in $(sprite_procs "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null && echo
	done
}

command -v tmux >/dev/null || { echo "Bail out! tmux is not installed: run scripts/install-deps"; exit 1; }
start_spritesd --idle-timeout 2

# ---- a new sprite is cold ----
run sprite-create nap
is "$(jq -r .status "$T/out")" cold "sprite-create: a new sprite is cold"
is "$(status nap)" cold "sprite-list says cold too"
[ ! -e "$STATE/sprites/nap/sandbox.json" ]
ok $? "and it has no sandbox"

# ---- running during and right after an exec ----
sprite-exec -s nap -n -- sh -c 'echo h >/home/sprite/h; echo w >/workspace/w; echo t >/tmp/t; sleep 1.5' \
	>"$T/nap.out" 2>"$T/nap.err" &
client=$!
wait_status nap running 3000
ok $? "during an exec the sprite is running"
kill -0 "$client" 2>/dev/null
ok $? "(the exec was still going on)"
init1=$(jq -r .init_pid "$STATE/sprites/nap/sandbox.json" 2>/dev/null)
wait "$client"
is "$?" 0 "the exec ends with status 0"
ended=$(now_ms)
is "$(status nap)" running "right after the exec it is still running"

# ---- cold within the idle timeout, files kept ----
wait_status nap cold 6000
ok $? "with nothing running it becomes cold"
took=$(($(now_ms) - ended))
# (From when the client saw the end: in a loaded run, later than spritesd did.)
[ "$took" -ge 1000 ] && [ "$took" -le 4500 ]
ok $? "about 2 s after the exec ended (took $took ms; the timeout is 2 s)"
[ ! -e "$STATE/sprites/nap/sandbox.json" ]
ok $? "its sandbox is released (no sandbox.json)"
is "$(sprite_procs nap)" "" "no process on the host belongs to its sandbox any more"
is "$(cat "$STATE/sprites/nap/fs/home/h" "$STATE/sprites/nap/fs/workspace/w" "$STATE/sprites/nap/fs/tmp/t" 2>&1)" \
	"$(printf 'h\nw\nt')" "its files are kept"

# ---- the next exec wakes it transparently ----
run sprite-exec -s nap -n -- cat /home/sprite/h /workspace/w /tmp/t
is "$rc" 0 "an exec in the cold sprite: exit 0"
is "$out" "$(printf 'h\nw\nt')" "and it finds the files written before it went cold"
is "$err" "" "with nothing on stderr"
is "$(status nap)" running "the sprite is running again"
init2=$(jq -r .init_pid "$STATE/sprites/nap/sandbox.json" 2>/dev/null)
[ -n "$init2" ] && [ "$init2" != "$init1" ]
ok $? "in a new sandbox (pid 1 was $init1, is $init2)"

# ---- a background job keeps a sprite running; so does an agent in tmux ----
for n in bg agent; do
	sprite-create "$n" >/dev/null || echo "Bail out! cannot create sprite $n"
done
# The job starts between start and started (an exec is slow in a loaded
# parallel run): the times below allow for either.
start=$(now_ms)
run sprite-exec -s bg -n -- sh -c 'sleep 12 >/dev/null 2>&1 &'
started=$(now_ms)
is "$rc" 0 "sprite bg: an exec leaves 'sleep 12' running in the background"
run sprite-exec -s agent -n -- tmux new -d 'sleep 1000'
is "$rc" 0 "sprite agent: an exec starts tmux new -d 'sleep 1000'"

sleep 5
is "$(status bg)" running "5 s later, past the timeout, bg is still running"
cmds bg | grep -qx 'sleep 12 '
ok $? "(its sleep 12 still runs)"
is "$(status agent)" running "and agent is running"
cmds agent | grep -qx 'sleep 1000 '
ok $? "(its tmux's sleep 1000 runs)"

# bg goes cold once its job has ended (12 s) and the timeout has passed.
cold_at=
while [ $(($(now_ms) - started)) -lt 30000 ]; do
	if [ "$(status bg)" = cold ]; then
		cold_at=$(($(now_ms) - start))
		break
	fi
	sleep 0.2
done
[ -n "$cold_at" ]
ok $? "bg goes cold after its background job ended (at ${cold_at:-never} ms)" ||
	for p in $(sprite_procs bg); do diag "left in bg: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
[ -n "$cold_at" ] && [ "$cold_at" -ge 12000 ] && [ "$((cold_at - (started - start)))" -le 16500 ]
ok $? "not before the job ended (12 s), and within the timeout after (took ${cold_at:-never} ms, the exec $((started - start)) ms)"
is "$(status agent)" running "agent, with tmux, is still running ($(($(now_ms) - start)) ms after)"
run sprite-exec -s agent -n -- tmux has-session
is "$rc" 0 "and its tmux session is still there"

plan "$tap_n"
done_testing
