# armvmd — top-level Makefile.
#
#   make            build for this machine (build/native or build/aarch64);
#                   on x86_64 also cross-build static aarch64 binaries
#   make deps       install Debian packages and fetch kernels (as root)
#   make check      build + unit tests (also under ASan+UBSan) + a short
#                   fuzz pass + emulated arm64 KVM host tests
#   make asan       native ASan+UBSan build into build/asan
#   make fuzz       every libFuzzer target (tests/fuzz/) for FUZZ_S seconds
#                   each; by default 10 million runs or 10 minutes
#   make demo       boot the emulated arm64 host and show armvmd working
#   make bench      benchmarks against the KVM floor (docs/PERFORMANCE.md)
#   make matrix     every host x guest address-space combination, with a
#                   report (docs/MATRIX.md; MATRIX_ARGS="-j 4 --quick")
#   make soak       the long soak in one emulated host (docs/TESTING.md)
#   make install    PREFIX=/usr/local DESTDIR=
#   V=1             verbose; WERROR=1 turns warnings into errors (CI)

PREFIX  ?= /usr/local
DESTDIR ?=
V       ?= 0
WERROR  ?= 0
CACHE   ?= $(CURDIR)/build/cache
MACHINE := $(shell uname -m)
CROSS   ?= aarch64-linux-gnu-
SYSROOT := $(CACHE)/sysroot-arm64

SUBMAKE = $(MAKE) --no-print-directory -f mk/build.mk V=$(V) WERROR=$(WERROR)
FUZZMAKE = $(MAKE) --no-print-directory -f mk/fuzz.mk V=$(V) WERROR=$(WERROR) \
	CC=$(or $(CC_FUZZ),clang)
FUZZ_S  ?=

.PHONY: all native aarch64 deps ensure-deps check unit hosttest demo install clean \
	distclean matrix asan fuzz fuzz-build

ifeq ($(MACHINE),aarch64)
all: aarch64
aarch64:
	@$(SUBMAKE) O=build/aarch64 TARGET=aarch64 CC=$(or $(CC_NATIVE),gcc) KVM=1
native: aarch64
else
all: native aarch64
native:
	@$(SUBMAKE) O=build/native TARGET=native CC=$(or $(CC_NATIVE),gcc) KVM=0
aarch64: $(SYSROOT)/.done
	@$(SUBMAKE) O=build/aarch64 TARGET=aarch64 CC=$(CROSS)gcc KVM=1 \
		STATIC=1 SYSROOT=$(SYSROOT)
$(SYSROOT)/.done:
	@echo "armvmd: arm64 libraries missing; running scripts/deps --cache-only"
	CACHE=$(CACHE) scripts/deps --cache-only
endif

deps:
	CACHE=$(CACHE) scripts/deps

# the native build again with ASan and UBSan (gcc's; any report aborts)
asan:
	+@$(SUBMAKE) O=build/asan TARGET=native CC=$(or $(CC_NATIVE),gcc) SAN=1 \
		KVM=$(if $(filter aarch64,$(MACHINE)),1,0)

# libFuzzer targets (clang), build/fuzz/fuzz_*; tests/fuzz/run runs them
fuzz-build:
	+@$(FUZZMAKE) O=build/fuzz

fuzz: fuzz-build
	@tests/fuzz/run $(if $(FUZZ_S),--seconds $(FUZZ_S),--seconds 600 --runs 10000000)

unit: all
	@tests/unit/run

hosttest: all
	@tests/host/check

# the address-space matrix: all hosts x guests, report in build/matrix/;
# it builds the 64K kernels (mk/kernels.mk) when they are missing
matrix: all
	@$(MAKE) --no-print-directory kernels
	@tests/host/matrix $(MATRIX_ARGS)

# the full soak (cases/soak.sh; make check runs a short one) alone on one
# host: SOAK_CYCLES VM cycles, SOAK_CALLS calls; its FIGURE lines at the end
.PHONY: soak
soak: all
	@tests/host/run-host --name soak --timeout 7200 --case-timeout 6600 \
		--env SOAK_CYCLES=$(or $(SOAK_CYCLES),1000) \
		--env SOAK_CALLS=$(or $(SOAK_CALLS),10000) soak; \
	rc=$$?; grep -h '^FIGURE' build/host/soak/console.log | awk '!seen[$$0]++'; exit $$rc

# the two commands of the README set everything up themselves
ensure-deps:
	@CACHE=$(CACHE) scripts/deps

check: ensure-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory kernel-guest-64k
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory fuzz-build
	@tests/check

demo: ensure-deps
	@$(MAKE) --no-print-directory all
	@tests/host/demo


install: all
	@$(SUBMAKE) O=build/$(if $(filter aarch64,$(MACHINE)),aarch64,native) \
		TARGET=$(if $(filter aarch64,$(MACHINE)),aarch64,native) \
		PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) install

clean:
	rm -rf build/native build/aarch64 build/host build/asan build/fuzz

distclean:
	rm -rf build

# make bench: boot figures, VMM overhead and exit costs against the KVM
# floor, measured in one emulated arm64 host (bench/run; docs/PERFORMANCE.md)
.PHONY: bench
bench: ensure-deps
	@$(MAKE) --no-print-directory all
	@bench/run $(BENCH_ARGS)

# bare-metal guests (build/guests/*.img); adds them to `all`
include mk/guests.mk
include mk/kernels.mk
