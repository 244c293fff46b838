"""``compare_engines``: score engines side by side on a corpus — what ``probtalk evaluate`` runs.

It builds the split datasets, the engines' ``generate_fn`` (loading the model),
one emotion classifier for all engines (loaded from a file, or trained on the
train split and saved there), and one :class:`~probtalk.eval.evaluate.EvalReport`
per engine.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probtalk.errors import DatasetError, InputError
from probtalk.eval.emotion_classifier import (
    EmotionClassifier,
    load_emotion_classifier,
    save_emotion_classifier,
    train_emotion_classifier,
)
from probtalk.eval.engines import EVAL_ENGINES, engine_generate_fn
from probtalk.eval.evaluate import EvalReport, compare_reports, evaluate
from probtalk.flame.rig import Rig

logger = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
"""``progress(description, started, total)``: called before each sample is scored (``started`` counts it)
and before a classifier is trained (``started`` 0)."""


@dataclass
class Comparison:
    """The reports of several engines on the same samples, with the emotion classifier they shared."""

    reports: dict[str, EvalReport]
    classifier_source: str

    def to_table(self) -> str:
        """One table: one column per engine and split (a single engine's own table when alone)."""
        if len(self.reports) == 1:
            return next(iter(self.reports.values())).to_table()
        return compare_reports(self.reports)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"engines": {name: report}, "classifier": {"source": ...}}``."""
        return {
            "engines": {name: report.to_dict() for name, report in self.reports.items()},
            "classifier": {"source": self.classifier_source},
        }


def classifier_for(
    data: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    steps: int = 200,
    seed: int = 0,
    progress: ProgressFn | None = None,
) -> tuple[EmotionClassifier, str]:
    """The emotion classifier at ``path`` if it exists, else one trained on ``data``'s train split.

    A newly trained classifier is saved to ``path`` (when given). Returns the
    classifier and a line saying where it came from.
    """
    from probtalk.data.dataset import MotionDataset

    if path is not None and Path(path).is_file():
        return load_emotion_classifier(path), str(path)
    message = "training the emotion classifier on the train split"
    logger.info("%s (%d steps)", message, steps)
    if progress is not None:
        progress(message, 0, 0)
    classifier = train_emotion_classifier(MotionDataset(data, "train"), steps=steps, seed=seed)
    source = "trained on train split"
    if path is not None:
        save_emotion_classifier(classifier, path)
        source += f", saved to {path}"
    return classifier, source


def compare_engines(
    data: str | os.PathLike[str],
    engines: Sequence[str] = ("model",),
    *,
    model: str = "default",
    splits: Sequence[str] = ("test",),
    takes: int = 10,
    limit: int | None = None,
    seed: int = 0,
    rig: Rig | str | os.PathLike[str] | None = None,
    classifier: str | os.PathLike[str] | None = None,
    classifier_steps: int = 200,
    progress: ProgressFn | None = None,
) -> Comparison:
    """Score each engine on the same splits of a corpus with the paper's metrics.

    Args:
        data: dataset folder (dataset layout, see ``datasets/README.md``).
        engines: names from :data:`probtalk.eval.engines.EVAL_ENGINES`, scored in order.
        model: checkpoint path or ``"default"`` (for the ``"model"`` engine).
        splits: split names to score.
        takes: takes per sample (MEE, CE, Diversity).
        limit: score at most this many samples per split.
        seed: base seed of the takes and of a newly trained classifier.
        rig: a loaded rig, a rig file, or None for the bundled head.
        classifier: emotion classifier file: loaded if it exists, else trained
            on the train split and saved there. None: trained, not saved.
        classifier_steps: training steps of a new classifier.
        progress: see :data:`ProgressFn`.

    Returns:
        A :class:`Comparison` with one report per engine.

    Raises:
        InputError: unknown engine name.
        DatasetError: the data folder or a split is missing.
    """
    from probtalk.data.dataset import MotionDataset
    from probtalk.flame import load_rig

    names = list(dict.fromkeys(engines))
    for name in names or [""]:
        if name not in EVAL_ENGINES:
            raise InputError(f"unknown engine {name!r}; use one of: {', '.join(EVAL_ENGINES)}")
    if not Path(data).is_dir():
        raise DatasetError(f"data folder {data} not found; generate a corpus with 'probtalk data synth' or pass --data")
    the_rig = rig if isinstance(rig, Rig) else load_rig(rig)
    datasets = {name: MotionDataset(data, name) for name in dict.fromkeys(splits)}
    fns = {name: engine_generate_fn(name, model=model, rig=the_rig) for name in names}  # load the model first
    per_engine = sum(len(d) if limit is None else min(len(d), limit) for d in datasets.values())
    total, started = per_engine * len(fns), 0

    def on_train(description: str, _started: int, _total: int) -> None:
        if progress is not None:
            progress(description, 0, total)

    clf, source = classifier_for(data, classifier, steps=classifier_steps, seed=seed, progress=on_train)
    reports: dict[str, EvalReport] = {}
    for name, fn in fns.items():

        def tick(keyid: str, name: str = name) -> None:
            nonlocal started
            started += 1
            if progress is not None:
                progress(f"{name} {keyid}", started, total)

        report = evaluate(fn, datasets, the_rig, takes=takes, seed=seed, classifier=clf, limit=limit, progress=tick)
        report.meta.update({"engine": name, "data": str(data), "model": model if name == "model" else None})
        reports[name] = report
    return Comparison(reports=reports, classifier_source=source)
