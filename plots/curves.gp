# curves.gp: test error per epoch, ERM versus mixup, for one dataset and net at one scale (the
# paper's Figure 3b style): for each method the mean over seeds as a line and the min-max range
# over seeds as a band. Reads tables exported by tools/plots.lua; computes nothing itself.
#
# Variables (gnuplot -e):
#   n              the number of methods
#   file1..fileN   .dat files, one per method; columns: epoch mean min max n [seed...]
#   title1..titleN legend entries
#   ttl, sub       the title and its second line
#   out            output path without extension: writes out.png (pngcairo) and out.svg
#   drops          optional, space-separated epochs after which the learning rate dropped
#   ylab           optional y label (default 'test error (%)')
#   xlab           optional x label (default 'epoch')
set datafile commentschars '#'
set title ttl."\n".sub noenhanced
set xlabel (exists("xlab") ? xlab : 'epoch')
set ylabel (exists("ylab") ? ylab : 'test error (%)')
set key top right noenhanced title 'mean over seeds, band: min-max'
set grid
set style fill transparent solid 0.2 noborder
if (exists("drops")) {
    do for [d in drops] {
        set arrow from (d + 0), graph 0 to (d + 0), graph 1 nohead dashtype 2 lc rgb 'gray50'
    }
}
set terminal pngcairo size 900,600 noenhanced
set output out.'.png'
plot for [i=1:n] value('file'.i) using 1:3:4 with filledcurves lc i notitle, \
     for [i=1:n] value('file'.i) using 1:2 with linespoints lw 2 pt 7 ps 0.4 lc i \
         title value('title'.i)
set terminal svg size 900,600 dynamic noenhanced
set output out.'.svg'
replot
unset output
