"""The main job: speech files -> takes per emotion -> files in every requested format.

``probtalk animate`` is a thin shell over :func:`run_job`; Python users can call
it directly, or use :func:`probtalk.load_model` and :func:`exporters.write`.

What the job guarantees:

* every option, format and output name is checked before any work is done;
  two inputs that would write the same file (``a/x.wav`` and ``b/x.wav``,
  ``x.wav`` and ``x.flac``, an emotion given twice) are refused, naming both, and
  so are files an earlier run left under the same names, unless ``overwrite``;
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
from probtalk.errors import InputError, OptionError, OutputError
from probtalk.io import ensure_writable_dir, output_lock, refuse_existing
from probtalk.options import DEFAULT_VARIATION, AnimateOptions, EmotionSpec, emotion_label, emotion_mix

logger = logging.getLogger(__name__)


def job_formats() -> list[str]:
    """Formats the job writes: every exporter format (and its suffix alias) plus the MP4 preview."""
    import exporters

    return [*exporters.formats(aliases=True), "mp4"]


@dataclass
class AnimateJob:
    """Everything ``probtalk animate`` was asked to do.

    Attributes:
        inputs: speech files.
        out: output folder (created when missing).
        emotions: one run per emotion (a name or a blend); ``options.emotion`` is ignored.
        options: every other animate option (takes = ``options.num_samples``).
        formats: output formats, see :func:`job_formats`.
        model, rig, hubert: checkpoint, rig and HuBERT paths (None: the defaults).
        engine: "model" (learned) or "rules" (phone-based baseline).
        text: transcript of the one input (the model's phone input, or the rules engine's words);
            None reads ``<name>.txt`` beside each input when there is one.
        fps: export frame rate (None: the model's 25 fps).
        with_audio: copy the speech next to the exports as ``<stem>.wav``.
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
    fps: float | None = None
    with_audio: bool = False
    overwrite: bool = False


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
    """Predictable names: ``<stem>_<emotion>_take<k>.<ext>`` (the format's own suffix, e.g. ``.csv`` for livelink)."""
    import exporters

    return f"{audio.stem}_{emotion}_take{take}" + (".mp4" if fmt == "mp4" else exporters.suffix(fmt))


def plan_outputs(job: AnimateJob) -> dict[str, tuple[Path, str]]:
    """Every file name the job will write -> (input, emotion label); refuse collisions.

    Raises:
        OutputError: two inputs (or one input with two emotions of the same label)
            would write the same file, an output name is taken by a folder, or (without
            ``job.overwrite``) by a file an earlier run left.
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
    _keep_earlier_outputs(job, names)
    return names


def _keep_earlier_outputs(job: AnimateJob, names: dict[str, tuple[Path, str]]) -> None:
    """Refuse to replace files an earlier run left in the output folder under ``names``, unless ``job.overwrite``.

    Raises:
        OutputError: an output file (or, with ``with_audio``, a speech copy) exists already.
    """
    if job.overwrite:
        return
    files = set(names)
    if job.with_audio:
        files |= {Path(n).stem + ".wav" for n in names}
    refuse_existing([job.out / n for n in sorted(files)])


def check_job(job: AnimateJob) -> None:
    """Refuse a job whose options, formats or outputs are bad, before any work.

    Raises:
        InputError, OutputError: the first problem found.
    """
    if not isinstance(job.options, AnimateOptions):
        raise InputError(f"job.options must be an AnimateOptions, got {type(job.options).__name__}")
    known = job_formats()
    unknown = [f for f in job.formats if f not in known]
    if unknown:
        raise InputError(f"unknown output format(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    if not job.formats:
        raise InputError(f"no output format given; choose from {', '.join(known)}")
    import exporters

    exporters.check_fps(job.fps)
    if not job.inputs:
        raise InputError("no audio inputs given")
    if job.text is not None and len(job.inputs) > 1:
        raise InputError("--text is the transcript of one audio file; for several, put <name>.txt beside each file")
    if job.text is not None:
        job.options.replace(text=job.text)  # the same check as the API's, before any work
    if not job.emotions:
        raise InputError("no emotion given; use e.g. -e neutral or -e happy,sad")
    if job.engine not in ("model", "rules"):
        raise InputError(f"unknown engine {job.engine!r}; use model or rules")
    for emotion in job.emotions:
        emotion_mix(emotion, None)  # weights here; names against the model's (or the rules') vocabulary later
    if (job.engine == "model" and job.options.listen == "whisper" and job.text is None
            and not all(p.with_suffix(".txt").is_file() for p in job.inputs)):
        from probtalk.whisper_ear import check_ready

        check_ready(job.options.whisper_model)  # the folder and the extra, before any work
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
    _start_listening(job)
    animate = _engine(job)
    rig = None
    if set(job.formats) - {"npz"}:
        from probtalk.flame import load_rig

        rig = load_rig(job.rig)
    out = ensure_writable_dir(job.out)
    result = JobResult()
    with output_lock(out):
        plan_outputs(job)  # again inside the lock: a run into the same folder may have written meanwhile
        for audio_path in job.inputs:
            try:
                text = transcript_for(job, audio_path)
                per_emotion = [(emotion_label(e), animate(audio_path, e, text)) for e in job.emotions]
            except InputError as exc:
                logger.info("skipped %s: %s", audio_path, exc)
                result.failures.append(InputFailure(audio_path, str(exc)))
            else:
                for label, takes in per_emotion:
                    for k, anim in enumerate(takes):
                        stem = output_name(audio_path, label, k, "mp4")[: -len(".mp4")]
                        files = _write_take(anim, out, stem, job, rig, audio_path)
                        result.takes.append(TakeResult(audio_path, label, k, anim.num_frames, files))
            if on_file_done is not None:
                on_file_done(audio_path)
    return result


def _start_listening(job: AnimateJob) -> None:
    """Start the lip seal's helper process before the model loads when an input will be sealed from its
    audio alone (no transcript): it loads pocketsphinx's models on the second core meanwhile, and takes
    the first clip's recognition (:mod:`probtalk.corpus.ear`)."""
    opts = job.options
    if job.engine != "model" or not opts.seal_lips or job.text is not None:
        return
    if all(p.with_suffix(".txt").is_file() for p in job.inputs):
        return
    from probtalk.corpus import ear

    ear.start_helper(words=opts.listen != "phones")  # "whisper" seals what the word ear hears too


def transcript_for(job: AnimateJob, audio_path: Path) -> str | None:
    """The transcript of ``audio_path``: ``job.text``, else ``<name>.txt`` beside the file, else None.

    Raises:
        InputError: the ``.txt`` file cannot be read as UTF-8 text.
    """
    if job.text is not None:
        return job.text
    sidecar = audio_path.with_suffix(".txt")
    if not sidecar.is_file():
        return None
    try:
        text = sidecar.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the transcript {sidecar} ({type(exc).__name__}); save it as UTF-8 text") from None
    return text or None


def _engine(job: AnimateJob) -> Callable[[Path, EmotionSpec, str | None], list[Animation]]:
    opts = job.options
    if job.engine == "rules":
        from probtalk.audio import audio_sha256, load_audio
        from probtalk.eval.rules import animate_rules

        for emotion in job.emotions:  # the rules know the 8 standard emotions; check before any audio
            emotion_mix(emotion)
        if opts.performance:
            raise OptionError("performance steers the learned model's takes; leave it out with the rules engine",
                              option="performance")
        if opts.variation != DEFAULT_VARIATION:
            raise OptionError("variation widens the learned model's takes; leave it out with the rules engine",
                              option="variation")
        def rules(audio_path: Path, emotion: EmotionSpec, text: str | None) -> list[Animation]:
            anim = animate_rules(load_audio(audio_path), text=text, emotion=emotion, intensity=opts.intensity)
            anim.meta.update({"audio": audio_path.name, "audio_sha256": audio_sha256(audio_path)})
            return [anim]

        return rules
    from probtalk.runtime.loading import load_fast_model

    # The embedded model runs through onnxruntime (no torch import: a fast start); a .pt through torch.
    model = load_fast_model(job.model, hubert=job.hubert)
    for emotion in job.emotions:  # validate styles before any audio is processed
        model.style_inputs(emotion, opts.intensity, opts.speaker)
    model.performance_vector(opts.performance)

    def learned(audio_path: Path, emotion: EmotionSpec, text: str | None) -> list[Animation]:
        return model.animate(audio_path, options=opts.replace(emotion=emotion, text=text))

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
