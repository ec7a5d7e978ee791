#!/bin/sh
# bench.sh EXE: `make bench`. Images per second and peak resident memory of one training step
# of the official PreAct ResNet-18 (32x32, batch 128), full width (64) and base width 16, with
# 1 and 2 threads; PyTorch's figures in the same run when python3-torch is installed, with the
# ratio. The environment is left as it is (OPENBLAS_CORETYPE included; where it is unset,
# ./mixup pins the Haswell kernels, see harness/main.c); the last lines repeat the 2-thread
# figures with OPENBLAS_CORETYPE unset and OpenBLAS's own choice kept, naming that core.
# Each line also gives the engine's GFLOP/s and its share of the FP32 FMA ceiling measured in
# the same run (tools/fma_peak.c), and PyTorch tuned as anyone tuning it on CPU runs it
# (tcmalloc preloaded) beside PyTorch as installed; the ratio is against the tuned line.
# Then the paper-size nets of Tables 1 and 2 (ResNet-50 and ResNeXt-101 steps among them), one
# epoch of Table 2's cpu recipe end to end, and the ImageNet decode per core. Not a test:
# nothing here passes or fails on a number.
exe=${1:-./mixup}
case "$exe" in */*) ;; *) exe=./$exe ;; esac
batch=128
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
have_tv=0
[ $have_torch = 1 ] && /usr/bin/python3 -c "import torchvision" 2>/dev/null && have_tv=1
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# The tuned PyTorch line: tcmalloc preloaded (Debian libtcmalloc-minimal4, which setup installs).
tcmalloc=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/libtcmalloc_minimal.so.4
[ -f "$tcmalloc" ] || tcmalloc=""
# The FP32 FMA ceiling of this machine, measured now (tools/fma_peak.c), per thread count.
fma=$(dirname "$exe")/build/tools/fma_peak
[ -x "$fma" ] || fma=build/tools/fma_peak
peak1=$(field "$("$fma" 1)" gflops); peak2=$(field "$("$fma" 2)" gflops)
echo "FMA ceiling (tools/fma_peak.c): $peak1 GFLOP/s on 1 thread, $peak2 on 2"
# Training GFLOP per image of the official PreAct ResNet-18 at width w on 32 x 32: 3 x 2 x the
# forward multiply-adds of its convolutions and linear layer (forward, input and weight
# gradients).
gflop() { awk -v w="$1" 'BEGIN {
    m = 27 * w * 1024 + 4 * 9 * w * w * 1024                          # stem, layer1
    for (s = 1; s <= 3; s++) { a = w * 2 ^ (s - 1); b = 2 * a; hw = 1024 / 4 ^ s
        m += 9 * a * b * hw + a * b * hw + 3 * 9 * b * b * hw }       # layers 2-4
    m += 8 * w * 10; printf "%.4f", 6 * m / 1e9 }'; }
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; batch $batch; one training step = forward + backward + SGD"
echo "GFLOP/s counts the direct convolution's multiply-adds; Winograd layers do fewer, so % FMA may pass 100"
printf '%-6s %-7s %12s %8s %6s %10s %12s %12s %10s %9s\n' width threads "mixup img/s" GFLOP/s "% FMA" \
    "mixup MiB" "torch img/s" "torch tuned" "torch MiB" "vs tuned"
for width in 64 16; do
    steps=3; [ "$width" = 16 ] && steps=10
    g=$(gflop $width)
    for threads in 1 2; do
        m=$("$exe" tools/bench.lua $width $threads $batch $steps 2>&1 | grep '^mixup') || { echo "bench failed: $m"; exit 1; }
        mi=$(field "$m" images_per_s); mm=$(field "$m" peak_rss_mib)
        peak=$peak1; [ $threads = 2 ] && peak=$peak2
        gf=$(awk -v i="$mi" -v g="$g" 'BEGIN { printf "%.1f", i * g }')
        pct=$(awk -v f="$gf" -v p="$peak" 'BEGIN { printf "%.0f%%", 100 * f / p }')
        ti=-; tt=-; tm=-; ratio=-
        if [ $have_torch = 1 ]; then
            t=$(/usr/bin/python3 tools/bench_torch.py $width $threads $batch $steps 2>/dev/null | grep '^torch')
            ti=$(field "$t" images_per_s); tm=$(field "$t" peak_rss_mib)
            tt=$ti
            if [ -n "$tcmalloc" ]; then
                t=$(LD_PRELOAD=$tcmalloc /usr/bin/python3 tools/bench_torch.py $width $threads $batch $steps 2>/dev/null | grep '^torch')
                tt=$(field "$t" images_per_s)
            fi
            ratio=$(awk -v a="$mi" -v b="$tt" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        fi
        printf '%-6s %-7s %12s %8s %6s %10s %12s %12s %10s %9s\n' $width $threads "$mi" "$gf" "$pct" \
            "$mm" "$ti" "$tt" "$tm" "$ratio"
    done
done
[ -z "$tcmalloc" ] && echo "torch tuned = as installed: libtcmalloc-minimal4 is absent (make setup installs it)"
# The convolution algorithms (harness/nn/conv.h): the lines above run the default rule (its
# Winograd layers counted here); the same steps without Winograd (conv_algo direct), then each
# Winograd-able 3x3 layer shape of Table 2's nets alone, forward + backward at batch 128 on 1
# thread (tools/bench_conv.lua: the measurements behind the rule).
for width in 64 16; do
    steps=3; [ "$width" = 16 ] && steps=10
    d=$("$exe" tools/bench.lua $width 2 $batch $steps 2>&1 | grep '^mixup')
    m=$("$exe" tools/bench.lua $width 2 $batch $steps direct 2>&1 | grep '^mixup')
    echo "width $width, 2 threads: default $(field "$d" images_per_s) img/s ($(field "$d" winograd) Winograd layers), direct $(field "$m" images_per_s) img/s"
done
"$exe" --threads 1 tools/bench_conv.lua $batch 3
echo "blas: $(echo "$m" | sed 's/.* blas=//')"
for width in 64 16; do
    steps=3; [ "$width" = 16 ] && steps=10
    m=$(env -u OPENBLAS_CORETYPE MIXUP_BLAS_AUTODETECT=1 "$exe" tools/bench.lua $width 2 $batch $steps 2>&1 | grep '^mixup')
    echo "OPENBLAS_CORETYPE unset, OpenBLAS's own pick, width $width, 2 threads: $(field "$m" images_per_s) img/s (core: $(echo "$m" | sed -n 's/.*(core \([^,]*\),.*/\1/p'))"
done
# Paper-size nets (tools/bench_nets.lua and .py): Table 2's WRN-28-10 at batch 32,
# DenseNet-BC-100 (k = 12) at 64 and DenseNet-BC-190 (k = 40) at 16, and Table 1's ResNet-50
# and ResNeXt-101 32x4d (grouped convolutions) at batch 32 and 224 px (their PyTorch side needs
# torchvision), 2 threads, timed steps after a warm-up one.
for spec in "wrn28_10 32 1" "densenet100 64 2" "densenet190 16 1" "resnet50 32 2" \
            "resnext101 32 1"; do
    set -- $spec
    m=$("$exe" --threads 2 tools/bench_nets.lua $1 $2 $3 | grep '^mixup')
    ti=-; tt=-; tm=-; ratio=-
    if [ $have_torch = 1 ] && { [ "${1#res}" = "$1" ] || [ $have_tv = 1 ]; }; then
        t=$(/usr/bin/python3 tools/bench_nets.py $1 2 $2 $3 2>/dev/null | grep '^torch')
        ti=$(field "$t" images_per_s); tm=$(field "$t" peak_rss_mib); tt=$ti
        if [ -n "$tcmalloc" ]; then
            t=$(LD_PRELOAD=$tcmalloc /usr/bin/python3 tools/bench_nets.py $1 2 $2 $3 2>/dev/null | grep '^torch')
            tt=$(field "$t" images_per_s); tm=$(field "$t" peak_rss_mib)
        fi
        ratio=$(awk -v a="$(field "$m" images_per_s)" -v b="$tt" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    echo "$1, batch $2, 2 threads: mixup $(field "$m" images_per_s) img/s ($(field "$m" peak_rss_mib) MiB), PyTorch as installed $ti, tuned $tt img/s ($tm MiB), ratio vs tuned $ratio"
done
# One epoch of Table 2's cpu recipe end to end (tools/bench_epoch.lua: the run's own step, so
# data order, augmentation, mixup, training and the test-set evaluation), PreAct ResNet-18 at
# width 16 with mixup, 2,500 training and 2,000 test images; 1 thread is how the grid runs it
# (2 such processes side by side on 2 cores).
for th in 2 1; do
    m=$("$exe" --threads $th tools/bench_epoch.lua table2_cifar cpu 2 dataset=cifar10 \
        net=preact_resnet18 method=mixup_a1 seed=1 | grep '^mixup')
    echo "Table 2 cpu epoch (PreAct width 16, mixup), $th thread(s): $(field "$m" epoch_s) s," \
         "$(field "$m" train_images_per_s) training img/s, $(field "$m" images_per_s) img/s" \
         "with the evaluation"
done
# ImageNet (issue 15, tools/bench_imagenet.lua and .py): decode + training augmentation per
# core on 200 generated 500 x 375 JPEGs.
jdir=$(mktemp -d)
"$exe" tools/bench_imagenet.lua jpegs "$jdir" 200 || { echo "bench: JPEG generation failed"; exit 1; }
m=$("$exe" --threads 1 tools/bench_imagenet.lua decode "$jdir" | grep '^mixup')
t=-; [ $have_tv = 1 ] && t=$(/usr/bin/python3 tools/bench_imagenet.py decode "$jdir" | grep '^torch')
echo "ImageNet decode + augment, 1 core: mixup $(field "$m" decode_images_per_s) img/s, torchvision/Pillow $(field "$t" decode_images_per_s) img/s"
rm -rf "$jdir"
