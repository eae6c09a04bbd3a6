#!/bin/sh
# Installs the Debian 12 packages that gst-sora needs to build, test and run
# its demo, and those named as arguments, only those that are missing.  Run
# as root on a fresh machine.
set -eu

packages="
  meson ninja-build pkg-config gcc clang-format
  libglib2.0-dev libjson-glib-dev
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 clinfo
  libclblast-dev libopenblas-dev
  pocl-opencl-icd
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-plugins-base-apps gstreamer1.0-libav
  python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0
  valgrind
  clang libclang-rt-14-dev
  clang-15 libclc-15 oclgrind
  $*
"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
