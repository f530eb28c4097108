#!/usr/bin/env bash
# real_programs.sh: real programs under LD_PRELOAD=libhakmem.so must give byte-identical output
# to running without it. Usage: native/tests/real_programs.sh [path/to/libhakmem.so]
# Prints one line per program and a final "N passed, M failed"; exit 1 on any failure.
# Optional: HAKMEM_STATS=1 in the environment shows the allocator's counters per process.
set -u
here=$(cd "$(dirname "$0")" && pwd)
lib=${1:-$here/../build/libhakmem.so}
lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib")
[ -f "$lib" ] || { echo "no $lib (run make -C native first)"; exit 2; }
work=$(mktemp -d /tmp/hakmem-real.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0

# compare NAME CMD...: run CMD with and without the allocator, compare stdout and exit status
compare() {
  local name=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$work" && "$@") >"$work/plain.out" 2>"$work/plain.err"
  local rc0=$?
  t1=$(date +%s.%N)
  (cd "$work" && LD_PRELOAD="$lib" "$@") >"$work/hak.out" 2>"$work/hak.err"
  local rc1=$?
  local t2
  t2=$(date +%s.%N)
  if [ $rc0 -eq $rc1 ] && cmp -s "$work/plain.out" "$work/hak.out"; then
    pass=$((pass + 1))
    printf 'ok   %-28s %10s bytes  plain %.2fs  hakmem %.2fs\n' "$name" \
      "$(wc -c <"$work/hak.out")" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
  else
    fail=$((fail + 1))
    echo "FAIL $name: status $rc0 vs $rc1; output differs: $(cmp "$work/plain.out" "$work/hak.out" 2>&1 | head -1)"
    head -5 "$work/hak.err"
  fi
}

# inputs
seq 1 1500000 | awk '{ printf "%08x %s line-%d\n", ($1 * 2654435761) % 4294967296, $1, $1 % 977 }' >"$work/big.txt"
cat >"$work/alloc.py" <<'EOF'
import random
random.seed(7)
d = {}
for i in range(300000):
    k = random.randrange(50000)
    d[k] = [str(i) * (i % 7), bytes(i % 300), {"a": i}]
    if i % 3 == 0:
        d.pop(random.randrange(50000), None)
s = sorted((k, len(v[0]), len(v[1])) for k, v in d.items())
print(len(d), sum(x[1] for x in s), sum(x[2] for x in s))
big = [bytearray(random.randrange(1, 200000)) for _ in range(300)]
print(sum(len(b) for b in big))
EOF
cat >"$work/alloc.js" <<'EOF'
let m = new Map(); let x = 1;
for (let i = 0; i < 400000; i++) {
  x = (x * 1103515245 + 12345) % 2147483648;
  m.set(x % 60000, { s: 'v' + i, a: new Array(i % 50).fill(i), b: Buffer.alloc(i % 3000) });
  if (i % 4 === 0) m.delete((x >> 3) % 60000);
}
let t = 0; for (const [k, v] of m) t += v.a.length + v.b.length + v.s.length;
console.log(m.size, t);
EOF
cat >"$work/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; int v; };
int main(void) {
  struct node *h = NULL;
  for (int i = 0; i < 100000; i++) { struct node *n = malloc(sizeof *n); n->v = i; n->next = h; h = n; }
  long s = 0; while (h) { struct node *n = h->next; s += h->v; free(h); h = n; }
  printf("%ld\n", s);
  return 0;
}
EOF
git init -q "$work/repo" && (
  cd "$work/repo" && git config user.email t@example.com && git config user.name t &&
  for i in $(seq 1 40); do echo "change $i" >>f.txt; seq 1 $((i * 50)) >g.txt; git add -A; GIT_AUTHOR_DATE="2020-01-01T00:00:$((i % 60))" GIT_COMMITTER_DATE="2020-01-01T00:00:$((i % 60))" git commit -qm "commit $i"; done
)

compare "ls -R /usr" ls -R /usr
compare "ls -laR /usr/share" ls -laR /usr/share
compare "sort --parallel=2 (MBs)" sort --parallel=2 -S 64M big.txt
compare "sort -k2n | uniq -c" bash -c 'sort -k3,3 -k2n big.txt | cut -d" " -f3 | uniq -c | sort -rn | head -50'
compare "python3 alloc-heavy" python3 alloc.py
compare "git log -p" git -C repo log -p --stat
compare "gcc -O2 compile+run" bash -c 'gcc -O2 -o prog prog.c && ./prog && gcc -O2 -c prog.c -o prog.o && md5sum prog.o'
if command -v node >/dev/null; then compare "node alloc-heavy" node alloc.js; fi
compare "bash pipeline fork/exec" bash -c 'for i in $(seq 1 200); do echo "$i $((i * i))"; done | while read a b; do expr $a + $b; done | sort -n | tail -3; (echo x | tr x y) | cat'
compare "tar | gzip | md5" bash -c 'tar -C /usr/include -cf - . 2>/dev/null | gzip -1 | gunzip | md5sum'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
