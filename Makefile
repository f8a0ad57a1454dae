# Thin wrapper around meson; see README.md.
BUILD ?= build
ARGS ?=

.PHONY: all build run check bench clean deps fuzz

all: build

deps:
	@tools/deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	meson compile -C $(BUILD)

# Build and show who holds every listening/bound port on this host.
run: build
	./$(BUILD)/portwho $(ARGS)

# Build with -Werror and pass every test, also under ASan+UBSan.
check:
	@tools/deps.sh test
	tools/check.sh

# libFuzzer targets (tests/fuzz) under ASan+UBSan, FUZZ_SECONDS each
# (check runs them for a few seconds; this is the longer run).
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz.sh

bench:
	@tools/deps.sh bench
	$(MAKE) build
	bench/run.sh

clean:
	rm -rf $(BUILD) build-asan build-fuzz
