# One build of armvmd for one target into $(O).  Called by ../Makefile.
# TARGET=native|aarch64, KVM=1 builds the arm64 KVM parts (src/vm,
# src/devices, KVM probes), STATIC=1 links statically, SYSROOT= holds the
# arm64 libraries unpacked from Debian packages for the cross build.
# SAN=1 builds everything with AddressSanitizer and UndefinedBehavior-
# Sanitizer (native only: the static aarch64 build cannot carry them);
# any report aborts, UBSan's included.

O       ?= build/native
TARGET  ?= native
KVM     ?= 0
STATIC  ?= 0
SAN     ?= 0
V       ?= 0
WERROR  ?= 0
PREFIX  ?= /usr/local
DESTDIR ?=

ifeq ($(V),1)
Q :=
echo_cmd =
else
Q := @
echo_cmd = @printf '  %-6s %s\n' $(1) $(2);
endif

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wcast-align -Wundef \
	-Wvla -Wnull-dereference -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

VERSION := $(shell cat VERSION 2>/dev/null || echo 0)
ifeq ($(SAN),1)
CFLAGS  ?= -O1 -g
endif
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -D_GNU_SOURCE -MMD -MP -Isrc -Iclient \
	-DARMVMD_VERSION=\"$(VERSION)\" \
	-DARMVMD_KVM=$(KVM)
LIBS3P  := -lfdt -lz -ljansson -lev
SYSLIBS := -lm -lpthread

ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
CFLAGS  += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
endif

ifneq ($(SYSROOT),)
CFLAGS  += -isystem $(SYSROOT)/usr/include
LDFLAGS += -L$(SYSROOT)/usr/lib/aarch64-linux-gnu
endif
ifeq ($(STATIC),1)
LDFLAGS += -static
endif

# one object list per directory
util_src    := $(wildcard src/util/*.c)
rpc_src     := $(wildcard src/rpc/*.c)
daemon_src  := $(wildcard src/daemon/*.c)
arm64_src   := $(wildcard src/arm64/*.c)
client_src  := client/libarmvm.c
ctl_src     := client/armvmctl.c client/run_outcome.c
main_src    := src/main.c
wmain_src   := src/worker_main.c
ifeq ($(KVM),1)
vm_src      := $(wildcard src/vm/*.c)
devices_src := $(wildcard src/devices/*.c)
else
vm_src      :=
# the virtqueue helpers, the virtio-mmio transport and virtio-blk need no
# KVM: unit-tested on every target
devices_src := src/devices/virtq.c src/devices/virtio_mmio.c src/devices/virtio_blk.c
endif
LDLIBS := $(LIBS3P) $(SYSLIBS)

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

base_obj   := $(call obj,$(util_src) $(arm64_src))
core_obj   := $(call obj,$(util_src) $(arm64_src) $(vm_src) $(devices_src))
rpc_obj    := $(call obj,$(rpc_src))
daemon_obj := $(call obj,$(daemon_src))
client_obj := $(call obj,$(client_src))
ctl_obj    := $(call obj,$(ctl_src))
main_obj   := $(call obj,$(main_src))
wmain_obj  := $(call obj,$(wmain_src))

unit_src   := $(wildcard tests/unit/test_*.c)
unit_bins  := $(patsubst tests/unit/%.c,$(O)/tests/%,$(unit_src))
tool_src   := $(wildcard tests/host/tools/*.c)
tool_bins  := $(patsubst tests/host/tools/%.c,$(O)/tests/%,$(tool_src))
# seccomp-probe tests src/vm/seccomp.c, built for the KVM target only
ifneq ($(KVM),1)
tool_bins  := $(filter-out $(O)/tests/seccomp-probe,$(tool_bins))
endif

PROGS := $(O)/armvmd $(O)/armvmctl $(O)/libarmvm.a
ifeq ($(KVM),1)
PROGS += $(O)/armvmd-worker
endif

.PHONY: all install
all: $(PROGS) $(unit_bins) $(tool_bins)

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call echo_cmd,CC,$@)$(CC) $(CFLAGS) -c -o $@ $<

$(O)/libarmvm.a: $(client_obj)
	$(call echo_cmd,AR,$@)$(AR) rcs $@ $^

# the supervisor: no VM, device or KVM code in it
$(O)/armvmd: $(main_obj) $(daemon_obj) $(rpc_obj) $(base_obj) $(client_obj)
	$(call echo_cmd,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# one VM's worker: no supervisor code in it
$(O)/armvmd-worker: $(wmain_obj) $(rpc_obj) $(core_obj)
	$(call echo_cmd,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/armvmctl: $(ctl_obj) $(O)/libarmvm.a
	$(call echo_cmd,LD,$@)$(CC) $(LDFLAGS) -o $@ $^ -ljansson

# unit tests link everything but the programs' main()s
lib_obj := $(rpc_obj) $(core_obj) $(client_obj) $(daemon_obj)

TEST_CFLAGS := $(filter-out -MMD -MP,$(CFLAGS))

# cmocka has no static library in Debian: tests link it dynamically
ifeq ($(STATIC),1)
TEST_LDFLAGS := $(filter-out -static,$(LDFLAGS))
TEST_LDLIBS  := -Wl,-Bstatic $(LIBS3P) -Wl,-Bdynamic -lcmocka $(SYSLIBS)
else
TEST_LDFLAGS := $(LDFLAGS)
TEST_LDLIBS  := -lcmocka $(LDLIBS)
endif

$(O)/tests/test_%: tests/unit/test_%.c $(lib_obj)
	@mkdir -p $(dir $@)
	$(call echo_cmd,TEST,$@)$(CC) $(TEST_CFLAGS) $(TEST_LDFLAGS) -o $@ $^ $(TEST_LDLIBS)

$(O)/tests/%: tests/host/tools/%.c $(O)/libarmvm.a
	@mkdir -p $(dir $@)
	$(call echo_cmd,TOOL,$@)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $^ -ljansson $(LDLIBS)

# it links the filters it tests, and nothing else
$(O)/tests/seccomp-probe: tests/host/tools/seccomp-probe.c $(call obj,src/vm/seccomp.c)
	@mkdir -p $(dir $@)
	$(call echo_cmd,TOOL,$@)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $^ $(SYSLIBS)

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(O)/armvmd $(DESTDIR)$(PREFIX)/sbin/armvmd
	if [ -f $(O)/armvmd-worker ]; then \
		install -d $(DESTDIR)$(PREFIX)/libexec/armvmd && \
		install -m 0755 $(O)/armvmd-worker $(DESTDIR)$(PREFIX)/libexec/armvmd/armvmd-worker; fi
	install -m 0755 $(O)/armvmctl $(DESTDIR)$(PREFIX)/bin/armvmctl
	install -m 0644 $(O)/libarmvm.a $(DESTDIR)$(PREFIX)/lib/libarmvm.a
	install -m 0644 client/libarmvm.h $(DESTDIR)$(PREFIX)/include/libarmvm.h
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' \
		client/libarmvm.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libarmvm.pc
	install -m 0644 client/armvmctl.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/armvmctl
	for m in man/*.[178]; do \
		s=$${m##*.}; install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done
	install -d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 0644 systemd/armvmd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/armvmd.conf
	for u in systemd/*.service systemd/*.socket; do \
		[ -f "$$u" ] || continue; \
		sed 's|@PREFIX@|$(PREFIX)|g' $$u > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u); done

# benchmark programs (KVM target only)
include mk/bench.mk

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
