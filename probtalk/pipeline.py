"""The main job: speech files -> takes per emotion -> files in every requested format.

``probtalk animate`` is a thin shell over :func:`run_job`; Python users can call
it directly, or use :func:`probtalk.load_model` and :func:`exporters.write`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probtalk.animation import Animation
from probtalk.errors import InputError, StyleError
from probtalk.io import ensure_writable_dir

logger = logging.getLogger(__name__)

# Formats the job writes: exporters' names plus the MP4 preview.
JOB_FORMATS = ("npz", "glb", "gltf", "fbx", "csv", "json", "mp4")


@dataclass
class AnimateJob:
    """Everything ``probtalk animate`` was asked to do."""

    inputs: list[Path]
    out: Path
    emotions: list[str | dict[str, float]] = field(default_factory=lambda: ["neutral"])
    intensity: float | str = "medium"
    speaker: str | None = None
    takes: int = 1
    temperature: float = 0.2
    seed: int | None = None
    deterministic: bool = False
    formats: list[str] = field(default_factory=lambda: ["npz"])
    model: str | None = None
    rig: str | None = None
    hubert: str | None = None
    engine: str = "model"
    text: str | None = None


@dataclass
class TakeResult:
    """What was written for one input, emotion and take."""

    input: Path
    emotion: str
    take: int
    frames: int
    files: list[Path]


def parse_emotions(text: str) -> list[str | dict[str, float]]:
    """Parse ``-e``: comma-separated emotions, each a name or a blend ``happy:0.7+surprised:0.3``."""
    out: list[str | dict[str, float]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "+" in item or ":" in item:
            blend: dict[str, float] = {}
            for term in item.split("+"):
                name, _, weight = term.partition(":")
                try:
                    blend[name.strip()] = float(weight) if weight else 1.0
                except ValueError:
                    raise StyleError(f"bad emotion weight in {term!r}; write a blend as happy:0.7+surprised:0.3") from None
            out.append(blend)
        else:
            out.append(item)
    if not out:
        raise StyleError("no emotion given; use e.g. -e neutral or -e happy,sad")
    return out


def emotion_label(emotion: str | dict[str, float]) -> str:
    """A file-name-safe label: ``happy`` or ``happy70-surprised30``."""
    if isinstance(emotion, str):
        return emotion
    total = sum(emotion.values()) or 1.0
    return "-".join(f"{k}{round(100 * v / total)}" for k, v in emotion.items())


def parse_intensity(value: float | str) -> float | str:
    """Accept ``low|medium|high`` or a number in [0, 2] (given as text or number)."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().lower()
    try:
        return float(text)
    except ValueError:
        return text


def output_name(audio: Path, emotion: str, take: int, fmt: str) -> str:
    """Predictable names: ``<stem>_<emotion>_take<k>.<ext>``."""
    return f"{audio.stem}_{emotion}_take{take}.{fmt}"


def run_job(job: AnimateJob, on_file_done: Callable[[Path], None] | None = None) -> list[TakeResult]:
    """Animate every input for every emotion and write every format.

    Problems with options (unknown format, unwritable folder, bad emotion) are
    found before any work is done; each file is written atomically.
    """
    unknown = [f for f in job.formats if f not in JOB_FORMATS]
    if unknown:
        raise InputError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(JOB_FORMATS)}")
    if not job.formats:
        raise InputError(f"no output format given; choose from {', '.join(JOB_FORMATS)}")
    if job.takes < 1:
        raise InputError(f"--takes must be >= 1, got {job.takes}")
    if not job.inputs:
        raise InputError("no audio inputs given")
    out = ensure_writable_dir(job.out)
    intensity = parse_intensity(job.intensity)
    animate = _engine(job, intensity)
    rig = None
    if set(job.formats) - {"npz"}:
        from probtalk.flame import load_rig

        rig = load_rig(job.rig)
    results: list[TakeResult] = []
    for audio_path in job.inputs:
        for emotion in job.emotions:
            label = emotion_label(emotion)
            takes = animate(audio_path, emotion)
            for k, anim in enumerate(takes):
                files = [
                    _write(anim, out / output_name(audio_path, label, k, fmt), fmt, rig, audio_path)
                    for fmt in job.formats
                ]
                results.append(TakeResult(audio_path, label, k, anim.num_frames, files))
        if on_file_done is not None:
            on_file_done(audio_path)
    return results


def _engine(job: AnimateJob, intensity: float | str) -> Callable[[Path, Any], list[Animation]]:
    if job.engine == "rules":
        from probtalk.audio import audio_sha256, load_audio
        from probtalk.eval.rules import animate_rules

        def rules(audio_path: Path, emotion: Any) -> list[Animation]:
            if not isinstance(intensity, float):
                from probtalk.emotions import INTENSITY_INDEX

                if intensity not in INTENSITY_INDEX:
                    raise StyleError(f"unknown intensity {intensity!r}; use low, medium, high or a number in [0, 2]")
                level = float(INTENSITY_INDEX[intensity])
            else:
                level = intensity
            anim = animate_rules(load_audio(audio_path), text=job.text, emotion=emotion, intensity=level)
            anim.meta.update({"audio": audio_path.name, "audio_sha256": audio_sha256(audio_path)})
            return [anim]

        return rules
    if job.engine != "model":
        raise InputError(f"unknown engine {job.engine!r}; use model or rules")
    from probtalk.api import load_model

    model = load_model(job.model, hubert=job.hubert)
    for emotion in job.emotions:  # validate styles before any audio is processed
        model.checkpoint.vocabulary.make(emotion, intensity, job.speaker)

    def learned(audio_path: Path, emotion: Any) -> list[Animation]:
        return model.animate(
            audio_path, emotion=emotion, intensity=intensity, speaker=job.speaker, num_samples=job.takes,
            temperature=job.temperature, seed=job.seed, deterministic=job.deterministic,
        )

    return learned


def _write(anim: Animation, path: Path, fmt: str, rig: Any, audio_path: Path) -> Path:
    if fmt == "npz":
        return anim.save(path)
    if fmt == "mp4":
        from probtalk.rendering import render

        return Path(render([anim], rig=rig, audio=audio_path, out=path))
    import exporters

    return Path(exporters.write(anim, path, rig=rig))
