# Thin wrapper around meson; see README.md.
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
ARGS ?=

.PHONY: all build run check bench clean deps install deb fuzz

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
# (then the Debian package: built, lintian-clean, unpacked and run)
check:
	@tools/deps.sh test
	@tools/deps.sh package
	tools/check.sh
	tools/package.sh

# The Debian package alone: build-deb/portwho_VERSION_ARCH.deb
deb:
	@tools/deps.sh package
	tools/package.sh

# libFuzzer targets (tests/fuzz) under ASan+UBSan, FUZZ_SECONDS each
# (check runs them for a few seconds; this is the longer run).
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tools/fuzz.sh

bench:
	@tools/deps.sh bench
	$(MAKE) build
	bench/run.sh
	bench/scale.sh

# Install the binary, man pages and shell completions under PREFIX
# (default /usr/local), staged below DESTDIR when it is set.
install: build
	meson configure $(BUILD) -Dprefix=$(PREFIX) >/dev/null
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir "$(DESTDIR)")

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-deb
