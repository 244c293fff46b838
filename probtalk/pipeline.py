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


def job_formats() -> list[str]:
    """Formats the job writes: every exporter format (and its suffix alias) plus the MP4 preview."""
    import exporters

    return [*exporters.formats(aliases=True), "mp4"]


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
    fps: float | None = None  # export frame rate (None: the model's 25 fps)
    with_audio: bool = False  # copy the speech next to the exports as <stem>.wav


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
    """Predictable names: ``<stem>_<emotion>_take<k>.<ext>`` (the format's own suffix, e.g. ``.csv`` for livelink)."""
    import exporters

    return f"{audio.stem}_{emotion}_take{take}" + (".mp4" if fmt == "mp4" else exporters.suffix(fmt))


def run_job(job: AnimateJob, on_file_done: Callable[[Path], None] | None = None) -> list[TakeResult]:
    """Animate every input for every emotion and write every format.

    Problems with options (unknown format, unwritable folder, bad emotion) are
    found before any work is done; each file is written atomically.
    """
    known = job_formats()
    unknown = [f for f in job.formats if f not in known]
    if unknown:
        raise InputError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if not job.formats:
        raise InputError(f"no output format given; choose from {', '.join(known)}")
    if job.takes < 1:
        raise InputError(f"--takes must be >= 1, got {job.takes}")
    if not job.inputs:
        raise InputError("no audio inputs given")
    import exporters

    exporters.check_fps(job.fps)
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
                files = _write_take(anim, out, output_name(audio_path, label, k, "mp4")[:-4], job, rig, audio_path)
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


def _write_take(anim: Animation, out: Path, stem: str, job: AnimateJob, rig: Any, audio_path: Path) -> list[Path]:
    """Write one take in every format (the exporters share one ARKit solve); paths in the order of ``formats``."""
    import exporters

    formats = job.formats
    files = {}
    if "mp4" in formats:
        from probtalk.rendering import render

        files["mp4"] = Path(render([anim], rig=rig, audio=audio_path, out=out / f"{stem}.mp4"))
    names = exporters.expand_formats([f for f in formats if f != "mp4"]) if set(formats) - {"mp4"} else []
    audio = audio_path if job.with_audio else None
    written = exporters.write_all(anim, out, stem, names, rig, fps=job.fps, audio=audio) if names else []
    if audio is not None and not names:
        from exporters.speech import write_speech

        written = [write_speech(anim, audio_path, out / f"{stem}.wav")]
    files.update(zip(names, written[: len(names)], strict=True))
    return [files[f if f == "mp4" else exporters.resolve_format(None, f)] for f in formats] + written[len(names) :]
