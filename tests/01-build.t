#!/bin/sh
# A packager's CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are added to the
# project's own flags, never put in their place (make -n: what would run).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

cd "$TOP" || exit 1
cmds=$(make -n -B CFLAGS=-O0 CPPFLAGS=-DPACKAGER=1 LDFLAGS=-Wl,-O1 LDLIBS=-lm bin/sprite-exec bin/hook-apply bin/spritesd 2>&1)
compiles=$(printf '%s\n' "$cmds" | grep -E ' -c -o ')
links=$(printf '%s\n' "$cmds" | grep -E ' -o bin/')
[ -n "$compiles" ] && [ "$(printf '%s\n' "$links" | wc -l)" -eq 3 ]
ok $? "make -n shows the compiles and the three links"
is "$(printf '%s\n' "$compiles" | grep -vc -- '-Ilib .*-DPACKAGER=1 .*-Wextra .*-O0')" 0 \
	"every compile has the project's -Ilib and warnings, and the packager's CPPFLAGS and CFLAGS"
is "$(printf '%s\n' "$links" | grep -vc -- '-Wl,--as-needed -Wl,-O1 .*-lwebsockets .*-ljansson .*-lm')" 0 \
	"every link has the project's libraries, and the packager's LDFLAGS and LDLIBS"
like "$(printf '%s\n' "$links" | grep 'bin/hook-apply')" "-pthread" "hook-apply keeps its -pthread"

plan "$tap_n"
done_testing
