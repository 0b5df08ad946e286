# hosts: max61b
# timeout: 300
# A guest that powers off at its first instruction: the worker answers
# worker.start, the guest stops and the worker ends, often before the
# daemon has read that answer.  The daemon reads what the worker said
# before it acts on its end, so vm.create (start: true) reports the VM
# started, every time, and the VM is then stopped with the guest's
# reason; with a pool and without.

need_armvmd
img=$GUEST_DIR/boottimer.img
[ -f "$img" ] || skip "no bare-metal guest $img (make guests)"
j=$CASE_TMP
N=${QUICK_EXIT_CYCLES:-15}

cycles() { # LABEL
	i=0
	while [ $i -lt $N ]; do
		"$ARMVMCTL" --socket "$ARMVMD_SOCKET" create --name q$i --kernel "$img" \
			--memory 16M >"$j/out" 2>&1 ||
			fail "$1: create q$i (a guest that powers off at once) failed: $(cat "$j/out")"
		"$ARMVMCTL" --socket "$ARMVMD_SOCKET" wait q$i --state stopped --timeout 30 \
			>"$j/out" 2>&1 || fail "$1: q$i did not stop: $(cat "$j/out")"
		jctl_ok "$j/i.json" info q$i
		assert_json state stopped "$j/i.json"
		grep -q 'powered off' "$j/i.json" || fail "$1: q$i stopped without the guest's reason: $(cat "$j/i.json")"
		jctl_ok "$j/d.json" destroy q$i
		i=$((i + 1))
	done
	note "$1: $N creates of a guest that powers off at once, all reported started"
}

armvmd_start --state-dir "$j/state1" --pool 2
say "with the warm pool"
cycles pool
armvmd_stop

armvmd_start --state-dir "$j/state2" --pool 0
say "without a pool"
cycles nopool
armvmd_stop
