# hosts: max61 a57 max61-prot max612
# timeout: 300
#
# A Debian arm64 kernel with the busybox test initramfs boots to its init
# under armvmd, with 2 vCPUs online, then powers off: the VM ends stopped
# with the reason, and its console stays readable.

need_armvmd
need_guest
armvmd_start

say "create and start a 2-vCPU guest"
jctl_ok "$CASE_TMP/create.json" call vm.create "{\"name\":\"g1\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"512M\",\"vcpus\":2}"
assert_json state running "$CASE_TMP/create.json"
assert_json ipa_bits 32 "$CASE_TMP/create.json"

wait_console g1 'ARMVMD-GUEST-INIT' 240
wait_console g1 'ARMVMD-GUEST-CPUS 2' 10
assert_ok ctl --json call vm.info '{"name":"g1"}'
wait_console g1 'ARMVMD-GUEST-DONE' 60

say "the guest powered off: the VM is stopped, with the reason"
wait_state g1 stopped 30
ctl --json call vm.info '{"name":"g1"}' >"$CASE_TMP/info.json"
assert_json reason "guest powered off" "$CASE_TMP/info.json"

say "vm.console still returns the output"
assert_ok ctl --json call vm.console '{"name":"g1","bytes":4096}'
assert_contains "$RUN_OUT" "ARMVMD-GUEST-INIT" "vm.console output"

say "start it again, stop it by force, destroy it"
assert_ok ctl --json call vm.start '{"name":"g1"}'
wait_console g1 'Booting Linux|Linux version' 60
assert_ok ctl --json call vm.stop '{"name":"g1","force":true}'
wait_state g1 stopped 10
assert_ok ctl --json call vm.destroy '{"name":"g1"}'
jctl_fails "$CASE_TMP/gone.json" call vm.info '{"name":"g1"}'
assert_json code -32002 "$CASE_TMP/gone.json"
armvmd_stop
