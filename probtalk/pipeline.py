"""The main job: speech files -> takes per emotion -> files in every requested format.

``probtalk animate`` is a thin shell over :func:`run_job`; Python users can call
it directly, or use :func:`probtalk.load_model` and :func:`exporters.write`.

What the job guarantees:

* every option, format and output name is checked before any work is done;
  two inputs that would write the same file (``a/x.wav`` and ``b/x.wav``,
  ``x.wav`` and ``x.flac``, an emotion given twice) are refused, naming both;
* a bad input file (unreadable, silent, too short, ...) is reported and
  skipped: the other inputs are still animated and written;
* each file is written atomically, and the output folder is locked for the
  run, so concurrent runs into one folder take turns and a take's files always
  come from one run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probtalk.animation import Animation
from probtalk.errors import InputError, OutputError
from probtalk.io import ensure_writable_dir, output_lock
from probtalk.options import AnimateOptions, EmotionSpec, emotion_label, emotion_mix

logger = logging.getLogger(__name__)

# Formats the job writes: exporters' names plus the MP4 preview.
JOB_FORMATS = ("npz", "glb", "gltf", "fbx", "csv", "json", "mp4")


@dataclass
class AnimateJob:
    """Everything ``probtalk animate`` was asked to do.

    Attributes:
        inputs: speech files.
        out: output folder (created when missing).
        emotions: one run per emotion (a name or a blend); ``options.emotion`` is ignored.
        options: every other animate option (takes = ``options.num_samples``).
        formats: output formats, see :data:`JOB_FORMATS`.
        model, rig, hubert: checkpoint, rig and HuBERT paths (None: the defaults).
        engine: "model" (learned) or "rules" (phone-based baseline).
        text: transcript for the rules engine (optional).
    """

    inputs: list[Path]
    out: Path
    emotions: list[EmotionSpec] = field(default_factory=lambda: ["neutral"])
    options: AnimateOptions = field(default_factory=AnimateOptions)
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


@dataclass
class InputFailure:
    """An input that could not be animated, and why (one line)."""

    input: Path
    message: str


@dataclass
class JobResult:
    """Takes written and inputs skipped by :func:`run_job`."""

    takes: list[TakeResult] = field(default_factory=list)
    failures: list[InputFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every input was animated."""
        return not self.failures


def output_name(audio: Path, emotion: str, take: int, fmt: str) -> str:
    """Predictable names: ``<stem>_<emotion>_take<k>.<ext>``."""
    return f"{audio.stem}_{emotion}_take{take}.{fmt}"


def plan_outputs(job: AnimateJob) -> dict[str, tuple[Path, str]]:
    """Every file name the job will write -> (input, emotion label); refuse collisions.

    Raises:
        OutputError: two inputs (or one input with two emotions of the same label)
            would write the same file, or an output name is taken by a folder.
    """
    names: dict[str, tuple[Path, str]] = {}
    for audio in job.inputs:
        for emotion in job.emotions:
            label = emotion_label(emotion)
            for k in range(job.options.num_samples):
                for fmt in job.formats:
                    name = output_name(audio, label, k, fmt)
                    if name in names:
                        first, first_label = names[name]
                        if first != audio:
                            what = f"inputs {first} and {audio}"
                        elif first_label != label or job.inputs.count(audio) == 1:
                            what = f"emotions '{first_label}' and '{label}' of {audio}"
                        else:
                            raise OutputError(f"input {audio} is given twice; give each file once")
                        raise OutputError(
                            f"{what} would both write {name}; rename one or run them into different -o folders"
                        )
                    if (job.out / name).is_dir():
                        raise OutputError(f"output {job.out / name} is a folder; remove it or choose another -o folder")
                    names[name] = (audio, label)
    return names


def check_job(job: AnimateJob) -> None:
    """Refuse a job whose options, formats or outputs are bad, before any work.

    Raises:
        InputError, OutputError: the first problem found.
    """
    if not isinstance(job.options, AnimateOptions):
        raise InputError(f"job.options must be an AnimateOptions, got {type(job.options).__name__}")
    unknown = [f for f in job.formats if f not in JOB_FORMATS]
    if unknown:
        raise InputError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(JOB_FORMATS)}")
    if not job.formats:
        raise InputError(f"no output format given; choose from {', '.join(JOB_FORMATS)}")
    if not job.inputs:
        raise InputError("no audio inputs given")
    if not job.emotions:
        raise InputError("no emotion given; use e.g. -e neutral or -e happy,sad")
    if job.engine not in ("model", "rules"):
        raise InputError(f"unknown engine {job.engine!r}; use model or rules")
    for emotion in job.emotions:
        emotion_mix(emotion, None)  # weights here; names against the model's (or the rules') vocabulary later
    plan_outputs(job)


def run_job(job: AnimateJob, on_file_done: Callable[[Path], None] | None = None) -> JobResult:
    """Animate every input for every emotion and write every format.

    Problems with options (unknown format, unwritable folder, bad emotion, two
    inputs writing one file) are found before any work is done. An input that
    cannot be animated is recorded in :attr:`JobResult.failures` and skipped;
    a problem with the output (disk full, read-only folder) stops the job.

    Raises:
        InputError: bad options (before any work).
        OutputError: bad output folder or names (before any work), or a failed write.
    """
    check_job(job)
    animate = _engine(job)
    rig = None
    if set(job.formats) - {"npz"}:
        from probtalk.flame import load_rig

        rig = load_rig(job.rig)
    out = ensure_writable_dir(job.out)
    result = JobResult()
    with output_lock(out):
        for audio_path in job.inputs:
            try:
                per_emotion = [(emotion_label(e), animate(audio_path, e)) for e in job.emotions]
            except InputError as exc:
                logger.info("skipped %s: %s", audio_path, exc)
                result.failures.append(InputFailure(audio_path, str(exc)))
            else:
                for label, takes in per_emotion:
                    for k, anim in enumerate(takes):
                        files = [
                            _write(anim, out / output_name(audio_path, label, k, fmt), fmt, rig, audio_path)
                            for fmt in job.formats
                        ]
                        result.takes.append(TakeResult(audio_path, label, k, anim.num_frames, files))
            if on_file_done is not None:
                on_file_done(audio_path)
    return result


def _engine(job: AnimateJob) -> Callable[[Path, EmotionSpec], list[Animation]]:
    opts = job.options
    if job.engine == "rules":
        from probtalk.audio import audio_sha256, load_audio
        from probtalk.eval.rules import animate_rules

        for emotion in job.emotions:  # the rules know the 8 standard emotions; check before any audio
            emotion_mix(emotion)
        def rules(audio_path: Path, emotion: EmotionSpec) -> list[Animation]:
            anim = animate_rules(load_audio(audio_path), text=job.text, emotion=emotion, intensity=opts.intensity)
            anim.meta.update({"audio": audio_path.name, "audio_sha256": audio_sha256(audio_path)})
            return [anim]

        return rules
    from probtalk.api import load_model

    model = load_model(job.model, hubert=job.hubert)
    for emotion in job.emotions:  # validate styles before any audio is processed
        model.checkpoint.vocabulary.make(emotion, opts.intensity, opts.speaker)

    def learned(audio_path: Path, emotion: EmotionSpec) -> list[Animation]:
        return model.animate(audio_path, options=opts.replace(emotion=emotion))

    return learned


def _write(anim: Animation, path: Path, fmt: str, rig: Any, audio_path: Path) -> Path:
    if fmt == "npz":
        return anim.save(path)
    if fmt == "mp4":
        from probtalk.rendering import render

        return Path(render([anim], rig=rig, audio=audio_path, out=path))
    import exporters

    return Path(exporters.write(anim, path, rig=rig))
