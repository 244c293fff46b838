"""Lip sync on speech without motion capture: a folder of recordings, each with its transcript.

This is how lip sync is measured on real recordings (and on voices outside the
corpus, e.g. the Piper set of scripts/piper_speech_set.py): there is no ground
truth motion, only the words. Each speech file with a ``.txt`` beside it is
force-aligned to its transcript with pocketsphinx (the fit check of
``animate(text=...)`` included; a rejected transcript drops the clip and is
counted, and so does a clip whose phones could only be split evenly within the
words: too coarse to score at phone midpoints), and the takes of each model are scored at the aligned phones:

* lips closed at p/b/m midpoints (gap < 2 mm), per take and in every take;
* lips open at open-vowel midpoints (gap > 6 mm), per take;
* for a model with a bilabial detector, its recall (p/b/m midpoints with a
  heard frame within one frame) and its false alarms (open-vowel midpoints heard).

Columns: "model" is the takes as the model makes them (``seal_lips=False``),
"audio" what ``animate(audio)`` returns (sealed where the detector and the ear hear p/b/m; the
ear recognises words, as ``animate()``'s default; ``--listen phones``: as ``animate(audio, listen="phones")``),
"whisper" what ``animate(audio, listen="whisper")`` returns (``--whisper``: a transcript recognised by a
local Whisper model from the speech as heard, :mod:`probtalk.whisper_ear`; its recognition's seconds
per second of speech printed apart),
"text" what ``animate(audio, text=...)`` returns (``--text on``; the same
alignment then drives both the seal and the score, so it is an upper bound).
Takes are neutral, average speaker, without head motion, blinks or gaze.
``--pitch`` / ``--room`` move the speech (as in benchmarks/lipsync.py) before
alignment. ``--far-room DRR`` puts it through a milder room heard from a distance
(``probtalk.train.augment.far_room``: the direct sound and a 0.4 s tail DRR dB below it) and scores
it at the alignment of the speech as recorded (a room moves no phone); ``--condition NAME`` does the
same with one of ``conditions.py``'s conditions (rooms, noise, other voices, codecs, a voice moved up or
down, a faster or slower speaking rate: the alignment's times scaled with it); ``--no-dereverb``
lets the word ear hear the speech as it is (``probtalk.corpus.ear.DEREVERBERATE = False``).

Usage::

    python benchmarks/lipsync_speech.py --folder datasets/speech_joe --model new=probtalk/assets/default_model.pt
    python benchmarks/lipsync_speech.py --folder my_recordings --takes 3 --json out/speech.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from conditions import CONDITIONS, retimed  # benchmarks/, beside this script

import probtalk
from probtalk.audio import load_audio
from probtalk.cli.animate_cmd import AUDIO_SUFFIXES
from probtalk.eval.evaluate import motion_to_vertices
from probtalk.eval.lipsync import CLOSED_GAP_M, OPEN_GAP_M, lip_gap, phone_midpoints
from probtalk.flame import load_rig
from probtalk.flame.layer import FlameLayer
from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.options import DEFAULT_VARIATION
from probtalk.train.augment import far_room, moved_voice


def speech_files(folder: Path) -> list[tuple[Path, str]]:
    """(audio, transcript) for every audio file in ``folder`` with a non-empty ``.txt`` beside it."""
    pairs = []
    for path in sorted(folder.iterdir()):
        txt = path.with_suffix(".txt")
        if path.suffix.lower() in AUDIO_SUFFIXES and txt.is_file():
            text = txt.read_text(encoding="utf-8").strip()
            if text:
                pairs.append((path, text))
    return pairs


def aligned_entry(audio: np.ndarray, text: str) -> dict[str, Any]:
    """One clip's forced alignment to its transcript, as the ``--align-cache`` JSON keeps it.

    No detector here (unlike animate's fit check): the alignment is also what the clip is scored
    against, and a clip kept because the detector heard its p/b/m would favour the "audio" column."""
    from probtalk.transcript import align_transcript

    r = align_transcript(audio, text)
    return {"used": r.used, "seconds": r.seconds, "reason": r.reason, "phone_level": r.phone_level,
            "phones": [[p.start, p.end, p.phone] for p in r.phones] if r.used and r.phones else None}


class Tally:
    """Counts for one (model, column) cell."""

    def __init__(self) -> None:
        self.closed = self.closed_all = self.closed_total = 0
        self.opened = self.opened_total = 0
        self.takes = 0

    def add(self, gaps: np.ndarray, closed: list[int], opened: list[int]) -> None:
        for k in closed:
            shut = gaps[:, k] < CLOSED_GAP_M
            self.closed += int(shut.sum())
            self.closed_all += int(shut.all())
            self.closed_total += 1
        for k in opened:
            self.opened += int((gaps[:, k] > OPEN_GAP_M).sum())
            self.opened_total += gaps.shape[0]
        self.takes = gaps.shape[0]

    def row(self) -> dict[str, float]:
        def rate(a: float, b: float) -> float:
            return a / b if b else math.nan

        return {"closure_take": rate(self.closed, self.closed_total * max(1, self.takes)),
                "closure_every_take": rate(self.closed_all, self.closed_total),
                "opening_take": rate(self.opened, self.opened_total), "bilabials": self.closed_total}


def gaps_of(takes: list[Any], layer: FlameLayer, rig: Any, frames: int) -> np.ndarray:
    """Lip gap [takes, frames] of animations (expression and jaw only; shape, neck and eyes zero)."""
    rows = []
    for a in takes:
        motion = np.concatenate([a.expression[:frames, :50], a.jaw_pose[:frames]], axis=1)
        rows.append(lip_gap(motion_to_vertices(layer, motion), rig))
    return np.stack(rows)


_RECOGNISED: dict[str, float] = {}


def _time_recognition() -> None:
    """Time Whisper's recognition inside ``animate(listen="whisper")`` (its seconds, apart from the rest)."""
    from probtalk import whisper_ear

    if getattr(whisper_ear.recognise, "timed", False):
        return
    plain = whisper_ear.recognise

    def timed(*a: Any, **k: Any) -> str:
        t = time.perf_counter()
        try:
            return plain(*a, **k)
        finally:
            _RECOGNISED["seconds"] = _RECOGNISED.get("seconds", 0.0) + time.perf_counter() - t

    timed.timed = True  # type: ignore[attr-defined]
    whisper_ear.recognise = timed


def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: --folder {folder} is not a folder; give one holding speech files with a .txt beside each",
              file=sys.stderr)
        raise SystemExit(2)
    pairs = speech_files(folder)[: args.limit or None]
    if not pairs:
        print(f"error: {folder} holds no speech file with a transcript (.txt) beside it", file=sys.stderr)
        raise SystemExit(2)
    rig = load_rig()
    layer = FlameLayer(rig)
    models = {}
    for spec in args.model:
        name, _, path = spec.partition("=")
        models[name] = probtalk.load_model(path or name, device="cpu")
    cache_path = Path(args.align_cache) if args.align_cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    tag = f"#pitch{args.pitch:g}{'+room' if args.room else ''}" if args.pitch or args.room else ""
    cells: dict[tuple[str, str], Tally] = {}
    heard: dict[str, list[int]] = {}
    recognised: dict[str, list[float]] = {}  # per model: recognised transcripts used, clips, Whisper's seconds, speech's
    rejected, coarse, seconds = [], [], []
    if args.whisper:
        _time_recognition()
    common = {"num_samples": args.takes, "temperature": args.temperature, "variation": args.variation,
              "head_motion": 0.0, "blinks": False, "gaze": False}
    others = None  # the set's clips, for a condition that mixes in other voices
    for n, (path, text) in enumerate(pairs):
        audio = load_audio(path)
        if tag:
            audio = moved_voice(audio, args.pitch, args.room, n)
        key = path.name + tag
        if key not in cache:
            cache[key] = aligned_entry(audio, text)
        entry = cache[key]
        seconds.append(entry["seconds"])
        if not entry["used"]:
            rejected.append(path.name)
            print(f"{n + 1}/{len(pairs)} {path.name}: transcript rejected ({entry['reason']})", file=sys.stderr)
            continue
        if not entry.get("phone_level", True):
            coarse.append(path.name)
            continue
        phones = [tuple(p) for p in entry["phones"]]
        if args.far_room is not None:  # aligned as recorded, heard through the room
            audio = far_room(audio, args.far_room, n)
        if args.condition:  # aligned as recorded, heard in the condition
            if others is None:
                others = [load_audio(p) for p, _ in pairs]
            audio = CONDITIONS[args.condition](audio, n, others)
            phones = retimed(phones, args.condition)  # a speaking-rate condition moves every phone
        for name, model in models.items():
            frames = max(1, int(round(audio.size * model.fps / AUDIO_SAMPLE_RATE)))
            closed, opened = phone_midpoints(phones, model.fps, frames)
            runs = {"model": {"seal_lips": False}, "audio": {"listen": args.listen}}
            if args.whisper:  # a transcript recognised by Whisper from the speech as heard
                runs["whisper"] = {"listen": "whisper", "whisper_model": args.whisper_model}
            if args.text == "on":
                runs["text"] = {"text": text}
            for column, extra in runs.items():
                takes = model.animate(audio, AUDIO_SAMPLE_RATE, seed=args.seed + n, **common, **extra)
                if column == "whisper":
                    used = recognised.setdefault(name, [0, 0, 0.0, 0.0])
                    used[0] += bool(takes[0].meta["text_used"])
                    used[1] += 1
                    used[2] += _RECOGNISED.pop("seconds", 0.0)
                    used[3] += audio.size / AUDIO_SAMPLE_RATE
                cells.setdefault((name, column), Tally()).add(gaps_of(takes, layer, rig, frames), closed, opened)
            net = model.bilabial_net
            if net is not None:
                on = net.frames(audio, model.fps, frames)
                near = np.convolve(on.astype(float), np.ones(3), mode="same") > 0
                h = heard.setdefault(name, [0, 0, 0, 0])
                h[0] += int(sum(near[k] for k in closed))
                h[1] += len(closed)
                h[2] += int(sum(on[k] for k in opened))
                h[3] += len(opened)
        print(f"{n + 1}/{len(pairs)} {path.name}", file=sys.stderr, flush=True)
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache))
    return {
        "folder": str(folder), "clips": len(pairs), "rejected": rejected, "coarse": coarse, "takes": args.takes,
        "temperature": args.temperature, "variation": args.variation,
        "perturbation": "+".join(x for x in (tag.lstrip("#"), f"far room DRR {args.far_room:g} dB" if args.far_room is not None else "",
                                              args.condition or "", "no dereverberation" if args.no_dereverb else "") if x) or None,
        "alignment_seconds_per_clip": float(np.mean(seconds)) if seconds else math.nan,
        "cells": {f"{m}|{c}": t.row() for (m, c), t in cells.items()},
        "detector": {m: {"recall": h[0] / max(1, h[1]), "false_alarms": h[2] / max(1, h[3])} for m, h in heard.items()},
        "whisper": {m: {"used": int(u[0]), "clips": int(u[1]), "seconds_per_second": u[2] / max(u[3], 1e-9)}
                    for m, u in recognised.items()},
    }


def report(res: dict[str, Any]) -> None:
    def pct(x: float) -> str:
        return "–" if math.isnan(x) else f"{100 * x:.0f}%"

    print(f"\n{res['folder']}{' (' + res['perturbation'] + ')' if res['perturbation'] else ''}: "
          f"{res['clips'] - len(res['rejected']) - len(res['coarse'])} of {res['clips']} clips scored "
          f"({len(res['rejected'])} transcripts rejected, {len(res['coarse'])} aligned only word by word), "
          f"{res['takes']} takes at T = {res['temperature']:g}, variation {res.get('variation', DEFAULT_VARIATION):g}")
    models = list(dict.fromkeys(k.split("|")[0] for k in res["cells"]))  # in the order of --model
    columns = [c for c in ("model", "audio", "whisper", "text") if any(f"{m}|{c}" in res["cells"] for m in models)]
    head = [f"{m}: {c}" for m in models for c in columns if f"{m}|{c}" in res["cells"]]
    rows = [("p/b/m closed, per take", "closure_take"), ("p/b/m closed in every take", "closure_every_take"),
            ("open vowels open, per take", "opening_take")]
    print("| | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for label, key in rows:
        vals = [pct(res["cells"][f"{m}|{c}"][key]) for m in models for c in columns if f"{m}|{c}" in res["cells"]]
        print(f"| {label} | " + " | ".join(vals) + " |")
    bil = next(iter(res["cells"].values()))["bilabials"] if res["cells"] else 0
    print(f"p/b/m midpoints scored: {bil}")
    for m, d in res["detector"].items():
        print(f"detector of {m}: hears {pct(d['recall'])} of p/b/m, marks {pct(d['false_alarms'])} of open vowels")
    for m, w in res.get("whisper", {}).items():
        print(f"whisper column of {m}: the recognised transcript used on {w['used']} of {w['clips']} clips; "
              f"recognition {w['seconds_per_second']:.3f} s per second of speech")
    print(f"forced alignment: {res['alignment_seconds_per_clip']:.2f} s per clip")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", required=True, help="speech files, each with its transcript in a .txt beside it")
    ap.add_argument("--model", action="append", default=None, help="name=checkpoint (repeatable; default: the embedded model)")
    ap.add_argument("--takes", type=int, default=3)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--variation", type=float, default=DEFAULT_VARIATION, help="the takes' performance variation (animate's variation)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N clips only (0: all)")
    ap.add_argument("--text", choices=("on", "off"), default="on")
    ap.add_argument("--listen", choices=("phones", "words"), default="words",
                    help="the audio column's listen option (how the seal hears p, b and m without a transcript)")
    ap.add_argument("--whisper", action="store_true",
                    help="add a column animated with listen='whisper' (a transcript recognised by a local Whisper model)")
    ap.add_argument("--whisper-model", default=None,
                    help="the Whisper folder for --whisper (default: $PROBTALK_WHISPER_MODEL, else models/whisper-base)")
    ap.add_argument("--pitch", type=float, default=0.0, help="shift the speech by this many semitones")
    ap.add_argument("--room", action="store_true", help="add a reverb tail and noise (20 dB SNR)")
    ap.add_argument("--far-room", type=float, default=None, metavar="DRR",
                    help="put the speech through a room heard from a distance, DRR dB direct-to-reverberant")
    ap.add_argument("--condition", choices=[c for c in CONDITIONS if c != "as recorded"], default=None,
                    help="hear the speech in one of conditions.py's conditions (scored at its alignment as recorded)")
    ap.add_argument("--no-dereverb", action="store_true", help="the word ear hears the speech as it is")
    ap.add_argument("--align-cache", default=None, help="JSON file keeping the forced alignments between runs")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.no_dereverb:
        from probtalk.corpus import ear

        ear.DEREVERBERATE = False
    args.model = args.model or ["default=default"]
    torch.set_num_threads(2)
    t = time.perf_counter()
    res = run(args)
    report(res)
    print(f"({time.perf_counter() - t:.0f} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
