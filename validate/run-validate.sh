#!/bin/sh
# Runs one .validatetest with gst-tester-1.0, which hands it to
# gst-validate-1.0 and reports TAP.  Without gst-validate (Debian 12 has no
# package for it) the test is skipped with meson's code 77.
# $1: the build directory holding libgstsora.so, $2: the .validatetest,
# $3: a directory for validate's logs and the recorded flows
set -u
if ! command -v gst-validate-1.0 >/dev/null 2>&1 ||
  ! command -v gst-tester-1.0 >/dev/null 2>&1; then
  echo "SKIP: gst-validate is not packaged in Debian 12 (Fedora, Arch, openSUSE package it): install gst-devtools to run validate/"
  exit 77
fi
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-validate-registry.bin"
export GST_VALIDATE_LOGSDIR="$3"
mkdir -p "$3"
# Either the exit status or a "not ok" line fails it: gst-tester-1.0 reports
# a critical issue in its TAP output.
out=$(gst-tester-1.0 "$2" --use-fakesinks 2>&1)
status=$?
echo "$out"
[ $status -eq 0 ] || exit $status
echo "$out" | grep -q "^not ok" && exit 1
exit 0
