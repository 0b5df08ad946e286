# hosts: max612 max612-lpa max612-16k
# timeout: 600
# needs: guests guest-kernel-6.1-64k-guest
#
# Guest page sizes, virtual address sizes and a kernel above 2^48 (the
# samples of the matrix's page-size axes, docs/MATRIX.md):
# - the 64K guest kernel (tests/kernels/guest-64k.config: 52-bit VA and
#   PA) runs with 52-bit virtual addresses on a CPU with FEAT_LVA (max,
#   with or without LPA2), as the guest itself shows (tests/guests/
#   va-probe.c), and with 48 elsewhere;
# - the host's own Debian kernel as a guest: 6.12 (4K or 16K, built for
#   52-bit VA) gets 52 bits only with FEAT_LPA2 and falls back to 48 on
#   an LPA-only CPU (max,lpa2=off), silently; with the host's whole IPA
#   size where that is 52 (the 16K host's 52-bit IPA);
# - the kernel's bank at 2^48: the 64K kernel boots there where the host
#   reaches 49 bits, and vm.layout says why it may and warns what the boot
#   protocol promises; the 4K or 16K kernel is refused citing the rule.

need_armvmd
need_guest
limit=$(need_expect EXPECT_IPA)
k64=$(guest_kernel_ver 6.1-64k-guest) || fail "no 64K guest kernel (Image-6.1-64k-guest)"
cpu=${ARMVMD_HOST_CPU:-max}
lva=no lpa2=no
case $cpu in
max | max,*) lva=yes; lpa2=yes ;;
esac
case ",$cpu," in *,lpa2=off,*) lpa2=no ;; esac
va64=48 vaown=48
[ "$lva" = yes ] && va64=52
case ${ARMVMD_HOST_KERNEL:-} in
6.12 | 6.12-16k) [ "$lpa2" = yes ] && vaown=52 ;;
esac
ownpages=$(need_expect EXPECT_PAGE_SIZE)
note "host: cpu $cpu, IPA limit $limit, LVA $lva, LPA2 $lpa2"

say "the 64K guest kernel, low: $va64-bit virtual addresses, 64K pages"
matrix_case name=k64-low kernel="$k64" memory='"256M"' expect=boot expect_ipa=32 \
	expect_va=$va64 expect_pages=65536 host_ipa="$limit" \
	expect_layout='"64K"'
note "the 64K guest reports VA $MX_VA"

high='["256M@0x1000000000000"]'
if [ "$limit" -ge 49 ] && [ "$ownpages" = 4096 ]; then
	say "the 64K guest kernel in a bank at 2^48: boots, and vm.layout says why it may"
	matrix_case name=k64-high kernel="$k64" memory="$high" expect=boot expect_ipa=49 \
		expect_va=$va64 expect_pages=65536 host_ipa="$limit" \
		expect_layout='accepted for a 64K-page kernel'
	grep -q 'boot protocol (booting.rst) only promises' "$CASE_TMP/layout.json" ||
		fail "vm.layout gives no warning for the 64K kernel above 2^48"
elif [ "$limit" -lt 49 ]; then
	say "the 64K guest kernel at 2^48 on a $limit-bit host: refused for the IPA size"
	matrix_case name=k64-high kernel="$k64" memory="$high" expect=refuse:-32004 \
		expect_needed=49 host_ipa="$limit" expect_msg="needs 49 IPA bits"
fi

say "the host's own $ownpages-byte-page kernel at 2^48: refused"
if [ "$limit" -ge 49 ]; then
	matrix_case name=own-high memory="$high" expect=refuse:-32004 expect_needed=49 \
		host_ipa="$limit" expect_msg="48-bit addressable"
	assert_contains "$MX_DETAIL" "only a 64K-page kernel may be above 2^48" "the refusal"
else
	matrix_case name=own-high memory="$high" expect=refuse:-32004 expect_needed=49 \
		host_ipa="$limit"
fi

ipa=
[ "$limit" = 52 ] && ipa=52
say "the host's own kernel as a guest${ipa:+ with a $ipa-bit IPA}: $vaown-bit virtual addresses"
matrix_case name=own-va memory='"256M"' ${ipa:+ipa=$ipa} expect=boot \
	expect_ipa=${ipa:-32} expect_va=$vaown expect_pages="$ownpages" host_ipa="$limit"
note "the host's kernel as a guest reports VA $MX_VA"
