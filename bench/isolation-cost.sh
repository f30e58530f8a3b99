#!/usr/bin/env bash
# Measures what the isolation work costs the clean-state paths: the
# driver benchmarks (BenchmarkDriver, rdsmux rows: point select,
# parameterized select, small transaction) and the pool's uncontended
# borrow (BenchmarkBorrowRelease), on a base revision and on the working
# tree, in alternating rounds in one run, and prints the median ns/op of
# each with the ratio now/base.
#
#   bench/isolation-cost.sh [BASE]   (default BASE: 4e18138, before it)
#   ROUNDS=5 BENCHTIME=2000x bench/isolation-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-4e18138}"
rounds="${ROUNDS:-3}"
benchtime="${BENCHTIME:-3000x}"
work="$(mktemp -d)"
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
run() { # dir label
	(cd "$1" && go test -run '^$' -bench 'BenchmarkDriver' -benchtime "$benchtime" -benchmem -count 1 . 2>/dev/null &&
		go test -run '^$' -bench '^BenchmarkBorrowRelease$' -benchmem -count 3 ./pool 2>/dev/null) |
		awk -v label="$2" '/^Benchmark/ {sub(/-[0-9]+$/, "", $1); print label, $1, $3}' >>"$work/results"
}
for i in $(seq "$rounds"); do
	run "$work/base" base
	run . now
done
awk '
	{v[$1 SUBSEP $2] = v[$1 SUBSEP $2] " " $3; names[$2] = 1}
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		printf "%-60s %12s %12s %7s\n", "benchmark", "base ns/op", "now ns/op", "ratio"
		for (n in names) {
			if (!((("base") SUBSEP n) in v) || !((("now") SUBSEP n) in v)) continue
			b = median(v["base" SUBSEP n]); w = median(v["now" SUBSEP n])
			printf "%-60s %12.0f %12.0f %7.2f\n", n, b, w, w / b
		}
	}' "$work/results" | sort
