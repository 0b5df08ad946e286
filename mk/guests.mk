# Bare-metal test guests, included by ../Makefile.
#
# tests/guests/NAME.S -> build/guests/NAME.img: aarch64 assembly linked at
# address 0 without any library and copied out as a flat binary.  Each
# source writes its own 64-byte arm64 Image header (code0 branching over
# it, text_offset 0, image_size, flags, "ARM\x64" magic), so armvmd loads
# the image like a kernel, at a 2 MiB aligned base, and enters it at its
# first byte.  One pattern rule serves every guest; a guest needing extra
# flags sets GUEST_ASFLAGS_NAME.
#
# run-host carries build/guests/*.img into the emulated hosts as
# /usr/lib/armvmd-guests/NAME.img.

GUEST_CROSS ?= $(if $(filter aarch64,$(MACHINE)),,$(CROSS))
GUEST_DIR   := build/guests
GUEST_SRC   := $(wildcard tests/guests/*.S)
GUEST_IMGS  := $(patsubst tests/guests/%.S,$(GUEST_DIR)/%.img,$(GUEST_SRC))
GUEST_FLAGS := -nostdlib -nostartfiles -static -no-pie -ffreestanding \
	-Wl,--build-id=none -Wl,-Ttext=0 -Wl,-e,_start -Wl,-z,noexecstack

.PHONY: guests
guests: $(GUEST_IMGS)
all: guests

$(GUEST_DIR)/%.elf: tests/guests/%.S mk/guests.mk
	@mkdir -p $(dir $@)
	$(if $(filter 1,$(V)),,@printf '  %-6s %s\n' AS $@;)$(GUEST_CROSS)gcc \
		$(GUEST_FLAGS) $(GUEST_ASFLAGS_$*) -o $@ $<

$(GUEST_DIR)/%.img: $(GUEST_DIR)/%.elf
	$(if $(filter 1,$(V)),,@printf '  %-6s %s\n' IMG $@;)$(GUEST_CROSS)objcopy \
		-O binary $< $@

# tests/guests/va-probe.c: a user program (no C library) for the Linux test
# guest's initramfs (tests/guests/mkinitrd), not a bare-metal image
GUEST_PROBE := $(GUEST_DIR)/va-probe
guests: $(GUEST_PROBE)
$(GUEST_PROBE): tests/guests/va-probe.c mk/guests.mk
	@mkdir -p $(dir $@)
	$(if $(filter 1,$(V)),,@printf '  %-6s %s\n' CC $@;)$(GUEST_CROSS)gcc -Os \
		-Wall -Wextra -Werror -nostdlib -nostartfiles -static -no-pie \
		-ffreestanding -fno-stack-protector -Wl,--build-id=none \
		-Wl,-z,noexecstack -s -o $@ $<
