# The benchmark programs (bench/*.c), included by mk/build.mk.  They run
# inside an arm64 KVM host, so they are built for the KVM target only
# (static on x86_64, like everything of build/aarch64), into $(O)/tests/,
# whose executables run-host carries into the emulated hosts as
# /usr/lib/armvmd-tests/NAME.
#
#   kvm-floor      the fewest KVM ioctls that run a bare-metal guest: the floor
#   armvmd-bench   the measurements, against armvmd through libarmvm
#   armvmd-sample  a CPU-time profile of a command and all else (bench/profile)

ifeq ($(KVM),1)
bench_bins := $(O)/tests/kvm-floor $(O)/tests/armvmd-bench $(O)/tests/armvmd-sample

all: $(bench_bins)

# no libraries at all: the floor is the floor
$(O)/tests/kvm-floor: bench/kvm-floor.c mk/bench.mk
	@mkdir -p $(dir $@)
	$(call echo_cmd,BENCH,$@)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $<

# a CPU-time profiler for the emulated hosts (bench/profile)
$(O)/tests/armvmd-sample: bench/armvmd-sample.c mk/bench.mk
	@mkdir -p $(dir $@)
	$(call echo_cmd,BENCH,$@)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $<

$(O)/tests/armvmd-bench: bench/armvmd-bench.c $(O)/libarmvm.a mk/bench.mk
	@mkdir -p $(dir $@)
	$(call echo_cmd,BENCH,$@)$(CC) $(TEST_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(O)/libarmvm.a -ljansson $(SYSLIBS)
endif
