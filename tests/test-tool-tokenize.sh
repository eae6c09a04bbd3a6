#!/bin/sh
# sora-tool tokenize: MAX_LENGTH pads to that many ids, and anything but a
# whole number from 1 to 1048576 is refused with exit 2 and a message that
# names it (no silent 0, no prefix read as the number, no huge allocation).
# $1: sora-tool, $2: tokenizer.json
set -u
tool=$1
json=$2
fail=0

ids=$("$tool" tokenize "$json" "a cat" 8) || fail=1
[ "$(echo "$ids" | wc -w)" = 8 ] || { echo "not 8 ids: $ids"; fail=1; }
for bad in -1 99999999999 abc 512abc "" 0 " 5" 1048577; do
  err=$("$tool" tokenize "$json" "a cat" "$bad" 2>&1 >/dev/null)
  rc=$?
  case "$rc:$err" in
    2:*"bad MAX_LENGTH"*) echo "ok \"$bad\": $err" ;;
    *) echo "FAIL \"$bad\": exit $rc: $err"; fail=1 ;;
  esac
done
exit $fail
