"""Adapters that turn animation engines into ``generate_fn`` for :func:`probtalk.eval.evaluate`.

* :func:`model_generate_fn` — the learned model (``probtalk.api.Model.animate``).
* :func:`rules_generate_fn` — the rule-based baseline (``probtalk.eval.rules.animate_rules``).
* :func:`truth_generate_fn` — replays the ground truth: a sanity check whose
  errors are zero and whose lip-sync and emotion figures are the ceiling.
* :func:`engine_generate_fn` — one of the three by name.

All return motion [T, 53] resampled to the dataset's frame rate.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.animation import resample_motion
from probtalk.emotions import EMOTIONS
from probtalk.errors import InputError
from probtalk.eval.evaluate import GenerateFn
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS

if TYPE_CHECKING:
    from probtalk.api import Model
    from probtalk.data.dataset import Sample
    from probtalk.flame.rig import Rig

logger = logging.getLogger(__name__)


def model_generate_fn(model: Model, *, fps: float = DATASET_FPS, **animate_kwargs: Any) -> GenerateFn:
    """Wrap a loaded model (``probtalk.load_model(...)``) as a ``generate_fn``.

    Speakers the model was not trained on (held-out voices) fall back to the
    model's average speaker. Extra keywords (``temperature``, ``top_k``,
    ``deterministic``) go to ``model.animate``.
    """
    known = set(getattr(model, "speakers", ()))
    warned: set[str] = set()

    def generate(sample: Sample, num_takes: int, seed: int) -> list[np.ndarray]:
        speaker = getattr(sample, "speaker", None)
        if speaker not in known:
            if speaker is not None and speaker not in warned:
                warned.add(speaker)
                logger.info("speaker %s is unknown to the model; using its average speaker", speaker)
            speaker = None
        anims = model.animate(
            np.asarray(sample.audio, dtype=np.float32),
            sample_rate=AUDIO_SAMPLE_RATE,
            emotion=EMOTIONS[int(sample.emotion)],
            intensity=float(sample.intensity),
            speaker=speaker,
            num_samples=num_takes,
            seed=seed,
            **animate_kwargs,
        )
        return [resample_motion(a.motion(), a.fps, fps) for a in anims]

    return generate


def rules_generate_fn(*, rig: Rig | None = None, fps: float = DATASET_FPS) -> GenerateFn:
    """The rule-based baseline (``probtalk.eval.rules.animate_rules``) as a ``generate_fn``.

    Phones come from the recogniser (samples carry no transcript). Each take
    gets its own seed, which in the baseline only places the blinks.

    Args:
        rig: rig whose semantic shapes realise the visemes; None (or a rig
            without semantic shapes) uses the bundled head.
        fps: output frame rate (the dataset's).
    """
    from probtalk.eval.rules import animate_rules

    viseme_rig = rig if rig is not None and rig.has_semantic_shapes else None

    def generate(sample: Sample, num_takes: int, seed: int) -> list[np.ndarray]:
        audio = np.asarray(sample.audio, dtype=np.float32)
        out = []
        for k in range(num_takes):
            anim = animate_rules(
                audio,
                emotion=EMOTIONS[int(sample.emotion)],
                intensity=float(sample.intensity),
                rig=viseme_rig,
                fps=fps,
                seed=seed * 1000 + k,
            )
            out.append(resample_motion(anim.motion(), anim.fps, fps))
        return out

    return generate


def truth_generate_fn() -> GenerateFn:
    """Replay each sample's ground-truth motion as every take (errors 0, Diversity 0)."""

    def generate(sample: Sample, num_takes: int, seed: int) -> list[np.ndarray]:
        motion = np.asarray(sample.motion, dtype=np.float32)
        return [motion.copy() for _ in range(num_takes)]

    return generate


EVAL_ENGINES = ("model", "rules", "truth")
"""The engines :func:`engine_generate_fn` builds (and ``probtalk evaluate --engine`` accepts)."""


def engine_generate_fn(name: str, *, model: str = "default", rig: Rig | None = None) -> GenerateFn:
    """The ``generate_fn`` of an engine named in :data:`EVAL_ENGINES`.

    Args:
        name: ``"model"`` (the learned model), ``"rules"`` (the rule-based
            baseline) or ``"truth"`` (replays the ground truth).
        model: checkpoint path, or ``"default"`` for the embedded model
            (``"model"`` only; loaded here).
        rig: the rig whose semantic shapes realise the baseline's visemes.

    Raises:
        InputError: unknown engine name.
    """
    if name not in EVAL_ENGINES:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(EVAL_ENGINES)}")
    if name == "rules":
        return rules_generate_fn(rig=rig)
    if name == "truth":
        return truth_generate_fn()
    from probtalk.api import load_model

    return model_generate_fn(load_model(model))
