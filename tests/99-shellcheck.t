#!/bin/sh
# Every shell script passes shellcheck: the commands in bin/, the task
# scripts' library, the examples, the benchmarks, the tests themselves.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

command -v shellcheck >/dev/null || { echo "Bail out! shellcheck is not installed: run scripts/install-deps"; exit 1; }
cd "$TOP" || exit 1
# Scripts are the files that start with #!/bin/sh, or are sourced (# shellcheck shell=sh).
for f in bin/* lib/*.sh lib/task/*.sh examples/* scripts/* tests/*.t tests/lib.sh .ci/run; do
	[ -f "$f" ] || continue
	case $(head -c 64 "$f") in
	'#!/bin/sh'* | '# shellcheck shell=sh'*) ;;
	*) continue ;;
	esac
	shellcheck -x "$f" >"$T/sc" 2>&1
	ok $? "shellcheck $f"
	[ -s "$T/sc" ] && sed 's/^/# /' "$T/sc" | head -20
done
plan "$tap_n"
done_testing
