# SPDX-License-Identifier: LGPL-2.1-or-later
# results.gnuplot — scripts/bench's chart: envol next to nbdkit and qemu-nbd.  Left: sequential
# 1 MiB MB/s; right: random 4 KiB kIOPS.  Called as
#   gnuplot -e "datafile='…/chart.dat'; outfile='…/results.png'" bench/results.gnuplot
set terminal pngcairo size 1400,560 font "sans,11" noenhanced
set output outfile
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right
set yrange [0:*]
set multiplot layout 1,2 title "envol vs nbdkit (file, luks) and qemu-nbd (luks), fio --ioengine=nbd, medians"
set title "sequential, 1 MiB, QD8"
set ylabel "MB/s"
plot for [c=2:5] datafile index 0 using c:xtic(1) title columnheader(c)
set title "random, 4 KiB"
set ylabel "thousand IOPS"
plot for [c=2:5] datafile index 1 using c:xtic(1) title columnheader(c)
unset multiplot
