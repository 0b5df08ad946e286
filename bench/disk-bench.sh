# hosts: none (bench/run boots a host for it, next to bench/host-bench.sh)
# timeout: 900
# needs: guests
#
# make bench: guest disk throughput.  A Linux guest (armvmd.test=blkbench,
# tests/guests/virtio-test) reads and writes its virtio-blk disk
# sequentially (dd, 1 MiB blocks, O_DIRECT so its page cache stays out) and
# then does the same on a file of a tmpfs of its own: RAM, the fastest the
# same guest can move bytes through the same dd.  The ratio (tmpfs over
# disk, as the other rate figures) is what the virtio path costs.  The disk
# image lives on the emulated host's tmpfs, so the host side is memory too.
# Twice: as the scheduler places the worker's threads, and with the worker
# pinned to one CPU (under TCG, waking the loop thread on another, idle
# vCPU of the emulated host costs milliseconds per request).
#
# Writes one blob "disk" on the console (bench/host-bench.sh explains the
# format) with one figure; bench/report.py shows it.  BENCH_ARGS with
# --quick: one round instead of three.

# bench_emit NAME FILE RC: one blob on the console, in 200-byte lines
bench_emit() {
	fold -w 200 "$2" | sed "s/^/=ARMVMD-BENCH= $1 /" >/dev/console
	echo "=ARMVMD-BENCH-END= $1 $(wc -c <"$2") $3" >/dev/console
}

# median and max of the numbers on stdin, as a STATS object
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (!NR) { print "null"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "{\"median\": %s, \"p99\": %s, \"min\": %s, \"n\": %d}\n", m, v[NR], v[1], NR }'
}

# field KEY: the values of KEY=... in the guest's BENCH lines
field() {
	grep -o "ARMVMD-V-BENCH round=.*" "$log" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a row: label, the disk's KEY, the tmpfs's KEY
row() {
	d=$(field "$2" | median) t=$(field "$3" | median)
	ratio=$(awk -v d="${d:-0}" -v t="${t:-0}" 'BEGIN { if (d > 0) printf "%.3f", t / d; else print "null" }')
	printf '{"label": "%s", "unit": "MiB/s", "armvmd": %s, "floor": %s, "ratio": %s}' \
		"$1" "$(field "$2" | stats)" "$(field "$3" | stats)" "$ratio"
}

# bench_vm MODE: one guest's rounds into $CASE_TMP/guest-MODE.log; MODE
# pinned puts the worker (vCPU and loop threads) on one CPU of the host
bench_vm() {
	_vm=diskbench-$1
	truncate -s 0 "$CASE_TMP/disk.img"
	truncate -s $(((mib + 16) << 20)) "$CASE_TMP/disk.img"
	echo "armvmd-bench: disk: $rounds x $mib MiB through virtio-blk and a guest tmpfs ($1)" >/dev/console
	jctl_ok "$CASE_TMP/create-$1.json" call vm.create "{\"name\":\"$_vm\",
		\"kernel\":\"$GUEST_KERNEL\",\"initrd\":\"$GUEST_INITRD\",\"memory\":\"512M\",
		\"disks\":\"$CASE_TMP/disk.img\",
		\"cmdline\":\"console=ttyS0 armvmd.test=blkbench armvmd.mib=$mib armvmd.rounds=$rounds\"}" >/dev/null
	if [ "$1" = pinned ]; then
		taskset -a -p 1 "$(json_get pid "$CASE_TMP/create-$1.json")" >/dev/null ||
			fail "cannot pin the worker"
	fi
	wait_console "$_vm" 'ARMVMD-V-BENCH-DONE' 800
	cp "$(vm_console_log "$_vm")" "$CASE_TMP/guest-$1.log"
	grep 'ARMVMD-V-BENCH' "$CASE_TMP/guest-$1.log" | sed "s/^/armvmd-bench: disk ($1): /" >/dev/console
	ctl --json call vm.destroy "{\"name\":\"$_vm\"}" >/dev/null 2>&1
}

need_armvmd
need_guest
armvmd_start --log-level warn
mib=64 rounds=3
case " ${BENCH_ARGS:-} " in *" --quick "*) rounds=1 ;; esac
bench_vm free
bench_vm pinned

{
	printf '{"figures": [{"id": "disk", "title": "guest disk, sequential (dd 1 MiB): virtio-blk vs the same guest on a tmpfs file", "rows": [\n'
	log=$CASE_TMP/guest-free.log
	row "read, O_DIRECT: virtio-blk (armvmd) / tmpfs file (floor)" disk_read tmpfs_read
	printf ',\n'
	row "read, buffered (readahead): virtio-blk / tmpfs file" disk_read_buffered tmpfs_read
	printf ',\n'
	row "write, O_DIRECT: virtio-blk / tmpfs file" disk_write tmpfs_write
	printf ',\n'
	log=$CASE_TMP/guest-pinned.log
	row "read, O_DIRECT, worker on one CPU: virtio-blk / tmpfs file" disk_read tmpfs_read
	printf ',\n'
	row "write, O_DIRECT, worker on one CPU: virtio-blk / tmpfs file" disk_write tmpfs_write
	printf '\n], "notes": {"mib": %d, "rounds": %d, "image": "raw file on the emulated host tmpfs"}}]}\n' \
		"$mib" "$rounds"
} >"$CASE_TMP/disk.json"
cat "$CASE_TMP/disk.json"
bench_emit disk "$CASE_TMP/disk.json" 0
armvmd_stop
