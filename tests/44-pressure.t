#!/bin/sh
# spritesd under pressure, at an ordinary descriptor limit (1024, soft and
# hard, as a login shell or a service has it): one sprite hoarding proxy
# tunnels and sessions gets its share and a clear refusal past it; finished
# sessions hold no descriptor; half-open connections that never finish
# their head (slowloris) cost a bounded number.  Meanwhile sprite-list
# answers in under a second and another sprite's exec works.
# shellcheck disable=SC2016 # $VARS in single quotes are for perl or the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC3045 # dash's ulimit has -n (soft and hard)
ulimit -n 1024 || { echo "Bail out! cannot set the descriptor limit to 1024"; exit 1; }
start_spritesd
{ sprite-create hog >/dev/null && sprite-create other >/dev/null; } || { echo "Bail out! sprite-create"; exit 1; }
sprite-exec -s other -- true || { echo "Bail out! sprite-exec"; exit 1; }

fds() { find "/proc/$SPRITESD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# fast CHECK-NAME: sprite-list answers, in under a second.
fast() {
	t0=$(now_ms)
	run sprite-list
	took=$(($(now_ms) - t0))
	[ "$rc" = 0 ] && [ "$took" -lt 1000 ]
	ok $? "$1: sprite-list answers in under a second (${took} ms)"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# The budget at 1024 descriptors (main.c): a quarter kept for the API;
# tunnels (2 each) 192 in all, 48 per sprite; sessions (5) 76, 19 per sprite.
TUNNELS=48 SESSIONS=19
base=$(fds)

# ---- a sprite holding 200 connections to its proxy ----
sprite-exec -s hog -- perl -MIO::Socket::INET -e '
	my (@all, $held, $refused);
	for (1 .. 200) { my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:3128") or next; push @all, $s }
	sleep 2; # the kernel completes connections before spritesd takes them
	for my $s (@all) {
		my ($rin, $got) = ("", "");
		vec($rin, fileno($s), 1) = 1;
		if (select(my $r = $rin, undef, undef, 0) && sysread($s, $got, 200) && $got =~ / 503 /) { $refused++ }
		else { $held++ }
	}
	printf "held %d refused %d\n", $held, $refused;
	$| = 1; sleep 20' >"$T/hog.out" 2>&1 &
hog=$!
i=0
while [ ! -s "$T/hog.out" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
is "$(cat "$T/hog.out")" "held $TUNNELS refused $((200 - TUNNELS))" \
	"200 connections from one sprite to its proxy: its share held, the rest refused with 503"
fast "the hog holding its tunnels"
run sprite-exec -s other -- echo still
is "$rc/$out" "0/still" "another sprite's exec works"
kill "$hog" 2>/dev/null
wait "$hog" 2>/dev/null

# ---- a sprite starting more commands than its share ----
sprite-sessions -s hog | jq -r .id | while read -r id; do
	sprite-sessions -s hog --kill "$id" --signal KILL >/dev/null 2>&1
done
i=0
while [ "$i" -lt $((SESSIONS + 5)) ]; do
	sprite-exec -s hog --detach -- sleep 30 >/dev/null 2>>"$T/detach.err"
	i=$((i + 1))
done
is "$(grep -c 'too many commands running' "$T/detach.err")" 5 "$((SESSIONS + 5)) detached commands: $SESSIONS run, 5 are refused"
like "$(head -n 1 "$T/detach.err")" "sprite-exec: the server refused the exec (HTTP 503): too many commands running: $SESSIONS in sprite \"hog\"" \
	"saying how many and where"
like "$(head -n 1 "$T/detach.err")" "wait for some to end, or kill them (sprite-sessions --kill)" "and what to do"
fast "the hog running its share of commands"
run sprite-exec -s other -- echo still
is "$rc/$out" "0/still" "another sprite's exec works"
sprite-sessions -s hog | jq -r .id | while read -r id; do
	sprite-sessions -s hog --kill "$id" --signal KILL >/dev/null 2>&1
done

# ---- finished sessions hold no descriptor ----
sleep 1
before=$(fds)
i=0
while [ "$i" -lt 60 ]; do
	sprite-exec -s other --detach -- true >/dev/null || break
	i=$((i + 1))
done
is "$i" 60 "60 detached commands that end at once: all started"
sleep 2
is "$(sprite-sessions -s other | jq -s 'map(select(.is_active)) | length')" 0 "all have ended (still listed, not yet attached)"
after=$(fds)
[ "$after" -le $((before + 5)) ]
ok $? "and spritesd holds no descriptor for them ($before before, $after after)"

# ---- slowloris: 300 connections that never finish their head ----
perl -MIO::Socket::INET -e '
	my @held;
	for (1 .. 300) {
		my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or last;
		syswrite($s, ($_ % 2 ? "GET" : "POST") . " /v1/sprites HTTP/1.1\r\nHost: x\r\n");
		push @held, $s;
	}
	print scalar(@held), "\n";
	$| = 1; sleep 20' "$SPRITESD_PORT" >"$T/loris.out" 2>&1 &
loris=$!
i=0
while [ ! -s "$T/loris.out" ] && [ "$i" -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
is "$(cat "$T/loris.out")" 300 "300 half-open connections, each with an unfinished head (GET or POST)"
fast "during the slowloris"
sleep 0.5
n=$(fds)
[ "$n" -le $((base + 64 + 16)) ]
ok $? "spritesd holds at most 64 of them from one address ($base descriptors before, $n during)"
run sprite-exec -s other -- echo still
is "$rc/$out" "0/still" "another sprite's exec works"
run sprite-create third
is "$rc" 0 "and a POST (sprite-create) is served"
kill "$loris" 2>/dev/null
wait "$loris" 2>/dev/null

plan "$tap_n"
done_testing
