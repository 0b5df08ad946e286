# Test kernels built from Debian's linux-source-6.1 (tests/kernels/,
# scripts/build-kernel, which does the caching: a second run only prints
# the path).  Included by the top Makefile.
#
#   make kernel-guest-64k   64K-page guest: kernels/linux-6.1-arm64-64k-guest
#   make kernel-host-64k    64K-page KVM host: kernels/linux-6.1-arm64-64k
#                           (tests/host/run-host --kernel 6.1-64k)
#   make kernels            both, one after the other
#
# CACHE (default build/cache) and JOBS (default nproc) are passed on.

.PHONY: kernels kernel-guest-64k kernel-host-64k

kernel-guest-64k:
	@CACHE=$(CACHE) $(if $(JOBS),JOBS=$(JOBS)) scripts/build-kernel guest-64k

kernel-host-64k:
	@CACHE=$(CACHE) $(if $(JOBS),JOBS=$(JOBS)) scripts/build-kernel host-64k

# sequential: each build already uses every core
kernels:
	@$(MAKE) --no-print-directory kernel-guest-64k
	@$(MAKE) --no-print-directory kernel-host-64k
