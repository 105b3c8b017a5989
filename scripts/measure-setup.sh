#!/usr/bin/env bash
# Time `python3 scripts/patchset.py setup` at two commits of a repository, side by
# side, alternating OLD NEW OLD NEW ... in fresh clones (no fork, no venv yet).
#
# usage: measure-setup.sh [OLD [NEW [PAIRS]]]      defaults: c39b0c2 HEAD 3
# env:   SRC  repository to clone        (default: the one holding this script)
#        OUT  where clones/logs/results go (default: /tmp/measure-setup)
#
# Per run: OUT/<old|new>-<pair>/ is the clone, OUT/<old|new>-<pair>.out its
# stdout+stderr; one TSV row per run goes to OUT/runs.tsv. Prints a Markdown table,
# the medians, the ratio new/old of the medians and the range of per-pair ratios.
set -u

OLD=${1:-c39b0c2}
NEW=${2:-HEAD}
PAIRS=${3:-3}
SRC=${SRC:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}
OUT=${OUT:-/tmp/measure-setup}

resolve() {
    git -C "$SRC" rev-parse --verify --quiet "$1^{commit}" \
        || { echo "measure-setup: no commit $1 in $SRC" >&2; exit 2; }
}
OLD_SHA=$(resolve "$OLD")
NEW_SHA=$(resolve "$NEW")
mkdir -p "$OUT"
TSV="$OUT/runs.tsv"
printf 'pair\twhich\tcommit\tseconds\tlines\texit\tload\n' > "$TSV"

run_one() {  # pair which sha
    local pair=$1 which=$2 sha=$3
    local dir="$OUT/$which-$pair" log="$OUT/$which-$pair.out"
    rm -rf "$dir"
    git clone -q "$SRC" "$dir" && git -C "$dir" checkout -q "$sha" || {
        echo "measure-setup: cloning $sha into $dir failed" >&2; exit 2; }
    local load start end status lines secs
    load=$(uptime | sed 's/.*load average: //')
    echo "[$(date +%T)] pair $pair: $which (${sha:0:7}), load $load" >&2
    start=$(date +%s.%N)
    (cd "$dir" && python3 scripts/patchset.py setup) > "$log" 2>&1
    status=$?
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    lines=$(wc -l < "$log")
    echo "[$(date +%T)]   $secs s, $lines lines, exit $status" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$pair" "$which" "${sha:0:7}" "$secs" "$lines" "$status" "$load" >> "$TSV"
}

for pair in $(seq 1 "$PAIRS"); do
    run_one "$pair" old "$OLD_SHA"
    run_one "$pair" new "$NEW_SHA"
done

# Report: table, medians, ratio of medians, range of per-pair ratios.
awk -F'\t' '
    function median(v, n,    i, j, t) {
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) {
            t = v[j]; v[j] = v[j-1]; v[j-1] = t }
        return n % 2 ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
    }
    NR == 1 { print "| pair | which | commit | seconds | output lines | exit | load avg (1, 5, 15 min) |"
              print "|---|---|---|---|---|---|---|"; next }
    { print "| " $1 " | " $2 " | " $3 " | " $4 " | " $5 " | " $6 " | " $7 " |"
      t[$1, $2] = $4
      if ($2 == "old") o[++no] = $4; else w[++nw] = $4
      if ($6 != 0) bad = bad " " $2 "-" $1 "(exit " $6 ")" }
    END {
        mo = median(o, no); mn = median(w, nw)
        printf "\nmedian old: %.1f s, median new: %.1f s, new/old: %.3f\n", mo, mn, mn / mo
        lo = 1e9; hi = 0
        for (p = 1; (p, "old") in t && (p, "new") in t; p++) {
            r = t[p, "new"] / t[p, "old"]; printf "pair %d new/old: %.3f\n", p, r
            if (r < lo) lo = r; if (r > hi) hi = r }
        printf "per-pair ratio range: %.3f .. %.3f\n", lo, hi
        if (bad) print "non-zero exit:" bad
    }' "$TSV"
