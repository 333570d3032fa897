# mt6d: one quiet, strict, non-recursive Makefile.
#
#   make            build the daemons and the CLI into build/
#   make check      install what is missing, build, run every test
#   make demo       the whole system in network namespaces
#   make SAN=1      ASan+UBSan build into build-san/
#   make fuzz       libFuzzer harnesses (clang) into build-fuzz/
#   make analyze    clang analyzer, cppcheck, shellcheck: zero findings
#   make bench      benchmarks, then docs/PERFORMANCE.md from their results
#   make bench-report  docs/PERFORMANCE.md again from docs/perf/results/
#   make bench-merge   a run of some benchmarks (build/bench-results/) merged
#                   into docs/perf/results/, then docs/PERFORMANCE.md
#   make install    PREFIX=/usr/local DESTDIR= (also SYSCONFDIR, UNITDIR, BASHCOMPDIR, ...)
#   make deb        the Debian package into build/deb/ (debian/, lintian)
#   make check-system  the package in a fresh Debian 12 root, the units under
#                   a real systemd (slow: not part of make check)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/mt6d
SYSCONFDIR ?= /etc
# systemd searches /usr/local/lib too, so the units follow PREFIX.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
DESTDIR ?=

VERSION := $(shell git describe --always --dirty --tags 2>/dev/null || echo unknown)

PKGS := libsodium libmnl libnl-3.0 libnl-route-3.0 inih libcap-ng libnftables
# pkg-config is asked when the first recipe needs the flags, not when this
# file is parsed: on a bare machine the libraries appear only once
# install-deps.sh has run (an order-only prerequisite of every object), and
# `make demo` or `make check` must build with the right flags in that same
# invocation. Each variable is computed once, then kept (simple expansion).
once = $(eval $(1) := $$(shell $(2)))$($(1))
PKG_CFLAGS = $(call once,PKG_CFLAGS,pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(call once,PKG_LIBS,pkg-config --libs $(PKGS) 2>/dev/null)
# Debian's libev ships no libev.pc; fall back to plain -lev when it is absent.
EV_CFLAGS = $(call once,EV_CFLAGS,pkg-config --cflags libev 2>/dev/null)
EV_LIBS   = $(call once,EV_LIBS,pkg-config --libs libev 2>/dev/null || echo -lev)
CMOCKA_CFLAGS = $(call once,CMOCKA_CFLAGS,pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   = $(call once,CMOCKA_LIBS,pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

# What `make` installs before it compiles anything (scripts/install-deps.sh:
# build, test or bench); check, demo and bench ask for more. Sub-makes
# started by this Makefile inherit MT6D_DEPS_DONE and skip the check.
INSTALL_DEPS ?= scripts/install-deps.sh
DEPS_SET ?= build
ifneq ($(filter check demo netns unit vectors fuzz fuzz-smoke analyze,$(MAKECMDGOALS)),)
DEPS_SET := test
endif
ifneq ($(filter bench,$(MAKECMDGOALS)),)
DEPS_SET := bench
endif
ifneq ($(filter deb,$(MAKECMDGOALS)),)
DEPS_SET := deb
endif
ifneq ($(filter check-system,$(MAKECMDGOALS)),)
DEPS_SET := system
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations -Wpointer-arith \
	-Wcast-qual -Wformat=2 -Wno-unused-parameter
CFLAGS ?= -O2 -g
BASE_CPPFLAGS_NOVERSION := -I. -D_GNU_SOURCE
BASE_CPPFLAGS := $(BASE_CPPFLAGS_NOVERSION) -DMT6D_VERSION='"$(VERSION)"'
ALL_CFLAGS = -std=c11 -pthread $(WARNINGS) $(BASE_CPPFLAGS) $(PKG_CFLAGS) $(EV_CFLAGS) \
	$(CPPFLAGS) $(CFLAGS) -MMD -MP
ALL_LDLIBS = $(PKG_LIBS) $(EV_LIBS) -lm -pthread $(LDLIBS)

BUILD := build
ifeq ($(SAN),1)
BUILD := build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_CFLAGS += $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
endif
ifeq ($(FUZZ),1)
BUILD := build-fuzz
CC := clang
ALL_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DMT6D_FUZZING
LDFLAGS += -fsanitize=fuzzer,address,undefined
endif

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

# mt6d/ is layered (docs/ARCHITECTURE.md): core/ (pure), engine/ (I/O),
# daemon/ (what every daemon shares), cli/ (the mt6d tool) and bin/ (one
# <name>_main.c per program mt6d-<name>). Entry points are mt6d/bin/*_main.c
# and mt6d/cli/cli_*.c; every other source goes into one static library that
# programs, tests, fuzzers and benchmarks link against.
MAIN_SRCS := $(wildcard mt6d/bin/*_main.c)
CLI_SRCS  := $(wildcard mt6d/cli/cli_*.c)
LIB_SRCS  := $(filter-out $(MAIN_SRCS) $(CLI_SRCS),\
	$(wildcard mt6d/*/*.c dht/*.c tun/*.c netlink/*.c))
TEST_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRCS := $(wildcard bench/bench_*.c)
# Helpers shared by unit tests and benchmarks (tests/simnet.c: the simulated
# DHT network), linked before the library so only their users pull them in.
TESTLIB_SRCS := $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))

LIB := $(BUILD)/libmt6d.a
TESTLIB := $(BUILD)/libmt6d-test.a
PROGS := $(BUILD)/mt6d $(patsubst mt6d/bin/%_main.c,$(BUILD)/mt6d-%,$(MAIN_SRCS))
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.PHONY: all programs tests fuzz benches check unit netns vectors fuzz-smoke \
	check-foreign check-layering analyze deps demo bench bench-report bench-merge install uninstall clean \
	deb check-system
.DEFAULT_GOAL := all
# Keep object files of tests and fuzzers: they are not throwaway intermediates.
.SECONDARY:

all: $(PROGS)
programs: $(PROGS)
tests: $(TESTS)
benches: $(BENCHES)

$(BUILD)/obj/%.o: %.c | deps
	$(quiet) CC $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(call obj,$(LIB_SRCS))
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(TESTLIB): $(call obj,$(TESTLIB_SRCS))
	$(quiet) AR $@
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/mt6d: $(call obj,$(CLI_SRCS)) $(LIB)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/mt6d-%: $(BUILD)/obj/mt6d/bin/%_main.o $(LIB)
	$(quiet) LINK $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += $(CMOCKA_CFLAGS) -Wno-missing-prototypes -Wno-missing-declarations
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTLIB) $(LIB)
	$(quiet) LINK $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS) $(CMOCKA_LIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	$(quiet) LINK $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TESTLIB) $(LIB)
	$(quiet) LINK $@
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(ALL_LDLIBS)

# Fuzzers are built by clang in their own tree.
fuzz:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzzers-here
.PHONY: fuzzers-here
fuzzers-here: $(FUZZERS)

# Every object waits for this, so pkg-config is asked only after it ran.
ifeq ($(MT6D_DEPS_DONE),)
deps:
	$(Q)$(INSTALL_DEPS) $(DEPS_SET)
else
deps: ;
endif
export MT6D_DEPS_DONE := $(or $(MT6D_DEPS_DONE),$(DEPS_SET))

# One-way dependencies: dht/, tun/, netlink/ never include mt6d/ or each other;
# the pure core never includes libev, dht/, tun/ or netlink/.
check-layering:
	$(Q)sh scripts/check-layering.sh

# make analyze: clang's analyzer (clang-tidy over a compile_commands.json
# written from these flags), cppcheck and shellcheck; zero findings, each
# suppression justified where it is made (scripts/analyze.sh).
analyze: deps
	$(Q)scripts/analyze.sh $(BUILD) "$(BASE_CPPFLAGS_NOVERSION) $(PKG_CFLAGS) $(EV_CFLAGS) $(CMOCKA_CFLAGS)"

unit:
	$(Q)$(MAKE) --no-print-directory SAN=1 tests programs
	$(Q)tests/run.sh unit build-san

vectors: $(BUILD)/mt6d
	$(Q)tests/run.sh vectors $(BUILD)

fuzz-smoke: fuzz
	$(Q)tests/run.sh fuzz build-fuzz

netns: all benches
	$(Q)tests/run.sh netns $(BUILD)

# make check: everything a fresh Debian machine needs, then every test.  The
# suites run in one runner so the last line is a single pass/fail count.
check: deps
	$(Q)$(MAKE) --no-print-directory all benches
	$(Q)$(MAKE) --no-print-directory SAN=1 tests programs
	$(Q)$(MAKE) --no-print-directory FUZZ=1 fuzzers-here
	$(Q)sh scripts/check-layering.sh
	$(Q)scripts/analyze.sh $(BUILD) "$(BASE_CPPFLAGS_NOVERSION) $(PKG_CFLAGS) $(EV_CFLAGS) $(CMOCKA_CFLAGS)"
	$(Q)tests/run.sh all

# make deb: mt6d_<version>_<arch>.deb (and its -dbgsym) in build/deb/, made by
# dpkg-buildpackage -us -uc -b in a copy of the tree (scripts/build-deb.sh),
# then lintian: no error, every warning justified in debian/.
deb: deps
	$(Q)scripts/build-deb.sh

# make check-system (root): the package installed, upgraded, removed and
# purged in a debootstrapped Debian 12 root (cached in /var/cache/mt6d-test),
# then the units under systemd as PID 1 of systemd-nspawn containers in a
# lab, with a DHT swarm (tests/system/). Minutes: not part of make check.
# (No $(MAKE) here nor in bench: make -n would run those lines for real.)
CHECK_SYSTEM = scripts/build-deb.sh && \
	MT6D_DEB=$(CURDIR)/build/deb/mt6d_$$(dpkg-parsechangelog -S Version)_$$(dpkg-architecture \
	-qDEB_HOST_ARCH).deb tests/run.sh system $(BUILD)
check-system: deps all
	$(Q)$(CHECK_SYSTEM)

# make check-foreign: only the tests of the real daemons over foreign DHT
# nodes (libtorrent, Transmission; issue 15's targets), about 4 minutes;
# make check runs them too.
check-foreign: deps all
	$(Q)tests/run.sh foreign $(BUILD)

demo: deps all
	$(Q)scripts/demo.sh $(if $(DURATION),--duration $(DURATION))

# make bench: every benchmark (bench/run.sh; BENCH_QUICK=1 for small sizes,
# BENCH_SCALE=full for sessions to 15,000 with a 10-minute soak), then
# docs/PERFORMANCE.md, its raw results docs/perf/results/*.tsv and
# docs/perf/*.png, also when one of them failed (the report says which; a
# quick run's report goes to build/bench-results/ instead). make
# bench-report: the report again from BENCH_RESULTS (default the committed
# docs/perf/results/) without rerunning anything. make bench-merge: the
# run in BENCH_RESULTS (default build/bench-results/, e.g. after
# `BENCH_ONLY_SCRIPTS=rendezvous bench/run.sh`) merged into
# docs/perf/results/: its benchmarks' results replace theirs, every other
# benchmark keeps its own and its run; then the report from them.
BENCH_RESULTS ?= docs/perf/results
BENCH_MERGE_FROM = $(if $(filter file,$(origin BENCH_RESULTS)),build/bench-results,$(BENCH_RESULTS))
# make check-system (6 to 12 minutes, by load) does not fit in make check's 30: make
# bench runs it last (BENCH_SYSTEM=0 leaves it out), and fails if it fails.
BENCH_SYSTEM ?= 1
bench: deps all benches
	$(Q)bench/run.sh; rc=$$?; /usr/bin/python3 scripts/perf-report.py || rc=1; \
	if [ "$(BENCH_SYSTEM)" = 1 ]; then { $(CHECK_SYSTEM); } || rc=1; fi; \
	exit $$rc

bench-report:
	$(Q)/usr/bin/python3 scripts/perf-report.py --results $(BENCH_RESULTS)

bench-merge:
	$(Q)/usr/bin/python3 scripts/perf-report.py --merge $(BENCH_MERGE_FROM)

# make install: programs, man pages, docs and examples, the systemd units
# (paths substituted), the sysusers.d entry for the mt6d user and the bash
# completion (linked for the daemons: bash-completion loads a file by the
# command's name). Nothing in
# SYSCONFDIR/mt6d but the directory: keys and configs are the operator's
# (docs/running.md, "Installing").
MANS := $(wildcard docs/man/*.[1-8])
UNITS := $(patsubst systemd/%.in,%,$(wildcard systemd/*.service.in systemd/*.timer.in))
# bash-completion loads completions from here on demand (it searches
# XDG_DATA_DIRS, so /usr/local/share too).
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(BUILD)/mt6d $(DESTDIR)$(BINDIR)/mt6d
	for p in $(filter-out $(BUILD)/mt6d,$(PROGS)); do \
		install -m 0755 $$p $(DESTDIR)$(SBINDIR)/$$(basename $$p) || exit 1; done
	install -d $(DESTDIR)$(DOCDIR)/examples
	for f in docs/*.md; do install -m 0644 $$f $(DESTDIR)$(DOCDIR)/ || exit 1; done
	for f in docs/examples/*; do [ -f "$$f" ] || continue; \
		install -m 0644 $$f $(DESTDIR)$(DOCDIR)/examples/ || exit 1; done
# The charts of PERFORMANCE.md go where its relative links (perf/) look.
	for f in docs/perf/*.png; do [ -f "$$f" ] || continue; \
		install -d $(DESTDIR)$(DOCDIR)/perf && \
		install -m 0644 $$f $(DESTDIR)$(DOCDIR)/perf/ || exit 1; done
	for f in $(MANS); do s=$${f##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 $$f $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	for u in $(UNITS); do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
			-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			systemd/$$u.in >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	install -m 0644 systemd/mt6d.sysusers $(DESTDIR)$(SYSUSERSDIR)/mt6d.conf
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 completion/mt6d.bash $(DESTDIR)$(BASHCOMPDIR)/mt6d
	for p in mt6d-server mt6d-client mt6d-peer; do \
		ln -sf mt6d $(DESTDIR)$(BASHCOMPDIR)/$$p || exit 1; done
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/mt6d

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mt6d
	for p in $(filter-out $(BUILD)/mt6d,$(PROGS)); do \
		rm -f $(DESTDIR)$(SBINDIR)/$$(basename $$p); done
	rm -rf $(DESTDIR)$(DOCDIR)
	for f in $(MANS); do s=$${f##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$$(basename $$f); done
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	rm -f $(DESTDIR)$(SYSUSERSDIR)/mt6d.conf
	for p in mt6d mt6d-server mt6d-client mt6d-peer; do rm -f $(DESTDIR)$(BASHCOMPDIR)/$$p; done
	-rmdir $(DESTDIR)$(SYSCONFDIR)/mt6d 2>/dev/null

clean:
	rm -rf build build-san build-fuzz

-include $(shell find build build-san build-fuzz -name '*.d' 2>/dev/null)
