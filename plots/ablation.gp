# ablation.gp: the ablation table as a figure: for every method (x) its test error at weight
# decay 1e-4 and 5e-4, reproduced (mean over seeds, error bar +- one sample sd) and the
# paper's value (hollow markers; only ERM and mixup AC + RP are sourced, the rest recalled and
# unverified). Reads a table exported by tools/ablation.lua; computes nothing itself.
#
# Variables (gnuplot -e):
#   file   columns: index "label" mean_1e-4 sd_1e-4 mean_5e-4 sd_5e-4 paper_1e-4 paper_5e-4;
#          '?' marks a missing value
#   ttl, sub  the title and its second line
#   out    output path without extension: writes out.png (pngcairo) and out.svg
set datafile commentschars '#'
set datafile missing '?'
set title ttl."\n".sub noenhanced
set ylabel 'test error (%)'
set y2label "paper's value (%)"
set ytics nomirror
set y2tics
set key above horizontal noenhanced
set grid ytics
set xtics rotate by 35 right noenhanced
set xrange [0.3:*]
set offsets 0, 0.7, 0.5, 0.5
set bmargin 11
set lmargin 10
set terminal pngcairo size 1100,650 noenhanced
set output out.'.png'
plot file using ($1 - 0.15):3:4:xtic(2) with yerrorbars pt 7 ps 1.2 lc rgb '#4c72b0' \
         title 'wd 1e-4 (mean +- sd)', \
     file using ($1 + 0.15):5:6 with yerrorbars pt 5 ps 1.2 lc rgb '#dd8452' \
         title 'wd 5e-4 (mean +- sd)', \
     file using ($1 - 0.15):7 axes x1y2 with points pt 6 ps 1.5 lc rgb '#4c72b0' \
         title 'paper, wd 1e-4 (right axis)', \
     file using ($1 + 0.15):8 axes x1y2 with points pt 4 ps 1.5 lc rgb '#dd8452' \
         title 'paper, wd 5e-4 (right axis)'
set terminal svg size 1100,650 dynamic noenhanced
set output out.'.svg'
replot
unset output
