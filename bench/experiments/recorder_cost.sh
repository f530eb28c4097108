#!/bin/bash
# Recorder cost per event at 1, 2 and 4 threads, median of RUNS (default 5), by CPU time:
#   loop:  the workload threads' own CPU per event, recording minus not recording;
#   total: the process's user+sys per event, recording minus not (adds what runs at exit,
#          e.g. the merge of fast-mode chunks into version 1).
# usage: bench/experiments/recorder_cost.sh [LIBHAKMEM] [RUNS]
# Columns: fast (per-thread chunks), fast with HAKMEM_TRACE_CHUNKS=0 (one shared counter), exact.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=${1:-$HERE/../../native/build/libhakmem.so}
RUNS=${2:-5}
BIN=$(mktemp -d)/recorder_cost
gcc -O2 -pthread -o "$BIN" "$HERE/recorder_cost.c"
TR=$(mktemp -u /tmp/recorder-cost-XXXXXX).hkt
EVENTS=8000000 # 4M rounds of 2 calls, split over the threads
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# one run: prints "loop_ns total_s"
one() {
  local t=$1; shift
  rm -f "$TR"*
  local out
  out=$( { /usr/bin/time -f "%U %S" env LD_PRELOAD="$LIB" "$@" "$BIN" "$t" $((4000000 / t)); } 2>&1 )
  rm -f "$TR"*
  echo "$out" | awk '/^loop/ {l=$2} /^[0-9.]+ [0-9.]+$/ {s=$1+$2} END {print l, s}'
}
for T in 1 2 4; do
  declare -A L S
  for i in $(seq "$RUNS"); do
    for m in none fast counter exact; do
      case $m in
        none) r=$(one $T) ;;
        fast) r=$(one $T env HAKMEM_TRACE="$TR" HAKMEM_TRACE_MODE=fast) ;;
        counter) r=$(one $T env HAKMEM_TRACE="$TR" HAKMEM_TRACE_MODE=fast HAKMEM_TRACE_CHUNKS=0) ;;
        exact) r=$(one $T env HAKMEM_TRACE="$TR" HAKMEM_TRACE_MODE=exact) ;;
      esac
      L[$m]+="${r% *} "; S[$m]+="${r#* } "
    done
  done
  line="threads $T:"
  bl=$(echo ${L[none]} | tr ' ' '\n' | med); bs=$(echo ${S[none]} | tr ' ' '\n' | med)
  for m in fast counter exact; do
    ml=$(echo ${L[$m]} | tr ' ' '\n' | med); ms=$(echo ${S[$m]} | tr ' ' '\n' | med)
    line+=$(awk -v m=$m -v a=$ml -v b=$bl -v c=$ms -v d=$bs -v e=$EVENTS 'BEGIN {printf "  %s +%.1f loop / +%.1f total ns/event", m, a-b, (c-d)*1e9/e}')
  done
  echo "$line   (no recording: ${bl} ns/event loop)"
  unset L S
done
