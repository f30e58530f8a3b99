#!/usr/bin/env bash
# Pool benchmarks, rdsmux against jackc/puddle/v2 (the impl=rdsmux and
# impl=puddle sub-benchmarks of package pool and pool/internal/core), in
# alternating rounds of one run, so that a busy shared machine slows both
# alike. Each round runs every benchmark once per implementation; the
# ratio rdsmux/puddle is taken within the round. It prints, per benchmark,
# the median ns/op of each, the median ratio, its range over the rounds
# and the range of its middle half (the rounds between the quartiles).
#
# With a BASE revision it also builds that revision's test binaries and
# alternates base and working tree rounds, printing now/base for rdsmux.
#
#   scripts/poolbench.sh            # 10 rounds, 1s per benchmark
#   scripts/poolbench.sh 4e18138    # also against that revision
#   ROUNDS=5 BENCHTIME=500ms BENCH='BenchmarkBorrowRelease$' scripts/poolbench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-}"
rounds="${ROUNDS:-10}"
benchtime="${BENCHTIME:-1s}"
bench="${BENCH:-^Benchmark(BorrowRelease|BorrowReleaseContended|AcquireRelease|AcquireReleaseContended)$}"
work="$(mktemp -d)"
cleanup() {
	if [ -n "$base" ]; then git worktree remove --force "$work/base" >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

build() { # srcdir label
	(cd "$1" && go test -c -o "$work/$2.pool.test" ./pool/ && go test -c -o "$work/$2.core.test" ./pool/internal/core/)
}
labels="now"
build . now
if [ -n "$base" ]; then
	git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
	build "$work/base" base
	labels="base now"
fi

for i in $(seq "$rounds"); do
	for l in $labels; do
		for pkg in pool core; do
			"$work/$l.$pkg.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" -test.count 1 -test.benchmem |
				awk -v label="$l" -v round="$i" -v pkg="$pkg" '/^Benchmark/ {
					name = $1; sub(/-[0-9]+$/, "", name)
					impl = name; sub(/.*impl=/, "", impl); sub(/\/impl=.*/, "", name)
					print round, label, pkg "/" name, impl, $3, $5, $7
				}' >>"$work/results"
		done
	done
done

awk '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function range(s,   a, n, i, lo, hi) {
		n = split(s, a, " "); lo = hi = a[1]
		for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
		return sprintf("%.2f-%.2f", lo, hi)
	}
	function quartiles(s,   a, n, i, j, t) { # the middle half, a spread that one burst of load does not widen
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return sprintf("%.2f-%.2f", a[int((n + 3) / 4)], a[n + 1 - int((n + 3) / 4)])
	}
	{
		key = $2 SUBSEP $3; ns[key SUBSEP $4] = ns[key SUBSEP $4] " " $5; allocs[key SUBSEP $4] = $7
		t[$1 SUBSEP key SUBSEP $4] = $5; rounds[$1] = 1
		if (!($3 in names)) { names[$3] = 1; order[++nn] = $3 }
		if (!($2 in labels)) { labels[$2] = 1; lorder[++nl] = $2 }
	}
	END {
		printf "%-6s %-36s %10s %10s %7s %11s %11s %s\n", "rev", "benchmark", "rdsmux ns", "puddle ns", "ratio", "range", "middle half", "allocs r/p"
		for (li = 1; li <= nl; li++) for (ni = 1; ni <= nn; ni++) {
			l = lorder[li]; n = order[ni]
			key = l SUBSEP n; rs = ""
			for (r in rounds) if ((r SUBSEP key SUBSEP "rdsmux") in t && (r SUBSEP key SUBSEP "puddle") in t)
				rs = rs " " t[r SUBSEP key SUBSEP "rdsmux"] / t[r SUBSEP key SUBSEP "puddle"]
			if (rs == "") continue
			printf "%-6s %-36s %10.1f %10.1f %7.2f %11s %11s %s/%s\n", l, n, median(ns[key SUBSEP "rdsmux"]), median(ns[key SUBSEP "puddle"]),
				median(rs), range(rs), quartiles(rs), allocs[key SUBSEP "rdsmux"], allocs[key SUBSEP "puddle"]
		}
		if (!("base" in labels)) exit
		printf "\n%-43s %10s %7s %11s %11s\n", "rdsmux now/base", "", "ratio", "range", "middle half"
		for (ni = 1; ni <= nn; ni++) {
			n = order[ni]; rs = ""
			for (r in rounds) if ((r SUBSEP "base" SUBSEP n SUBSEP "rdsmux") in t && (r SUBSEP "now" SUBSEP n SUBSEP "rdsmux") in t)
				rs = rs " " t[r SUBSEP "now" SUBSEP n SUBSEP "rdsmux"] / t[r SUBSEP "base" SUBSEP n SUBSEP "rdsmux"]
			if (rs != "") printf "%-43s %10s %7.2f %11s %11s\n", n, "", median(rs), range(rs), quartiles(rs)
		}
	}' "$work/results"
echo "rounds: $rounds, benchtime: $benchtime, load: $(cut -d' ' -f1-3 /proc/loadavg)"
