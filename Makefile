# sprite-tools: see README.md.  `make` builds every command into bin/,
# `make check` runs the unit and integration tests, `make bench` the benchmarks.
# `make fuzz` builds the libFuzzer targets of tests/fuzz (clang) into build/fuzz
# and runs each FUZZ_SECONDS on its corpus; `make fuzz-regress` runs each once
# over its corpus and reproducers; `make check-sanitize` is `make check` under
# ASan+UBSan (a clean rebuild: see below).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

PKGS     = libcurl libwebsockets jansson sqlite3 libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))

# A packager's CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS (on the command line or
# in the environment) go alongside the project's own, never instead of them
# (GNU's coding standards): what the build needs is in ST_*.
CFLAGS ?= -O2 -g
ST_CPPFLAGS = -D_GNU_SOURCE -Ilib $(PKG_CFLAGS)
ST_CFLAGS = -std=c11 -Wall -Wextra -MMD -MP
ifeq ($(WERROR),1)
ST_CFLAGS += -Werror
endif
ST_LDLIBS = $(PKG_LIBS)
# Link only what a command uses: sprite-exec makes no REST calls, so it
# need not load libcurl and its dozens of libraries at every start.
ST_LDFLAGS = -Wl,--as-needed

COMPILE = $(CC) $(ST_CPPFLAGS) $(CPPFLAGS) $(ST_CFLAGS) $(CFLAGS)
LINK = $(CC) $(ST_CFLAGS) $(CFLAGS) $(ST_LDFLAGS) $(LDFLAGS)

%.o: %.c
	$(COMPILE) -c -o $@ $<

# The shared client library: every command links it.
LIB_OBJS = lib/util.o lib/query.o lib/config.o lib/api.o lib/cli.o lib/cli_api.o lib/frame.o lib/wsexec.o lib/term.o lib/cksum.o lib/hookmap.o lib/taskdb.o lib/jsonl.o
LIB = lib/libsprite.a

# C commands, one source file each in src/.
COMMANDS = sprite-create sprite-list sprite-destroy sprite-exec sprite-sessions sprite-tail sprite-checkpoint sprite-policy hook-apply sprite-sendkeys
SPRITESD_OBJS = $(patsubst %.c,%.o,$(wildcard src/spritesd/*.c))

# Tracked shell scripts in bin/ (installed alongside the binaries).
SCRIPTS = task-hook task

BINS = $(addprefix bin/,$(COMMANDS)) bin/spritesd

UNIT_TESTS = $(patsubst %.c,%.test,$(wildcard tests/unit/t-*.c))

all: $(BINS)

$(LIB): $(LIB_OBJS)
	$(AR) rcs $@ $^

bin/%: src/%.o $(LIB)
	@mkdir -p bin
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)

# hook-apply parses in threads (lib/jsonl.c).
bin/hook-apply: ST_LDLIBS += -pthread

bin/spritesd: $(SPRITESD_OBJS) $(LIB)
	@mkdir -p bin
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)

tests/unit/%.test: tests/unit/%.o $(LIB)
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)

# spritesd's pure parts, tested on their own: the policy matcher, the
# proxy's request parser.
tests/unit/t-policy.test: tests/unit/t-policy.o src/spritesd/policy.o $(LIB)
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)
tests/unit/t-proxyreq.test: tests/unit/t-proxyreq.o src/spritesd/proxyreq.o $(LIB)
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)
tests/unit/t-seccomp.test: tests/unit/t-seccomp.o src/spritesd/seccomp.o $(LIB)
	$(LINK) -o $@ $^ $(ST_LDLIBS) $(LDLIBS)

check: all $(UNIT_TESTS) tests/probe/sprite-probe
	# Tests are independent (each has its own spritesd) and mostly wait: run 4 at once.
	prove -j4 -f --exec '' $(UNIT_TESTS) $(wildcard tests/*.t)

bench: all
	scripts/bench
	scripts/bench-hooks
	scripts/bench-sendkeys
	scripts/bench-checkpoints
	scripts/bench-turn

demo: all
	examples/demo

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(addprefix bin/,$(SCRIPTS)) $(DESTDIR)$(BINDIR)
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7
	# The task scripts' shared parts, where bin/task looks once installed.
	mkdir -p $(DESTDIR)$(PREFIX)/share/sprite-tools/task
	install -m 644 lib/task.sh $(DESTDIR)$(PREFIX)/share/sprite-tools
	install -m 644 lib/task/*.sh $(DESTDIR)$(PREFIX)/share/sprite-tools/task

clean:
	rm -f $(BINS) $(LIB) lib/*.o lib/*.d src/*.o src/*.d src/spritesd/*.o src/spritesd/*.d \
	      tests/unit/*.o tests/unit/*.d tests/unit/*.test tests/probe/sprite-probe
	rm -rf $(FUZZ_DIR)

# Run inside sprites by the isolation tests (copied in over stdin).  Built
# with flags of its own, never CFLAGS/LDFLAGS: a sanitizer's runtime cannot
# start under a sprite's seccomp filter and limits (check-sanitize).
PROBE_CFLAGS = -O2 -g
tests/probe/sprite-probe: tests/probe/sprite-probe.c
	$(CC) $(ST_CPPFLAGS) $(ST_CFLAGS) $(PROBE_CFLAGS) $(ST_LDFLAGS) -o $@ $<

# `make check` built with ASan+UBSan, leaks checked at every exit of every
# command (spritesd included).  Every object must be rebuilt, and the
# ordinary build keeps its objects in the tree, so this runs `make clean`
# before and after (it leaves no binaries) rather than mix the two builds.
# An ASan report may come from a process whose exit status or stderr no
# test looks at (a spritesd stopped at a test's end): they go to files in
# build/sanitize (log_path), and any file there fails the run.  UBSan's go
# to stderr (gcc's runtime takes no log_path for them) and halt the
# process, which the tests see.  A small quarantine keeps freed memory from
# counting as resident (tests/69 bounds spritesd's).  LeakSanitizer stops
# the process with ptrace at its exit: where that is refused (a container
# without CAP_SYS_PTRACE, Yama's ptrace_scope 3) it fails every command;
# there, `make check-sanitize SAN_LEAKS=0` checks all but leaks.
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_DIR = $(CURDIR)/build/sanitize
SAN_LEAKS ?= 1
SAN_ENV = ASAN_OPTIONS=detect_leaks=$(SAN_LEAKS):log_path=$(SAN_DIR)/asan:quarantine_size_mb=16 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 SPRITE_TEST_SANITIZED=1
check-sanitize:
	$(MAKE) clean
	rm -rf $(SAN_DIR) && mkdir -p $(SAN_DIR)
	$(SAN_ENV) $(MAKE) check CFLAGS="-O1 -g $(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)"; rc=$$?; \
	$(MAKE) clean >/dev/null; \
	if [ -n "$$(ls $(SAN_DIR))" ]; then \
		for f in $(SAN_DIR)/*; do echo "== $$f"; \
			grep -E 'ERROR|SUMMARY|^ +#[0-9]+ .* (src|lib|tests)/' $$f | head -12; done; \
		echo "make check-sanitize: sanitizer reports above (whole in build/sanitize): fix what they name"; exit 1; \
	fi; exit $$rc

# Fuzzing (README, "Fuzzing and sanitizers"): one libFuzzer target per
# parser of untrusted bytes, tests/fuzz/fuzz-*.c, built by clang (libFuzzer
# is clang's) in build/fuzz, apart from the ordinary objects.  The library
# and spritesd's objects go into archives so that a target links only what
# it uses.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_SAN = address,undefined
FUZZ_CFLAGS = -g -O1 -fno-sanitize-recover=undefined
FUZZ_DIR = build/fuzz
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS = $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
FUZZ_LIB_OBJS = $(addprefix $(FUZZ_DIR)/,$(LIB_OBJS))
FUZZ_SPRITESD_OBJS = $(addprefix $(FUZZ_DIR)/,$(filter-out src/spritesd/main.o,$(SPRITESD_OBJS)))
FUZZ_COMPILE = $(FUZZ_CC) $(ST_CPPFLAGS) -std=c11 -Wall -Wextra -MMD -MP $(FUZZ_CFLAGS)

$(FUZZ_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_COMPILE) -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -c -o $@ $<

$(FUZZ_DIR)/libsprite.a: $(FUZZ_LIB_OBJS)
	$(AR) rcs $@ $^
$(FUZZ_DIR)/libspritesd.a: $(FUZZ_SPRITESD_OBJS)
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz-%: tests/fuzz/fuzz-%.c $(FUZZ_DIR)/libspritesd.a $(FUZZ_DIR)/libsprite.a
	$(FUZZ_COMPILE) -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $^ $(ST_LDLIBS) -pthread

# Each target FUZZ_SECONDS on its corpus, all of them even when one fails.
# New inputs go to a scratch directory (given first, so libFuzzer writes
# there), never into the tree; a crash leaves its input in
# build/fuzz/crash-TARGET-*, and libFuzzer's output is in build/fuzz/TARGET.log.
fuzz: $(FUZZ_BINS)
	@failed=; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t; \
		if $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/crash-$$t- \
			$(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t >$(FUZZ_DIR)/$$t.log 2>&1; then \
			echo "ok $$t: $$(grep -o 'stat::number_of_executed_units: *[0-9]*' $(FUZZ_DIR)/$$t.log | grep -o '[0-9]*$$') runs in $(FUZZ_SECONDS) s"; \
		else \
			grep -E '^fuzz-|ERROR:|runtime error|SUMMARY|Test unit written' $(FUZZ_DIR)/$$t.log; \
			grep -E '^ +#[0-9]+ .* in [A-Za-z_0-9]+ $(CURDIR)/' $(FUZZ_DIR)/$$t.log | head -4; \
			echo "not ok $$t: a crash (whole output: $(FUZZ_DIR)/$$t.log)"; failed="$$failed $$t"; \
		fi; \
	done; \
	[ -z "$$failed" ] || { echo "make fuzz: crashes in:$$failed; reproduce with build/fuzz/TARGET FILE"; exit 1; }

# Each target once over every input of its corpus and of
# tests/fuzz/crashes/TARGET (what crashed once), without fuzzing.
fuzz-regress: $(FUZZ_BINS)
	@failed=; for t in $(FUZZ_TARGETS); do \
		files=$$(find tests/fuzz/corpus/$$t tests/fuzz/crashes/$$t -type f 2>/dev/null | sort); \
		[ -n "$$files" ] || continue; \
		if $(FUZZ_DIR)/$$t -runs=1 $$files >$(FUZZ_DIR)/$$t.log 2>&1; then \
			echo "ok $$t: $$(echo "$$files" | wc -l) inputs"; \
		else \
			grep -E '^Running:' $(FUZZ_DIR)/$$t.log | tail -1; \
			grep -E '^fuzz-|ERROR:|runtime error|SUMMARY' $(FUZZ_DIR)/$$t.log; \
			echo "not ok $$t (whole output: $(FUZZ_DIR)/$$t.log)"; failed="$$failed $$t"; \
		fi; \
	done; \
	[ -z "$$failed" ] || { echo "make fuzz-regress: failed:$$failed"; exit 1; }

.PHONY: all check check-sanitize bench demo install clean fuzz fuzz-regress
.PRECIOUS: %.o

-include $(wildcard lib/*.d src/*.d src/spritesd/*.d tests/unit/*.d $(FUZZ_DIR)/lib/*.d $(FUZZ_DIR)/src/spritesd/*.d)
