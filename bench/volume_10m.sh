#!/usr/bin/env bash
# Ten million logged predictions end to end (issue 11; docs/bench-monitor-volume.md, "10,000,000 predictions"):
# write the data, ingest it, check it as windows of 500, check again with nothing new.
# Usage: bash bench/volume_10m.sh [FOLDER]   (about 20 minutes and 12 GB of disk on a 2-core machine)
set -euo pipefail
BENCH="$(cd "$(dirname "$0")" && pwd)"
FOLDER="${1:-$(mktemp -d)}"
mkdir -p "$FOLDER" && cd "$FOLDER"
python - "$BENCH" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import bench_monitor_volume as b
start = time.perf_counter()
if not Path("current.jsonl").exists():
    b.write_jsonl(Path("current.jsonl"), b.rows(10_000_000, 2, 1.0))
if not Path("reference.csv").exists():
    b.write_csv(Path("reference.csv"), b.rows(20_000, 1))
print(f"data written in {time.perf_counter() - start:.0f} s", flush=True)
PY
rm -f s.db s.db-*
NUMERIC=$(python -c "print(','.join(f'num_{i:02d}' for i in range(15)))")
goldband monitor reference m reference.csv --store s.db --numeric "$NUMERIC" --categorical cat_0,cat_1,cat_2,cat_3,cat_4 >/dev/null
/usr/bin/time -f "ingest: %e s wall, %U s user, %M KB peak" goldband monitor log m current.jsonl --store s.db
ls -la s.db
printf 'store: s.db\nmonitors:\n  models: {}\n' > goldband.yaml
/usr/bin/time -f "check, windows of 500: %e s wall, %U s user, %M KB peak" goldband monitor check m --no-eval | grep "new window"
/usr/bin/time -f "check again, nothing new: %e s wall" goldband monitor check m --no-eval | grep "new window"
ls -la s.db
