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

need_armvmd
need_guest
armvmd_start --log-level warn
mib=64 rounds=3
case " ${BENCH_ARGS:-} " in *" --quick "*) rounds=1 ;; esac
truncate -s $(((mib + 16) << 20)) "$CASE_TMP/disk.img"
echo "armvmd-bench: disk: $rounds x $mib MiB through virtio-blk and through a guest tmpfs" >/dev/console
assert_ok ctl --json call vm.create "{\"name\":\"diskbench\",\"kernel\":\"$GUEST_KERNEL\",
	\"initrd\":\"$GUEST_INITRD\",\"memory\":\"512M\",\"disks\":\"$CASE_TMP/disk.img\",
	\"cmdline\":\"console=ttyS0 armvmd.test=blkbench armvmd.mib=$mib armvmd.rounds=$rounds\"}"
wait_console diskbench 'ARMVMD-V-BENCH-DONE' 800
log=$CASE_TMP/guest.log
cp "$(vm_console_log diskbench)" "$log"
grep 'ARMVMD-V-BENCH' "$log" | sed 's/^/armvmd-bench: disk: /' >/dev/console
ctl --json call vm.info '{"name":"diskbench"}' >"$CASE_TMP/info.json" 2>/dev/null
requests=$(json_get live.devices.0.requests "$CASE_TMP/info.json" 2>/dev/null)

{
	printf '{"figures": [{"id": "disk", "title": "guest disk, sequential (dd 1 MiB, O_DIRECT): virtio-blk vs the same guest on a tmpfs file", "rows": [\n'
	row "read: virtio-blk (armvmd) / tmpfs file (floor)" disk_read tmpfs_read
	printf ',\n'
	row "write: virtio-blk (armvmd) / tmpfs file (floor)" disk_write tmpfs_write
	printf '\n], "notes": {"mib": %d, "rounds": %d, "image": "raw file on the emulated host tmpfs", "blk_requests": %s}}]}\n' \
		"$mib" "$rounds" "${requests:-null}"
} >"$CASE_TMP/disk.json"
cat "$CASE_TMP/disk.json"
bench_emit disk "$CASE_TMP/disk.json" 0
ctl --json call vm.destroy '{"name":"diskbench"}' >/dev/null 2>&1
armvmd_stop
