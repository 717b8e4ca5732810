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

.PHONY: all userspace deps unit lab vm check coverage demo kmod clean bench
all: userspace kmod

userspace: $(B)/libanypin-core.a $(UNIT_BINS) $(B)/anypind

$(B)/core/%.o: include/anypin/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libanypin-core.a: $(CORE_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(B)/tests/%: tests/unit/%.c $(UNIT_LIB) $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) -Itests/unit/lib $(CFLAGS) -o $@ $< $(UNIT_LIB) $(B)/libanypin-core.a -lcmocka

# anypind: userspace/*.c around the core, over NFQUEUE.
ANYPIND_OBJS := $(patsubst userspace/%.c,$(B)/userspace/%.o,$(wildcard userspace/*.c))
NFQ_PKGS := libnetfilter_queue libmnl

$(B)/userspace/%.o: userspace/%.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(shell pkg-config --cflags $(NFQ_PKGS)) $(CFLAGS) -c -o $@ $<

$(B)/anypind: $(ANYPIND_OBJS) $(B)/libanypin-core.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(NFQ_PKGS))

deps:
	@tests/deps

unit: $(UNIT_BINS)
	@tests/unit/run $(UNIT_BINS)

lab: userspace
	tests/lab/run

# anypin.ko inside qemu on Debian's 6.1 and 6.12 kernels (tests/vm/).
vm:
	tests/vm/deps
	tests/vm/check

# The entry point of README.md and CI: installs what it needs, builds
# everything, runs the unit tests, the lab on this host (anypind) and the
# module's tests in the VM.
check: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) lab
	$(MAKE) vm

# README's first command: the lab story, a download from the anycast
# address while routing flips between the instances.
demo: deps
	$(MAKE) all
	tests/lab/run route_flap

# Line coverage of the shared core, from the unit tests alone.
coverage: deps
	$(MAKE) B=$(B)/cov CFLAGS="-O0 -g --coverage" unit
	gcovr -r . --filter 'include/anypin/' --object-directory $(B)/cov \
		--fail-under-line 90 --print-summary

# Ratios with and without anypind on the lab path; never part of check.
bench: deps
	$(MAKE) userspace $(B)/bench/connrate $(B)/bench/table
	tests/bench/run

$(B)/bench/connrate: tests/bench/connrate.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -Wall -Wextra -Werror $(CFLAGS) -o $@ $<

$(B)/bench/table: tests/bench/table.c $(B)/userspace/table.o $(B)/libanypin-core.a $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(AP_CFLAGS) $(CFLAGS) -o $@ $< $(B)/userspace/table.o $(B)/libanypin-core.a

kmod:
	$(MAKE) -C kmod

clean:
	rm -rf $(B)
	$(MAKE) -C kmod clean
