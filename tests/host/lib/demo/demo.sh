# The armvmd demo, shown by tests/host/demo (`make demo`).  Sourced after
# tests/host/lib/*.sh: inside the emulated arm64 host as a host-test case,
# or directly on an arm64 machine with KVM.
# hosts: none
# needs: guests

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
ctl --table host || fail "armvmctl host failed"
echo

say "The same as JSON, for scripts"
echo "\$ armvmctl host --json"
ctl --json host || fail "armvmctl host --json failed"
echo

if [ -f "${GUEST_KERNEL:-}" ] && [ -f "${GUEST_INITRD:-}" ]; then
	say "The address plan for a guest: 512 MiB, 2 vCPUs (nothing is created)"
	echo "\$ armvmctl layout --kernel $GUEST_KERNEL --initrd $GUEST_INITRD --memory 512M --vcpus 2"
	ctl --table layout --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" --memory 512M --vcpus 2 ||
		fail "armvmctl layout failed"
	echo

	say "A request the host cannot satisfy is refused up front"
	echo "\$ armvmctl create --kernel ... --memory 256M@0x10000000000000"
	ctl --table create --kernel "$GUEST_KERNEL" --memory 256M@0x10000000000000 && fail "accepted?"
	echo

	say "Creating and starting the guest 'demo'"
	echo "\$ armvmctl create --name demo --kernel $GUEST_KERNEL --initrd $GUEST_INITRD --memory 512M --vcpus 2"
	ctl --table create --name demo --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
		--memory 512M --vcpus 2 || fail "armvmctl create failed"
	echo
	say "Its console, until the guest's init runs (nested emulation: ~30 s)"
	log=$ARMVMD_RUNTIME_DIR/vms/demo/console.log
	tail -f "$log" 2>/dev/null &
	tailpid=$!
	n=600
	while [ $n -gt 0 ] && ! grep -q ARMVMD-GUEST-DONE "$log" 2>/dev/null; do
		sleep 0.5
		n=$((n - 1))
	done
	sleep 1
	kill "$tailpid" 2>/dev/null
	grep -q ARMVMD-GUEST-INIT "$log" || fail "the guest did not reach its init"
	echo
	say "The guest powered itself off; armvmd saw it"
	echo "\$ armvmctl list"
	ctl --table list
	echo "\$ armvmctl info demo"
	ctl --table info demo
	ctl destroy demo >/dev/null
	echo
fi

say "Stopping armvmd with SIGTERM"
armvmd_stop 5 TERM
[ "$ARMVMD_RC" = 0 ] || fail "armvmd exited with status $ARMVMD_RC"
[ -e "$ARMVMD_SOCKET" ] && fail "armvmd left $ARMVMD_SOCKET behind"
note "armvmd exited cleanly and removed its socket"
echo
say "Demo done"
