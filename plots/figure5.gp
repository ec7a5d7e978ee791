# figure5.gp: the mixup paper's Figure 5 layout: rows the toy data sets (grid on top, ring
# below, as the paper), columns the snapshot iterations, the ERM GAN block beside the mixup
# GAN block; real points blue, generated points orange (translucent, as the demo's alpha
# 0.25); both axes fixed to the real points' range +- 0.25 (the demo's plot limits), and a red
# count of the generated points that fell outside that frame. Reads the tables that
# harness/lua/gan_report.lua exports (tools/figure5.lua runs both); computes nothing itself.
#
# Variables (gnuplot -e):
#   stem           path prefix of the tables: <stem>_<shape>_real.dat and
#                  <stem>_<shape>_<method>_<iteration>.dat (columns x y)
#   panels         the include with lo_<shape>, hi_<shape> and out_<shape>_<method>_<iteration>
#   shapes         space-separated rows, e.g. 'grid ring'
#   methods        space-separated blocks, e.g. 'erm mixup'; mtitle1, mtitle2, ... their titles
#   iters          space-separated snapshot iterations, e.g. '10 100 1000 10000 20000'
#   ttl            the figure's title
#   out            output path without extension: writes out.png (pngcairo) and out.svg
load panels
nr = words(shapes)
nm = words(methods)
ni = words(iters)
nc = nm * ni
set datafile commentschars '#'
unset key
unset xtics
unset ytics
set border lw 0.5 lc rgb 'gray60'
set size ratio -1
real_colour = '#1f77b4'
fake_colour = '#A0ff7f0e'

# One pass per terminal: the panels are drawn the same way for PNG and SVG.
do for [term = 1:2] {
    if (term == 1) {
        set terminal pngcairo size 170 * nc, 190 * nr + 60 noenhanced font ',9'
        set output out.'.png'
    } else {
        set terminal svg size 170 * nc, 190 * nr + 60 dynamic noenhanced font ',9'
        set output out.'.svg'
    }
    set multiplot layout nr, nc title ttl margins 0.01, 0.99, 0.02, 0.86 spacing 0.004, 0.03
    do for [r = 1:nr] {
        shape = word(shapes, r)
        lo = value('lo_'.shape)
        hi = value('hi_'.shape)
        set xrange [lo:hi]
        set yrange [lo:hi]
        do for [m = 1:nm] {
            method = word(methods, m)
            do for [i = 1:ni] {
                it = word(iters, i)
                n_out = value('out_'.shape.'_'.method.'_'.it)
                if (r == 1) {
                    set title value('mtitle'.m)."\niteration ".it
                } else {
                    set title ''
                }
                unset label
                if (m == 1 && i == 1) {
                    set label 2 shape at graph 0.03, 0.93 left font ',11'
                }
                if (n_out > 0) {
                    set label 1 sprintf('%d outside', n_out) at graph 0.5, 0.06 center \
                        tc rgb 'red'
                }
                plot stem.'_'.shape.'_real.dat' using 1:2 with points pt 7 ps 0.25 \
                         lc rgb real_colour, \
                     stem.'_'.shape.'_'.method.'_'.it.'.dat' using 1:2 with points pt 7 \
                         ps 0.25 lc rgb fake_colour
            }
        }
    }
    unset multiplot
    unset output
}
