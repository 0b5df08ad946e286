# The libFuzzer targets (tests/fuzz/fuzz_*.c) into $(O)/ (build/fuzz),
# natively with clang, libFuzzer, ASan and UBSan.  Called by ../Makefile
# (make fuzz, make check); tests/fuzz/run runs them.
#
# It builds on mk/build.mk (the same flags and object rules, SAN=1) with
# coverage instrumentation in every object, and builds natively what the
# KVM target alone builds otherwise: the virtio devices' request parsing
# and the console they write to.

O       ?= build/fuzz
KVM     := 0
SAN     := 1
TARGET  := native

include mk/build.mk

.DEFAULT_GOAL := fuzz

FUZZ_FLAGS := -fsanitize=fuzzer-no-link
# clang's -Wall/-Wextra go further than gcc's, for which the tree is
# written: these three are clang's alone (sentinel { NULL } initialisers,
# printf-like helpers taking a va_list, a loop that steps twice)
FUZZ_WARN  := -Wno-missing-field-initializers -Wno-format-nonliteral \
	-Wno-for-loop-analysis
CFLAGS  += $(FUZZ_FLAGS) $(FUZZ_WARN)

fuzz_src     := $(wildcard tests/fuzz/fuzz_*.c)
fuzz_names   := $(patsubst tests/fuzz/%.c,%,$(fuzz_src))
fuzz_bins    := $(addprefix $(O)/,$(fuzz_names))
fuzz_common  := $(call obj,tests/fuzz/common.c)

# the devices of the KVM target that need no KVM: request parsing, rings,
# transport, the console the virtio console writes to
fuzz_dev_src := $(sort $(wildcard src/devices/virtio*.c) src/devices/virtq.c \
	src/devices/console.c)
fuzz_dev_obj := $(call obj,$(fuzz_dev_src))
fuzz_util_obj := $(call obj,$(util_src))
# the pure part of the tree: planner, images, device tree, the virtio
# helpers that build.mk builds natively
fuzz_core_obj := $(call obj,$(util_src) $(arm64_src) $(devices_src))

# what each target links, beyond its own file and common.c
fuzz_jsonrpc_obj     := $(lib_obj)
fuzz_plan_obj        := $(fuzz_core_obj)
fuzz_image_obj       := $(fuzz_core_obj)
fuzz_dtb_obj         := $(fuzz_core_obj)
fuzz_virtio_obj      := $(fuzz_util_obj) $(fuzz_dev_obj)
fuzz_worker_link_obj := $(fuzz_util_obj) $(rpc_obj) $(client_obj)
# the virtio-net device opens /dev/net/tun: tests/fuzz/fuzz_virtio.c hands
# it a socket pair instead (open and ioctl pass everything else through)
fuzz_virtio_ldflags  := -Wl,--wrap=open -Wl,--wrap=ioctl

.PHONY: fuzz
fuzz: $(fuzz_bins)

.SECONDEXPANSION:
$(O)/fuzz_%: $(O)/obj/tests/fuzz/fuzz_%.o $(fuzz_common) $$(fuzz_$$*_obj)
	$(call echo_cmd,FUZZ,$@)$(CC) $(LDFLAGS) -fsanitize=fuzzer \
		$(fuzz_$*_ldflags) -o $@ $(filter %.o,$^) $(LDLIBS)

# keep the objects of the chained rules
.SECONDARY:
