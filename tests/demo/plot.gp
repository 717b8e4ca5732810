# SPDX-License-Identifier: GPL-2.0 OR MIT
# The timeline of `make demo`: one panel per run, MB received over time,
# shaded where the route sent A to inst2 (every edge of the shading is a
# flip).  Variables (tests/demo/plot-vars): dir, n, xmax, ms, and per panel i
# dpI, titleI, okI (0 broke, 1 byte-exact, 2 unexpected, -1 skipped),
# totalI (MB), endxI/endyI (the last byte's time and MB), flowsatI (when
# `anypinctl flows` was read, -1 if not) and flowswhatI (what was read).
#
#   tests/demo/plot-vars build/demo none kmod anypind >build/demo/panels.gp
#   gnuplot -e "dir='build/demo'" build/demo/panels.gp tests/demo/plot.gp

set terminal pngcairo size 1200,300*n font "sans,10"
set output dir.'/timeline.png'
set multiplot layout n,1 title "A download from the anycast address while the route flips every ".ms." ms" font "sans,12"
set xrange [0:xmax]
set grid ytics lc rgb "#dddddd"
set key bottom right opaque box lc rgb "#cccccc"
set ylabel "MB received"
set tmargin 2.5
set bmargin 2
set lmargin 9
set rmargin 3
set style fill solid 1.0 noborder

do for [i=1:n] {
	dp = value('dp'.i)
	ok = value('ok'.i)
	set title value('title'.i)
	if (i == n) { set xlabel "seconds since the download started"; set bmargin 3.5 }
	if (ok < 0) {
		set yrange [0:1]
		set label 1 "skipped (see the summary)" at graph 0.5, 0.5 center
		set key off
		plot NaN notitle
		set key on
		unset label 1
	} else {
		ymax = value('total'.i) * 1.1
		set yrange [0:ymax]
		color = (ok == 1) ? "#1a7f37" : "#cf222e"
		if (ok == 0) {
			set label 1 "connection reset" at value('endx'.i), value('endy'.i) \
				point pt 2 ps 2 lw 2 lc rgb "#cf222e" offset 1.2, 0 tc rgb "#cf222e" front
		} else {
			set label 1 "" at value('endx'.i), value('endy'.i) \
				point pt 7 ps 1.2 lc rgb color front
		}
		f = dir.'/'.dp
		cmd = "plot '".f.".bands' using (($1 + $2) / 2):(ymax / 2):1:2:(0):(ymax)" \
			. " with boxxyerror lc rgb '#fde2c4' title 'route: A to inst2 (white: to inst1)'" \
			. ", '".f.".flips' using 1:(0):(0):(ymax) with vectors nohead lc rgb '#e8a060' lw 0.5 notitle" \
			. ", '".f.".dat' using 1:($2 / 1048576) with lines lw 2.5 lc rgb '".color."' title 'bytes received'"
		# Where `anypinctl flows` was read.
		fx = value('flowsat'.i)
		if (fx >= 0) {
			cmd = cmd . sprintf(", '+' using (%g):(%g) every ::0::0 with points pt 9 ps 1.5 lc rgb '#444444' title '%s read'", fx, ymax * 0.04, value('flowswhat'.i))
		}
		eval cmd
		unset label 1
	}
}
unset multiplot
