# published.gp: published versus reproduced test error for every cell of a table at one scale:
# bars for the published value and the reproduced mean, an error bar of one standard deviation
# over seeds, and a point for a published replacement value (the author's README number for a
# superseded cell). Reads a table exported by tools/plots.lua; computes nothing itself.
#
# Variables (gnuplot -e):
#   file   columns: index published reproduced_mean reproduced_std n replacement "label";
#          '?' marks a missing value (a cell not run, no replacement)
#   ttl, sub  the title and its second line
#   out    output path without extension: writes out.png (pngcairo) and out.svg
set datafile commentschars '#'
set datafile missing '?'
set title ttl."\n".sub noenhanced
set ylabel 'test error (%)'
set key above horizontal noenhanced
set grid ytics
set yrange [0:*]
set xtics rotate by 40 right noenhanced
set style fill solid 0.7 border -1
set boxwidth 0.38
set bmargin 10
set lmargin 18
set terminal pngcairo size 1100,700 noenhanced
set output out.'.png'
plot file using ($1 - 0.2):2:xtic(7) with boxes lc rgb '#4c72b0' title 'published', \
     file using ($1 + 0.2):3 with boxes lc rgb '#dd8452' title 'reproduced (mean over seeds)', \
     file using ($1 + 0.2):3:4 with yerrorbars lc rgb 'black' pt 0 title '+- 1 std over seeds', \
     file using ($1 - 0.2):6 with points pt 9 ps 1.5 lc rgb '#55a868' \
         title 'replacement of a superseded value'
set terminal svg size 1100,700 dynamic noenhanced
set output out.'.svg'
replot
unset output
