# lmpipe - build, test and install.
#
#   make                 libcommon (static) and every program in bin/
#   make test            unit + CLI tests through prove (TAP)
#   make test SAN=1      the same suite built with ASan + UBSan (in build/san)
#   make fuzz-smoke      each libFuzzer target for FUZZ_SECONDS (clang)
#   make cuda-check      compile kernels/*.cu with nvcc, when nvcc exists
#   make eval-beir       BM25 nDCG@10 / recall on ../shared BEIR sets
#   make install PREFIX=/usr/local    make clean    make demo

VERSION  := 0.1.0
PREFIX   ?= /usr/local
CC       ?= cc
NVCC     ?= nvcc
FUZZ_SECONDS ?= 20

ifeq ($(SAN),1)
BUILD    ?= build/san
OPT      := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
else
BUILD    ?= build
OPT      ?= -O2 -g
LDSAN    :=
endif

CPPFLAGS += -D_GNU_SOURCE -DLMPIPE_VERSION='"$(VERSION)"' -Ilibcommon -Ikernels
CFLAGS   += -std=gnu11 $(OPT) -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread
LDLIBS   += -lzstd -lutf8proc -lpcre2-8 -lm -pthread
LDFLAGS  += $(LDSAN)

# Kernels with several implementations are compiled once per instruction set;
# kernels/cpu.c picks one at run time, so one binary runs on any x86-64.
ISA_avx2   := -mavx2 -mfma -mf16c
ISA_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c

LIB_SRC   := $(wildcard libcommon/*.c libcommon/*/*.c) $(wildcard kernels/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libcommon.a
PROG_SRC  := $(wildcard bin/*.c)
PROGS     := $(PROG_SRC:bin/%.c=$(BUILD)/bin/%)
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
HELPER_SRC := $(wildcard tests/helpers/*.c)
HELPERS   := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
CUDA_SRC  := $(wildcard kernels/*.cu kernels/*/*.cu)
MAN_SRC   := $(wildcard man/*.[0-9])

# eval is also installed as evaluate, because eval is a shell builtin.
ALIASES   := $(if $(filter $(BUILD)/bin/eval,$(PROGS)),$(BUILD)/bin/evaluate)

all: $(LIB) $(PROGS) $(ALIASES)

$(BUILD)/bin/evaluate: $(BUILD)/bin/eval
	ln -sf eval $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ISA_$(lastword $(subst _, ,$*))) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/%: bin/%.c $(LIB)
	@mkdir -p $(dir $@) $(BUILD)/obj/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(BUILD)/obj/bin/$*.d $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@) $(BUILD)/obj/tests/unit
	$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) -MMD -MP -MF $(BUILD)/obj/tests/unit/$*.d $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# Small programs the CLI tests drive (not installed).
$(BUILD)/helpers/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(dir $@) $(BUILD)/obj/helpers
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -MF $(BUILD)/obj/helpers/$*.d $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

tests: $(UNITS) $(HELPERS)

# The one test command (README and .ci/run): C unit tests and CLI scripts,
# both TAP, through prove.
test: all tests
	LMPIPE_BUILD=$(abspath $(BUILD)) prove -f --exec '' $(UNITS) $(wildcard tests/cli/t[0-9]*.sh)

# libFuzzer targets: libcommon rebuilt by clang with coverage instrumentation
# and sanitizers in build/fuzz, each target linked against it.
FUZZ_BUILD := build/fuzz
FUZZ_OPT   := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZERS    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
fuzz:
	$(MAKE) CC=clang BUILD=$(FUZZ_BUILD) OPT="$(FUZZ_OPT)" $(FUZZ_BUILD)/libcommon.a $(FUZZERS)
ifeq ($(BUILD),$(FUZZ_BUILD))
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(LIB)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer,address,undefined $< $(LIB) $(LDLIBS) -o $@
endif
# Binary seeds (GGUF, index files) are made by tests/fuzz/make-seeds with the
# normal build's programs rather than kept in the repository.
fuzz-smoke: fuzz all tests
	@rm -rf $(FUZZ_BUILD)/seeds && tests/fuzz/make-seeds $(BUILD) $(FUZZ_BUILD)/seeds
	@for t in $(FUZZ_SRC:tests/fuzz/%.c=%); do \
		mkdir -p $(FUZZ_BUILD)/corpus-$$t $(FUZZ_BUILD)/seeds/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=1024 -print_final_stats=0 \
			$(FUZZ_BUILD)/corpus-$$t $$(ls -d tests/fuzz/corpus/$$t 2>/dev/null) \
			$(FUZZ_BUILD)/seeds/$$t 2>$(FUZZ_BUILD)/$$t.log \
			|| { tail -50 $(FUZZ_BUILD)/$$t.log; exit 1; }; \
		tail -1 $(FUZZ_BUILD)/$$t.log; \
	done

cuda-check:
	@if command -v $(NVCC) >/dev/null 2>&1; then \
		for f in $(CUDA_SRC); do echo "nvcc -c $$f"; mkdir -p $(BUILD)/cuda; \
			$(NVCC) -O2 -Ilibcommon -Ikernels -c $$f -o $(BUILD)/cuda/$$(basename $$f .cu).o || exit 1; done; \
		echo "cuda-check: $(words $(CUDA_SRC)) CUDA source(s) compiled"; \
	else echo "cuda-check: nvcc not found, CUDA sources skipped"; fi

demo: all
	./scripts/demo

# BM25 quality on the BEIR sets in ../shared (nDCG@10, recall@100), from scratch.
eval-beir: all
	./scripts/eval-beir --check

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	$(if $(PROGS),install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin)
	$(if $(ALIASES),ln -sf eval $(DESTDIR)$(PREFIX)/bin/evaluate)
	$(if $(ALIASES),ln -sf eval.1 $(DESTDIR)$(PREFIX)/share/man/man1/evaluate.1)
	for m in $(MAN_SRC); do install -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/; done

clean:
	rm -rf build

.PHONY: all tests test fuzz fuzz-smoke cuda-check demo eval-beir install clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
