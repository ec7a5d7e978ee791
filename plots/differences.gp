# differences.gp: the claim itself, mixup - ERM test error per pair of cells at one scale: the
# published difference as a bar, the reproduced mean difference over seeds as a point with its
# 95 % interval (harness/lua/stats.lua), and zero. Magnitudes at reduced scales are not the
# paper's; the side of zero the interval lies on is what the verdict reads. Reads a table
# exported by tools/plots.lua; computes nothing itself.
#
# Variables (gnuplot -e):
#   file   columns: index published_delta reproduced_delta lo hi n_mixup n_erm "label"
#          "verdict"; '?' marks a missing value (no runs, or no interval)
#   ttl, sub  the title and its second line
#   out    output path without extension: writes out.png (pngcairo) and out.svg
set datafile commentschars '#'
set datafile missing '?'
set title ttl."\n".sub noenhanced
set ylabel 'mixup - ERM, test error (percentage points)'
set key above horizontal noenhanced
set grid ytics
set xtics rotate by 30 right noenhanced
set xrange [0.3:*]
set offsets 0, 0.7, 0.5, 0.5
set style fill solid 0.5 border -1
set boxwidth 0.3
set bmargin 9
set lmargin 12
set terminal pngcairo size 1000,650 noenhanced
set output out.'.png'
plot 0 with lines lc rgb 'gray40' notitle, \
     file using ($1 - 0.18):2:xtic(8) with boxes lc rgb '#4c72b0' title 'published', \
     file using ($1 + 0.18):3:4:5 with yerrorbars pt 7 ps 1.3 lc rgb '#dd8452' \
         title 'reproduced: mean over seeds, 95 % interval', \
     file using ($1 + 0.18):3:9 with labels offset 0, -1.2 font ',9' notitle
set terminal svg size 1000,650 dynamic noenhanced
set output out.'.svg'
replot
unset output
