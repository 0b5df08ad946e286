# Helpers for the address-space matrix (tests/host/matrix) and the cases
# of `make check` that run its combinations.  POSIX/busybox sh.
#
#   GUEST32_KERNEL, GUEST32_INITRD   the armhf guest: Debian's armmp-lpae
#                              zImage and the armhf busybox initramfs
#                              (carried by "# needs: guests-armhf")
#   need_guest32               skip unless the armhf payloads are there
#   guest_kernel_ver VER       path of the arm64 guest kernel VER (Image-VER,
#                              or Image when VER is the host's own kernel);
#                              status 1 if the host has none
#   matrix_case KEY=VALUE...   run one matrix combination (below)
#
# matrix_case creates one VM and checks the outcome the runner expects:
#
#   name=NAME          the combination (a64-split-default)
#   arch=aarch64|aarch32
#   memory=JSON        the "memory" parameter ("256M" or ["256M","4G@0x..."])
#   ipa=BITS           the "ipa" parameter (absent: the default choice)
#   expect=boot        the guest must reach its init (ARMVMD-GUEST-INIT)
#   expect=refuse:CODE vm.create must fail with this JSON-RPC error code
#   expect_ipa=BITS    the IPA size vm.create must choose
#   expect_needed=BITS data.needed_bits of the refusal
#   expect_msg=TEXT    the refusal's message must contain TEXT
#   test=highmem       run the guest's highmem test (armvmd.test=highmem)
#                      and require "ARMVMD-GUEST-HIGHMEM ok"
#   min_mem_kb=KB      the guest's MemTotal must be at least this
#   host_ipa=BITS host_mode=MODE host_gic=v2|v3
#                      what host.info must report (the host is the one the
#                      runner meant to boot)
#   no32=refuse|skip   aarch32 on a host without KVM_CAP_ARM_EL1_32BIT:
#                      check the refusal (refuse) or skip the case (skip)
#   boot_timeout=SEC   guest init within this (default 240)
#   expect_console=ERE the guest console must show ERE once init runs
#   kernel=PATH initrd=PATH  other payloads than the default ones
#   guest_kernel=VER   the arm64 guest kernel VER (guest_kernel_ver)
#   daemon_args=ARGS   extra armvmd options (word-split: "--no-sandbox")
#   expect_va=BITS     the guest must report this virtual address size
#                      (ARMVMD-GUEST-VA from tests/guests/va-probe.c: what
#                      its kernel really runs with, 48 or 52)
#   expect_pages=BYTES ... and this page size
#   expect_layout=TEXT vm.layout's answer must contain TEXT
#
# It prints one line to the console for the runner, whatever happens:
#   @@MATRIX-RESULT<TAB>NAME<TAB>observed=...<TAB>ipa=...<TAB>create_s=...
#       <TAB>first_s=...<TAB>boot_s=...<TAB>stage=...<TAB>mem_kb=...<TAB>va=...<TAB>detail=...
# (create_s: vm.create's answer; first_s, boot_s: from vm.create to the
# guest's first console output and to its init, seconds)
# stage is where a failure stopped: host facts, daemon, create, guest first
# output, guest init, guest test (or - when it passed).

: "${GUEST_DIR:=/usr/lib/armvmd-guests}"
: "${GUEST32_KERNEL:=$GUEST_DIR/zImage}"
: "${GUEST32_INITRD:=$GUEST_DIR/linux-armhf.cpio.gz}"

need_guest32() {
	need_guest_images "$GUEST32_KERNEL" "$GUEST32_INITRD" armhf
}

guest_kernel_ver() {
	if [ -f "$GUEST_DIR/Image-$1" ]; then
		printf '%s\n' "$GUEST_DIR/Image-$1"
	elif [ "${ARMVMD_HOST_KERNEL:-}" = "$1" ] && [ -f "$GUEST_DIR/Image" ]; then
		printf '%s\n' "$GUEST_DIR/Image"
	else
		return 1
	fi
}

_mx_uptime() {
	cut -d' ' -f1 /proc/uptime
}

# seconds (one decimal) since uptime $1
_mx_since() {
	awk -v a="$1" -v b="$(_mx_uptime)" 'BEGIN { printf "%.1f", b - a }'
}

# the result line; runs on every exit of a matrix case (trap)
_mx_emit() {
	_rc=$?
	[ -n "${_mx_done:-}" ] && return
	_mx_done=1
	if [ "$_rc" = 0 ]; then
		MX_STAGE=-
	elif [ "$_rc" = 77 ]; then
		MX_OBSERVED=${MX_OBSERVED:-skipped}
		MX_STAGE=-
	fi
	[ -n "$MX_DETAIL" ] || MX_DETAIL=$(head -n 1 "${CASE_REASON_FILE:-/dev/null}" 2>/dev/null)
	_line=$(printf '@@MATRIX-RESULT\t%s\tobserved=%s\tipa=%s\tcreate_s=%s\tfirst_s=%s\tboot_s=%s\tstage=%s\tmem_kb=%s\tva=%s\tdetail=%s' \
		"$MX_NAME" "${MX_OBSERVED:--}" "${MX_IPA:--}" "${MX_CREATE_S:--}" "${MX_FIRST_S:--}" \
		"${MX_BOOT_S:--}" "${MX_STAGE:--}" "${MX_MEM_KB:--}" "${MX_VA:--}" \
		"$(printf '%s' "$MX_DETAIL" | tr '\t\n' '  ' | cut -c1-300)")
	printf '%s\n' "$_line" >"$CASE_TMP/matrix-result.log"
	printf '%s\n' "$_line" >/dev/console 2>/dev/null || printf '%s\n' "$_line"
	_mx_save_logs
}

# what the guest printed, for the logs
_mx_save_logs() {
	[ -n "${MX_VM:-}" ] || return 0
	cp "$ARMVMD_RUNTIME_DIR/vms/$MX_VM/console.log" "$CASE_TMP/guest-console.log" 2>/dev/null
	cp "$ARMVMD_RUNTIME_DIR/vms/$MX_VM/worker.log" "$CASE_TMP/worker.log" 2>/dev/null
	return 0
}

# _mx_fail STAGE MSG: end the case as failed at STAGE; a VM that still
# runs leaves its vm.info (per-vCPU exit counts: is it stuck before its
# first exit?) and the host kernel's last lines in the case's output
_mx_fail() {
	MX_STAGE=$1
	MX_DETAIL=$2
	if [ -n "${MX_VM:-}" ]; then
		ctl --json info "$MX_VM" 2>&1
		dmesg 2>/dev/null | tail -n 15
	fi
	fail "$1: $2"
}

# _mx_wait SEC ERE: wait for ERE in the VM's console; status 1 on timeout
_mx_wait() {
	_n=$(($1 * 4))
	_log=$ARMVMD_RUNTIME_DIR/vms/$MX_VM/console.log
	while [ "$_n" -gt 0 ]; do
		grep -qE "$2" "$_log" 2>/dev/null && return 0
		# a guest that stopped prints nothing more
		[ $((_n % 20)) = 0 ] && case $(vm_state "$MX_VM") in
			running | creating | created) ;;
			*) grep -qE "$2" "$_log" 2>/dev/null && return 0; return 1 ;;
		esac
		sleep 0.25
		_n=$((_n - 1))
	done
	return 1
}

_mx_host_facts() {
	[ "$(json_get kvm "$_j/host.json")" = true ] ||
		_mx_fail "host facts" "no KVM: $(json_get reason "$_j/host.json")"
	if [ -n "$MX_HOST_IPA" ] && [ "$(json_get ipa_limit_bits "$_j/host.json")" != "$MX_HOST_IPA" ]; then
		_mx_fail "host facts" "IPA limit $(json_get ipa_limit_bits "$_j/host.json"), expected $MX_HOST_IPA"
	fi
	if [ -n "$MX_HOST_MODE" ] && [ "$(json_get kvm_mode "$_j/host.json")" != "$MX_HOST_MODE" ]; then
		_mx_fail "host facts" "KVM mode $(json_get kvm_mode "$_j/host.json"), expected $MX_HOST_MODE"
	fi
	if [ -n "$MX_HOST_GIC" ]; then
		case " $(json_get gic.0 "$_j/host.json") $(json_get gic.1 "$_j/host.json") " in
		*" $MX_HOST_GIC "*) ;;
		*) _mx_fail "host facts" "the host's KVM offers no GIC$MX_HOST_GIC" ;;
		esac
	fi
	# the FEAT_MOPS probe decides where it runs (src/arm64/hostinfo.c)
	[ "$(json_get mops.probe "$_j/host.json")" != inconclusive ] ||
		_mx_fail "host facts" "the FEAT_MOPS probe was inconclusive: $(json_get mops.detail "$_j/host.json")"
	return 0
}

matrix_case() {
	MX_NAME=case MX_ARCH=aarch64 MX_MEMORY='"256M"' MX_IPA_REQ= MX_EXPECT=boot
	MX_EXPECT_IPA= MX_EXPECT_NEEDED= MX_EXPECT_MSG= MX_TEST= MX_MIN_MEM=
	MX_HOST_IPA= MX_HOST_MODE= MX_HOST_GIC= MX_NO32=skip MX_BOOT_TIMEOUT=240
	MX_OBSERVED= MX_IPA= MX_BOOT_S= MX_STAGE= MX_MEM_KB= MX_DETAIL= MX_VM=
	MX_CREATE_S= MX_FIRST_S=
	MX_EXPECT_CONSOLE= MX_KERNEL= MX_INITRD= MX_EXPECT_VA= MX_EXPECT_PAGES=
	MX_EXPECT_LAYOUT= MX_VA= MX_DAEMON_ARGS=
	for _a; do
		case $_a in
		name=*) MX_NAME=${_a#*=} ;;
		arch=*) MX_ARCH=${_a#*=} ;;
		memory=*) MX_MEMORY=${_a#*=} ;;
		ipa=*) MX_IPA_REQ=${_a#*=} ;;
		expect=*) MX_EXPECT=${_a#*=} ;;
		expect_ipa=*) MX_EXPECT_IPA=${_a#*=} ;;
		expect_needed=*) MX_EXPECT_NEEDED=${_a#*=} ;;
		expect_msg=*) MX_EXPECT_MSG=${_a#*=} ;;
		test=*) MX_TEST=${_a#*=} ;;
		min_mem_kb=*) MX_MIN_MEM=${_a#*=} ;;
		host_ipa=*) MX_HOST_IPA=${_a#*=} ;;
		host_mode=*) MX_HOST_MODE=${_a#*=} ;;
		host_gic=*) MX_HOST_GIC=${_a#*=} ;;
		no32=*) MX_NO32=${_a#*=} ;;
		boot_timeout=*) MX_BOOT_TIMEOUT=${_a#*=} ;;
		expect_console=*) MX_EXPECT_CONSOLE=${_a#*=} ;;
		kernel=*) MX_KERNEL=${_a#*=} ;;
		guest_kernel=*)
			MX_KERNEL=$(guest_kernel_ver "${_a#*=}") ||
				fail "matrix_case: no guest kernel ${_a#*=} on this host (# needs: guest-kernel-${_a#*=})" ;;
		initrd=*) MX_INITRD=${_a#*=} ;;
		expect_va=*) MX_EXPECT_VA=${_a#*=} ;;
		expect_pages=*) MX_EXPECT_PAGES=${_a#*=} ;;
		expect_layout=*) MX_EXPECT_LAYOUT=${_a#*=} ;;
		daemon_args=*) MX_DAEMON_ARGS=${_a#*=} ;;
		*) fail "matrix_case: unknown argument '$_a'" ;;
		esac
	done
	trap _mx_emit EXIT
	_t0=$(_mx_uptime)
	: "${ARMVMD_RUNTIME_DIR:=/run/armvmd}"
	_j=$CASE_TMP

	MX_STAGE=daemon
	need_armvmd
	# a daemon of its own: no VM definitions from an earlier case
	ARMVMD_STATE_DIR=$_j/state
	export ARMVMD_STATE_DIR
	# shellcheck disable=SC2086
	armvmd_start $MX_DAEMON_ARGS

	# the host is the one the runner meant: IPA limit, KVM mode, GIC (a
	# refusal checks the limit in its error data; aarch32 needs the facts)
	MX_STAGE="host facts"
	case $MX_EXPECT:$MX_ARCH in
	refuse:*:aarch64) _mx_host=0 ;;
	*) _mx_host=1 ;;
	esac
	[ "$_mx_host" = 1 ] && { ctl --json host >"$_j/host.json" 2>&1 ||
		_mx_fail "host facts" "armvmctl host failed (exit $?): $(tr '\n' ' ' <"$_j/host.json" | cut -c1-200)"; }
	[ "$_mx_host" = 1 ] && _mx_host_facts

	# payloads
	if [ "$MX_ARCH" = aarch32 ]; then
		need_guest32
		_kernel=$GUEST32_KERNEL _initrd=$GUEST32_INITRD
		if [ "$(json_get el1_32bit "$_j/host.json")" != true ]; then
			if [ "$MX_NO32" != refuse ]; then
				MX_OBSERVED="skipped: no 32-bit EL1"
				skip "the host's KVM lacks KVM_CAP_ARM_EL1_32BIT: no aarch32 guests"
			fi
			MX_EXPECT=refuse:-32602 MX_EXPECT_MSG=KVM_CAP_ARM_EL1_32BIT MX_EXPECT_NEEDED=
		fi
	else
		need_guest
		_kernel=$GUEST_KERNEL _initrd=$GUEST_INITRD
	fi

	[ -n "$MX_KERNEL" ] && _kernel=$MX_KERNEL
	[ -n "$MX_INITRD" ] && _initrd=$MX_INITRD
	MX_STAGE=create
	MX_VM=$MX_NAME
	_cmd="console=ttyS0 earlycon=uart8250,mmio,0x9000000 ${MX_CMDLINE_EXTRA:-quiet}"
	[ -n "$MX_TEST" ] && _cmd="$_cmd armvmd.test=$MX_TEST"
	_p="\"name\":\"$MX_VM\",\"arch\":\"$MX_ARCH\",\"kernel\":\"$_kernel\",\"initrd\":\"$_initrd\""
	_p="$_p,\"memory\":$MX_MEMORY,\"vcpus\":1,\"cmdline\":\"$_cmd\""
	[ -n "$MX_IPA_REQ" ] && _p="$_p,\"ipa\":$MX_IPA_REQ"
	jctl "$_j/layout.json" call vm.layout "{$_p}"
	_tc=$(_mx_uptime)
	jctl "$_j/create.json" call vm.create "{$_p}"
	MX_CREATE_S=$(_mx_since "$_tc")

	case $MX_EXPECT in
	refuse:*)
		_want=${MX_EXPECT#refuse:}
		if [ "$RUN_RC" = 0 ]; then
			MX_OBSERVED=created
			MX_IPA=$(json_get ipa_bits "$_j/create.json")
			_mx_fail create "vm.create succeeded (IPA $MX_IPA); expected the refusal $_want"
		fi
		_code=$(json_get code "$_j/create.json") ||
			_mx_fail create "armvmctl failed without an RPC error (exit $RUN_RC)"
		_msg=$(json_get message "$_j/create.json")
		MX_OBSERVED="refused $_code"
		MX_DETAIL=$_msg
		[ "$_code" = "$_want" ] || _mx_fail create "refused with $_code ($_msg); expected $_want"
		if [ -n "$MX_EXPECT_NEEDED" ]; then
			_nb=$(json_get data.needed_bits "$_j/create.json")
			[ "$_nb" = "$MX_EXPECT_NEEDED" ] ||
				_mx_fail create "data.needed_bits $_nb, expected $MX_EXPECT_NEEDED ($_msg)"
		fi
		if [ "$_want" = -32004 ] && [ -n "$MX_HOST_IPA" ]; then
			_hl=$(json_get data.host_limit_bits "$_j/create.json")
			[ "$_hl" = "$MX_HOST_IPA" ] ||
				_mx_fail create "data.host_limit_bits $_hl, expected $MX_HOST_IPA"
		fi
		if [ -n "$MX_EXPECT_MSG" ]; then
			case $_msg in
			*"$MX_EXPECT_MSG"*) ;;
			*) _mx_fail create "the message lacks '$MX_EXPECT_MSG': $_msg" ;;
			esac
		fi
		# vm.layout refuses alike, and nothing is left half-created
		[ "$(json_get code "$_j/layout.json")" = "$_code" ] ||
			_mx_fail create "vm.layout did not refuse alike: $(head -c 200 "$_j/layout.json")"
		jctl "$_j/list.json" call vm.list
		[ "$(tr -d ' \n' <"$_j/list.json")" = "[]" ] || _mx_fail create "a VM was left behind"
		MX_VM=
		armvmd_stop
		return 0
		;;
	esac

	# expect=boot
	if [ "$RUN_RC" != 0 ]; then
		MX_OBSERVED="refused $(json_get code "$_j/create.json" || echo "(exit $RUN_RC)")"
		_mx_fail create "$(json_get message "$_j/create.json" || tail -n 1 "$_j/create.json.err")"
	fi
	MX_IPA=$(json_get ipa_bits "$_j/create.json")
	MX_OBSERVED="created"
	if [ -n "$MX_EXPECT_IPA" ] && [ "$MX_IPA" != "$MX_EXPECT_IPA" ]; then
		_mx_fail create "IPA $MX_IPA bits chosen, expected $MX_EXPECT_IPA"
	fi
	[ "$(json_get ipa.bits "$_j/layout.json")" = "$MX_IPA" ] ||
		_mx_fail create "vm.layout chose $(json_get ipa.bits "$_j/layout.json") bits, vm.create $MX_IPA"
	if [ -n "$MX_EXPECT_LAYOUT" ] && ! grep -qF "$MX_EXPECT_LAYOUT" "$_j/layout.json"; then
		_mx_fail create "vm.layout lacks '$MX_EXPECT_LAYOUT': $(head -c 300 "$_j/layout.json")"
	fi

	# FEAT_MOPS: hidden from aarch64 guests exactly where the host's probe
	# found it UNDEFINED (host.info mops)
	_mx_mops=
	if [ "$_mx_host" = 1 ] && [ "$MX_ARCH" = aarch64 ]; then
		_mx_mops=$(json_get mops.hidden_from_guests "$_j/host.json")
		if [ "$_mx_mops" = true ] && ! grep -q FEAT_MOPS "$_j/layout.json"; then
			_mx_fail create "host.info says FEAT_MOPS is UNDEFINED for guests ($(json_get mops.detail "$_j/host.json")), but vm.layout does not hide it"
		elif [ "$_mx_mops" != true ] && grep -q FEAT_MOPS "$_j/layout.json"; then
			_mx_fail create "vm.layout hides FEAT_MOPS, but host.info's probe found it $(json_get mops.probe "$_j/host.json")"
		fi
	fi

	MX_STAGE="guest first output"
	_log=$ARMVMD_RUNTIME_DIR/vms/$MX_VM/console.log
	_mx_wait 90 '.' || { MX_OBSERVED="no output"
		_mx_fail "guest first output" "no console output within 90 s (state $(vm_state $MX_VM))"; }
	MX_OBSERVED="output"
	MX_FIRST_S=$(_mx_since "$_tc")
	MX_STAGE="guest init"
	_mx_wait "$MX_BOOT_TIMEOUT" 'ARMVMD-GUEST-INIT' || { MX_OBSERVED="no init"
		_mx_fail "guest init" "no ARMVMD-GUEST-INIT within $MX_BOOT_TIMEOUT s (state $(vm_state $MX_VM)): $(grep -v '^ *$' "$_log" | tail -n 1 | cut -c1-160)"; }
	MX_BOOT_S=$(_mx_since "$_tc")
	MX_OBSERVED=boot
	_mx_wait 10 'ARMVMD-GUEST-MEM' || true
	MX_MEM_KB=$(sed -n 's/.*ARMVMD-GUEST-MEM \([0-9]*\).*/\1/p' "$_log" | head -n 1)
	note "guest init after $MX_BOOT_S s; MemTotal ${MX_MEM_KB:-?} kB"
	MX_DETAIL="$(grep -o 'ARMVMD-GUEST-INIT.*' "$_log" | head -n 1 | cut -d' ' -f2-)"
	if [ "$_mx_mops" = true ]; then
		_mx_wait 10 'ARMVMD-GUEST-MOPS' ||
			_mx_fail "guest test" "no ARMVMD-GUEST-MOPS line from the guest's init"
		grep -q 'ARMVMD-GUEST-MOPS no' "$_log" ||
			_mx_fail "guest test" "FEAT_MOPS was to be hidden, but the guest's /proc/cpuinfo lists mops"
		MX_DETAIL="$MX_DETAIL; FEAT_MOPS hidden (the host cannot run it)"
	fi
	if [ -n "$MX_EXPECT_VA$MX_EXPECT_PAGES" ]; then
		_mx_wait 20 'ARMVMD-GUEST-VA [0-9]' ||
			_mx_fail "guest test" "no ARMVMD-GUEST-VA line (the guest's va-probe)"
		set -- $(grep -o 'ARMVMD-GUEST-VA [0-9]* [0-9]*' "$_log" | head -n 1)
		MX_VA=$2
		MX_DETAIL="$MX_DETAIL; VA $2 bits, $3-byte pages"
		[ -z "$MX_EXPECT_VA" ] || [ "$2" = "$MX_EXPECT_VA" ] ||
			_mx_fail "guest test" "the guest runs with $2-bit virtual addresses, expected $MX_EXPECT_VA"
		[ -z "$MX_EXPECT_PAGES" ] || [ "$3" = "$MX_EXPECT_PAGES" ] ||
			_mx_fail "guest test" "the guest's pages are $3 bytes, expected $MX_EXPECT_PAGES"
	fi

	MX_STAGE="guest test"
	if [ -n "$MX_MIN_MEM" ] && [ "${MX_MEM_KB:-0}" -lt "$MX_MIN_MEM" ]; then
		_mx_fail "guest test" "MemTotal ${MX_MEM_KB:-?} kB, expected at least $MX_MIN_MEM kB"
	fi
	if [ "$MX_TEST" = highmem ]; then
		_mx_wait 240 'ARMVMD-GUEST-HIGHMEM (ok|FAIL)' ||
			_mx_fail "guest test" "no highmem result within 240 s"
		_hm=$(grep -o 'ARMVMD-GUEST-HIGHMEM [a-zA-Z].*' "$_log" | grep -v ' start' | head -n 1)
		case $_hm in
		*" ok "*) MX_DETAIL="$MX_DETAIL; highmem ${_hm#*ok }" ;;
		*) _mx_fail "guest test" "${_hm:-no highmem result}" ;;
		esac
	fi
	# the guest powers itself off after its test
	_mx_wait 60 'ARMVMD-GUEST-DONE' || _mx_fail "guest test" "no ARMVMD-GUEST-DONE within 60 s"
	if [ -n "$MX_EXPECT_CONSOLE" ] && ! grep -qE "$MX_EXPECT_CONSOLE" "$_log"; then
		_mx_fail "guest test" "the guest console lacks /$MX_EXPECT_CONSOLE/"
	fi
	_n=40
	while [ "$_n" -gt 0 ] && [ "$(vm_state $MX_VM)" = running ]; do
		sleep 0.25
		_n=$((_n - 1))
	done
	_mx_save_logs
	ctl --json call vm.destroy "{\"name\":\"$MX_VM\"}" >/dev/null 2>&1
	MX_VM=
	MX_STAGE=-
	armvmd_stop
	return 0
}
