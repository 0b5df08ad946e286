# hosts: none (run by hand: tests/platform/README.md)
# timeout: 900
need_armvmd
img=/usr/lib/armvmd-guests/aarch32-banked.img
armvmd_start
j=$CASE_TMP
for k in 1 2 3; do
	jctl_ok "$j/create$k.json" call vm.create "{\"name\":\"bank$k\",\"arch\":\"aarch32\",\"kernel\":\"$img\",\"memory\":\"64M\"}"
	wait_console bank$k 'ARMVMD-BANK (ok|FAIL)' 280 || true
	grep 'ARMVMD-BANK' "$(vm_console_log bank$k)" | sed "s/^/run $k: /"
	jctl "$j/stop$k.json" call vm.stop "{\"name\":\"bank$k\",\"force\":true}"
done
armvmd_stop
