# MyTorch: `make` builds the library and programs, `make test` runs every Check suite,
# `make mnist` runs gradcheck and then trains MNIST, `make bench` prints the benchmarks.
# Every entry point first makes sure the Debian packages are there (`make deps`).

PREFIX  ?= /usr/local
CC      ?= cc
BUILD   := build
OPT     ?= -O3
CFLAGS  ?= $(OPT) -g
WARN    := -std=c11 -Wall -Wextra -Wpedantic -Werror=implicit-function-declaration
CPPFLAGS_ALL = -Iinclude -D_POSIX_C_SOURCE=200809L -DMT_SOURCE_DIR=\"$(CURDIR)\"
SAN     ?=

DEB_PACKAGES := build-essential pkg-config check libopenblas-dev libcjson-dev zlib1g-dev \
                libsdl2-dev libcairo2-dev libpango1.0-dev libfontconfig-dev libgraphviz-dev \
                graphviz xvfb xauth fonts-dejavu-core valgrind
PKG_MODULES  := openblas zlib check cairo pangocairo fontconfig sdl2 libcjson libgvc

# pkg-config is asked only when a recipe runs (after `deps`), so these stay lazy (=).
pc = $(shell pkg-config $(1) $(2))
LIB_CFLAGS   = $(call pc,--cflags,openblas zlib libcjson)
LIB_LIBS     = $(call pc,--libs,openblas zlib libcjson) -lm
CHECK_FLAGS  = $(call pc,--cflags --libs,check)
CAIRO_CFLAGS = $(call pc,--cflags,cairo pangocairo fontconfig)
CAIRO_LIBS   = $(call pc,--libs,cairo pangocairo fontconfig)

LIB_SRC  := $(wildcard src/*.c src/ops/*.c src/nn/*.c src/optim/*.c src/io/*.c src/trace/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
MNIST_SRC := $(wildcard src/mnist/*.c)
DRAW_SRC := $(wildcard src/draw/*.c)
GC_SRC   := $(wildcard gradcheck/*.c)
# the checker, linked into the trainer and the gradcheck suite, draws nothing: only the
# mytorch-gradcheck command links heatmap.c and the drawing libraries
GC_LIB_SRC := $(filter-out gradcheck/main.c gradcheck/heatmap.c,$(GC_SRC))
GC_LIB_OBJ := $(GC_LIB_SRC:%.c=$(BUILD)/obj/%.o)
GC_LIBS     = $(call pc,--libs,libcjson)
TEST_SRC := $(wildcard tests/test_*.c)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# suites that draw (and so link cairo and Pango)
CAIRO_TESTS := $(BUILD)/tests/test_plot $(BUILD)/tests/test_draw

STATIC   := $(BUILD)/libmytorch.a
SHARED   := $(BUILD)/libmytorch.so
# src/draw (PNG files, text, colour maps) for every program that draws; the core library
# above needs neither cairo nor Pango.
DRAW_LIB := $(BUILD)/libmytorch_draw.a
PROGRAMS := $(BUILD)/bin/mytorch-mnist $(BUILD)/bin/mytorch-gradcheck $(BUILD)/bin/mytorch-viewer

.PHONY: all lib test mnist gradcheck bench memcheck asan deps ensure-deps install clean \
        _all _test _mnist _gradcheck _bench _memcheck

# Each entry point first makes sure the packages are there, then runs its _target in a fresh
# make (so that pkg-config is asked only once they are).
PUBLIC := all test mnist gradcheck bench memcheck
$(PUBLIC): ensure-deps
	@$(MAKE) --no-print-directory _$@

# Installs the Debian packages when pkg-config cannot find them: as root with apt-get,
# otherwise prints the exact command and stops.
ensure-deps:
	@if command -v pkg-config >/dev/null 2>&1 && command -v cc >/dev/null 2>&1 && \
	    pkg-config --exists $(PKG_MODULES); then :; else $(MAKE) --no-print-directory deps; fi
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "installing: $(DEB_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(DEB_PACKAGES) >/dev/null || exit 1; \
	else \
	  echo "MyTorch needs Debian packages that pkg-config cannot find. Install them with:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y $(DEB_PACKAGES)"; \
	  echo "(or, without sudo: su -c 'apt-get update && apt-get install -y $(DEB_PACKAGES)')"; \
	  exit 1; \
	fi

# keep the object files of the test programs (no "rm" noise after each run)
.SECONDARY:

_all: $(STATIC) $(SHARED) $(DRAW_LIB) $(PROGRAMS)
lib: $(STATIC)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS_ALL) $(LIB_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS_ALL) $(LIB_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(SHARED): $(PIC_OBJ)
	$(CC) -shared -Wl,--no-undefined -o $@ $^ $(LIB_LIBS)
$(DRAW_LIB): $(DRAW_SRC:%.c=$(BUILD)/cairo/%.o)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# programs that draw: compiled with cairo's flags
$(BUILD)/cairo/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS_ALL) $(LIB_CFLAGS) $(CAIRO_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/bin/mytorch-mnist: $(MNIST_SRC:%.c=$(BUILD)/cairo/%.o) $(GC_LIB_OBJ) $(DRAW_LIB) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(GC_LIBS) $(LIB_LIBS) $(CAIRO_LIBS) -pthread
$(BUILD)/bin/mytorch-gradcheck: $(GC_LIB_OBJ) $(BUILD)/cairo/gradcheck/main.o \
                                $(BUILD)/cairo/gradcheck/heatmap.o $(DRAW_LIB) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(GC_LIBS) $(LIB_LIBS) $(CAIRO_LIBS)

# Check suites: one binary per tests/test_<module>.c
$(BUILD)/tests/%: $(BUILD)/cairo/tests/%.o $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $< $(STATIC) $(CHECK_FLAGS) $(LIB_LIBS)
$(CAIRO_TESTS): $(BUILD)/tests/%: $(BUILD)/cairo/tests/%.o $(BUILD)/cairo/src/mnist/plot.o \
                $(DRAW_LIB) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(CHECK_FLAGS) $(LIB_LIBS) $(CAIRO_LIBS)
# The gradcheck suites: the checker without any drawing library; what only the command does
# (its flags, the heatmaps) test_gradcheck_cli checks by running the command, whose path it is
# compiled with.
GC_TESTS := $(BUILD)/tests/test_gradcheck $(BUILD)/tests/test_gradcheck_cli
$(GC_TESTS:$(BUILD)/tests/%=$(BUILD)/cairo/tests/%.o): CPPFLAGS_ALL += \
    -DMT_GC_BINARY=\"$(abspath $(BUILD))/bin/mytorch-gradcheck\"
$(GC_TESTS): $(BUILD)/tests/%: $(BUILD)/cairo/tests/%.o $(GC_LIB_OBJ) $(STATIC) \
             | $(BUILD)/bin/mytorch-gradcheck
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(CHECK_FLAGS) $(GC_LIBS) $(LIB_LIBS)

# The suites, then (only where Debian's python3-torch is installed) the MNIST protocol against
# PyTorch with the same initial weights and order: every validation within 0.1 point.
_test: $(TESTS) $(BUILD)/bin/mytorch-mnist $(BUILD)/bin/mytorch-viewer
	@fail=0; for t in $(TESTS); do echo "== $$t"; $$t || fail=1; done; \
	if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then \
	  echo "== tests/torch_mnist.py compare (MNIST, mytorch-mnist vs PyTorch 1.13)"; \
	  out=$$(/usr/bin/python3 tests/torch_mnist.py compare \
	    --binary $(BUILD)/bin/mytorch-mnist 2>&1) || fail=1; \
	  echo "$$out" | tail -n 1; \
	else echo "(python3-torch is not installed: the MNIST comparison with PyTorch is skipped)"; fi; \
	if [ $$fail = 0 ]; then echo "all test suites passed"; \
	else echo "some test suites FAILED"; exit 1; fi

_gradcheck: $(BUILD)/bin/mytorch-gradcheck
	$(BUILD)/bin/mytorch-gradcheck

# The checker's own mutation score, not part of `make test`: every line of
# tests/mutants/mutations.txt breaks a backward on purpose in a scratch copy of this tree,
# and mytorch-gradcheck must catch it (about 90 s on 2 cores).
.PHONY: mutants
mutants: ensure-deps
	/usr/bin/env python3 tests/mutants/mutants.py --jobs 2

_mnist: $(BUILD)/bin/mytorch-gradcheck $(BUILD)/bin/mytorch-mnist
	$(BUILD)/bin/mytorch-gradcheck
	$(BUILD)/bin/mytorch-mnist --no-gradcheck --data data/mnist --plot validation_accuracy.png \
	  --csv validation_accuracy.csv

# Every suite under valgrind (CK_FORK=no so valgrind sees the tests themselves), then a short
# training run and the viewer drawing every step of an example without a window; the last line
# names whatever was not clean.
VALGRIND := valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=1
_memcheck: $(TESTS) $(BUILD)/bin/mytorch-mnist $(BUILD)/bin/mytorch-viewer
	@failed=""; tmp=$$(mktemp -d); \
	for t in $(TESTS); do echo "== valgrind $$t"; \
	  CK_FORK=no $(VALGRIND) $$t >/dev/null || failed="$$failed $$t"; done; \
	echo "== valgrind $(BUILD)/bin/mytorch-mnist --limit 2000 --epochs 1"; \
	$(VALGRIND) $(BUILD)/bin/mytorch-mnist --data data/mnist --limit 2000 --epochs 1 \
	  --quiet --plot $$tmp/accuracy.png --csv $$tmp/accuracy.csv >/dev/null || \
	  failed="$$failed mytorch-mnist"; \
	echo "== valgrind $(BUILD)/bin/mytorch-viewer --example seed --frames DIR --pdf FILE"; \
	$(VALGRIND) $(BUILD)/bin/mytorch-viewer --example seed --frames $$tmp/frames \
	  --pdf $$tmp/handout.pdf >/dev/null || failed="$$failed mytorch-viewer"; \
	rm -rf $$tmp; \
	if [ -z "$$failed" ]; then echo "memcheck: all clean"; \
	else echo "memcheck: FAILED:$$failed"; exit 1; fi

# AddressSanitizer and UBSan (stopping at the first error) in a tree of their own: every suite,
# a short training run and the viewer drawing one step without a window. `asan` is the same.
.PHONY: sanitize _sanitize fuzz _fuzz
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer
sanitize asan: ensure-deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 SAN="$(SANITIZE)" _sanitize
_sanitize: $(TESTS) $(BUILD)/bin/mytorch-mnist $(BUILD)/bin/mytorch-viewer
	@export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	  CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-4}; failed=""; tmp=$$(mktemp -d); \
	for t in $(TESTS); do echo "== sanitize $$t"; $$t || failed="$$failed $$t"; done; \
	echo "== sanitize $(BUILD)/bin/mytorch-mnist --limit 2000 --epochs 1"; \
	$(BUILD)/bin/mytorch-mnist --data data/mnist --limit 2000 --epochs 1 --quiet \
	  --plot $$tmp/accuracy.png --csv $$tmp/accuracy.csv || failed="$$failed mytorch-mnist"; \
	if [ -x $(BUILD)/bin/mytorch-viewer ]; then \
	  echo "== sanitize $(BUILD)/bin/mytorch-viewer --example seed --screenshot FILE --step 20"; \
	  $(BUILD)/bin/mytorch-viewer --example seed --screenshot $$tmp/step20.png --step 20 || \
	    failed="$$failed mytorch-viewer"; fi; \
	rm -rf $$tmp; \
	if [ -z "$$failed" ]; then echo "sanitize: all clean"; \
	else echo "sanitize: FAILED:$$failed"; exit 1; fi

# libFuzzer targets (clang; tests/fuzz/README.md): each runs FUZZ_SECONDS on its seeds
# (tests/fuzz/corpus/T), its regression inputs and what earlier runs found (build-fuzz/corpus/T,
# where new inputs go); a crash is saved as build-fuzz/fuzz/T-crash-* and stops the run.
FUZZ_TARGETS := idx idx_gz npy trace
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_PROBE   := int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }
FUZZ_PKGS    := clang libclang-rt-14-dev
fuzz: ensure-deps
	@probe() { echo '$(FUZZ_PROBE)' | clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; }; \
	probe || if [ "$$(id -u)" = 0 ]; then \
	  echo "installing clang and its libFuzzer runtime: apt-get install -y $(FUZZ_PKGS)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FUZZ_PKGS) \
	  && probe; else echo "make fuzz needs clang and its libFuzzer runtime:" \
	  "sudo apt-get install $(FUZZ_PKGS)"; exit 1; fi
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
	  SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" _fuzz
_fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(BUILD)/corpus/$$t; dirs="$(BUILD)/corpus/$$t"; \
	  for d in tests/fuzz/corpus/$$t tests/fuzz/regress/$$t; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  dict=""; [ -f tests/fuzz/$$t.dict ] && dict="-dict=tests/fuzz/$$t.dict"; \
	  log=$(BUILD)/fuzz/$$t.log; echo "== fuzz $$t for $(FUZZ_SECONDS) s (log: $$log)"; \
	  if $(BUILD)/fuzz/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	      -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$t- $$dirs >$$log 2>&1; \
	  then grep -a -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units' $$log; \
	  else tail -n 40 $$log; echo "fuzz: $$t FAILED (the input is in $(BUILD)/fuzz/)"; \
	    exit 1; fi; done
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_entry.h $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) $(CPPFLAGS_ALL) $(LIB_CFLAGS) \
	  -o $@ $< $(STATIC) $(LIB_LIBS)

BENCH_SRC := $(wildcard tests/bench/*.c)
_bench: $(BUILD)/bench/bench $(BUILD)/bin/mytorch-mnist $(BUILD)/bin/mytorch-viewer
	OPENBLAS_NUM_THREADS=1 $(BUILD)/bench/bench
	@if [ -x tests/bench/bench_mnist.sh ]; then \
	  tests/bench/bench_mnist.sh $(BUILD)/bin/mytorch-mnist; fi
	@echo "== the viewer at 1280x720 (targets: frame < 16 ms, layout of random:500 < 300 ms)"
	@for ex in seed mnist-step random:500; do \
	  $(BUILD)/bin/mytorch-viewer --example $$ex --bench --passes 3 --size 1280x720 || exit 1; done
$(BUILD)/bench/bench: $(BENCH_SRC:%.c=$(BUILD)/cairo/%.o) $(STATIC)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LIB_LIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mytorch $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/mytorch/*.h $(DESTDIR)$(PREFIX)/include/mytorch/
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' src/mytorch.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mytorch.pc

clean:
	rm -rf build build-asan build-fuzz

include viewer/viewer.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
