#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md: `safety-bot bench` at each size,
# the peer engines on the very same corpus and questions, and the dev set
# scored for every engine on the shipped corpus.
#
#   scripts/benchmarks.sh                 # shipped, 1k, 10k, 100k
#   SIZES="shipped 10000" scripts/benchmarks.sh
#
# Needs: cargo; for the peers `pip install jieba bm25s` and
# `apt-get install -y python3-xapian` (Xapian runs with /usr/bin/python3).
# SHARED points at the directory holding bench/peers.py and eval/ (default
# ../shared). Results go to target/bench/. Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED=${SHARED:-../shared}
OUT=${OUT:-target/bench}
SIZES=${SIZES:-"shipped 1000 10000 100000"}
PEERS="$SHARED/bench/peers.py"
BM25S_PYTHON=${BM25S_PYTHON:-python3}
XAPIAN_PYTHON=${XAPIAN_PYTHON:-/usr/bin/python3}

cargo build --release --locked
BIN=target/release/safety-bot
mkdir -p "$OUT"

{
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo || true
  grep MemTotal /proc/meminfo || true
  echo "load: $(cat /proc/loadavg)"
  rustc --version
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

for size in $SIZES; do
  grow=()
  [ "$size" != shipped ] && grow=(--entries "$size")
  echo "== safety-bot, $size"
  "$BIN" bench "${grow[@]}" \
    --save-corpus "$OUT/corpus-$size.jsonl" \
    --save-questions "$OUT/questions-$size.txt" | tee "$OUT/ours-$size.txt"
  echo "== bm25s-jieba, $size"
  "$BM25S_PYTHON" "$PEERS" bm25s-jieba "$OUT/corpus-$size.jsonl" \
    < "$OUT/questions-$size.txt" > /dev/null 2> "$OUT/bm25s-$size.json"
  cat "$OUT/bm25s-$size.json"
  echo "== xapian-cjk, $size"
  "$XAPIAN_PYTHON" "$PEERS" xapian-cjk "$OUT/corpus-$size.jsonl" \
    < "$OUT/questions-$size.txt" > /dev/null 2> "$OUT/xapian-$size.json"
  cat "$OUT/xapian-$size.json"
done

# Quality is only meaningful on the shipped corpus: the dev set asks about it.
if [ ! -f "$OUT/corpus-shipped.jsonl" ]; then
  "$BIN" export --output "$OUT/corpus-shipped.jsonl"
fi
rm -rf "$OUT/data-dev"
echo "== dev set: safety-bot"
python3 "$SHARED/eval/score.py" "$SHARED/eval/dev.jsonl" --json -- \
  "$BIN" --data-dir "$OUT/data-dev" ask --json | tee "$OUT/dev-ours.json"
echo "== dev set: bm25s-jieba"
python3 "$SHARED/eval/score.py" "$SHARED/eval/dev.jsonl" --json -- \
  "$BM25S_PYTHON" "$PEERS" bm25s-jieba "$OUT/corpus-shipped.jsonl" | tee "$OUT/dev-bm25s.json"
echo "== dev set: xapian-cjk"
python3 "$SHARED/eval/score.py" "$SHARED/eval/dev.jsonl" --json -- \
  "$XAPIAN_PYTHON" "$PEERS" xapian-cjk "$OUT/corpus-shipped.jsonl" | tee "$OUT/dev-xapian.json"
