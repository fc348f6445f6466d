# alknet-c: plain Makefile. `make` builds ./alknet; `make test` runs every test;
# `make run` starts a server on 127.0.0.1:2222 for the invoking user. See README.md.

CC       ?= gcc
VERSION  := 0.1.0
BUILD    ?= build
CSTD     := -std=c17 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT      ?= -O2 -g
CFLAGS   += $(CSTD) $(WARN) $(OPT) -DALKNET_VERSION=\"$(VERSION)\" -MMD -MP
LDLIBS   += -lcrypto -lsystemd -lpthread

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
		tests/unit/sntrup761_ref.c
UNIT_HELPER_OBJ := $(UNIT_HELPERS:%.c=$(BUILD)/%.o)
UNIT_LIB := $(BUILD)/tests/libunit.a

.PHONY: all clean run test unit e2e deps test-deps check-san check-valgrind

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/src/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNIT_HELPER_OBJ): CFLAGS += -Isrc

$(UNIT_LIB): $(UNIT_HELPER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc $(LDFLAGS) -o $@ $< $(UNIT_LIB) $(LIB) $(LDLIBS) -lcmocka

# Test tools the e2e tests run (tests/tools/): always the plain build, even for check-san.
FLOOD := build/tests/sshflood
$(FLOOD): tests/tools/sshflood.c build/tests/libunit.a build/libalknet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -Itests/unit -o $@ $< build/tests/libunit.a build/libalknet.a $(LDLIBS)

# Installs the Debian packages the build needs when one is missing (no-op otherwise).
deps:
	@scripts/install-deps build

test-deps:
	@scripts/install-deps build test interop proxy

run: deps $(BIN)
	@scripts/run-default

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: $(BIN) $(FLOOD)
	ALKNET_BIN=$(abspath $(BIN)) /usr/bin/python3 -m pytest -q tests/e2e

# The e2e tests against the ASan/UBSan build, and the forwarding tests with the server under
# valgrind: a server that leaks or touches bad memory fails its test at shutdown.
check-san:
	$(MAKE) $(FLOOD)
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 build-san/alknet
	ALKNET_BIN=$(abspath build-san/alknet) ALKNET_STRICT_EXIT=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		/usr/bin/python3 -m pytest -q tests/e2e --ignore=tests/e2e/test_interop.py

check-valgrind: $(BIN)
	ALKNET_BIN=$(abspath $(BIN)) ALKNET_WRAPPER="valgrind -q --leak-check=full \
		--errors-for-leak-kinds=definite --error-exitcode=99" \
		/usr/bin/python3 -m pytest -q tests/e2e/test_auth.py tests/e2e/test_proxy.py \
		tests/e2e/test_forwarding.py -k "not fifty and not slow_reader"

test: test-deps
	$(MAKE) unit
	$(MAKE) e2e

clean:
	rm -rf build build-san $(BIN)

-include $(OBJ:.o=.d) $(BUILD)/src/main.d $(UNIT_HELPER_OBJ:.o=.d) $(UNIT_BIN:=.d)

# Formatting: every tracked C file but the generated cipher vectors (tests/unit/
# gen_cipher_vectors.py writes that one) must match .clang-format. `make format` fixes it.
FORMAT_FILES = $(filter-out tests/unit/cipher_vectors.h,$(shell git ls-files '*.c' '*.h'))
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
