# Shared by tests/host/run-host, check and demo (bash, on the machine that
# runs qemu).  Not copied into the test host: only tests/host/lib/*.sh are.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)
HOSTDIR=$TOP/tests/host
CACHE=${CACHE:-$TOP/build/cache}
BUILD_AARCH64=${BUILD_AARCH64:-$TOP/build/aarch64}
HOSTBUILD=${HOSTBUILD:-$TOP/build/host}
QEMU=${QEMU:-qemu-system-aarch64}

# The host configurations of `make check`:
#   LABEL  CPU  GIC  KERNEL  APPEND(comma-separated, - for none)  [INIT]
# INIT "systemd": systemd as PID 1 (run-host --systemd, lib/x86/sysd.bash);
# otherwise the busybox init.
# Order matters: check starts them in this order, longest first.  max61b
# is max61 again: a second host that takes half of its long cases.
HOST_TABLE="
max61       max         3 6.1  -
max61b      max         3 6.1  -
sysd        max         3 6.1  -                       systemd
max612      max         3 6.12 -
a53         cortex-a53  3 6.1  -
a57         cortex-a57  3 6.1  -
max61-nvhe  max         3 6.1  kvm-arm.mode=nvhe
max61-prot  max         3 6.1  kvm-arm.mode=protected
a57-gicv2   cortex-a57  2 6.1  -
max612-16k  max         3 6.12-16k -
max612-lpa  max,lpa2=off 3 6.12 -
"

die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 2
}

# host_config LABEL: sets HC_CPU HC_GIC HC_KERNEL HC_APPEND HC_INIT (busybox
# or systemd); status 1 if unknown
host_config() {
	local l c g k a i
	while read -r l c g k a i; do
		[ -n "$l" ] || continue
		if [ "$l" = "$1" ]; then
			HC_CPU=$c HC_GIC=$g HC_KERNEL=$k HC_APPEND=${a//,/ } HC_INIT=${i:-busybox}
			[ "$HC_APPEND" = - ] && HC_APPEND=
			return 0
		fi
	done <<<"$HOST_TABLE"
	return 1
}

host_labels() {
	awk 'NF { print $1 }' <<<"$HOST_TABLE"
}

# host_label_for CPU GIC KERNEL APPEND [INIT]: the table's label for this
# configuration, or a made-up one
host_label_for() {
	local l c g k a i
	while read -r l c g k a i; do
		[ -n "$l" ] || continue
		[ "$a" = - ] && a=
		if [ "$c" = "$1" ] && [ "$g" = "$2" ] && [ "$k" = "$3" ] && [ "${a//,/ }" = "$4" ] &&
			[ "${i:-busybox}" = "${5:-busybox}" ]; then
			echo "$l"
			return
		fi
	done <<<"$HOST_TABLE"
	local s="${1%%,*}-gic$2-$3"
	case ",$1," in *,lpa2=off,*) s="${1%%,*}-lpa-gic$2-$3" ;; esac
	[ -n "$4" ] && s="$s-$(tr -c 'A-Za-z0-9.=\n-' '_' <<<"$4" | tr '=' '-')"
	[ "${5:-busybox}" = systemd ] && s="$s-systemd"
	echo "${s//cortex-/}"
}

# kernel_path VERSION: the cached kernel image for VERSION: 6.1, 6.12,
# 6.12-16k (Debian's), 6.1-64k (the 64K host kernel) and 6.1-64k-guest
# (the 64K guest kernel) of scripts/build-kernel: kernels/linux-6.1-arm64,
# kernels/linux-6.12-arm64-16k, kernels/linux-6.1-arm64-64k-guest, ...
kernel_path() {
	local v=$1 base=${1%%-*} f
	f=$CACHE/kernels/linux-$base-arm64${v#"$base"}
	[ -e "$f" ] || return 1
	readlink -f "$f"
}

# kernel_pages VERSION: the page size of a kernel VERSION, in bytes
kernel_pages() {
	case $1 in
	*-16k | *-16k-*) echo 16384 ;;
	*-64k | *-64k-*) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

# host_expect CPU KERNEL APPEND: print EXPECT_* assignments, one per line,
# for what KVM on such a host must report.  These are the facts measured on
# qemu 10 TCG with Debian's kernels and ours (docs/TESTING.md):
#   cortex-a53 -> IPA 40, nVHE; cortex-a57/a72 -> IPA 44, nVHE;
#   max -> IPA 48 on 6.1 (4K, 48-bit PA), 52 on 6.12 4K and 16K (LPA2)
#   and on 6.1 64K (LPA); max,lpa2=off (FEAT_LPA without LPA2) -> 52 for
#   a 64K kernel only, 48 for 4K and 16K ones; VHE;
#   kvm-arm.mode=nvhe|protected select those modes (on max).
host_expect() {
	local cpu=${1%%,*} kernel=$2 append=$3 ipa='' mode='' pages
	pages=$(kernel_pages "$kernel")
	case $cpu in
	cortex-a53) ipa=40 ;;
	cortex-a57 | cortex-a72) ipa=44 ;;
	max)
		case $kernel:$pages in
		*:65536) ipa=52 ;;
		6.1:* | 6.1-*) ipa=48 ;;
		*)
			case ",$1," in
			*,lpa2=off,*) ipa=48 ;;
			*) ipa=52 ;;
			esac
			;;
		esac
		;;
	esac
	case $cpu in
	max) mode=vhe ;;
	cortex-a53 | cortex-a57 | cortex-a72) mode=nvhe ;;
	esac
	case " $append " in
	*" kvm-arm.mode=nvhe "*) [ -n "$mode" ] && mode=nvhe ;;
	*" kvm-arm.mode=protected "*) [ -n "$mode" ] && mode=protected ;;
	*" kvm-arm.mode=none "*) mode=none ;;
	esac
	[ -n "$ipa" ] && echo "EXPECT_IPA=$ipa"
	[ -n "$mode" ] && echo "EXPECT_MODE=$mode"
	echo "EXPECT_PAGE_SIZE=$pages"
	return 0
}

# case_header FILE KEY: value of a "# KEY: value" line in the first 15 lines
case_header() {
	head -n 15 "$1" | sed -n "s/^#[[:space:]]*$2:[[:space:]]*//p" | head -n 1
}

# case_runs_on FILE LABEL ("all" is every busybox host: the systemd host
# runs only the cases that name it)
case_runs_on() {
	local h all=all
	[ "$(awk -v l="$2" '$1 == l { print $6 }' <<<"$HOST_TABLE")" = systemd ] && all=
	for h in $(case_header "$1" hosts); do
		[ "$h" = "$all" ] || [ "$h" = "$2" ] && return 0
	done
	return 1
}

# resolve_case ARG: path of a case given as a path or a name
resolve_case() {
	local a=$1
	if [ -f "$a" ]; then
		readlink -f "$a"
	elif [ -f "$HOSTDIR/cases/$a.sh" ]; then
		echo "$HOSTDIR/cases/$a.sh"
	elif [ -f "$HOSTDIR/cases/$a" ]; then
		echo "$HOSTDIR/cases/$a"
	else
		return 1
	fi
}

case_name() {
	local b=${1##*/}
	echo "${b%.sh}"
}

need_cache() {
	if [ ! -d "$CACHE/kernels" ] || [ ! -x "$CACHE/pkg/busybox-arm64/bin/busybox" ]; then
		die "no kernels/busybox in $CACHE: run 'make deps' first"
	fi
	command -v "$QEMU" >/dev/null 2>&1 || die "$QEMU not found: run 'make deps' first"
	command -v cpio >/dev/null 2>&1 || die "cpio not found: run 'make deps' first"
}

# the built binaries that go into the host: "SRC DEST" lines
payload_binaries() {
	local f
	[ -f "$BUILD_AARCH64/armvmd" ] && echo "$BUILD_AARCH64/armvmd usr/bin/armvmd"
	[ -f "$BUILD_AARCH64/armvmctl" ] && echo "$BUILD_AARCH64/armvmctl usr/bin/armvmctl"
	[ -f "$BUILD_AARCH64/armvmd-worker" ] && echo "$BUILD_AARCH64/armvmd-worker usr/bin/armvmd-worker"
	if [ -d "$BUILD_AARCH64/tests" ]; then
		for f in "$BUILD_AARCH64"/tests/*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			echo "$f usr/lib/armvmd-tests/${f##*/}"
		done
	fi
	# bare-metal guests (mk/guests.mk): a few hundred bytes each
	for f in "$TOP"/build/guests/*.img; do
		[ -f "$f" ] && echo "$f usr/lib/armvmd-guests/${f##*/}"
	done
	# the previous release's daemon, once built (tests/host/prev-release;
	# cases/upgrade.sh)
	f=$("$HOSTDIR/prev-release" --path 2>/dev/null) &&
		echo "$f usr/lib/armvmd-tests/armvmd-prev"
	return 0
}

# build_base: print the path of the cached base initramfs (busybox, init,
# lib/*.sh, our aarch64 binaries), building it if its inputs changed
build_base() {
	local busybox=$CACHE/pkg/busybox-arm64/bin/busybox
	local key stage out tmp strip src dst
	mkdir -p "$HOSTBUILD/initramfs"
	key=$(
		{
			echo "armvmd-host-base v1"
			sha256sum "$busybox" "$HOSTDIR/init" "$HOSTDIR"/lib/*.sh
			payload_binaries | while read -r src dst; do
				echo "$dst $(sha256sum <"$src")"
			done
		} | sha256sum | cut -c1-16
	)
	out=$HOSTBUILD/initramfs/base-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return 0
	fi
	stage=$(mktemp -d "$HOSTBUILD/initramfs/stage.XXXXXX")
	mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,run,etc,root,usr/bin,usr/sbin} \
		"$stage"/usr/lib/armvmd-host/lib "$stage"/usr/lib/armvmd-tests \
		"$stage"/usr/lib/armvmd-guests
	install -m 0755 "$busybox" "$stage/bin/busybox"
	ln -s busybox "$stage/bin/sh"
	install -m 0755 "$HOSTDIR/init" "$stage/init"
	install -m 0644 "$HOSTDIR"/lib/*.sh "$stage/usr/lib/armvmd-host/lib/"
	mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
	strip=
	command -v aarch64-linux-gnu-strip >/dev/null 2>&1 && strip=aarch64-linux-gnu-strip
	payload_binaries | while read -r src dst; do
		install -m 0755 "$src" "$stage/$dst"
		if [ -n "$strip" ] && head -c 4 "$src" | grep -q ELF; then
			$strip --strip-debug "$stage/$dst" 2>/dev/null || true
		fi
	done
	echo "armvmd test host" >"$stage/etc/hostname"
	tmp=$out.tmp.$$
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 | gzip -6 -n) >"$tmp" || {
		rm -rf "$stage" "$tmp"
		die "could not build the initramfs"
	}
	rm -rf "$stage"
	mv -f "$tmp" "$out"
	# keep the few newest bases
	ls -1t "$HOSTBUILD"/initramfs/base-*.cpio.gz 2>/dev/null | tail -n +6 | xargs -r rm -f
	echo "$out"
}

# case_needs_guests FILE: the case boots guests ("# needs: guests" header,
# or it calls need_guest from lib/guest.sh)
case_needs_guests() {
	case " $(case_header "$1" needs) " in
	*" guest"*) return 0 ;;
	esac
	grep -q '^[[:space:]]*need_guest\b' "$1"
}

# guest_part KVER: print the path of the cached initramfs part with the
# guest payloads for lib/guest.sh, in /usr/lib/armvmd-guests/: Image (the
# host's own kernel, uncompressed as in the cache) and linux.cpio.gz
# (tests/guests/mkinitrd with our busybox)
guest_part() {
	local kernel key out stage tmp
	local busybox=$CACHE/pkg/busybox-arm64/bin/busybox
	kernel=$(kernel_path "$1") || die "no kernel $1 in $CACHE/kernels"
	[ -x "$TOP/tests/guests/mkinitrd" ] || die "tests/guests/mkinitrd missing"
	[ -x "$TOP/build/guests/va-probe" ] || die "build/guests/va-probe missing: run 'make'"
	mkdir -p "$HOSTBUILD/initramfs"
	key=$(
		{
			echo "armvmd-host-guests v2 $1 ${GUEST_MODULES:-}"
			stat -L -c '%n %s %Y' "$kernel"
			sha256sum "$busybox" "$TOP"/tests/guests/* "$TOP/build/guests/va-probe"
		} | sha256sum | cut -c1-16
	)
	out=$HOSTBUILD/initramfs/guests-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return 0
	fi
	stage=$(mktemp -d "$HOSTBUILD/initramfs/gstage.XXXXXX")
	mkdir -p "$stage/usr/lib/armvmd-guests"
	cp "$kernel" "$stage/usr/lib/armvmd-guests/Image"
	# the guest kernel's modules the test guest loads (input for the
	# power key; see tests/guests/linux-init)
	GUEST_MODULES_DIR=$(dirname "$kernel")/../lib/modules/$(basename "$kernel" | sed 's/^vmlinuz-//') \
	GUEST_MODULES=${GUEST_MODULES:-"gpio_keys evdev virtio_mmio virtio_blk virtio_net virtio_console virtio_rng"} \
	GUEST_VA_PROBE=$TOP/build/guests/va-probe \
	"$TOP/tests/guests/mkinitrd" "$busybox" "$stage/usr/lib/armvmd-guests/linux.cpio.gz" ||
		{ rm -rf "$stage"; die "tests/guests/mkinitrd failed"; }
	# modules for the host itself (the same kernel), uncompressed for
	# busybox insmod: tun for the TAPs of the virtio-net cases
	local moddir m f
	moddir=$(dirname "$kernel")/../lib/modules/$(basename "$kernel" | sed 's/^vmlinuz-//')
	mkdir -p "$stage/usr/lib/armvmd-guests/host-modules"
	for m in tun; do
		f=$(grep -E "(^|/)$m\.ko(\.[a-z]+)?:" "$moddir/modules.dep" 2>/dev/null | head -n 1 | cut -d: -f1)
		case $f in
		'') ;;
		*.xz) xz -dc "$moddir/$f" >"$stage/usr/lib/armvmd-guests/host-modules/$m.ko" ;;
		*) cp "$moddir/$f" "$stage/usr/lib/armvmd-guests/host-modules/$m.ko" ;;
		esac
	done
	tmp=$out.tmp.$$
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 | gzip -6 -n) >"$tmp" || {
		rm -rf "$stage" "$tmp"
		die "could not build the guest payload part"
	}
	rm -rf "$stage"
	mv -f "$tmp" "$out"
	ls -1t "$HOSTBUILD"/initramfs/guests-*.cpio.gz 2>/dev/null | tail -n +7 | xargs -r rm -f
	echo "$out"
}

# case_guest_extras FILE: the extra guest payloads a case needs, one word
# each, from its "# needs:" header and the helpers it calls:
#   guests-armhf      ("# needs: guests-armhf", need_guest32): the armhf
#                     zImage and busybox initramfs (guest_extra_part)
#   guest-kernel-VER  ("# needs: guest-kernel-6.12"): that arm64 kernel too
case_guest_extras() {
	local w
	for w in $(case_header "$1" needs); do
		case $w in
		guests-armhf | guest-kernel-*) echo "$w" ;;
		esac
	done
	grep -q '^[[:space:]]*need_guest32\b' "$1" && echo guests-armhf
	return 0
}

# guest_extra_part WORD HOSTKVER: print the path of the cached initramfs
# part for one word of case_guest_extras, in /usr/lib/armvmd-guests/:
#   guests-armhf:     zImage (Debian's armmp-lpae kernel) and
#                     linux-armhf.cpio.gz (tests/guests/mkinitrd, armhf busybox)
#   guest-kernel-VER: Image-VER; nothing (no output) when VER is the host's
#                     own kernel, which guest_part carries as Image already
guest_extra_part() {
	local word=$1 kver=$2 key out stage tmp kernel files=() mods
	mkdir -p "$HOSTBUILD/initramfs"
	case $word in
	guests-armhf)
		local busybox=$CACHE/pkg/busybox-armhf/bin/busybox
		kernel=$(readlink -f "$CACHE/kernels/linux-6.1-armmp-lpae" 2>/dev/null)
		[ -f "$kernel" ] && [ -x "$busybox" ] ||
			die "no armhf guest (kernels/linux-6.1-armmp-lpae, pkg/busybox-armhf) in $CACHE: run 'make deps'"
		files=("$busybox" "$TOP"/tests/guests/*)
		;;
	guest-kernel-*)
		[ "${word#guest-kernel-}" = "$kver" ] && return 0
		kernel=$(kernel_path "${word#guest-kernel-}") || die "no kernel ${word#guest-kernel-} in $CACHE/kernels"
		;;
	*) die "unknown guest payload '$word'" ;;
	esac
	key=$(
		{
			echo "armvmd-host-guest-extra v1 $word"
			stat -L -c '%n %s %Y' "$kernel"
			[ ${#files[@]} -eq 0 ] || sha256sum "${files[@]}"
		} | sha256sum | cut -c1-16
	)
	out=$HOSTBUILD/initramfs/extra-$key.cpio.gz
	if [ -s "$out" ]; then
		echo "$out"
		return 0
	fi
	stage=$(mktemp -d "$HOSTBUILD/initramfs/xstage.XXXXXX")
	mkdir -p "$stage/usr/lib/armvmd-guests"
	if [ "$word" = guests-armhf ]; then
		cp "$kernel" "$stage/usr/lib/armvmd-guests/zImage"
		# evdev for the power key (gpio_keys is built in there)
		mods=$(dirname "$kernel")/../lib/modules/$(basename "$kernel" | sed 's/^vmlinuz-//')
		GUEST_MODULES_DIR=$mods GUEST_MODULES=evdev \
		"$TOP/tests/guests/mkinitrd" "$CACHE/pkg/busybox-armhf/bin/busybox" \
			"$stage/usr/lib/armvmd-guests/linux-armhf.cpio.gz" ||
			{ rm -rf "$stage"; die "tests/guests/mkinitrd (armhf) failed"; }
	else
		cp "$kernel" "$stage/usr/lib/armvmd-guests/Image-${word#guest-kernel-}"
	fi
	tmp=$out.tmp.$$
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0 | gzip -6 -n) >"$tmp" || {
		rm -rf "$stage" "$tmp"
		die "could not build the guest payload part $word"
	}
	rm -rf "$stage"
	mv -f "$tmp" "$out"
	ls -1t "$HOSTBUILD"/initramfs/extra-*.cpio.gz 2>/dev/null | tail -n +9 | xargs -r rm -f
	echo "$out"
}

# shell-quote a value for the sh config file
shq() {
	printf "'%s'" "${1//\'/\'\\\'\'}"
}
