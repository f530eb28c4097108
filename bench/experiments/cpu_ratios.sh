#!/bin/bash
# CPU-time ratios of table 1's workloads, paired run by run (docs/benchmarks.md notes, "Where the
# gaps come from"). Each row runs at 4x the iteration count npm run bench uses, so that CPU times
# are well above /usr/bin/time's 10 ms resolution.
#   usage: bench/experiments/cpu_ratios.sh LIBHAKMEM.so RUNS ROW...   (rows: larson random mid scratch prodcons)
# Prints, per row, the median over RUNS of glibc_cpu / hakmem_cpu and mimalloc_cpu / hakmem_cpu
# (above 1: hakmem uses less CPU), then every run's ratios; per-run times go to stderr.
set -euo pipefail
LIB=$1; RUNS=$2; shift 2
W=$(cd "$(dirname "$0")/../build/workloads" && pwd)
MI=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
[ -e "$MI" ] || { echo "mimalloc not installed (apt-get install libmimalloc2.0)" >&2; exit 2; }
declare -A ARGV=(
  [larson]="$W/larson 4 1024 8 128 1600000 4 12345"
  [random]="$W/random_mixed 40000000 256 42"
  [mid]="$W/mid_large_mt 2 1600000 2048 42"
  [scratch]="$W/cache_scratch 2 20000 8 1000"
  [prodcons]="$W/prodcons 2 2 4000000"
)
cpu() { /usr/bin/time -f "%U %S" env LD_PRELOAD="$1" ${ARGV[$2]} 2>&1 >/dev/null | tail -1 | awk '{print $1 + $2}'; }
med() { printf "%s\n" "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for row in "$@"; do
  [ -n "${ARGV[$row]:-}" ] || { echo "unknown row: $row" >&2; exit 2; }
  rg=(); rm_=()
  for i in $(seq "$RUNS"); do
    g=$(cpu "" "$row"); h=$(cpu "$LIB" "$row"); m=$(cpu "$MI" "$row")
    rg+=("$(echo "$g $h" | awk '{printf "%.3f", $1 / $2}')")
    rm_+=("$(echo "$m $h" | awk '{printf "%.3f", $1 / $2}')")
    echo "  $row run$i cpu s: glibc=$g hakmem=$h mimalloc=$m" >&2
  done
  echo "$row glibc/hakmem=$(med "${rg[@]}") mimalloc/hakmem=$(med "${rm_[@]}")  [${rg[*]}] [${rm_[*]}]"
done
