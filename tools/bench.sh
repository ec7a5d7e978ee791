#!/bin/sh
# bench.sh EXE: `make bench`. Images per second and peak resident memory of one training step
# of the official PreAct ResNet-18 (32x32, batch 128), full width (64) and base width 16, with
# 1 and 2 threads; PyTorch's figures in the same run when python3-torch is installed, with the
# ratio. The environment is left as it is (OPENBLAS_CORETYPE included; where it is unset,
# ./mixup pins the Haswell kernels, see harness/main.c); the last lines repeat the 2-thread
# figures with OPENBLAS_CORETYPE unset and OpenBLAS's own choice kept, naming that core.
# ImageNet lines follow (decode per core, ResNet-50 steps). Not a test: nothing here passes or
# fails on a number.
exe=${1:-./mixup}
case "$exe" in */*) ;; *) exe=./$exe ;; esac
batch=128
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; batch $batch; one training step = forward + backward + SGD"
printf '%-6s %-7s %12s %10s %12s %10s %7s\n' width threads "mixup img/s" "mixup MiB" "torch img/s" "torch MiB" ratio
for width in 64 16; do
    steps=3; [ "$width" = 16 ] && steps=10
    for threads in 1 2; do
        m=$("$exe" tools/bench.lua $width $threads $batch $steps 2>&1 | grep '^mixup') || { echo "bench failed: $m"; exit 1; }
        mi=$(field "$m" images_per_s); mm=$(field "$m" peak_rss_mib)
        ti=-; tm=-; ratio=-
        if [ $have_torch = 1 ]; then
            t=$(/usr/bin/python3 tools/bench_torch.py $width $threads $batch $steps 2>/dev/null | grep '^torch')
            ti=$(field "$t" images_per_s); tm=$(field "$t" peak_rss_mib)
            ratio=$(awk -v a="$mi" -v b="$ti" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        fi
        printf '%-6s %-7s %12s %10s %12s %10s %7s\n' $width $threads "$mi" "$mm" "$ti" "$tm" "$ratio"
    done
done
echo "blas: $(echo "$m" | sed 's/.* blas=//')"
for width in 64 16; do
    steps=3; [ "$width" = 16 ] && steps=10
    m=$(env -u OPENBLAS_CORETYPE MIXUP_BLAS_AUTODETECT=1 "$exe" tools/bench.lua $width 2 $batch $steps 2>&1 | grep '^mixup')
    echo "OPENBLAS_CORETYPE unset, OpenBLAS's own pick, width $width, 2 threads: $(field "$m" images_per_s) img/s (core: $(echo "$m" | sed -n 's/.*(core \([^,]*\),.*/\1/p'))"
done
# ImageNet (issue 15, tools/bench_imagenet.lua and .py): decode + training augmentation per
# core on 200 generated 500 x 375 JPEGs, and ResNet-50 training steps (batch 32, 224 px).
have_tv=0
[ $have_torch = 1 ] && /usr/bin/python3 -c "import torchvision" 2>/dev/null && have_tv=1
jdir=$(mktemp -d)
"$exe" tools/bench_imagenet.lua jpegs "$jdir" 200 || { echo "bench: JPEG generation failed"; exit 1; }
m=$("$exe" --threads 1 tools/bench_imagenet.lua decode "$jdir" | grep '^mixup')
t=-; [ $have_tv = 1 ] && t=$(/usr/bin/python3 tools/bench_imagenet.py decode "$jdir" | grep '^torch')
echo "ImageNet decode + augment, 1 core: mixup $(field "$m" decode_images_per_s) img/s, torchvision/Pillow $(field "$t" decode_images_per_s) img/s"
rm -rf "$jdir"
m=$("$exe" --threads 2 tools/bench_imagenet.lua resnet50 32 2 | grep '^mixup')
t=-; [ $have_tv = 1 ] && t=$(/usr/bin/python3 tools/bench_imagenet.py resnet50 2 32 2 | grep '^torch')
echo "ResNet-50 training step, batch 32, 224 px, 2 threads: mixup $(field "$m" images_per_s) img/s ($(field "$m" peak_rss_mib) MiB), PyTorch as installed $(field "$t" images_per_s) img/s ($(field "$t" peak_rss_mib) MiB)"
