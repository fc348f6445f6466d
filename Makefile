# alknet-c: plain Makefile. `make` builds ./alknet; `make test` runs every test;
# `make run` starts a server on 127.0.0.1:2222 for the invoking user. See README.md.

CC       ?= gcc
VERSION  := 0.1.0
BUILD    ?= build
CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
CFLAGS   += $(CSTD) $(WARN) $(OPT) -DALKNET_VERSION=\"$(VERSION)\" -MMD -MP
LDLIBS   += -lssl -lcrypto -lsystemd -lseccomp -lpthread

BIN      := alknet
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
BUILD    := build-san
BIN      := build-san/alknet
endif

SRC      := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
OBJ      := $(SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libalknet.a
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Code several unit tests share (the test SSH client, the engine test harness). Built once
# into an archive, so each test binary links only the helpers it calls.
UNIT_HELPERS := tests/unit/sshtest_client.c tests/unit/sshtest_msgs.c tests/unit/engine_pair.c \
		tests/unit/sntrup761_ref.c tests/unit/sshtest_kex.c
UNIT_HELPER_OBJ := $(UNIT_HELPERS:%.c=$(BUILD)/%.o)
UNIT_LIB := $(BUILD)/tests/libunit.a

.PHONY: all clean run test unit e2e deps test-deps check-san check-valgrind install uninstall

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# -iquote, not -I: src/limits.h must not stand in for the C library's <limits.h>.
$(UNIT_HELPER_OBJ): CFLAGS += -iquote src

$(UNIT_LIB): $(UNIT_HELPER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote src $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(LIB) $(LDLIBS) -lcmocka

# Test tools the e2e tests run (tests/tools/): always the plain build, even for check-san.
FLOOD := build/tests/sshflood
$(FLOOD): tests/tools/sshflood.c build/tests/libunit.a build/libalknet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote src -Itests/unit -o $@ $< build/tests/libunit.a build/libalknet.a $(LDLIBS)

MLKEM_TOOL := build/tests/mlkem_encaps
$(MLKEM_TOOL): tests/tools/mlkem_encaps.c build/libalknet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote src -o $@ $< build/libalknet.a $(LDLIBS)

# The server's CPU per key exchange, method by method, in-process (bench/kexcost.c).
KEXCOST := build/bench/kexcost
$(KEXCOST): bench/kexcost.c build/tests/libunit.a build/libalknet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote src -Itests/unit -o $@ $< build/tests/libunit.a build/libalknet.a $(LDLIBS)

# Installs the Debian packages the build needs when one is missing (no-op otherwise).
deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps build test interop proxy

run: deps $(BIN)
	@scripts/run-default

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: $(BIN) $(FLOOD) $(MLKEM_TOOL)
	ALKNET_BIN=$(abspath $(BIN)) /usr/bin/python3 -m pytest -q tests/e2e

# The e2e tests against the ASan/UBSan build, and the forwarding tests with the server under
# valgrind: a server that leaks or touches bad memory fails its test at shutdown. Both run the
# server with --sandbox off (ALKNET_TEST_SANDBOX=off): LeakSanitizer stops the world with ptrace
# and valgrind makes the guest's system calls itself; `make e2e` runs it sandboxed.
check-san:
	$(MAKE) $(FLOOD) $(MLKEM_TOOL)
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 build-san/alknet
	ALKNET_BIN=$(abspath build-san/alknet) ALKNET_STRICT_EXIT=1 ALKNET_TEST_SANDBOX=off \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		/usr/bin/python3 -m pytest -q tests/e2e --ignore=tests/e2e/test_interop.py

check-valgrind: $(BIN)
	ALKNET_BIN=$(abspath $(BIN)) ALKNET_TEST_SANDBOX=off ALKNET_WRAPPER="valgrind -q --leak-check=full \
		--errors-for-leak-kinds=definite --error-exitcode=99" \
		/usr/bin/python3 -m pytest -q tests/e2e/test_auth.py tests/e2e/test_proxy.py \
		tests/e2e/test_forwarding.py tests/e2e/test_reload.py \
		tests/e2e/test_session_channel.py tests/e2e/test_control.py \
		-k "not fifty and not slow_reader"

test: test-deps
	$(MAKE) unit
	$(MAKE) e2e

clean:
	rm -rf build build-san $(BIN)

# make install [PREFIX=/usr/local] [DESTDIR=/staging] [SYSCONFDIR=/etc]: the binary, the man
# page, the systemd units (ExecStart rewritten to $(BINDIR)/alknet), the fail2ban filter and
# jail (the jail installed switched off), the example configuration. Nothing is enabled or
# started; README.md "Deploying" has the steps after it.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/alknet
F2BDIR     ?= $(SYSCONFDIR)/fail2ban
UNIT_SED   := -e 's\#/usr/local/bin/alknet\#$(BINDIR)/alknet\#g' \
	      -e 's\#/usr/local/share/doc/alknet\#$(DOCDIR)\#g'

install: $(BIN)
	install -d -m 755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(F2BDIR)/filter.d $(DESTDIR)$(F2BDIR)/jail.d $(DESTDIR)$(DOCDIR) \
		$(BUILD)/contrib
	install -m 755 $(BIN) $(DESTDIR)$(BINDIR)/alknet
	install -m 644 man/alknet.1 $(DESTDIR)$(MANDIR)/man1/alknet.1
	sed $(UNIT_SED) contrib/systemd/alknet.service > $(BUILD)/contrib/alknet.service
	install -m 644 $(BUILD)/contrib/alknet.service $(DESTDIR)$(UNITDIR)/alknet.service
	install -m 644 contrib/systemd/alknet.socket $(DESTDIR)$(UNITDIR)/alknet.socket
	install -m 644 contrib/fail2ban/filter.d/alknet.conf $(DESTDIR)$(F2BDIR)/filter.d/alknet.conf
	install -m 644 contrib/fail2ban/jail.d/alknet.conf $(DESTDIR)$(F2BDIR)/jail.d/alknet.conf
	install -m 644 contrib/alknet.conf.example $(DESTDIR)$(DOCDIR)/alknet.conf.example

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/alknet $(DESTDIR)$(MANDIR)/man1/alknet.1 \
		$(DESTDIR)$(UNITDIR)/alknet.service $(DESTDIR)$(UNITDIR)/alknet.socket \
		$(DESTDIR)$(F2BDIR)/filter.d/alknet.conf $(DESTDIR)$(F2BDIR)/jail.d/alknet.conf \
		$(DESTDIR)$(DOCDIR)/alknet.conf.example
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

-include $(OBJ:.o=.d) $(BUILD)/src/main.d $(UNIT_HELPER_OBJ:.o=.d) $(UNIT_BIN:=.d)

# Formatting: every tracked C file but the generated vectors (tests/unit/
# gen_cipher_vectors.py and gen_mlkem_vectors.py write them) must match .clang-format.
# `make format` fixes it.
FORMAT_FILES = $(filter-out tests/unit/cipher_vectors.h tests/unit/mlkem_vectors.h,$(shell git ls-files '*.c' '*.h'))
.PHONY: format format-check
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

# Fuzzers (libFuzzer, clang): make fuzz FUZZ_SECONDS=30
FUZZ_SECONDS ?= 30
.PHONY: fuzz bench
fuzz:
	@scripts/install-deps fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# Benchmark against OpenSSH's sshd in the same run (not part of make test).
bench: $(BIN)
	@scripts/install-deps bench
	bench/run $(BENCH_ARGS)
