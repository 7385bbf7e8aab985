#!/bin/sh
# Persistence and isolation: a sprite's files and processes outlive the exec
# that made them and a restart of spritesd (stopped cleanly or killed); a
# sprite sees neither the host's private files, nor the test's, nor another
# sprite's; /usr is read-only inside.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



# still_there WHEN: the sprite "keep" and what it made are all still there.
still_there() {
	run sprite-list
	is "$(jq -r 'select(.name == "keep") | .name' "$T/out")" keep "$1: keep is still listed"
	is "$(jq -r 'select(.name == "keep") | .status' "$T/out")" running "$1: keep is running (its sandbox was kept)"
	run sprite-exec -s keep -n -- cat /home/sprite/h.txt /workspace/w.txt
	is "$rc/$out" "0/$(printf 'home data\nworkspace data')" "$1: the files in /home/sprite and /workspace are there"
	run sprite-exec -s keep -n -- pgrep -fx 'sleep 300'
	is "$rc/$out" "0/$bg" "$1: the background process is still there, same pid"
}

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
for n in keep other; do
	sprite-create "$n" >/dev/null || echo "Bail out! cannot create sprite $n"
done

# ---- one exec leaves files and a process; the next sees them ----
run sprite-exec -s keep -n -- sh -c 'echo "home data" >/home/sprite/h.txt; echo "workspace data" >/workspace/w.txt'
is "$rc" 0 "an exec writes into /home/sprite and /workspace"
run sprite-exec -s keep -n -- sh -c 'sleep 300 >/dev/null 2>&1 &'
is "$rc" 0 "an exec that starts a background process ends"
run sprite-exec -s keep -n -- pgrep -fx 'sleep 300'
is "$rc" 0 "the next exec sees the background process: one sandbox across execs"
bg=$out
run sprite-exec -s keep -n -- cat /home/sprite/h.txt
is "$out" "home data" "and the file"

# ---- spritesd restarts ----
stop_spritesd TERM
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
still_there "after spritesd is stopped and started again"
stop_spritesd KILL
# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
still_there "after spritesd is killed and started again"

# ---- what a sprite cannot see ----
printf 'not for sprites\n' >"$T/marker"
run sprite-exec -s keep -n -- sh -c 'ls -A /root 2>/dev/null | wc -l'
is "$out" 0 "the host's /root is not visible inside"
run sprite-exec -s keep -n -- cat "$T/marker"
is "$rc" 1 "the test's own directory is not visible inside"
is "$out" "" "nothing of it can be read"
run sprite-exec -s keep -n -- test -e "$STATE/token"
is "$rc" 1 "nor spritesd's state directory and token"

probe="/usr/.sprite-test-probe-$$"
run sprite-exec -s keep -n -- touch "$probe"
is "$rc" 1 "/usr is read-only inside: touch fails"
like "$err" "Read-only file system" "with 'Read-only file system'"
[ ! -e "$probe" ]
ok $? "and nothing appeared in the host's /usr"
rm -f "$probe"
# The remount is undone at once if it works: it only changes this sprite's
# view (its own mount namespace), and nothing is written.
run sprite-exec -s keep -n -- sh -c 'if mount -o remount,bind,rw /usr 2>/dev/null; then mount -o remount,bind,ro /usr; echo remounted; fi'
is "$out" "" "a command in a sprite cannot make /usr writable (mount -o remount,bind,rw /usr fails)"

# ---- two sprites ----
run sprite-exec -s other -n -- sh -c 'test -e /home/sprite/h.txt; echo $?; ls -A /workspace | wc -l'
is "$out" "$(printf '1\n0')" "another sprite sees neither keep's home nor its workspace"
run sprite-exec -s other -n -- pgrep -fx 'sleep 300'
is "$rc" 1 "nor keep's processes"
run sprite-exec -s other -n -- sh -c 'echo "other data" >/home/sprite/h.txt; cat /home/sprite/h.txt'
is "$out" "other data" "the other sprite has its own /home/sprite"
run sprite-exec -s keep -n -- cat /home/sprite/h.txt
is "$out" "home data" "and writing there leaves keep's file alone"

plan "$tap_n"
done_testing
