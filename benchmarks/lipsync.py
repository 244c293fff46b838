"""Lip-sync and retake benchmark: closure, opening, LVE/MEE/CE, diversity, speed; model beside baseline.

For each split (test, test_unseen_speakers, test_unseen_engine) and each model,
with and without the transcript, it prints:

* lips closed at p/b/m midpoints (gap < 2 mm): pooled over takes, and at how
  many midpoints *every* take closes; lips open at open-vowel midpoints (with text
  also "text+seal": the takes after :mod:`probtalk.lipseal`, as ``animate(text=...)``
  returns them, a refused transcript's clip audio-only and sealed as below; for a
  model with a bilabial detector also "audio+seal": the audio-only takes sealed
  where the detector or word recognition hears p/b/m
  (:func:`probtalk.bilabial.heard_frames`, as ``animate()`` with its default ``listen="words"``;
  ``--ear phones``: free phone recognition instead, as ``animate(listen="phones")``; ``--ear
  detector``: the detector alone, the seal before the recogniser joined it) and at the
  deterministic take's brief closures, and opened at the open vowels of the words heard and those
  the model's open-vowel detector hears (:mod:`probtalk.vowels`; ``--vowel FILE`` or ``--vowel none``
  for another detector or none), as ``animate()`` returns them);
* LVE (first take), LVE averaged over the takes (each take's own LVE: a steadier estimate of one take's
  error than the first take alone), MEE (the LVE of the mean of the takes), CE (closest take), in m^2;
* diversity (the paper's: takes paired first half with second half, mean vertex
  L2; shape and pose zero) over the whole face, the lips and the upper face, at
  three temperatures (and with ``--variations 0,1,2`` at those performance variations, the
  ``variation`` option, at the default temperature, with the figures above); the deterministic
  take's closure;
* the takes' mean vertex speed relative to the ground truth's (1 = as lively);
* the ground truth's own closure and opening on the same clips (the corpus motion
  scored like a take: what a goal means on these clips).

``--speed`` adds the real-time factor of one take and of five takes of a 10 s
clip on 2 threads (torch; ``--onnx FOLDER`` also the onnxruntime fast path that
``probtalk animate`` uses), the bilabial detector's and the lip seal's cost on
their own, and the forced alignment's.
``--pitch SEMITONES`` and ``--room`` move the test speech off the corpus' voices
(pitch and formants shifted at the same duration; a 0.3 s reverb tail and noise at
20 dB SNR, seeded per clip), a proxy for the voices and rooms of real recordings;
the transcript is then aligned on the moved speech.
``--vq CKPT`` scores a stage-1 model's reconstruction of the ground truth instead
(can the codebook represent a two-frame closure?).

Usage::

    python benchmarks/lipsync.py --data datasets/synth --model new=probtalk/assets/default_model.pt \\
        --model old=runs/lipsync/old_default.pt --limit 30 --takes 10 --speed --json out/lipsync.json
    python benchmarks/lipsync.py --data datasets/synth --vq runs/lipsync/vq/best.pt --limit 40

With text, the transcript (``text`` in ``align/<keyid>.json``) is force-aligned
with pocketsphinx exactly as ``model.animate(audio, text=...)`` does (fit check
included: a rejected transcript means audio only); ``--text-source oracle`` uses the corpus' exact
phone timings instead, ``--text-source recognised`` pocketsphinx's phone recogniser (no
transcript) as the phone input, ``--text-source whisper`` the words a local Whisper model recognises
in the speech, force-aligned and fit-checked, the seal closing also where the ears hear a p, b or m
(what ``animate(audio, listen="whisper")`` gives: its "text+seal" column). ``--align-cache FILE`` keeps the alignments between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from probtalk.bilabial import (
    EDGE_MIN_P,
    BilabialNet,
    ear_marks,
    heard_frames,
    shown_frames,
    unheard_frames,
)
from probtalk.data.dataset import MotionDataset
from probtalk.emotions import EMOTIONS
from probtalk.eval import metrics as M
from probtalk.eval.evaluate import motion_to_vertices
from probtalk.eval.lipsync import CLOSED_GAP_M, OPEN_GAP_M, lip_gap, phone_midpoints
from probtalk.flame import load_rig
from probtalk.flame.layer import FlameLayer
from probtalk.lipseal import LipSeal, seal_takes, shown_bilabials, widen_to_heard
from probtalk.models.checkpoint import load_checkpoint
from probtalk.models.phone_tokens import phone_tokens
from probtalk.options import DEFAULT_VARIATION
from probtalk.train.augment import moved_voice
from probtalk.vowels import VowelNet, heard_vowels

SPLITS = ("test", "test_unseen_speakers", "test_unseen_engine")
DEFAULT_TEMPERATURE = 0.2


class Scores:
    """Sums for one (model, split, text, temperature) cell."""

    def __init__(self) -> None:
        self.frames = 0
        self.lve = self.lve_takes = self.mee = self.ce = 0.0
        self.closed = self.closed_all = self.closed_total = self.closed_det = 0
        self.opened = self.opened_total = 0
        self.div: dict[str, list[float]] = {"face": [], "lips": [], "upper": []}
        self.speed_ratio: list[float] = []

    def row(self) -> dict[str, float]:
        def rate(a: int, b: int) -> float:
            return a / b if b else math.nan

        def mean(xs: list[float]) -> float:
            return float(np.mean(xs)) if xs else math.nan

        f = self.frames or 1
        return {
            "closure_take": rate(self.closed, self.closed_total), "closure_every_take": rate(self.closed_all, self.closed_total),
            "closure_deterministic": rate(self.closed_det, self.closed_total), "bilabials": self.closed_total,
            "opening_take": rate(self.opened, self.opened_total),
            "lve": self.lve / f, "lve_takes": self.lve_takes / f, "mee": self.mee / f, "ce": self.ce / f,
            "diversity_mm": mean(self.div["face"]) * 1000, "diversity_lips_mm": mean(self.div["lips"]) * 1000,
            "diversity_upper_mm": mean(self.div["upper"]) * 1000, "speed_ratio": mean(self.speed_ratio),
        }


def _score(sc: Scores, takes: np.ndarray, det: np.ndarray | None, gt_motion: np.ndarray, phones: list[Any],
           layer: FlameLayer, rig: Any, regions: dict[str, np.ndarray], full: bool) -> None:
    frames = min(len(gt_motion), takes.shape[1])
    gt = motion_to_vertices(layer, gt_motion[:frames])
    preds = np.stack([motion_to_vertices(layer, m[:frames]) for m in takes])
    gaps = np.stack([lip_gap(p, rig) for p in preds])  # [N, T]
    closed, opened = phone_midpoints(phones or [], 25.0, frames)
    det_gap = lip_gap(motion_to_vertices(layer, det[:frames]), rig) if det is not None else None
    for k in closed:
        sc.closed += int((gaps[:, k] < CLOSED_GAP_M).sum())  # pooled over takes (divided by takes later)
        sc.closed_all += int((gaps[:, k] < CLOSED_GAP_M).all())
        sc.closed_total += 1
        if det_gap is not None:
            sc.closed_det += int(det_gap[k] < CLOSED_GAP_M)
    for k in opened:
        sc.opened += int((gaps[:, k] > OPEN_GAP_M).sum())
        sc.opened_total += len(gaps)
    if full:
        lips = regions["lips"]
        sc.frames += frames
        per_take = [float(M.lve_per_frame(p, gt, lips).sum()) for p in preds]
        sc.lve += per_take[0]
        sc.lve_takes += float(np.mean(per_take))
        sc.mee += float(M.mee_per_frame(preds, gt, lips).sum())
        sc.ce += float(M.ce_per_frame(preds, gt, lips).sum())
    if len(preds) >= 2:
        sc.div["face"].append(M.diversity(preds))
        sc.div["lips"].append(M.diversity(preds[:, :, regions["lips"]]))
        sc.div["upper"].append(M.diversity(preds[:, :, regions["upper"]]))
    v_gt = np.linalg.norm(np.diff(gt, axis=0), axis=-1).mean()
    v_pred = np.linalg.norm(np.diff(preds, axis=1), axis=-1).mean()
    sc.speed_ratio.append(float(v_pred / max(v_gt, 1e-12)))


def _audio_sealed(seal: LipSeal, takes: np.ndarray, det: np.ndarray, heard: np.ndarray,
                  phones: list[Any], p: np.ndarray, threshold: float,
                  detected: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """What ``animate()`` gives without a transcript (:func:`probtalk.lipseal.seal_takes`, as
    :meth:`probtalk.runtime.model.RuntimeModel.seal` calls it): the sampled takes, which keep the
    deterministic take's brief closures, and the deterministic take (``det``), sealed at the ear's marks
    (``heard``) and opened at the open vowels of the words heard (``phones``; none with phones) and of
    the open-vowel detector (``detected``); ``p``: the detector's probabilities, ``threshold`` its bar."""
    silent = unheard_frames(p, EDGE_MIN_P)
    sampled = seal_takes(seal, list(takes), heard, phones, 25.0, silent, unheard_frames(p, threshold), det,
                         detected, spread_anywhere=True)
    return np.stack(sampled.takes), seal_takes(seal, [det], heard, phones, 25.0, silent, detected=detected,
                                               spread_anywhere=True).takes[0]


def _style(talker: Any, sample: Any) -> Any:
    speaker = sample.speaker if sample.speaker in talker.vocabulary.speakers else None
    return talker.vocabulary.make(EMOTIONS[int(sample.emotion)], float(sample.intensity), speaker)


def _heard(detector: BilabialNet, audio: np.ndarray, p: np.ndarray, ear: str) -> tuple[np.ndarray, list[Any]]:
    """The audio-only seal's frames as ``animate()`` marks them (``p``: the detector's probabilities) and
    the phones whose open vowels it opens: ``ear`` "words" (``listen="words"``, the default: the p, b and m
    of recognised words, no bar; the words' phones) or "phones" (``listen="phones"``; no phones)."""
    from probtalk.corpus.ear import listen

    words = ear == "words"
    marks, phones, _ = ear_marks(detector, audio, 25.0, p.size, listen(audio, words).phones(), words, p)
    return marks, phones if words else []


def _check_id(ear: BilabialNet | None) -> str:
    """The fit check's settings and detector, as cached beside each alignment (another check re-aligns)."""
    from probtalk import transcript as tr

    net = "none" if ear is None else hashlib.sha1(b"".join(np.ascontiguousarray(v).tobytes()
                                                          for v in ear.to_arrays().values())).hexdigest()[:10]
    return f"{tr.MIN_FIT}/{tr.MAX_UNCOVERED}/{tr.FLOOR_FIT}/{tr.MIN_HEARD}/{net}"


def _text_phones(sample: Any, root: Path, source: str, cache: dict[str, Any], tag: str = "",
                 ear: BilabialNet | None = None, check: str | None = None) -> list[Any] | None:
    """Phones the model gets as its transcript input, or None when the transcript was rejected.

    ``tag`` names a perturbation of the speech (its alignments are cached apart); ``ear`` is the
    bilabial detector the fit check asks about a fit just below the bar (as ``animate(text=...)``),
    ``check`` its :func:`_check_id` (computed once per run by the caller; None: computed here)."""
    if source == "oracle":
        return sample.phones
    if source == "recognised":  # no transcript: pocketsphinx's phone recogniser on the speech
        key = f"{sample.keyid}{tag}#recognised"
        if key not in cache:
            from probtalk.corpus.align import align_phones

            t = time.perf_counter()
            phones = align_phones(sample.audio, None)
            cache[key] = {"used": True, "seconds": time.perf_counter() - t, "fit": None,
                          "phones": [[p.start, p.end, p.phone] for p in phones]}
        return cache[key]["phones"]
    key = sample.keyid + tag + ("#whisper" if source == "whisper" else "")
    check = _check_id(ear) if check is None else check
    if key not in cache or cache[key].get("check") != check:
        from probtalk.transcript import align_transcript

        if source == "whisper":  # what animate(listen="whisper") aligns: Whisper's transcript of the speech
            from probtalk.whisper_ear import recognise

            text = recognise(sample.audio)
        else:
            text = json.loads((root / "align" / f"{sample.keyid}.json").read_text())["text"]
        if not text.strip():  # no words heard: audio only, as animate() falls back
            cache[key] = {"used": False, "seconds": 0.0, "fit": None, "check": check, "phones": None, "text": text}
            return None
        r = align_transcript(sample.audio, text, ear)
        cache[key] = {"used": r.used, "seconds": r.seconds, "fit": r.fit, "uncovered": r.uncovered, "check": check,
                      "phones": [[p.start, p.end, p.phone] for p in r.phones] if r.used and r.phones else None}
    return cache[key]["phones"]


def run_models(args: argparse.Namespace) -> dict[str, Any]:
    rig = load_rig()
    layer = FlameLayer(rig)
    seal = LipSeal.from_rig(rig)
    regions = {"lips": np.asarray(rig.region("lips")), "upper": np.asarray(rig.region("upper_face"))}
    cache_path = Path(args.align_cache) if args.align_cache else None
    cache = json.loads(cache_path.read_text()) if cache_path and cache_path.is_file() else {}
    models, detectors, vowel_nets = {}, {}, {}
    for spec in args.model:
        name, _, path = spec.partition("=")
        talker, info = load_checkpoint(path)
        models[name] = talker.eval()
        detectors[name] = BilabialNet.load(args.bilabial) if args.bilabial else info.bilabial
        vowel_nets[name] = (None if args.vowel == "none" else VowelNet.load(args.vowel) if args.vowel else info.vowel)
    settings = _settings(args)
    ear = next(iter(detectors.values()), None)  # the fit check's detector: the first model's
    check = _check_id(ear)
    results: dict[str, Any] = {}
    for split in args.split:
        try:
            data = MotionDataset(args.data, split)
        except Exception as exc:  # noqa: BLE001 (a corpus without this split)
            print(f"[{split}] skipped: {exc}", file=sys.stderr)
            continue
        idx = np.linspace(0, len(data) - 1, min(args.limit, len(data))).astype(int)
        cells: dict[tuple[str, str, str], Scores] = {}
        truth = Scores()  # the corpus motion itself: what the goals mean on these clips
        rejected = 0
        tag = f"#pitch{args.pitch:g}{'+room' if args.room else ''}" if args.pitch or args.room else ""
        for n, i in enumerate(idx):
            sample = data[int(i)]
            if tag:
                sample = dataclasses.replace(sample, audio=moved_voice(sample.audio, args.pitch, args.room, int(i)))
            if args.align_only:
                _text_phones(sample, Path(args.data), "aligned", cache, tag, ear, check)
                if cache_path:
                    cache_path.write_text(json.dumps(cache))
                continue
            _score(truth, sample.motion[None], None, sample.motion, sample.phones, layer, rig, regions, full=False)
            audio = torch.from_numpy(sample.audio)[None]
            lengths = torch.tensor([audio.shape[1]])
            frames = torch.tensor([len(sample.motion)])
            text_phones = (_text_phones(sample, Path(args.data), args.text_source, cache, tag, ear, check)
                           if args.text != "off" else None)
            rejected += args.text != "off" and text_phones is None
            for name, talker in models.items():
                style = _style(talker, sample)
                conds = ["audio"] + (["text"] if args.text != "off" and talker.uses_phones else [])
                detector = detectors[name]
                p_heard = (detector.probabilities(sample.audio, 25.0, len(sample.motion))
                           if detector is not None else np.zeros(0))
                threshold = detector.threshold if detector is not None else 0.0
                silent = unheard_frames(p_heard, EDGE_MIN_P)  # where a vowel's centre may spread
                near = shown_frames(p_heard, threshold) if detector is not None else None  # the transcript's widening
                heard, heard_phones = (_heard(detector, sample.audio, p_heard, args.ear)
                                       if detector is not None and args.ear != "detector" else (near, []))
                detected = (heard_vowels(vowel_nets[name], sample.audio, 25.0, len(sample.motion))
                            if vowel_nets[name] is not None else [])  # animate() also opens the vowels its detector hears
                for cond in conds:
                    ph = None
                    if cond == "text" and text_phones is not None:
                        ph = torch.from_numpy(phone_tokens(text_phones, 25.0, len(sample.motion)))[None]
                    det, _ = talker.sample(audio, lengths, style, frames, temperature=None, phones=ph)
                    for t, (temp, variation) in settings.items():
                        gen = torch.Generator().manual_seed(args.seed + n)
                        takes, _ = talker.sample(audio, lengths, style, frames, num_samples=args.takes, temperature=temp,
                                                 generator=gen, phones=ph, variation=variation)
                        sc = cells.setdefault((name, cond, t), Scores())
                        _score(sc, takes.numpy(), det[0].numpy(), sample.motion, sample.phones, layer, rig, regions,
                               full=True)
                        if cond == "audio" and heard is not None:  # what animate() gives
                            sealed, det_sealed = _audio_sealed(seal, takes.numpy(), det[0].numpy(), heard, heard_phones,
                                                               p_heard, threshold, detected)
                            _score(cells.setdefault((name, "audio+seal", t), Scores()), sealed, det_sealed,
                                   sample.motion, sample.phones, layer, rig, regions, full=True)
                        if cond == "text":  # what animate(text=...) gives: the lips sealed on the aligned p/b/m;
                            # a refused transcript animates from the audio alone, sealed as without one
                            if ph is not None:
                                shown = shown_bilabials(text_phones or [], 25.0, len(sample.motion))
                                if near is not None:
                                    shown = widen_to_heard(shown, near)
                                if args.text_source == "whisper" and heard is not None:  # animate(listen="whisper")
                                    shown = shown | heard[: shown.size]  # seals what the ears hear beside the words
                                sealed = np.stack(seal_takes(seal, list(takes.numpy()), shown, text_phones or [], 25.0,
                                                             silent).takes)
                                det_sealed = seal_takes(seal, [det[0].numpy()], shown, text_phones or [], 25.0,
                                                        silent).takes[0]
                            elif heard is not None:
                                sealed, det_sealed = _audio_sealed(seal, takes.numpy(), det[0].numpy(), heard,
                                                                   heard_phones, p_heard, threshold, detected)
                            else:
                                sealed, det_sealed = takes.numpy(), det[0].numpy()
                            _score(cells.setdefault((name, "text+seal", t), Scores()), sealed, det_sealed,
                                   sample.motion, sample.phones, layer, rig, regions, full=True)
            print(f"[{split}] {n + 1}/{len(idx)} {sample.keyid}", file=sys.stderr, flush=True)
        if args.align_only:
            continue
        rows = {f"{m}|{c}|{t}": sc.row() for (m, c, t), sc in cells.items()}
        for r in rows.values():  # pooled over takes
            r["closure_take"] = r["closure_take"] / args.takes if not math.isnan(r["closure_take"]) else r["closure_take"]
        t_row = truth.row()
        results[split] = {"clips": len(idx), "transcripts_rejected": int(rejected), "cells": rows,
                          "truth": {k: t_row[k] for k in ("closure_take", "opening_take", "bilabials")}}
        _print_split(split, results[split], list(settings))
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache))
        secs = [v["seconds"] for v in cache.values()]
        if secs:
            results["alignment_seconds_per_clip"] = float(np.mean(secs))
    return results


def _settings(args: argparse.Namespace) -> dict[str, tuple[float, float]]:
    """The sampling settings scored, by label: each of ``--temperatures`` at variation 1 ("T=0.5"), then
    each other of ``--variations`` at the default temperature ("T=0.2,v=2")."""
    out = {f"T={float(t):g}": (float(t), DEFAULT_VARIATION) for t in args.temperatures.split(",")}
    for v in (float(x) for x in args.variations.split(",")):
        if v != DEFAULT_VARIATION:
            out[f"T={DEFAULT_TEMPERATURE:g},v={v:g}"] = (DEFAULT_TEMPERATURE, v)
    return out


def _print_split(split: str, res: dict[str, Any], temps: list[str]) -> None:
    cells = res["cells"]
    print(f"\n== {split}: {res['clips']} clips; transcripts rejected by the fit check: {res['transcripts_rejected']}")
    if "truth" in res:
        print(f"truth (the corpus motion): p/b/m closed {res['truth']['closure_take']:.1%} "
              f"(of {res['truth']['bilabials']}), open vowels open {res['truth']['opening_take']:.1%}")
    cols = sorted({k.rsplit("|", 1)[0] for k in cells})
    print(f"{'metric':42s}" + "".join(f"{c:>18s}" for c in cols))
    t0 = f"T={DEFAULT_TEMPERATURE:g}"
    lines = [("closed p/b/m, per take", "closure_take", "{:.1%}"), ("closed p/b/m, every take", "closure_every_take", "{:.1%}"),
             ("closed p/b/m, deterministic", "closure_deterministic", "{:.1%}"), ("open vowels open, per take", "opening_take", "{:.1%}"),
             ("LVE (m^2)", "lve", "{:.3e}"), ("LVE, mean of the takes (m^2)", "lve_takes", "{:.3e}"), ("MEE (m^2)", "mee", "{:.3e}"), ("CE (m^2)", "ce", "{:.3e}")]
    for setting in [t0] + [t for t in temps if ",v=" in t]:  # the default temperature, at each variation
        for label, key, fmt in lines:
            vals = [cells.get(f"{c}|{setting}", {}).get(key, math.nan) for c in cols]
            print(f"{label + ' @' + setting:42s}" + "".join(f"{fmt.format(v):>18s}" for v in vals))
    for t in temps:
        for label, key in (("diversity face mm", "diversity_mm"), ("diversity lips mm", "diversity_lips_mm"),
                           ("diversity upper face mm", "diversity_upper_mm"), ("closed every take", "closure_every_take"),
                           ("vertex speed / truth", "speed_ratio")):
            vals = [cells.get(f"{c}|{t}", {}).get(key, math.nan) for c in cols]
            fmt = "{:.1%}" if "closed" in label else "{:.3f}"
            print(f"{label + ' @' + t:42s}" + "".join(f"{fmt.format(v):>18s}" for v in vals))


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(2)
    data = MotionDataset(args.data, "test")
    audio, texts, i = [], [], 0
    while sum(len(a) for a in audio) < 10 * 16000:
        s = data[i]
        audio.append(s.audio)
        texts.append(json.loads((Path(args.data) / "align" / f"{s.keyid}.json").read_text())["text"])
        i += 1
    clip = np.concatenate(audio)[: 10 * 16000]
    out: dict[str, Any] = {}
    a = torch.from_numpy(clip)[None]
    lengths = torch.tensor([a.shape[1]])
    for spec in args.model:
        name, _, path = spec.partition("=")
        talker, info = load_checkpoint(path)
        talker.eval()
        style = talker.vocabulary.make("neutral", 1.0, None)
        detector = BilabialNet.load(args.bilabial) if args.bilabial else info.bilabial
        if detector is not None:  # what animate() adds without a transcript: hear the p/b/m, seal one take there
            seal = LipSeal.from_rig(load_rig())
            take = talker.sample(a, lengths, style, temperature=DEFAULT_TEMPERATURE)[0][0].numpy()
            times = []
            for _ in range(3):
                t = time.perf_counter()
                seal.seal_frames(take, heard_frames(detector, clip, 25.0, take.shape[0]))
                times.append(time.perf_counter() - t)
            out[f"{name}: bilabial detector, phone recogniser + seal of 1 take RTF"] = float(np.median(times)) / 10.0
        for n in (1, 5):
            talker.sample(a, lengths, style, num_samples=n, temperature=DEFAULT_TEMPERATURE)  # warm-up
            times = []
            for _ in range(3):
                t = time.perf_counter()
                talker.sample(a, lengths, style, num_samples=n, temperature=DEFAULT_TEMPERATURE,
                              generator=torch.Generator().manual_seed(0))
                times.append(time.perf_counter() - t)
            out[f"{name}: RTF {n} take(s), 10 s, 2 threads"] = float(np.median(times)) / 10.0
        out[f"{name}: 5 takes / 1 take"] = out[f"{name}: RTF 5 take(s), 10 s, 2 threads"] / out[f"{name}: RTF 1 take(s), 10 s, 2 threads"]
    if args.onnx:  # the product's fast path (onnxruntime, the engine shared with torch and streams)
        from probtalk.runtime.backend import OnnxBackend, StyleInputs
        from probtalk.runtime.engine import sample_takes

        backend = OnnxBackend(args.onnx, threads=2)
        neutral = StyleInputs(-1, (1.0,) + (0.0,) * (len(EMOTIONS) - 1), 1.0)
        for n in (1, 5):
            run = lambda n=n: sample_takes(backend, clip, neutral, num_samples=n, temperature=DEFAULT_TEMPERATURE,  # noqa: E731
                                           top_k=None, seed=0, window_seconds=20.0, overlap_seconds=1.0)
            run()
            times = []
            for _ in range(3):
                t = time.perf_counter()
                run()
                times.append(time.perf_counter() - t)
            out[f"onnx: RTF {n} take(s), 10 s, 2 threads"] = float(np.median(times)) / 10.0
        out["onnx: 5 takes / 1 take"] = out["onnx: RTF 5 take(s), 10 s, 2 threads"] / out["onnx: RTF 1 take(s), 10 s, 2 threads"]
    from probtalk.transcript import align_transcript

    full = np.concatenate(audio)
    t = time.perf_counter()
    r = align_transcript(full, " ".join(texts), detector)
    out["forced alignment + fit check RTF"] = (time.perf_counter() - t) / (len(full) / 16000)
    out["forced alignment used"] = r.used
    print("\n== speed")
    for k, v in out.items():
        print(f"{k:48s} {v:.4f}" if isinstance(v, float) else f"{k:48s} {v}")
    return out


def run_vq(args: argparse.Namespace) -> dict[str, Any]:
    """Closure of the stage-1 model's own reconstruction of the ground truth."""
    vq, info = load_checkpoint(args.vq)
    rig = load_rig()
    layer = FlameLayer(rig)
    regions = {"lips": np.asarray(rig.region("lips")), "upper": np.asarray(rig.region("upper_face"))}
    out = {}
    for split in args.split:
        try:
            data = MotionDataset(args.data, split)
        except Exception:  # noqa: BLE001
            continue
        rec, truth = Scores(), Scores()
        for i in np.linspace(0, len(data) - 1, min(args.limit, len(data))).astype(int):
            s = data[int(i)]
            r = vq.reconstruct(s.motion, info.normalizer)
            _score(rec, r[None], None, s.motion, s.phones, layer, rig, regions, full=True)
            _score(truth, s.motion[None], None, s.motion, s.phones, layer, rig, regions, full=False)
        out[split] = {"reconstruction": rec.row(), "truth": truth.row()}
        print(f"[{split}] VQ reconstruction: closed {rec.row()['closure_take']:.1%} (truth {truth.row()['closure_take']:.1%}),"
              f" open {rec.row()['opening_take']:.1%} (truth {truth.row()['opening_take']:.1%}), LVE {rec.row()['lve']:.3e}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="datasets/synth")
    ap.add_argument("--model", action="append", default=[], help="name=checkpoint (repeatable)")
    ap.add_argument("--split", action="append", default=None)
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--takes", type=int, default=10)
    ap.add_argument("--temperatures", default="0.2,0.5,1.0")
    ap.add_argument("--variations", default="1",
                    help="also score these performance variations at the default temperature (e.g. 0,1,2)")
    ap.add_argument("--text", choices=("on", "off"), default="on")
    ap.add_argument("--text-source", choices=("aligned", "oracle", "recognised", "whisper"), default="aligned",
                    help="the text columns' transcript: the line's own, force-aligned (default); its exact phones; "
                    "pocketsphinx's phone recognition; or Whisper's recognised words, force-aligned "
                    "(animate(listen='whisper'); needs `make whisper`)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--ear", choices=("words", "phones", "detector"), default="words",
                    help="what the audio-only seal hears with: the detector and word recognition (as animate(), "
                         "listen='words'), the detector and the phone recogniser (listen='phones'), or the detector alone")
    ap.add_argument("--onnx", default=None, help="with --speed: also time this exported folder (onnxruntime)")
    ap.add_argument("--pitch", type=float, default=0.0, help="shift the test speech by this many semitones")
    ap.add_argument("--room", action="store_true", help="add a reverb tail and noise (20 dB SNR) to the test speech")
    ap.add_argument("--vq", default=None)
    ap.add_argument("--bilabial", default=None,
                    help="score audio-only takes sealed where this detector (.npz) hears p/b/m, for every model "
                         "(default: each checkpoint's own detector, if it has one)")
    ap.add_argument("--vowel", default=None,
                    help="open audio-only takes also where this open-vowel detector (.npz) hears an open vowel, for "
                         "every model; 'none' for no detector (default: each checkpoint's own, if it has one)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--align-cache", default=None, help="JSON file keeping the forced alignments between runs")
    ap.add_argument("--align-only", action="store_true", help="only fill --align-cache (no models run)")
    args = ap.parse_args()
    args.split = args.split or list(SPLITS)
    if not args.model and not args.vq:
        args.model = ["default=probtalk/assets/default_model.pt"]
    torch.set_num_threads(2)
    result: dict[str, Any] = {"args": vars(args)}
    if args.vq:
        result["vq"] = run_vq(args)
    if args.model:
        result["models"] = run_models(args)
        if args.speed:
            result["speed"] = run_speed(args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
