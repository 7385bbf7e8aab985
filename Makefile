# sprite-tools: see README.md.  `make` builds every command into bin/,
# `make check` runs the unit and integration tests, `make bench` the benchmarks.

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

# Run inside sprites by the isolation tests (copied in over stdin).
tests/probe/sprite-probe: tests/probe/sprite-probe.c
	$(COMPILE) $(ST_LDFLAGS) $(LDFLAGS) -o $@ $<

.PHONY: all check bench demo install clean
.PRECIOUS: %.o

-include $(wildcard lib/*.d src/*.d src/spritesd/*.d tests/unit/*.d)
