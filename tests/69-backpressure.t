#!/bin/sh
# Back-pressure: a reader that stops reading holds the command back instead
# of making spritesd buffer.  200 MiB to a reader that stalls for 8 s: spritesd
# stays small (spritesd(1): at most 256 KiB of scrollback per session; the
# bound checked here, 32 MiB of resident memory, is generous), the command
# waits on its pipe, and every byte arrives.  A slow reader gets the output
# byte for byte.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"



BOUND_KB=32768
# Under make check-sanitize, ASan's quarantine (16 MiB there) and redzones
# are resident too: still far below the 200 MiB that buffering would take.
[ -n "${SPRITE_TEST_SANITIZED:-}" ] && BOUND_KB=65536
SIZE=209715200

# rss_kb PID: its resident memory in kB (0 once it is gone).
rss_kb() { awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# shellcheck disable=SC2119 # no arguments for spritesd
start_spritesd
S=flood
sprite-create "$S" >/dev/null || echo "Bail out! cannot create a sprite"
sprite-exec -s "$S" -n -- true
rss0=$(rss_kb "$SPRITESD_PID")
diag "spritesd's VmRSS before: $rss0 kB"

# ---- 200 MiB to a reader that stalls for 8 s ----
{ timeout 60 sprite-exec -s "$S" -n -- head -c "$SIZE" /dev/zero; echo "$?" >"$T/exec.rc"; } |
	{ sleep 8; wc -c; } >"$T/count" &
pipeline=$!
client=
max=0
samples=0
i=0
while [ "$i" -lt 14 ]; do   # 7 s of the 8 s stall, every 0.5 s
	sleep 0.5
	r=$(rss_kb "$SPRITESD_PID")
	[ "$r" -gt "$max" ] && max=$r
	samples=$((samples + 1))
	[ -n "$client" ] || client=$(pgrep -f -n "^sprite-exec -s $S -n -- head -c $SIZE")
	i=$((i + 1))
done
client_rss=$( [ -n "$client" ] && rss_kb "$client" || echo 0)
# The command is still there, blocked on its pipe, not finished.
sprite-exec -s "$S" -n -- pgrep -x head >/dev/null
stalled_head=$?
# And while the data then flows.
while kill -0 "$pipeline" 2>/dev/null; do
	r=$(rss_kb "$SPRITESD_PID")
	[ "$r" -gt "$max" ] && max=$r
	samples=$((samples + 1))
	sleep 0.2
done
wait "$pipeline"
diag "spritesd's VmRSS: at most $max kB in $samples samples; sprite-exec's during the stall: $client_rss kB"
[ "$samples" -ge 14 ]
ok $? "spritesd's memory was sampled during the stall and the transfer ($samples times)"
[ "$max" -gt 0 ] && [ "$max" -le "$BOUND_KB" ]
ok $? "spritesd's VmRSS never exceeded $((BOUND_KB / 1024)) MiB (at most $max kB)"
[ "$client_rss" -gt 0 ] && [ "$client_rss" -le "$BOUND_KB" ]
ok $? "nor did sprite-exec's, which stopped reading too ($client_rss kB)"
is "$stalled_head" 0 "during the stall the command (head) was still running: held back, not buffered"
is "$(tr -d ' ' <"$T/count")" "$SIZE" "wc -c counts exactly $SIZE bytes: nothing lost"
is "$(cat "$T/exec.rc")" 0 "sprite-exec exits 0"

# ---- a slow reader gets every byte in order ----
seq 1 3000000 >"$T/expected"
timeout 60 sprite-exec -s "$S" -n -- seq 1 3000000 | { sleep 2; cat; } >"$T/got"
cmp "$T/expected" "$T/got" >"$T/cmp" 2>&1
ok $? "seq 1 3000000 through a reader that starts 2 s late: byte for byte ($(wc -c <"$T/expected" | tr -d ' ') bytes)"
[ -s "$T/cmp" ] && sed 's/^/#   /' "$T/cmp"

plan "$tap_n"
done_testing
