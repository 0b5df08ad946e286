# The systemd test host (run-host --systemd; the "sysd" host of check):
# bash shared by run-host and check, sourced after common.bash.
#
# Its initramfs is, concatenated (the first two as one cached file, the
# base of sysd_base):
#   - the root file system with systemd as PID 1, from Debian arm64
#     packages (tests/host/rootfs/build, cached in build/cache);
#   - our aarch64 binaries where a package would put them
#     (/usr/sbin/armvmd, /usr/bin/armvmctl; /usr/bin/armvmd links to the
#     first for the helpers of lib/armvmd.sh), the test tools, the units of
#     systemd/ in /etc/systemd/system (@PREFIX@ = /usr; none enabled), init
#     and lib/*.sh in /usr/lib/armvmd-host, and armvmd-test.service, which
#     runs "init --run-cases" once the system is up and then powers off;
#   - the guest payloads and the per-run part, as for the busybox hosts.

# kernel command line additions: systemd from the initramfs
SYSD_APPEND="rdinit=/usr/lib/armvmd-host/init"
# what the cases get in /etc/armvmd-host.conf (before --env)
SYSD_ENV="ARMVMD=/usr/sbin/armvmd ARMVMD_HOST_CASE_CLEANUP=/usr/lib/armvmd-host/case-cleanup"

# sysd_rootfs: print the path of the cached root file system, building it
# the first time (a minute or so, and 20 MB of downloads)
sysd_rootfs() {
	local out
	out=$("$HOSTDIR/rootfs/build") && [ -s "$out" ] ||
		die "could not build the systemd root file system (tests/host/rootfs/build)"
	echo "$out"
}

# sysd_units: the unit files of systemd/, or of $SYSD_UNIT_DIR to try
# others ("SRC NAME" lines)
sysd_units() {
	local f d=${SYSD_UNIT_DIR:-$TOP/systemd}
	for f in "$d"/*.service "$d"/*.socket; do
		[ -f "$f" ] && echo "$f ${f##*/}"
	done
	return 0
}

# sysd_base: print the path of the cached root file system + the part
# described above, building what changed
sysd_base() {
	local key out stage tmp strip src dst rootfs
	rootfs=$(sysd_rootfs) || return 1
	mkdir -p "$HOSTBUILD/initramfs"
	key=$(
		{
			echo "armvmd-host-sysd v1"
			stat -c '%n %s %Y' "$rootfs"
			sha256sum "$HOSTDIR/init" "$HOSTDIR"/lib/*.sh "$HOSTDIR"/rootfs/armvmd-test.service \
				"$HOSTDIR"/rootfs/case-cleanup
			sysd_units | while read -r src dst; do
				echo "$dst $(sha256sum <"$src")"
			done
			payload_binaries | while read -r src dst; do
				echo "$dst $(sha256sum <"$src")"
			done
		} | sha256sum | cut -c1-16
	)
	out=$HOSTBUILD/initramfs/sysd-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return 0
	fi
	stage=$(mktemp -d "$HOSTBUILD/initramfs/sstage.XXXXXX")
	mkdir -p "$stage"/usr/{bin,sbin} "$stage"/usr/lib/armvmd-host/lib "$stage"/usr/lib/armvmd-tests \
		"$stage"/etc/systemd/system/multi-user.target.wants
	install -m 0755 "$HOSTDIR/init" "$HOSTDIR/rootfs/case-cleanup" "$stage/usr/lib/armvmd-host/"
	install -m 0644 "$HOSTDIR"/lib/*.sh "$stage/usr/lib/armvmd-host/lib/"
	install -m 0644 "$HOSTDIR/rootfs/armvmd-test.service" "$stage/etc/systemd/system/"
	ln -s ../armvmd-test.service "$stage/etc/systemd/system/multi-user.target.wants/"
	sysd_units | while read -r src dst; do
		sed 's|@PREFIX@|/usr|g' "$src" >"$stage/etc/systemd/system/$dst"
	done
	strip=
	command -v aarch64-linux-gnu-strip >/dev/null 2>&1 && strip=aarch64-linux-gnu-strip
	payload_binaries | while read -r src dst; do
		case $dst in
		usr/bin/armvmd) dst=usr/sbin/armvmd ;;
		usr/bin/armvmd-worker) dst=usr/libexec/armvmd/armvmd-worker ;;
		esac
		install -D -m 0755 "$src" "$stage/$dst"
		if [ -n "$strip" ] && head -c 4 "$src" | grep -q ELF; then
			$strip --strip-debug "$stage/$dst" 2>/dev/null || true
		fi
	done
	[ -f "$stage/usr/sbin/armvmd" ] && ln -s ../sbin/armvmd "$stage/usr/bin/armvmd"
	tmp=$out.tmp.$$
	# directories too (the kernel makes no parents); those the root file
	# system has keep their mode (0755), and none is a symlink there
	{
		cat "$rootfs"
		(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
			cpio --quiet -o -H newc -R 0:0 | gzip -6 -n)
	} >"$tmp" || {
		rm -rf "$stage" "$tmp"
		die "could not build the systemd host part"
	}
	rm -rf "$stage"
	mv -f "$tmp" "$out"
	ls -1t "$HOSTBUILD"/initramfs/sysd-*.cpio.gz 2>/dev/null | tail -n +3 | xargs -r rm -f
	echo "$out"
}
