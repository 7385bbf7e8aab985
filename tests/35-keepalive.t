#!/bin/sh
# Keepalive: sprite-exec pings every 15 s, so a command silent for longer than
# the 45 s dead-peer limit survives; a server that stops answering (frozen,
# not closed: no FIN ever arrives) is declared dead after 45 s of silence.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
plan 6

# Two servers, so both halves run at once: one stays up, one freezes.
start_spritesd
sprite-create quiet >/dev/null
spritesd -q -l 127.0.0.1:0 -d "$T/state/frozen" 2>"$T/frozen.log" &
frozen_pid=$!
while [ ! -s "$T/state/frozen/url" ]; do sleep 0.05; done
frozen_url=$(cat "$T/state/frozen/url")
SPRITES_API_URL=$frozen_url SPRITES_TOKEN_FILE=$T/state/frozen/token sprite-create frozen >/dev/null

# A command silent for 50 s: only pings and pongs cross the connection.
sprite-exec -s quiet -n -- sh -c 'sleep 50; echo awake' >"$T/quiet.out" 2>"$T/quiet.err" &
quiet=$!

# A server that freezes (no FIN ever comes): the client must not wait forever.
start=$(date +%s)
SPRITES_API_URL=$frozen_url SPRITES_TOKEN_FILE=$T/state/frozen/token \
	sprite-exec -s frozen -n -- sleep 300 >"$T/frozen.out" 2>"$T/frozen.err" &
client=$!
sleep 1
kill -STOP "$frozen_pid"
wait "$client"
rc=$?
elapsed=$(($(date +%s) - start))
kill -CONT "$frozen_pid"
kill "$frozen_pid"

wait "$quiet"
is "$?" 0 "a command silent for 50 s exits 0 (pings kept the connection alive)"
is "$(cat "$T/quiet.out")" "awake" "and its output arrives"
is "$rc" 255 "against a frozen server sprite-exec exits 255"
[ "$elapsed" -ge 40 ] && [ "$elapsed" -le 65 ]
ok $? "after about 45 s of silence (took ${elapsed} s)"
like "$(cat "$T/frozen.err")" "sprite-exec: connection to $frozen_url lost before the command finished" \
	"and says the connection was lost"
is "$(wc -l <"$T/frozen.err" | tr -d ' ')" 1 "in one line"
done_testing
