#!/bin/sh
# sora-tool inspect shows a model's "_sora_causal" settings (text and
# --json), none for a clip model, and refuses a bad value naming its key.
# $1: sora-tool, $2: a model folder without "_sora_causal" (wan-tiny)
set -u
tool=$1
base=$2
fail=0
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

check () { # $1: what, $2: text, $3: the substring it must hold
  case "$2" in
    *"$3"*) echo "ok $1" ;;
    *) echo "FAIL $1: no \"$3\" in:"; echo "$2"; fail=1 ;;
  esac
}

# The config with "_sora_causal" $1 as its last key.
with_causal () {
  sed "\$ s/}\$/, \"_sora_causal\": $1}/" "$base/transformer/config.json" \
    >"$dir/m/transformer/config.json"
}

out=$("$tool" inspect "$base") || fail=1
case "$out" in *causal:*) echo "FAIL clip model shows causal"; fail=1 ;; esac
check "clip model --json" "$("$tool" inspect --json "$base")" '"causal" : null'

cp -r "$base" "$dir/m"
with_causal '{"chunk_frames": 3, "window_frames": 12, "sink_frames": 3, "steps": [1000, 750, 500, 250]}'
check text "$("$tool" inspect "$dir/m")" \
  "causal: chunks of 3 latent frames, window 12 frames, sink 3, steps [1000, 750, 500, 250], shift 5, context at t 0"
json=$("$tool" inspect --json "$dir/m" | tr -d ' \n')
check json "$json" \
  '"causal":{"chunk_frames":3,"window_frames":12,"sink_frames":3,"steps":[1000.0,750.0,500.0,250.0],"shift":5.0,"context_timestep":0.0}'

with_causal '{"chunk_frames": 3, "window_frames": 4, "steps": [1000]}'
err=$("$tool" inspect "$dir/m" 2>&1 >/dev/null)
rc=$?
[ $rc = 1 ] || { echo "FAIL bad window: exit $rc"; fail=1; }
check "bad window" "$err" \
  '"_sora_causal.window_frames" must be 0 or a multiple of chunk_frames (3), not 4'
exit $fail
