# SPDX-License-Identifier: GPL-2.0 OR MIT
# shellcheck shell=bash
#
# Datapath "none": the baseline without anypin (the "without" half of every
# scenario).  It is also the template of a datapath file: a datapath is a
# file tests/lab/datapath/NAME.sh, sourced by a scenario after lab_up and
# lab_serve, that defines three functions:
#
#   datapath_available  return 0 if it can run here; otherwise print the
#                       reason (e.g. "build/anypind not built") and return 1,
#                       and the scenario skips it (or FAILs, when it was
#                       asked for by LAB_DATAPATHS)
#   datapath_start      configure anypin on the client (client role for
#                       PREFIX4/PREFIX6, see `lab_anypin_conf client`) and on
#                       both instances (responder role with U1/U2, see
#                       `lab_anypin_conf inst1`), and return once it is ready;
#                       start daemons with `lab_bg NS NAME CMD...` so that
#                       lab_down stops them even after a failure
#   datapath_stop       undo datapath_start (lab_down calls it too)
#
# and may define (scenarios call them through lab.sh, which copes with
# their absence):
#
#   datapath_stats HOST print the counters table of HOST (client, inst1 or
#                       inst2) in the format of /proc/net/anypin/stats: a
#                       header "prefix syn opt_added ... flows", one row per
#                       prefix, a row "total"; used through lab_stats and
#                       lab_stat (without it, scenarios skip the checks
#                       that need counters, e.g. syn_flood's table bound)
#   datapath_restart    the datapath dies and comes back under traffic, as
#                       harshly as it can happen (kill -9 and start again;
#                       rmmod and insmod); used through lab_datapath_restart
#                       (restart scenario), whose default is datapath_stop
#                       followed by datapath_start
#   datapath_blackholes HOST
#                       print the anycast addresses HOST remembers as
#                       blackholed, in the format of
#                       /proc/net/anypin/blackholes; used through
#                       lab_blackholes (default: that file in HOST's
#                       namespace, i.e. the module's)
#   datapath_blackholes_flush HOST
#                       make HOST forget them; used through
#                       lab_blackholes_flush (default: 1 written to HOST's
#                       net.anypin.flush_blackholes)
#   datapath_anypinctl HOST ARGS...
#                       run anypinctl ARGS against HOST's datapath; used
#                       through lab_anypinctl (default: anypinctl --module
#                       in HOST's namespace)
#
# datapath_start (and datapath_restart) take each host's configuration from
# `lab_anypin_conf HOST` at the time they run: scenarios shape it with
# LAB_ANYPIN_LEGACY (hosts without anypin) and LAB_ANYPIN_EXTRA (extra
# lines such as max_flows), see lab.sh.
#
# Scenarios run their "with NAME" half for every datapath file other than
# this one (or for those in LAB_DATAPATHS="anypind kmod").

datapath_available() {
	return 0
}

datapath_start() {
	:
}

datapath_stop() {
	:
}
