"""``evaluate()``: score a generator against a dataset with the paper's metrics.

A generator is any ``generate_fn(sample, num_takes, seed) -> list[[T, 53]]``
that produces takes for one dataset sample; :mod:`probtalk.eval.engines`
adapts the learned model and the rule-based baseline to it. Motion becomes
vertices through :class:`probtalk.flame.FlameLayer` with zero shape (only
expression and jaw move), as in the paper.

Aggregation follows the paper's ``evaluation.py``: MVE and LVE (first take),
MEE and CE are averaged over all frames of all sequences; FDD (first take)
and Diversity are averaged over sequences.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from probtalk.data.dataset import MotionDataset, Sample
from probtalk.eval import metrics as M
from probtalk.eval.emotion_classifier import EmotionClassifier
from probtalk.eval.lipsync import LipSyncCounts, lip_gap, lipsync_counts
from probtalk.flame.layer import FlameLayer
from probtalk.flame.rig import Rig
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS, MOTION_DIM, MOTION_EXPRESSION, MOTION_JAW

logger = logging.getLogger(__name__)

GenerateFn = Callable[[Sample, int, int], list[np.ndarray]]
"""``generate_fn(sample, num_takes, seed) -> num_takes motions [T, 53]`` at the dataset's fps."""


@dataclass
class SplitMetrics:
    """All metrics of one split (or of all splits together). Distances in metres, LVE-type in m^2."""

    sequences: int = 0
    frames: int = 0
    takes: int = 0
    mve: float = math.nan
    lve: float = math.nan
    mee: float = math.nan
    ce: float = math.nan
    fdd: float = math.nan
    fdd_abs: float = math.nan
    diversity: float = math.nan
    closure_rate: float = math.nan
    opening_rate: float = math.nan
    lipsync: float = math.nan
    lipsync_gt: float = math.nan
    emotion_acc_gt: float = math.nan
    emotion_acc: float = math.nan
    rtf: float = math.nan


# (field, label, format) rows of the tables.
METRIC_ROWS: tuple[tuple[str, str, str], ...] = (
    ("sequences", "sequences", "{:d}"),
    ("frames", "frames", "{:d}"),
    ("takes", "takes", "{:d}"),
    ("mve", "MVE (m)", "{:.4e}"),
    ("lve", "LVE (m²)", "{:.4e}"),
    ("mee", "MEE (m²)", "{:.4e}"),
    ("ce", "CE (m²)", "{:.4e}"),
    ("fdd", "FDD signed (m²)", "{:+.4e}"),
    ("fdd_abs", "FDD abs (m²)", "{:.4e}"),
    ("diversity", "Diversity (m)", "{:.4e}"),
    ("closure_rate", "lips closed on p/b/m", "{:.1%}"),
    ("opening_rate", "lips open on open vowels", "{:.1%}"),
    ("lipsync", "lip-sync score", "{:.1%}"),
    ("lipsync_gt", "lip-sync score (ground truth)", "{:.1%}"),
    ("emotion_acc", "emotion accuracy", "{:.1%}"),
    ("emotion_acc_gt", "emotion accuracy (ground truth)", "{:.1%}"),
    ("rtf", "real-time factor", "{:.3f}"),
)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return spec.format(value)


@dataclass
class EvalReport:
    """Result of :func:`evaluate`: metrics per split and over all splits."""

    splits: dict[str, SplitMetrics]
    overall: SplitMetrics
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (NaN becomes None)."""

        def clean(m: SplitMetrics) -> dict[str, Any]:
            return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(m).items()}

        return {
            "meta": self.meta,
            "splits": {name: clean(m) for name, m in self.splits.items()},
            "overall": clean(self.overall),
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def columns(self, prefix: str = "") -> dict[str, SplitMetrics]:
        """Table columns: each split, then 'all' when there is more than one split."""
        cols = {f"{prefix}{name}": m for name, m in self.splits.items()}
        if len(self.splits) > 1:
            cols[f"{prefix}all"] = self.overall
        return cols

    def to_table(self, title: str | None = None) -> str:
        """The metrics as a rich table, rendered to plain text."""
        return render_table(self.columns(), title=title or self.meta.get("engine"))


def render_table(columns: Mapping[str, SplitMetrics], title: str | None = None) -> str:
    """Render metric columns (e.g. model and baseline side by side) as rich table text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for name in columns:
        table.add_column(name, justify="right")
    for key, label, spec in METRIC_ROWS:
        table.add_row(label, *(_fmt(getattr(m, key), spec) for m in columns.values()))
    buf = io.StringIO()
    Console(file=buf, width=max(80, 34 + 18 * len(columns)), force_terminal=False, color_system=None).print(table)
    return buf.getvalue()


def compare_reports(reports: Mapping[str, EvalReport]) -> str:
    """One table with the columns of several reports, e.g. ``{"model": r1, "rules": r2}``."""
    cols: dict[str, SplitMetrics] = {}
    for name, report in reports.items():
        cols.update(report.columns(prefix=f"{name} "))
    return render_table(cols)


class _Accumulator:
    """Sums behind :class:`SplitMetrics`, merged across splits for the overall column."""

    def __init__(self) -> None:
        self.sequences = 0
        self.frames = 0
        self.takes = 0
        self.mve_sum = 0.0  # sum over frames of the per-frame mean vertex distance
        self.lve_sum = 0.0
        self.mee_sum = 0.0
        self.ce_sum = 0.0
        self.fdd: list[float] = []
        self.fdd_abs: list[float] = []
        self.diversity: list[float] = []
        self.lipsync = LipSyncCounts()
        self.lipsync_gt = LipSyncCounts()
        self.emo_gt: list[bool] = []
        self.emo_pred: list[bool] = []
        self.gen_seconds = 0.0
        self.audio_seconds = 0.0

    def merge(self, other: _Accumulator) -> None:
        for key in ("sequences", "frames", "takes", "mve_sum", "lve_sum", "mee_sum", "ce_sum", "gen_seconds",
                    "audio_seconds", "lipsync", "lipsync_gt"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        for key in ("fdd", "fdd_abs", "diversity", "emo_gt", "emo_pred"):
            getattr(self, key).extend(getattr(other, key))

    def result(self) -> SplitMetrics:
        def mean(xs: list[Any]) -> float:
            return float(np.mean(xs)) if xs else math.nan

        f = self.frames
        return SplitMetrics(
            sequences=self.sequences,
            frames=self.frames,
            takes=self.takes,
            mve=self.mve_sum / f if f else math.nan,
            lve=self.lve_sum / f if f else math.nan,
            mee=self.mee_sum / f if f else math.nan,
            ce=self.ce_sum / f if f else math.nan,
            fdd=mean(self.fdd),
            fdd_abs=mean(self.fdd_abs),
            diversity=mean(self.diversity),
            closure_rate=self.lipsync.closure_rate,
            opening_rate=self.lipsync.opening_rate,
            lipsync=self.lipsync.score,
            lipsync_gt=self.lipsync_gt.score,
            emotion_acc_gt=mean(self.emo_gt),
            emotion_acc=mean(self.emo_pred),
            rtf=self.gen_seconds / self.audio_seconds if self.audio_seconds > 0 else math.nan,
        )


def motion_to_vertices(layer: FlameLayer, motion: np.ndarray) -> np.ndarray:
    """Vertices [T, V, 3] (float32) of motion [T, 53] with zero shape, neck and eyes."""
    m = torch.as_tensor(np.asarray(motion, dtype=np.float32))
    if m.ndim != 2 or m.shape[1] != MOTION_DIM:
        raise ValueError(f"motion must be [T, {MOTION_DIM}], got {list(m.shape)}")
    with torch.no_grad():
        verts = layer(expression=m[:, MOTION_EXPRESSION], jaw_pose=m[:, MOTION_JAW])
    return verts.numpy()


def _splits(dataset: MotionDataset | Mapping[str, MotionDataset]) -> dict[str, MotionDataset]:
    if isinstance(dataset, Mapping):
        return dict(dataset)
    return {str(getattr(dataset, "split", "data")): dataset}


def _score_sample(
    acc: _Accumulator,
    sample: Sample,
    generate_fn: GenerateFn,
    layer: FlameLayer,
    rig: Rig,
    lips: np.ndarray,
    upper: np.ndarray,
    takes: int,
    seed: int,
    fps: float,
    classifier: EmotionClassifier | None,
) -> None:
    gt_motion = np.asarray(sample.motion, dtype=np.float32)
    t0 = time.perf_counter()
    outs = [np.asarray(m, dtype=np.float32) for m in generate_fn(sample, takes, seed)]
    acc.gen_seconds += time.perf_counter() - t0
    acc.audio_seconds += len(sample.audio) / AUDIO_SAMPLE_RATE
    if len(outs) != takes:
        raise ValueError(f"generate_fn returned {len(outs)} takes for {sample.keyid}, expected {takes}")
    frames = min([len(gt_motion)] + [len(m) for m in outs])
    if frames < 1:
        raise ValueError(f"generate_fn returned an empty take for {sample.keyid}")
    gt = motion_to_vertices(layer, gt_motion[:frames])
    preds = np.stack([motion_to_vertices(layer, m[:frames]) for m in outs])  # [N, T, V, 3]
    first = preds[0]
    acc.sequences += 1
    acc.frames += frames
    acc.takes += takes
    acc.mve_sum += float(np.linalg.norm(first - gt, axis=-1).mean(axis=1).sum())
    acc.lve_sum += float(M.lve_per_frame(first, gt, lips).sum())
    acc.mee_sum += float(M.mee_per_frame(preds, gt, lips).sum())
    acc.ce_sum += float(M.ce_per_frame(preds, gt, lips).sum())
    f = M.fdd(first, gt, rig.v_template, upper)
    acc.fdd.append(f.signed)
    acc.fdd_abs.append(f.absolute)
    if takes >= 2:
        acc.diversity.append(M.diversity(preds))
    phones = getattr(sample, "phones", None)
    if phones:
        acc.lipsync_gt = acc.lipsync_gt + lipsync_counts(lip_gap(gt, rig), fps, phones)
        for take in preds:
            acc.lipsync = acc.lipsync + lipsync_counts(lip_gap(take, rig), fps, phones)
    if classifier is not None:
        label = int(sample.emotion)
        acc.emo_gt.append(bool(classifier.predict([gt_motion])[0] == label))
        acc.emo_pred.extend(bool(p == label) for p in classifier.predict([m[:frames] for m in outs]))


def evaluate(
    generate_fn: GenerateFn,
    dataset: MotionDataset | Mapping[str, MotionDataset],
    rig: Rig,
    *,
    takes: int = 10,
    seed: int = 0,
    classifier: EmotionClassifier | None = None,
    limit: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Score ``generate_fn`` on a dataset split (or several) against the ground truth.

    Args:
        generate_fn: ``(sample, num_takes, seed) -> list of num_takes [T, 53]``
            motions at the dataset's fps (see :mod:`probtalk.eval.engines`).
        dataset: a ``MotionDataset`` (its ``split`` names the column), or a
            mapping ``{split name: dataset}``. Items need ``keyid``, ``audio``
            [N] (16 kHz), ``motion`` [T, 53], ``emotion`` and ``phones``.
        rig: the rig whose regions ``lips`` and ``upper_face`` and keypoints
            ``upper_lip`` / ``lower_lip`` define the metrics.
        takes: takes per sample (N for MEE, CE, Diversity).
        seed: base seed; sample ``i`` is generated with ``seed + i``.
        classifier: emotion classifier; without it the emotion rows are empty.
        limit: score at most this many samples per split.
        progress: called with each keyid before it is scored.

    Returns:
        An :class:`EvalReport` with one :class:`SplitMetrics` per split and overall.
    """
    if takes < 1:
        raise ValueError(f"takes must be >= 1, got {takes}")
    lips, upper = rig.region("lips"), rig.region("upper_face")
    layer = FlameLayer(rig)
    per_split: dict[str, _Accumulator] = {}
    for name, data in _splits(dataset).items():
        fps = float(getattr(data, "fps", DATASET_FPS))
        acc = per_split.setdefault(name, _Accumulator())
        n = len(data) if limit is None else min(len(data), limit)
        for i in range(n):
            sample = data[i]
            if progress is not None:
                progress(str(sample.keyid))
            _score_sample(acc, sample, generate_fn, layer, rig, lips, upper, takes, seed + i, fps, classifier)
        logger.info("evaluated %d samples of split %s", n, name)
    overall = _Accumulator()
    for acc in per_split.values():
        overall.merge(acc)
    return EvalReport(
        splits={name: acc.result() for name, acc in per_split.items()},
        overall=overall.result(),
        meta={"takes": takes, "seed": seed, "rig": rig.rig_id(), "limit": limit},
    )

