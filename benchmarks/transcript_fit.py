"""The transcript fit check: how often it keeps a correct transcript and refuses a wrong one.

For clips of a generated corpus, each as synthesised and moved off the corpus' voices
(pitch and formants shifted at constant duration, a room's reverb and noise: the
proxies for real recordings of ``benchmarks/lipsync.py --pitch/--room``), it runs
:func:`probtalk.transcript.align_transcript` (what ``model.animate(text=...)`` runs) on:

* ``right``: the clip's own sentence (should be used);
* ``drop1``: the sentence less one word in the middle (near-right; either way is fine);
* ``half``: only the first half of the words (should be refused);
* ``reversed``: the same words backwards (should be refused);
* ``other``: a different sentence of the split (should be refused).

It prints, per transcript kind and speech condition, how many were used, and the
percentiles of the fit and of the uncovered share (see :func:`probtalk.transcript.acoustic_fit`)
that the thresholds in ``probtalk/transcript.py`` were set from. The check gets the default
model's bilabial detector, as ``animate(text=...)`` does (``--detector none``: the acoustic
check alone; ``--detector MODEL``: that checkpoint's). Only ``used`` and ``reason`` are read
from each result, so the same script measures an older fit check too
(``PYTHONPATH=<old checkout> python benchmarks/transcript_fit.py ...``; a check that takes no
detector runs without one).

Usage::

    python benchmarks/transcript_fit.py --data datasets/synth3 --limit 12 --json out/fit.json
    python benchmarks/transcript_fit.py --data datasets/synth3 --split val --limit 12   # held-out clips
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.data.dataset import MotionDataset
from probtalk.train.augment import moved_voice
from probtalk.transcript import align_transcript

SPLITS = ("test", "test_unseen_speakers", "test_unseen_engine")
# name -> (semitones, room)
CONDITIONS = {"clean": (0.0, False), "room": (0.0, True), "-3 st": (-3.0, False), "+3 st, room": (3.0, True),
              "+5 st": (5.0, False), "-5 st, room": (-5.0, True)}
KINDS = ("right", "drop1", "half", "reversed", "other")


def _transcripts(text: str, others: list[str]) -> dict[str, str | None]:
    words = text.split()
    other = next((o for o in others if o != text), None)  # splits may repeat a sentence across voices
    return {
        "right": text,
        "drop1": " ".join(words[: len(words) // 2] + words[len(words) // 2 + 1:]) if len(words) > 2 else None,
        "half": " ".join(words[: max(1, len(words) // 2)]),
        "reversed": " ".join(words[::-1]),
        "other": other,
    }


def _detector(spec: str) -> Any:
    """The bilabial detector of model ``spec`` ("default" or a checkpoint), or None for "none"."""
    if spec == "none":
        return None
    from probtalk.api import default_model_path
    from probtalk.models.checkpoint import load_checkpoint

    return load_checkpoint(default_model_path() if spec == "default" else spec)[1].bilabial


def run(args: argparse.Namespace) -> dict[str, Any]:
    logging.disable(logging.WARNING)  # "aligned 3 of 8 words" lines are expected for wrong transcripts
    ear = _detector(args.detector)
    extra = {"bilabial": ear} if ear is not None and "bilabial" in inspect.signature(align_transcript).parameters else {}
    results: dict[str, Any] = {"cases": [], "detector": args.detector if extra else "none"}
    for split in args.split:
        data = MotionDataset(args.data, split)
        idx = np.linspace(0, len(data) - 1, min(args.limit, len(data))).astype(int)
        texts = [json.loads((Path(args.data) / "align" / f"{data[int(i)].keyid}.json").read_text())["text"] for i in idx]
        for n, i in enumerate(idx):
            sample = data[int(i)]
            others = texts[n + 1:] + texts[:n]
            for cond, (pitch, room) in CONDITIONS.items():
                audio = moved_voice(sample.audio, pitch, room, int(i)) if (pitch or room) else sample.audio
                for kind, text in _transcripts(texts[n], others).items():
                    if text is None:
                        continue
                    t = time.perf_counter()
                    r = align_transcript(audio, text, **extra)
                    results["cases"].append({
                        "split": split, "clip": sample.keyid, "condition": cond, "kind": kind, "used": bool(r.used),
                        "aligned": r.phones is not None, "fit": getattr(r, "fit", math.nan),
                        "uncovered": getattr(r, "uncovered", math.nan), "heard": getattr(r, "heard", math.nan),
                        "reason": r.reason,
                        "seconds": time.perf_counter() - t,
                    })
            print(f"[{split}] {n + 1}/{len(idx)} {sample.keyid}", file=sys.stderr, flush=True)
    return results


def report(results: dict[str, Any]) -> None:
    cases = results["cases"]
    conds = list(CONDITIONS)
    print("\n== transcripts used (of those given); the first row should be all used, the last three none")
    print(f"{'transcript':10s} " + " ".join(f"{c:>12s}" for c in conds))
    for kind in KINDS:
        cells = []
        for c in conds:
            v = [x for x in cases if x["kind"] == kind and x["condition"] == c]
            cells.append(f"{sum(x['used'] for x in v):>5d} / {len(v):<4d}")
        print(f"{kind:10s} " + " ".join(f"{s:>12s}" for s in cells))
    right = [x for x in cases if x["kind"] == "right"]
    print("\ncorrect transcripts that failed to align at all: "
          + ", ".join(f"{c} {sum(not x['aligned'] for x in right if x['condition'] == c)}" for c in conds))
    if any(not math.isnan(x["fit"]) for x in cases):
        print("\n== fit and uncovered share, percentiles 0/10/50/90/100 (aligned cases)")
        for kind in KINDS:
            v = [x for x in cases if x["kind"] == kind and x["aligned"] and not math.isnan(x["fit"])]
            if v:
                fit = np.percentile([x["fit"] for x in v], [0, 10, 50, 90, 100])
                unc = np.percentile([x["uncovered"] for x in v], [0, 10, 50, 90, 100])
                print(f"{kind:10s} fit {np.round(fit, 2)}  uncovered {np.round(unc, 2)}")
    by_ear = [x for x in cases if x["used"] and not math.isnan(x.get("heard", math.nan))]
    print(f"\nused because the detector heard the p/b/m of a fit just below the bar ({results.get('detector')}): "
          + ", ".join(f"{k} {sum(x['kind'] == k for x in by_ear)}" for k in KINDS))
    secs = [x["seconds"] for x in cases]
    print(f"\nseconds per check: median {np.median(secs):.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a generated corpus (probtalk data generate)")
    ap.add_argument("--split", action="append", help=f"splits (repeatable; default {', '.join(SPLITS)})")
    ap.add_argument("--limit", type=int, default=12, help="clips per split, spread evenly")
    ap.add_argument("--json", default=None, help="write every case here")
    ap.add_argument("--detector", default="default",
                    help="model whose bilabial detector the check asks (default: the embedded default; none: no detector)")
    args = ap.parse_args()
    args.split = args.split or list(SPLITS)
    results = run(args)
    report(results)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
