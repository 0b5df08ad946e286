# hosts: max61
# timeout: 300
#
# Hostile JSON-RPC clients (tests/host/tools/rpc-abuse.c) against a live
# armvmd on a KVM host: the tool must pass, and armvmd must survive it.

tool=$(need_tool rpc-abuse) || exit $?
need_armvmd

say "start armvmd"
armvmd_start --log-level debug

say "run rpc-abuse"
assert_ok timeout 240 "$tool" --socket "$ARMVMD_SOCKET"

say "armvmd survived and still answers"
proc_alive "$ARMVMD_PID" || { show_log "$ARMVMD_LOG" 40; fail "armvmd died during rpc-abuse"; }
assert_ok ctl host

armvmd_stop 5 TERM
assert_eq "$ARMVMD_RC" 0 "armvmd exit status after SIGTERM"
