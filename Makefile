# SPDX-License-Identifier: GPL-2.0 OR MIT
# Userspace build, tests and the entry points of README.md.

include include/anypin/core.mk

CC ?= cc
CFLAGS ?= -O2 -g
AP_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Iinclude -Iuserspace
B := build

CORE_OBJS := $(ANYPIN_CORE:%=$(B)/core/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
UNIT_LIB := $(wildcard tests/unit/lib/*.c)
HDRS := $(wildcard include/anypin/*.h userspace/*.h tests/unit/lib/*.h)

.PHONY: all userspace deps unit lab vm vm-debug check coverage demo kmod clean bench ctl-test static
all: userspace kmod

userspace: $(B)/libanypin-core.a $(UNIT_BINS) $(B)/anypind $(B)/anypinctl

$(B)/core/%.o: include/anypin/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libanypin-core.a: $(CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/tests/%: tests/unit/%.c $(UNIT_LIB) $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) -Itests/unit/lib $(CFLAGS) $(UNIT_LDFLAGS) -o $@ $< \
		$(filter userspace/%.c $(B)/userspace/%.o,$^) $(UNIT_LIB) $(B)/libanypin-core.a \
		-lcmocka $(UNIT_LDLIBS)

# The tests of anypind's parts link them as they are; test_anypind_table makes
# malloc and calloc fail at will.
$(B)/tests/test_anypind_table: userspace/table.c
$(B)/tests/test_anypind_table: UNIT_LDFLAGS := -Wl,--wrap=malloc,--wrap=calloc
$(B)/tests/test_nft: userspace/nft.c userspace/util.c
$(B)/tests/test_nft: UNIT_LDLIBS = $(shell pkg-config --libs $(NFQ_PKGS))
$(B)/tests/test_ctl: userspace/ctl.c userspace/table.c userspace/util.c
$(B)/tests/test_queue: userspace/queue.c userspace/debug.c userspace/table.c \
	userspace/raw.c userspace/util.c
$(B)/tests/test_queue: UNIT_LDLIBS = $(shell pkg-config --libs $(NFQ_PKGS))

# anypind: userspace/*.c around the core, over NFQUEUE.
ANYPIND_OBJS := $(patsubst userspace/%.c,$(B)/userspace/%.o,$(wildcard userspace/*.c))
NFQ_PKGS := libnetfilter_queue libmnl libnftnl

$(B)/userspace/%.o: userspace/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(shell pkg-config --cflags $(NFQ_PKGS)) $(CFLAGS) -c -o $@ $<

$(B)/anypind: $(ANYPIND_OBJS) $(B)/libanypin-core.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(NFQ_PKGS) libbpf)

# The second chance's programs run by the kernel on the test's frames
# (BPF_PROG_TEST_RUN), loaded and filled by anypind's own objects; skipped
# without root.
$(B)/tests/test_second_bpf: $(filter-out $(B)/userspace/main.o,$(ANYPIND_OBJS))
$(B)/tests/test_second_bpf: UNIT_LDLIBS = $(shell pkg-config --libs $(NFQ_PKGS) libbpf)

# The second chance's tc programs, embedded in anypind (userspace/second.c):
# built with clang whatever CC is, from the core's inline rules (sc.h).
BPF_CLANG ?= clang
BPF_CFLAGS := -O2 -g -target bpf -Wall -Wextra -Werror \
	-I/usr/include/$(shell $(BPF_CLANG) -print-multiarch) -Iuserspace/bpf -Iinclude
BPF_OBJ := $(B)/bpf/second.bpf.o

$(BPF_OBJ): userspace/bpf/second.bpf.c $(wildcard userspace/bpf/*.h) include/anypin/sc.h \
	include/anypin/types.h
	@mkdir -p $(@D)
	$(BPF_CLANG) $(BPF_CFLAGS) -c -o $@ $<

$(B)/userspace/second.o: $(BPF_OBJ)
$(B)/userspace/second.o: AP_CFLAGS += -DSECOND_BPF='"$(BPF_OBJ)"'

# anypinctl: tools/*.c, the core linked in to explain refused values.
ANYPINCTL_OBJS := $(patsubst tools/%.c,$(B)/tools/%.o,$(wildcard tools/*.c))

$(B)/tools/%.o: tools/%.c tools/anypinctl.h $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/anypinctl: $(ANYPINCTL_OBJS) $(B)/libanypin-core.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Its pure parts (tables, JSON) have unit tests of their own.
$(B)/tests/test_anypinctl: tests/unit/test_anypinctl.c tools/text.c tools/anypinctl.h $(UNIT_LIB) $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) -Itests/unit/lib -Itools $(CFLAGS) -o $@ $< tools/text.c $(UNIT_LIB) $(B)/libanypin-core.a -lcmocka

# anypinctl against anypind in a network namespace of its own (tests/ctl/).
ctl-test: userspace
	tests/ctl/run

deps:
	@tests/deps

unit: $(UNIT_BINS)
	@tests/unit/run $(UNIT_BINS)

# The same_stats scenario saves anypind's counters in build/lab-stats/
# (LAB_STATS_DIR), for the comparison at the end of make check.
LAB_STATS := $(B)/lab-stats
lab: userspace
	rm -rf $(LAB_STATS)
	LAB_STATS_DIR="$(CURDIR)/$(LAB_STATS)" tests/lab/run

# Static checks, first in CI: shellcheck over every shell script,
# checkpatch.pl --strict over kmod/ and the core, sparse over the module
# built on each kernel of tests/vm (whose headers tests/vm/deps installs);
# docs/static.md.
static: deps
	tests/vm/deps
	tests/static/run

# anypin.ko inside qemu on Debian's 6.1 and 6.12 kernels (tests/vm/). The
# guests run build/anypinctl and build/anypind from the host. LOAD_CYCLES:
# the module's load/unload cycles under traffic (vm-debug runs 50).
LOAD_CYCLES ?= 10
vm: deps
	tests/vm/deps
	$(MAKE) userspace
	ANYPIN_LOAD_CYCLES=$(LOAD_CYCLES) tests/vm/check

# anypin.ko on the debug kernel (KASAN, kmemleak, lockdep, UBSAN...), built
# from Debian's linux-source-6.12 once and cached outside the clone
# (tests/vm/debug-kernel; the first build takes long): the harness's own
# self-test on 6.12, where a boot takes seconds, and the checkers' on the
# debug kernel (each one must catch its canary), then the module's topics
# (tests/vm/kmod/run, with its 50 load/unload cycles), kmod_stress,
# kmod_second and every lab scenario's "with" half (the "without" halves
# test the lab, not the module), with a kmemleak scan after every tenth
# unload and the last (docs/vm.md, "The debug kernel"). One guest at a time (VM_PARALLEL=0): under KASAN
# and lockdep the lab's paced transfers have no time to share with a
# second guest (drain's withdrawal came after half the download).
VM_DEBUG_TIMEOUT ?= 7200
vm-debug: deps
	tests/vm/deps 6.12 debug
	$(MAKE) userspace
	tests/vm/debug-kernel > /dev/null
	tests/vm/selftest --quick 6.12
	tests/vm/selftest --checkers debug
	ANYPIN_VM_TIMEOUT=$(VM_DEBUG_TIMEOUT) VM_CHECK_TIMED=tests/vm/kmod_lab.sh VM_CHECK_ONCE= \
		VM_CHECK_SCRIPTS="tests/vm/kmod/run tests/vm/kmod_stress.sh tests/vm/kmod_second.sh" VM_PARALLEL=0 \
		tests/vm/check debug

# The entry point of README.md and CI: installs what it needs, builds
# everything, runs the unit tests, the lab on this host (anypind),
# anypinctl against anypind, and the module's tests in the VM, with each
# fuzzer for FUZZ_CHECK_SECONDS at nice 19 beside them (tests/fuzz/beside); last, the
# counters of the lab's same_stats scenario, anypind's (this host's lab)
# against the module's on each kernel (the VM's kmod_lab, kept in
# build/vm/check-KERNEL-kmod_lab.out/), counter by counter
# (tests/lab/compare-stats, docs/lab.md).
check: deps
	rm -rf $(B)/vm/check-*-kmod_lab.out
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-build
	$(MAKE) lab
	$(MAKE) ctl-test
	tests/fuzz/beside $(FUZZ_CHECK_SECONDS) $(FUZZ_BINS) -- $(MAKE) vm
	tests/lab/compare-stats $(LAB_STATS)/anypind $(B)/vm/check-*-kmod_lab.out/lab-stats/kmod

# README's first command: a download from the anycast address while the
# route flips every 100 ms, without anypin, with anypin.ko (in the VM, which
# tests/demo/run prepares), with anypind, and a client without anypin kept
# by the module's second chance; a table and a picture (docs/demo.md).
demo: deps
	$(MAKE) userspace
	tests/demo/run

# Line coverage of the shared core, from the unit tests alone.
coverage: deps
	$(MAKE) B=$(B)/cov CFLAGS="-O0 -g --coverage" unit
	gcovr -r . --filter 'include/anypin/' --object-directory $(B)/cov \
		--fail-under-line 90 --print-summary

# Never part of check. Ratios with and without anypin (docs/bench.md): anypind and a static DNAT
# on this host, anypin.ko and the DNAT in the VM (BENCH_VM=0 skips it);
# the table goes to build/bench/results.txt.
bench: deps
	@[ "$${BENCH_VM:-1}" = 0 ] || tests/vm/deps $${BENCH_KERNEL:-6.12}
	$(MAKE) userspace $(B)/bench/connrate $(B)/bench/table $(B)/bench/syns $(B)/bench/rr
	tests/bench/run

$(B)/bench/connrate $(B)/bench/syns $(B)/bench/rr: $(B)/bench/%: tests/bench/%.c tests/bench/util.c tests/bench/util.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror $(CFLAGS) -o $@ $< tests/bench/util.c

$(B)/bench/table: tests/bench/table.c $(B)/userspace/table.o $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(CFLAGS) -o $@ $< $(B)/userspace/table.o $(B)/libanypin-core.a

# libFuzzer targets of the core's entry points (tests/fuzz/, docs/fuzz.md):
# each runs FUZZ_SECONDS from a copy of its corpus in build/fuzz/corpus-NAME,
# and the run fails on any crash. fuzz-check is the short run for CI.
FUZZ_TARGETS := parse process conf_parse conf_set tab
FUZZ_SECONDS ?= 60
# make check's and fuzz-check's short run: it replays each corpus and
# explores a little; the long runs are make fuzz's (docs/fuzz.md).
FUZZ_CHECK_SECONDS ?= 15
FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -O1 -g -fno-omit-frame-pointer
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_BINS := $(FUZZ_TARGETS:%=$(B)/fuzz/%)
FUZZ_CORE := $(ANYPIN_CORE:%=$(B)/fuzz/obj/%.o)
FUZZ_CC_CMD = $(FUZZ_CC) $(AP_CFLAGS) -Itests/unit/lib -Itools $(FUZZ_CFLAGS) $(FUZZ_SAN)

.PHONY: fuzz fuzz-check fuzz-build fuzz-seeds fuzz-coverage
fuzz: deps
	$(MAKE) fuzz-build
	tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-check:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS)

fuzz-build: $(FUZZ_BINS)
.SECONDARY: $(FUZZ_CORE)

# The code under test gets the fuzzer's coverage; pktgen (the checker's
# checksums) only the sanitizers.
$(B)/fuzz/obj/%.o: include/anypin/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC_CMD) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/obj/anypind_table.o: userspace/table.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC_CMD) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/obj/anypinctl_text.o: tools/text.c tools/anypinctl.h
	@mkdir -p $(@D)
	$(FUZZ_CC_CMD) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/obj/pktgen.o: tests/unit/lib/pktgen.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC_CMD) -c -o $@ $<

$(B)/fuzz/process: $(B)/fuzz/obj/anypind_table.o $(B)/fuzz/obj/pktgen.o
$(B)/fuzz/tab: $(B)/fuzz/obj/anypinctl_text.o

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_CORE) $(HDRS) tools/anypinctl.h
	@mkdir -p $(@D)
	$(FUZZ_CC_CMD) -fsanitize=fuzzer -o $@ $< $(filter %.o,$^)

# Line coverage of the code under test by what make fuzz found (llvm-cov).
FUZZ_CORE_SRCS := $(ANYPIN_CORE:%=include/anypin/%.c)
$(B)/fuzz-cov/process: FUZZ_EXTRA := userspace/table.c tests/unit/lib/pktgen.c
$(B)/fuzz-cov/tab: FUZZ_EXTRA := tools/text.c

fuzz-coverage: $(FUZZ_TARGETS:%=$(B)/fuzz-cov/%)
	tests/fuzz/coverage $(B)/fuzz-cov $(FUZZ_TARGETS)

$(B)/fuzz-cov/%: tests/fuzz/%.c $(FUZZ_CORE_SRCS) userspace/table.c tools/text.c $(UNIT_LIB) $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(AP_CFLAGS) -Itests/unit/lib -Itools $(FUZZ_CFLAGS) -fsanitize=fuzzer \
		-fprofile-instr-generate -fcoverage-mapping -o $@ $< $(FUZZ_CORE_SRCS) $(FUZZ_EXTRA)

# Writes the seed corpora of the tree (tests/fuzz/corpus/NAME/) anew, from
# pktgen's packets and the core's own table formats; commit the result.
fuzz-seeds: $(B)/fuzz/seeds
	rm -rf $(FUZZ_TARGETS:%=tests/fuzz/corpus/%)
	$(B)/fuzz/seeds tests/fuzz/corpus

$(B)/fuzz/seeds: tests/fuzz/seeds.c $(UNIT_LIB) $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) -Itests/unit/lib $(CFLAGS) -o $@ $< $(UNIT_LIB) $(B)/libanypin-core.a

# With the kernel's own compiler: Debian's kernels are built with gcc, and
# clang cannot build a module for them (docs/kmod.md), so a CC given for
# userspace (make CC=clang) stays out of Kbuild's way.
kmod: MAKEOVERRIDES := $(filter-out CC=%,$(MAKEOVERRIDES))
kmod:
	env -u CC $(MAKE) -C kmod

clean:
	rm -rf $(B)
	$(MAKE) -C kmod clean

# The version (VERSION: anypind, dkms.conf, the Debian changelog), install
# and the Debian packages; docs/packaging.md.
VERSION := $(shell cat VERSION)
AP_CFLAGS += $(CPPFLAGS) -DANYPIN_VERSION='"$(VERSION)"'
$(ANYPIND_OBJS) $(ANYPINCTL_OBJS): VERSION

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/anypin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DKMSDIR ?= /usr/src/anypin-$(VERSION)
INSTALL ?= install
PROGRAMS := $(B)/anypind $(B)/anypinctl
MAN7 := man/anypin.7
MAN8 := man/anypind.8 man/anypinctl.8
DKMS_KMOD = $(filter-out %.mod.c,$(wildcard kmod/*.[ch])) kmod/Kbuild kmod/Makefile
DKMS_CORE = $(wildcard include/anypin/*.[ch]) include/anypin/core.mk
VM_DKMS_KERNEL ?= 6.12
VM_DKMS_TIMEOUT ?= 1800

.PHONY: programs install uninstall install-dkms uninstall-dkms deb vm-dkms
programs: $(PROGRAMS)

install: $(PROGRAMS)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)/examples
	$(INSTALL) -m 755 $(PROGRAMS) $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/
	$(INSTALL) -m 644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	sed 's|/usr/sbin/|$(SBINDIR)/|g' packaging/anypind.service > $(DESTDIR)$(UNITDIR)/anypind.service
	chmod 644 $(DESTDIR)$(UNITDIR)/anypind.service
	$(INSTALL) -m 644 packaging/60-anypin.conf $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(PROGRAMS))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man7/,$(notdir $(MAN7))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
		$(DESTDIR)$(UNITDIR)/anypind.service $(DESTDIR)$(DOCDIR)/examples/60-anypin.conf
	rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# The module's source where DKMS looks for it, in the repository's layout
# so that kmod/Kbuild finds ../include; then `dkms install anypin/VERSION`.
install-dkms:
	@test -n "$(VERSION)" || { echo "install-dkms: VERSION is empty" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(DKMSDIR)/kmod $(DESTDIR)$(DKMSDIR)/include/anypin
	$(INSTALL) -m 644 $(DKMS_KMOD) $(DESTDIR)$(DKMSDIR)/kmod/
	$(INSTALL) -m 644 $(DKMS_CORE) $(DESTDIR)$(DKMSDIR)/include/anypin/
	sed 's/#MODULE_VERSION#/$(VERSION)/' kmod/dkms.conf > $(DESTDIR)$(DKMSDIR)/dkms.conf
	chmod 644 $(DESTDIR)$(DKMSDIR)/dkms.conf

uninstall-dkms:
	@test -n "$(VERSION)" || { echo "uninstall-dkms: VERSION is empty" >&2; exit 1; }
	rm -rf $(DESTDIR)$(DKMSDIR)

# anypin-dkms and anypind .debs in build/deb/.
deb: deps
	packaging/build-deb

# The packages installed in the VM, the module built by DKMS there (under
# TCG: minutes, see docs/packaging.md).
vm-dkms: deb
	tests/vm/deps $(VM_DKMS_KERNEL)
	tests/vm/run --kernel $(VM_DKMS_KERNEL) --no-module --timeout $(VM_DKMS_TIMEOUT) -- tests/vm/dkms.sh
