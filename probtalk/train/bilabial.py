"""Train the bilabial detector (:mod:`probtalk.bilabial`) on a corpus's speech and exact phone timings.

``probtalk train bilabial --data datasets/synth3 --out runs/bilabial`` writes
``runs/bilabial/bilabial.npz`` (plain arrays, read by
:meth:`probtalk.bilabial.BilabialNet.load`) and ``metrics.json``; ship it with
``scripts/ship_model.py --bilabial``. ``probtalk train vowel`` trains the open-vowel
detector (:mod:`probtalk.vowels`) the same way (``target="vowel"``: the frames inside an
open vowel are the targets; ``vowel.npz``, shipped with ``--vowel``).

Each distinct utterance of the ``train`` split is heard ``variants`` times:
once as recorded and the rest through the speech augmentation of
:mod:`probtalk.train.augment` (speed, pitch and formants, EQ, room, noise:
:data:`DETECTOR_AUGMENT`) at strengths past the motion model's own, since the detector must hold on voices and rooms the corpus
lacks. The target of each frame is whether the
corpus's phone timing puts it inside a P, B or M (an open vowel, for the
vowel detector). The features are computed
once; training draws 4 s crops of them (binary cross-entropy, bilabial frames
weighted ``positive_weight`` times, dropout on each conv's input).

``speech`` adds folders of recordings with a transcript beside each
(``<name>.txt``, as ``probtalk animate`` folder mode reads them; e.g. a neural
voice's, written by ``scripts/piper_speech_set.py``): each is force-aligned to
its transcript with pocketsphinx, and its phones are the targets. A clip whose
transcript fails the fit check, or whose phones could only be split evenly
within the words, is left out. Its hearings are drawn as often as all of the
corpus's together (``speech_share``), so a few hundred natural recordings are
not drowned by the corpus.

The decision threshold (default 0.5) is stored in the net's provenance and
:meth:`~probtalk.bilabial.BilabialNet.frames` uses it. ``metrics.json`` holds,
for a range of thresholds, the share of the ``val`` split's bilabial midpoints
found (within a frame) and of its open-vowel midpoints marked, as recorded and
with one perturbed hearing (for the vowel detector the second is what it finds, the
first what it marks within a frame of a p, b or m). The corpus's ``val`` clips come from the training
voices and are easier than unseen sentences (at 0.5 they mark almost no open
vowel, where the test split's mark 5 %), so the threshold is a setting, not
fitted to them; ``benchmarks/lipsync.py`` measures what a threshold costs in
lips left open on vowels.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from probtalk.bilabial import BilabialNet, detector_config, log_mel
from probtalk.corpus.phones import OPEN_VOWELS, PHONE_INDEX
from probtalk.errors import DatasetError, InputError
from probtalk.eval.lipsync import phone_midpoints
from probtalk.lipseal import BILABIAL_TOKENS
from probtalk.models.phone_tokens import phone_tokens
from probtalk.train.augment import perturb_speech, speed_source
from probtalk.train.config import AugmentConfig
from probtalk.train.frameconv import FrameConv, start_run
from probtalk.vowels import VowelNet

logger = logging.getLogger(__name__)

#: Stronger than the motion model's augmentation: the detector sees nothing but the speech. (Rooms heard
#: from a distance, coloured noise and codecs, ``room_prob``, ``noise_color_prob`` and ``codec_prob``, were
#: tried and not shipped: docs/default_model_metrics.md, "Tried and not shipped".)
DETECTOR_AUGMENT = AugmentConfig(
    speed_prob=0.5, speed_range=(0.85, 1.15), pitch_prob=0.7, pitch_semitones=(-6.0, 6.0), eq_prob=0.5, eq_db=8.0,
    reverb_prob=0.5, reverb_seconds=(0.1, 0.6), noise_prob=0.5, snr_db=(5.0, 35.0), gain_db=0.0,
)
CROP_FRAMES = 100
#: What a detector learns to hear: its target phone tokens, its net class and its file name.
TARGETS: dict[str, tuple[frozenset[int], type[BilabialNet], str]] = {
    "bilabial": (BILABIAL_TOKENS, BilabialNet, "bilabial.npz"),
    "vowel": (frozenset(1 + PHONE_INDEX[p] for p in OPEN_VOWELS), VowelNet, "vowel.npz"),
}


@dataclass
class HeardClip:
    """One hearing of an utterance: detector inputs [T, C], target frames bool [T] (inside a p, b or m;
    for the vowel detector, an open vowel), midpoints of its bilabials and open vowels (frame indices;
    the benchmark's points)."""

    inputs: np.ndarray
    target: np.ndarray
    closed: list[int]
    opened: list[int]


def hear_split(root: str | os.PathLike[str], split: str, variants: int, seed: int, fps: float = 25.0,
               max_clips: int | None = None, target: str = "bilabial") -> list[HeardClip]:
    """Each distinct utterance of ``split`` heard ``variants`` times (the first as recorded); ``target``: a
    key of :data:`TARGETS`.

    Raises:
        DatasetError: the split is missing or its corpus has no phone timings.
    """
    from probtalk.data.dataset import MotionDataset

    data = MotionDataset(root, split)
    seen: set[str] = set()
    picks = []
    for i, key in enumerate(data.keys):
        if key.utterance not in seen:
            seen.add(key.utterance)
            picks.append(i)
    if max_clips is not None:
        picks = picks[:max_clips]
    gen = torch.Generator().manual_seed(seed)
    bil = list(TARGETS[target][0])
    out = []
    for i in picks:
        sample = data[i]
        if not sample.phones:
            raise DatasetError(f"{root} has no phone timings for {sample.keyid}; the detector needs align/<keyid>.json")
        out += _hearings(sample.audio, sample.phones, len(sample.motion), variants, gen, fps, bil)
    return out


def aligned_speech(folder: str | os.PathLike[str], cache: dict[str, Any] | None = None) -> list[tuple[Path, list[Any]]]:
    """(audio file, phones) for each recording in ``folder`` whose ``.txt`` transcript aligns phone by phone.

    Args:
        folder: audio files, each with its transcript in ``<name>.txt`` beside it.
        cache: alignments by file name, filled as it goes (kept between runs by the caller).

    Raises:
        DatasetError: the folder holds no audio file with a transcript.
    """
    from probtalk.audio import load_audio
    from probtalk.cli.animate_cmd import AUDIO_SUFFIXES
    from probtalk.transcript import align_transcript

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"speech folder {folder} does not exist; give a folder of audio files with a .txt beside each")
    cache = {} if cache is None else cache
    out = []
    pairs = [(p, p.with_suffix(".txt")) for p in sorted(folder.iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES]
    pairs = [(p, t) for p, t in pairs if t.is_file()]
    if not pairs:
        raise DatasetError(f"{folder} holds no audio file with its transcript (<name>.txt) beside it")
    for path, txt in pairs:
        if path.name not in cache:
            r = align_transcript(load_audio(path), txt.read_text(encoding="utf-8"))
            good = r.used and bool(r.phones) and r.phone_level
            cache[path.name] = [[p.start, p.end, p.phone] for p in r.phones] if good else None
        if cache[path.name]:
            out.append((path, [tuple(p) for p in cache[path.name]]))
    logger.info("%s: %d of %d recordings aligned phone by phone", folder, len(out), len(pairs))
    return out


def hear_speech(recordings: list[tuple[Path, list[Any]]], variants: int, seed: int, fps: float = 25.0,
                target: str = "bilabial") -> list[HeardClip]:
    """Each aligned recording heard ``variants`` times (the first as recorded), like :func:`hear_split`."""
    from probtalk.audio import load_audio

    gen = torch.Generator().manual_seed(seed)
    bil = list(TARGETS[target][0])
    out = []
    for path, phones in recordings:
        wav = load_audio(path)
        frames = max(1, int(round(wav.size * fps / 16000)))
        out += _hearings(wav, phones, frames, variants, gen, fps, bil)
    return out


def _hearings(wav: np.ndarray, phones: list[Any], frames: int, variants: int, gen: torch.Generator, fps: float,
              bil: list[int]) -> list[HeardClip]:
    tokens = torch.from_numpy(phone_tokens(phones, fps, frames))
    out = []
    for v in range(variants):
        audio, speed = torch.from_numpy(wav).float(), 1.0
        labels = tokens
        if v > 0:
            audio, speed = perturb_speech(audio, DETECTOR_AUGMENT, gen)
            if speed != 1.0:
                labels = tokens[speed_source(frames, speed)[1]]
        n = len(labels)
        closed, opened = phone_midpoints([(s / speed, e / speed, p) for s, e, p in phones], fps, n)
        out.append(HeardClip(log_mel(audio.numpy(), fps, n), np.isin(labels.numpy(), bil), closed, opened))
    return out


def _crops(clips: list[HeardClip], rng: np.random.Generator, batch: int,
           extra: list[HeardClip] | None = None, extra_share: float = 0.0) -> tuple[torch.Tensor, ...]:
    c = clips[0].inputs.shape[1]
    x = torch.zeros(batch, CROP_FRAMES, c)
    y = torch.zeros(batch, CROP_FRAMES)
    mask = torch.zeros(batch, CROP_FRAMES, dtype=torch.bool)
    if extra:
        picks = [(extra if rng.random() < extra_share else clips) for _ in range(batch)]
        chosen = [pool[int(rng.integers(0, len(pool)))] for pool in picks]
    else:
        chosen = [clips[int(i)] for i in rng.integers(0, len(clips), batch)]
    for b, clip in enumerate(chosen):
        n = clip.inputs.shape[0]
        start = int(rng.integers(0, max(0, n - CROP_FRAMES) + 1))
        m = min(CROP_FRAMES, n - start)
        x[b, :m] = torch.from_numpy(clip.inputs[start : start + m])
        y[b, :m] = torch.from_numpy(clip.target[start : start + m].astype(np.float32))
        mask[b, :m] = True
    return x, y, mask


def detection_rates(net: BilabialNet, clips: list[HeardClip], thresholds: list[float]) -> dict[float, tuple[float, float]]:
    """Per threshold: (bilabial midpoints found within a frame, open-vowel midpoints marked)."""
    found = {t: 0 for t in thresholds}
    marked = {t: 0 for t in thresholds}
    n_closed = n_opened = 0
    for clip in clips:
        p = net.run(clip.inputs)[:, 0]
        n_closed += len(clip.closed)
        n_opened += len(clip.opened)
        for t in thresholds:
            found[t] += sum(int(p[max(0, k - 1) : k + 2].max() > t) for k in clip.closed)
            marked[t] += sum(int(p[k] > t) for k in clip.opened)
    return {t: (found[t] / max(n_closed, 1), marked[t] / max(n_opened, 1)) for t in thresholds}


def train_bilabial(
    data: str | os.PathLike[str], out: str | os.PathLike[str], *, steps: int = 3000, batch_size: int = 32,
    lr: float = 2e-3, variants: int = 4, dropout: float = 0.2, positive_weight: float = 2.0,
    threshold: float = 0.5, seed: int = 0, max_clips: int | None = None,
    speech: list[str | os.PathLike[str]] | None = None, speech_share: float = 0.5, hidden: int = 128, depth: int = 3,
    target: str = "bilabial",
) -> tuple[Path, dict[str, Any]]:
    """Train the detector and write ``out/bilabial.npz`` (``out/vowel.npz``) and ``out/metrics.json``.

    Args:
        data: corpus folder with phone timings (``align/``).
        out: run folder (created).
        steps: optimiser steps.
        batch_size: crops per step.
        lr: AdamW learning rate (one-cycle).
        variants: hearings of each utterance (the first as recorded).
        dropout: dropout on each conv's input while training.
        positive_weight: weight of the target frames (bilabial; open-vowel) in the loss.
        threshold: probability above which a frame is sealed (stored with the net).
        seed: seed of the initialisation, augmentation and crops.
        max_clips: use at most this many utterances per split (a quick run).
        speech: folders of recordings with a ``.txt`` transcript beside each, added to the corpus
            (see the module docstring); their alignments are kept in ``out/speech_alignments.json``.
        speech_share: share of the training crops drawn from ``speech`` (when given).
        hidden: channels of each conv.
        depth: convs (kernel 5; their look-ahead always adds up to six frames, the stream's delay:
            :func:`probtalk.bilabial.detector_config`).
        target: "bilabial" (the lip seal's p/b/m detector) or "vowel" (the open-vowel detector,
            :mod:`probtalk.vowels`): :data:`TARGETS`.

    Returns:
        the detector file and the validation metrics.
    """
    if not 1 <= int(depth) <= 6:
        raise InputError(f"depth {depth} is not 1..6 (six frames of look-ahead are shared among the convs); give 3 or 4")
    if not 0.0 < float(threshold) < 1.0:
        raise InputError(f"threshold {threshold} is not a probability; give one between 0 and 1 (e.g. 0.5)")
    if target not in TARGETS:
        raise InputError(f"target {target!r} is not one of {', '.join(TARGETS)}; give one of them")
    _, kind, file_name = TARGETS[target]
    out, rng = start_run(out, seed)
    started = time.time()
    clips = hear_split(data, "train", variants, seed, max_clips=max_clips, target=target)
    try:
        val = hear_split(data, "val", 2, seed + 1, max_clips=max_clips, target=target)
    except DatasetError:
        val = clips[: max(1, len(clips) // 10)]
    heard_speech: list[HeardClip] = []
    if speech:
        if not 0.0 < float(speech_share) < 1.0:
            raise InputError(f"speech_share {speech_share} must lie strictly between 0 and 1 (e.g. 0.5)")
        cache_path = out / "speech_alignments.json"
        cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
        for n, folder in enumerate(speech):
            found = aligned_speech(folder, cache.setdefault(str(folder), {}))
            cache_path.write_text(json.dumps(cache))
            heard_speech += hear_speech(found, variants, seed + 100 + n, target=target)
    logger.info("%s: %d hearings + %d of recordings, %d for validation (%.0f s)",
                kind.WHAT, len(clips), len(heard_speech), len(val), time.time() - started)
    conv = FrameConv(detector_config(int(hidden), int(depth)), dropout=dropout)
    opt = torch.optim.AdamW(conv.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(steps, 2))
    weight = torch.tensor(positive_weight)
    for step in range(steps):
        x, y, mask = _crops(clips, rng, batch_size, heard_speech, speech_share)
        logits = conv.raw(x, mask)[..., 0]
        loss = nn.functional.binary_cross_entropy_with_logits(logits[mask], y[mask], pos_weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == steps - 1:
            logger.info("step %d loss %.4f", step, loss.item())
    conv.eval()
    net = conv.to_numpy(kind)
    thresholds = sorted({round(float(t), 2) for t in np.arange(0.1, 0.96, 0.1)} | {float(threshold)})
    rates = detection_rates(net, val, thresholds)
    metrics = {"threshold": threshold, "val_bilabials_found": round(rates[threshold][0], 4),
               "val_open_vowels_marked": round(rates[threshold][1], 4), "train_seconds": round(time.time() - started, 1),
               "per_threshold": {str(t): [round(a, 4), round(b, 4)] for t, (a, b) in rates.items()}}
    net.provenance = {"data": str(data), "speech": [str(f) for f in speech or []], "speech_hearings": len(heard_speech),
                      "steps": steps, "hearings": len(clips), "variants": variants, "hidden": int(hidden), "depth": int(depth),
                      "threshold": threshold, "target": target, "augment": dataclasses.asdict(DETECTOR_AUGMENT),
                      "metrics": {k: v for k, v in metrics.items() if k != "per_threshold"}}
    path = out / file_name
    net.save(path)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return path, metrics
