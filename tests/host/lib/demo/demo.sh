# The armvmd demo, shown by tests/host/demo (`make demo`).  Sourced after
# tests/host/lib/*.sh: inside the emulated arm64 host as a host-test case,
# or directly on an arm64 machine with KVM.
# hosts: none

say "This machine: $(uname -m), Linux $(uname -r), $(nproc) CPUs"
if [ -c /dev/kvm ]; then
	note "/dev/kvm is present"
else
	fail "/dev/kvm is missing: no KVM on this machine"
fi
kvmlog=$(dmesg 2>/dev/null | grep -E 'kvm \[[0-9]+\]: (IPA Size Limit|.*mode initialized)')
if [ -n "$kvmlog" ]; then
	note "the kernel says:"
	printf '%s\n' "$kvmlog" | sed 's/^/     /'
fi
need_armvmd
echo

say "Starting the daemon in the background"
armvmd_start
echo

say "Asking armvmd about this host"
echo "\$ armvmctl host"
ctl host || fail "armvmctl host failed"
echo

say "The same as JSON, for scripts"
echo "\$ armvmctl host --json"
ctl --json host || fail "armvmctl host --json failed"
echo

say "Stopping armvmd with SIGTERM"
armvmd_stop 5 TERM
[ "$ARMVMD_RC" = 0 ] || fail "armvmd exited with status $ARMVMD_RC"
[ -e "$ARMVMD_SOCKET" ] && fail "armvmd left $ARMVMD_SOCKET behind"
note "armvmd exited cleanly and removed its socket"
echo
say "Demo done"
