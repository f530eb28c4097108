#!/bin/bash
# Fast-mode recorder cost per event of two (or more) builds of libhakmem, runs interleaved so that
# a shared machine's load falls on every build alike (recorder_cost.sh runs one build at a time).
# Two measures, each the median of RUNS (default 7) differences, recording minus not, same build:
#   loop:   recorder_cost.c, the workload threads' own CPU time per event (as recorder_cost.sh);
#   larson: table 2's method (scripts/bench.mjs): larson T 1024 8 128 400000/T 2 12345, the
#           workload's own time per operation (one allocator call each).
# usage: bench/experiments/recorder_ab.sh LIB_A.so LIB_B.so [...]   (RUNS=N in the environment)
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
LARSON=$HERE/../build/workloads/larson
RUNS=${RUNS:-7}
[ $# -ge 1 ] || { echo "usage: recorder_ab.sh LIB_A.so [LIB_B.so ...]" >&2; exit 2; }
[ -x "$LARSON" ] || { echo "recorder_ab.sh: $LARSON missing (npm run build, or make -C bench)" >&2; exit 2; }
TMPD=$(mktemp -d)
BIN=$TMPD/recorder_cost
gcc -O2 -pthread -o "$BIN" "$HERE/recorder_cost.c"
TR=$TMPD/t.hkt
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
loop_ns() { rm -f "$TR"*; env "$@" "$BIN" "$T" $((4000000 / T)) | awk '/^loop/ {print $2}'; rm -f "$TR"*; }
larson_ns() {
  rm -f "$TR"*
  env "$@" "$LARSON" "$T" 1024 8 128 $((400000 / T)) 2 12345 |
    awk '{ if (match($0, /[0-9.]+ ops\/s/)) { split(substr($0, RSTART, RLENGTH), a, " "); v = 1e9 / a[1] } } END { print v }'
  rm -f "$TR"*
}
for T in 1 2 4; do
  declare -A DL DR
  for i in $(seq "$RUNS"); do
    for L in "$@"; do
      n=$(loop_ns LD_PRELOAD="$L"); f=$(loop_ns LD_PRELOAD="$L" HAKMEM_TRACE="$TR" HAKMEM_TRACE_MODE=fast)
      DL[$L]+="$(awk -v f="$f" -v n="$n" 'BEGIN {print f - n}') "
      n=$(larson_ns LD_PRELOAD="$L"); f=$(larson_ns LD_PRELOAD="$L" HAKMEM_TRACE="$TR" HAKMEM_TRACE_MODE=fast)
      DR[$L]+="$(awk -v f="$f" -v n="$n" 'BEGIN {print f - n}') "
    done
  done
  line="threads $T:"
  for L in "$@"; do
    line+=$(printf "  %s loop +%.1f larson +%.1f" "$L" "$(echo ${DL[$L]} | tr ' ' '\n' | med)" \
      "$(echo ${DR[$L]} | tr ' ' '\n' | med)")
  done
  echo "$line ns/event"
  unset DL DR
done
rm -rf "$TMPD"
