#!/bin/sh
# A sprite is a blast radius: tried from inside, as an attacker would, with
# tests/probe/sprite-probe copied in.  Its root is an unprivileged host uid
# range of its own; new user namespaces, keyrings, bpf, perf, mounts and the
# like are refused (seccomp); the host's sysctls, secrets and sockets are out
# of reach; processes, memory (tmpfs included) and disk are limited per
# sprite, and hitting a limit leaves the host and the other sprites alone.
# Nothing here changes the host: a sysctl is only ever written its current
# value, and the test's processes, cgroups and mounts go with it.
# shellcheck disable=SC2016 # $VARS in single quotes are for the sprite's shell
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

PROBE=$TOP/tests/probe/sprite-probe
[ -x "$PROBE" ] || { echo "Bail out! $PROBE is not built (make check builds it)"; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP the limits need spritesd run as root"; exit 0; }

# probe SPRITE CHECK [ARGS...]: run the probe in the sprite ($rc, $out, $err).
probe() {
	s=$1
	shift
	run sprite-exec -s "$s" -- /tmp/probe "$@"
}
# host_uids PID...: each process's real uid as the host sees it.
host_uids() {
	for p in "$@"; do awk '/^Uid:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | sort -u
}

# Small limits, so that hitting them is quick.
start_spritesd --max-memory 160M --max-pids 64 --max-disk 96M
for n in a b; do
	sprite-create "$n" >/dev/null || echo "Bail out! cannot create sprite $n"
	sprite-exec -s "$n" -- sh -c 'cat >/tmp/probe && chmod 755 /tmp/probe' <"$PROBE" ||
		echo "Bail out! cannot copy the probe into sprite $n"
done

# ---- its own user namespace, its own ids ----
probe a uid
is "$out" "uid: ok 0 0" "inside, the sprite's processes are root"
run sprite-exec -s a -- cat /proc/self/uid_map /proc/self/gid_map
base_a=$(echo "$out" | awk 'NR == 1 { print $2 }')
is "$(echo "$out" | awk '{ print $1, $2 - base, $3 }' base="$base_a" | tr '\n' ' ')" "0 0 65536 0 0 65536 " \
	"its uid and gid maps give it 65536 ids from host id $base_a"
[ "$base_a" -ge 268435456 ] && [ "$((base_a % 65536))" -eq 0 ]
ok $? "a range of its own, far above the host's users"
run sprite-exec -s b -- cat /proc/self/uid_map
base_b=$(echo "$out" | awk '{ print $2 }')
[ -n "$base_b" ] && [ "$base_b" != "$base_a" ]
ok $? "sprite b has another range ($base_b)"
sprite-exec -s a -- sh -c 'sleep 300 >/dev/null 2>&1 &'
pids=$(sprite_procs a | tr '\n' ' ')
# shellcheck disable=SC2086 # a list of pids
is "$(host_uids $pids)" "$base_a" "on the host every process of a (its init, a background job) runs as $base_a, none as root"
is "$(stat -c '%u %g' "$STATE/sprites/a/fs/home")" "$base_a $base_a" "its files on the host belong to its ids"
run sprite-exec -s a -- cat /proc/1/cmdline
unlike "$out" "$STATE" "/proc/1/cmdline names no host path"
run sprite-exec -s a -- sh -c 'cat /proc/[0-9]*/cmdline /proc/self/mountinfo 2>/dev/null'
unlike "$out" "$T" "nor does any process's command line or the mount table"
run sprite-exec -s a -- cat /proc/self/cgroup
unlike "$out" "spritesd-" "its cgroup's host path is hidden (a cgroup namespace of its own)"
run sprite-exec -s a -- sh -c 'cat /proc/self/oom_score_adj; echo -1 >/proc/self/oom_score_adj 2>/dev/null || echo refused'
is "$out/$(($(cat "/proc/$SPRITESD_PID/oom_score_adj") <= 0))" "1000
refused/1" "sprite processes are the OOM killer's first choice, and cannot go below spritesd"

# ---- no new user namespaces, no capabilities ----
for check in unshare-user clone-user unshare-mount; do
	probe a "$check"
	is "$out" "$check: EPERM" "$check is refused"
done
probe a setns
is "$out" "setns: EACCES" "joining pid 1's mount namespace is refused (it cannot even be opened)"
probe a clone3-user
is "$out" "clone3-user: ENOSYS" "clone3 is ENOSYS (its flags cannot be checked; libc falls back to clone)"
before=$(cat /proc/sys/user/max_user_namespaces)
run sprite-exec -s a -- cat /proc/sys/user/max_user_namespaces
is "$out" 0 "the sprite's own user.max_user_namespaces is 0"
is "$(cat /proc/sys/user/max_user_namespaces)" "$before" "the host's is unchanged ($before)"
run sprite-exec -s a -- sh -c 'grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " "'
is "$out" "$(printf 'CapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2')" \
	"an exec has no capabilities, no_new_privs and a seccomp filter"

# ---- seccomp: kernel interfaces with a history ----
for check in keyctl add-key request-key bpf perf-event-open userfaultfd kexec-load mount-tmpfs \
	init-module open-by-handle tiocsti; do
	probe a "$check"
	is "$out" "$check: EPERM" "$check is refused"
done
probe a io-uring
is "$out" "io-uring: ENOSYS" "io_uring is ENOSYS (libuv and node fall back)"

# ---- its init cannot be stopped or taken over ----
probe a ptrace-init
is "$out" "ptrace-init: EPERM" "ptrace of pid 1 is refused"
run sprite-exec -s a -- sh -c 'kill -STOP 1; kill -KILL 1; sleep 0.2; grep ^State: /proc/1/status'
like "$out" "sleeping" "STOP and KILL from inside leave pid 1 running"
probe a write /proc/1/comm x
is "$out" "write /proc/1/comm: EINVAL" "nor can a sprite rename it through /proc (the kernel's EINVAL)"

# ---- no way around the disk quota or the network namespace ----
run sprite-exec -s a -- btrfs subvolume create /workspace/sub
like "$rc/$err" "1/ERROR: cannot create subvolume" "a nested btrfs subvolume (outside the quota) cannot be made"
like "$err" "Operation not permitted" "(EPERM)"
run sprite-exec -s a -- python3 -c 'import socket; socket.socket(40, socket.SOCK_STREAM)'
like "$err" "Address family not supported" "a vsock socket (which no network namespace confines) cannot be made"

# ---- the host's kernel settings ----
cp_host=$(cat /proc/sys/kernel/core_pattern)
probe a write /proc/sys/kernel/core_pattern "$cp_host"
is "$out" "write /proc/sys/kernel/core_pattern: EACCES" "kernel.core_pattern cannot be written (even with its current value)"
is "$(cat /proc/sys/kernel/core_pattern)" "$cp_host" "and the host's is unchanged"
run sprite-exec -s a -- sh -c 'grep -E " /proc/sys " /proc/self/mountinfo | grep -c " ro,"'
is "$out" 1 "/proc/sys is mounted read-only"
for f in /proc/keys /proc/timer_list /proc/sysrq-trigger /proc/kcore; do
	if [ -e "$f" ]; then
		probe a read "$f"
		unlike "$out" ": ok" "$f is not readable"
	else
		ok 0 "# SKIP $f does not exist on this kernel"
	fi
done

# ---- the host's files and sockets ----
run sprite-exec -s a -- ls /etc
for secret in shadow gshadow sudoers subuid subgid npmrc pip.conf environment machine-id; do
	unlike " $(echo "$out" | tr '\n' ' ') " " $secret " "/etc/$secret of the host is not there"
done
run sprite-exec -s a -- ls /etc/ssh
is "$out" "$(cd /etc/ssh 2>/dev/null && ls -d ssh_config ssh_config.d 2>/dev/null)" "/etc/ssh has the client's settings only (no host keys)"
run sprite-exec -s a -- cat /etc/passwd
is "$out" "$(printf 'root:x:0:0:root:/home/sprite:/bin/bash\nsprite:x:1000:1000:sprite:/home/sprite:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin')" \
	"/etc/passwd is the sprite's own"
run sprite-exec -s a -- cat /etc/hostname /etc/resolv.conf
is "$out" "$(printf 'a\nnameserver 127.0.0.1')" "so are its hostname and resolv.conf"
run sprite-exec -s a -- touch /etc/x
like "$err" "Read-only file system" "/etc is read-only"
run sprite-exec -s a -- sh -c 'ls -A /run; ls /opt /run/systemd 2>&1'
is "$out" "$(printf "ls: cannot access '/opt': No such file or directory\nls: cannot access '/run/systemd': No such file or directory")" \
	"no /opt, an empty /run: no host directory that holds sockets"
run sprite-exec -s a -- sh -c 'echo x >/dev/x'
like "$err" "Read-only file system" "/dev is read-only"

# ---- tmpfs mounts have sizes ----
run sprite-exec -s a -- df -k / /etc /run /dev/shm
is "$(echo "$out" | awk 'NR > 1 { print $6, $2 }' | tr '\n' ' ')" "/ 262144 /etc 1024 /run 65536 /dev/shm 81920 " \
	"/ is 256 MiB, /etc 1 MiB, /run 64 MiB, /dev/shm half the memory limit"

# ---- limits: processes ----
cg_pids=$(sed -n 2p "$STATE/cgroups")/a
is "$(cat "$cg_pids/pids.max")" 64 "its pids.max is --max-pids"
probe a fork 200
like "$out" "fork: EAGAIN " "a fork bomb stops with EAGAIN"
made=${out##* }
[ "$made" -lt 64 ]
ok $? "having made fewer than 64 processes ($made)"
run sprite-exec -s b -- echo alive
is "$rc/$out" "0/alive" "sprite b is unaffected"
run sprite-list
is "$rc" 0 "spritesd answers"
run sprite-exec -s a -- echo again
is "$rc/$out" "0/again" "and sprite a works again once they are gone"

# ---- limits: memory, tmpfs charged to it ----
cg_mem=$(sed -n 1p "$STATE/cgroups")/a
is "$(cat "$cg_mem/memory.limit_in_bytes")" $((160 << 20)) "its memory limit is --max-memory"
probe a alloc 100
is "$rc/$out" "0/alloc: ok 100" "100 MiB of 160 can be had"
probe a alloc 400
is "$rc" 137 "400 MiB: the allocating process is killed (OOM, in the sprite's own cgroup)"
probe a fill /dev/shm/big 200
is "$out" "fill: ENOSPC 80" "/dev/shm fills up at its size"
probe a alloc 100
is "$rc" 137 "with 80 MiB in /dev/shm charged to the sprite, 100 MiB more is too much"
run sprite-exec -s a -- rm /dev/shm/big
probe a alloc 100
is "$rc/$out" "0/alloc: ok 100" "once the file is removed, it fits again"
run sprite-exec -s b -- echo alive
is "$rc/$out" "0/alive" "sprite b is unaffected"

# ---- limits: disk ----
probe a fill /workspace/big 200
like "$out" "fill: EDQUOT " "sprite a's files stop at its quota (EDQUOT)"
[ "${out##* }" -le 96 ]
ok $? "at most 96 MiB written (${out##* })"
probe b fill /workspace/f 64
is "$out" "fill: ok 64" "sprite b still has its own 64 MiB to write"
run sprite-exec -s a -- rm /workspace/big
run sprite-exec -s b -- rm /workspace/f
probe a fill /workspace/again 32
is "$out" "fill: ok 32" "space freed is space again"

# ---- a sprite's own limits, through the API ----
run sprite-create --ram-mb 64 --pids 32 --storage-gb 0.0625 --cpus 0.5 c
is "$rc/$(echo "$out" | jq -c .config)" '0/{"ram_mb":64,"cpus":0.5,"region":"local","storage_gb":0.0625,"pids":32}' \
	"sprite-create --ram-mb 64 --pids 32 --storage-gb 0.0625 --cpus 0.5: the sprite shows its limits"
run sprite-create --ram-mb 4096 --pids 1000 e
is "$rc/$(echo "$out" | jq -c '[.config.ram_mb, .config.pids]')" '0/[160,64]' \
	"spritesd's --max-* are ceilings: more is held to them"
run sprite-exec -s c -- true
is "$(cat "$(sed -n 1p "$STATE/cgroups")/c/memory.limit_in_bytes")/$(cat "$(sed -n 2p "$STATE/cgroups")/c/pids.max")" \
	"$((64 << 20))/32" "its cgroup has them"
is "$(cat "$(sed -n 3p "$STATE/cgroups")/c/cpu.cfs_quota_us")" 50000 "and half a CPU"
ram=$(($(getconf _PHYS_PAGES) * $(getconf PAGESIZE)))
page=$(getconf PAGESIZE)
is "$(cat "$(sed -n 1p "$STATE/cgroups")/memory.limit_in_bytes")/$(cat "$(sed -n 2p "$STATE/cgroups")/pids.max")" \
	"$((ram * 3 / 4 - ram * 3 / 4 % page))/$(($(cat /proc/sys/kernel/pid_max) / 2))" \
	"all sprites together: at most three quarters of the host's memory and half its pid space"
run sprite-list
is "$(jq -c 'select(.name == "a") | .config' "$T/out")" '{"ram_mb":160,"cpus":'"$(nproc)"',"region":"local","storage_gb":0.09375,"pids":64}' \
	"a sprite without a config shows spritesd's defaults"
run curl -s -w '\n%{http_code}' -H "Authorization: Bearer $(cat "$STATE/token")" -X POST \
	-d '{"name":"d","config":{"ram_mb":1}}' "$SPRITESD_URL/v1/sprites"
is "$(echo "$out" | tail -n 1)/$(echo "$out" | head -n 1 | jq -r .message)" \
	"400/invalid config: ram_mb must be a whole number of MiB, at least 32 (0 or absent: spritesd's default)" \
	"a bad one is a 400 that says what is accepted"
run sprite-create --pids 8 d
is "$rc/$err" "1/sprite-create: cannot create sprite \"d\": invalid config: pids must be a whole number of processes, at least 16 (0 or absent: spritesd's default) (bad_request)" \
	"which sprite-create shows"

# ---- bad limit flags ----
run spritesd -d "$T/never" --max-memory 12Q
is "$rc/$err" '2/spritesd: bad --max-memory "12Q": use a size like 8G, 512M, 64MiB or 1048576 (bytes; suffixes K, M, G, T), at least 32M' \
	"a bad --max-memory is a usage error naming the accepted forms"
run spritesd -d "$T/never" --max-disk 1K
is "$rc/$err" '2/spritesd: bad --max-disk "1K": use a size like 8G, 512M, 64MiB or 1048576 (bytes; suffixes K, M, G, T), at least 64M, or 0 for no limit' \
	"so is a --max-disk too small to be one"
run spritesd -d "$T/never" --max-pids lots
is "$rc/$err" '2/spritesd: bad --max-pids "lots": use a number of processes, 16 to 4194304' "and a bad --max-pids"
[ ! -e "$T/never" ]
ok $? "none of them made a state directory"

# ---- a host that cannot confine sprites: spritesd says so, runs none ----
# An agent trying to run a spritesd of its own inside sprite a: no user
# namespaces there.
sprite-exec -s a -- sh -c 'cat >/tmp/spritesd && chmod 755 /tmp/spritesd' <"$TOP/bin/spritesd"
run sprite-exec -s a -- sh -c '/tmp/spritesd -q -l 127.0.0.1:0 -d /tmp/sd >/tmp/sd.log 2>&1 & i=0
	while [ ! -s /tmp/sd/url ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill $!; wait; grep "cannot start" /tmp/sd.log'
is "$out" "spritesd: sprites cannot start here: this host cannot make user namespaces (Operation not permitted): enable them (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone)" \
	"a spritesd run inside a sprite cannot make user namespaces, and says so in one line"
# An unprivileged spritesd on this host: no cgroup it may create.
mkdir "$T/nobody"
chown 65534:65534 "$T/nobody"
chmod 711 "$T"
setpriv --reuid=65534 --regid=65534 --clear-groups env XDG_STATE_HOME="$T/nobody" \
	spritesd -l 127.0.0.1:0 -d "$T/nobody/sd" >"$T/nobody.log" 2>&1 &
nobody_pid=$!
i=0
while [ ! -s "$T/nobody/sd/url" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
like "$(grep 'cannot start' "$T/nobody.log")" "spritesd: sprites cannot start here: cannot create the cgroup " \
	"an unprivileged spritesd that may not make cgroups says so at start"
url=$(cat "$T/nobody/sd/url")
tok=$(cat "$T/nobody/sd/token")
SPRITES_API_URL=$url SPRITES_TOKEN=$tok sprite-create x >/dev/null
run env SPRITES_API_URL="$url" SPRITES_TOKEN="$tok" sprite-exec -s x -- true
is "$rc" 255 "and runs no sprite"
like "$err" "sprite-exec: the server refused the exec (HTTP 500): sprites cannot start here: cannot create the cgroup" \
	"sprite-exec says the server's reason"
like "$(grep 'sprite "x" cannot start' "$T/nobody.log")" "sprites cannot start here: cannot create the cgroup" \
	"saying why"
kill "$nobody_pid"
wait "$nobody_pid"

# ---- a restarted spritesd keeps its sprites confined ----
stop_spritesd TERM
start_spritesd --max-memory 160M --max-pids 64 --max-disk 96M
run sprite-exec -s b -- grep -E ':(memory|pids|cpu):' /proc/self/cgroup
is "$(echo "$out" | sed 's/^[0-9]*://' | sort | tr '\n' ' ')" "cpu:/ memory:/ pids:/ " \
	"after a restart, an exec in a running sprite is in the sprite's cgroups"
probe b fork 200
like "$out" "fork: EAGAIN " "and its process limit holds"

# ---- a destroyed sprite's cgroup goes with it ----
run sprite-destroy a
is "$rc" 0 "destroy a"
[ ! -d "$cg_mem" ] && [ ! -d "$cg_pids" ]
ok $? "its cgroups are gone"

# ---- host ids are distinct across the host's spritesds ----
# The record (--ids-dir) holds every range but two: 0x23450000, claimed by
# a sprite directory that is gone (a spritesd killed before it could give
# it back), and 0x54320000.  The others' holder exists and is still being
# made (no userns file): they are taken.
ids=$T/ids
mkdir -p "$ids" "$T/holder"
awk -v d="$ids" -v h="$T/holder" 'BEGIN {
	for (s = 4096; s < 28672; s++) if (s != 21554) {
		f = sprintf("%s/%08x", d, s * 65536); print (s == 9029 ? h "-gone" : h) > f; close(f)
	}
}'
for n in p q; do
	spritesd -l 127.0.0.1:0 -d "$T/$n" --ids-dir "$ids" >"$T/$n.log" 2>&1 &
	i=0
	while [ ! -s "$T/$n/url" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
done
# as SPRITESD CMD...: CMD, talking to that spritesd.
as() { _sd=$1; shift; env SPRITES_API_URL="$(cat "$T/$_sd/url")" SPRITES_TOKEN="$(cat "$T/$_sd/token")" "$@"; }
as p sprite-create x >/dev/null && as q sprite-create y >/dev/null
as p sprite-exec -s x -- true && as q sprite-exec -s y -- true
ok $? "two spritesds sharing the record, a sprite each"
is "$(cut -d' ' -f1 "$T/p/sprites/x/userns" "$T/q/sprites/y/userns" | sort -n | tr '\n' ' ')" \
	"$((0x23450000)) $((0x54320000)) " "their sprites have the two free ranges, one each, the stale one reclaimed"
is "$(cat "$ids/23450000" "$ids/54320000" | sort | tr '\n' ' ')" "$T/p/sprites/x $T/q/sprites/y " \
	"the record names them"
as p sprite-create z >/dev/null
run env SPRITES_API_URL="$(cat "$T/p/url")" SPRITES_TOKEN="$(cat "$T/p/token")" sprite-exec -s z -- true
like "$err" "no range of host ids is left for sprite \"z\"" "a third: no range is left, and sprite-exec says so"
base_y=$(cut -d' ' -f1 "$T/q/sprites/y/userns")
as q sprite-destroy y
[ ! -e "$ids/$(printf %08x "$base_y")" ]
ok $? "a destroyed sprite gives its range back"
run env SPRITES_API_URL="$(cat "$T/p/url")" SPRITES_TOKEN="$(cat "$T/p/token")" sprite-exec -s z -- id -u
is "$rc/$out/$(cut -d' ' -f1 "$T/p/sprites/z/userns")" "0/0/$base_y" "which the next sprite then has"
for n in x z; do as p sprite-destroy "$n"; done
for n in p q; do pkill -TERM -f "spritesd -l 127.0.0.1:0 -d $T/$n "; done

plan "$tap_n"
done_testing
