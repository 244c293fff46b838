"""``probtalk animate``: speech files in, one animation file per take and format out."""

from __future__ import annotations

from pathlib import Path

import typer

from probtalk.cli.app import app, with_flags
from probtalk.options import AnimateOptions

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus", ".aiff", ".aif"}
DEFAULTS = AnimateOptions()

# Option names -> this command's flags, so error messages name what the user typed.
FLAGS = {
    "emotion": "-e/--emotion",
    "intensity": "-i/--intensity",
    "speaker": "--speaker",
    "num_samples": "-n/--takes",
    "temperature": "--temperature",
    "seed": "--seed",
    "head_motion": "--head-motion",
    "text": "--text",
    "seal_lips": "--seal-lips/--no-seal-lips",
    "listen": "--listen",
    "whisper_model": "--whisper-model",
    "performance": "--performance",
    "variation": "--variation",
}


def collect_inputs(paths: list[str]) -> list[Path]:
    """Expand folders into their audio files (sorted); keep files as given (they are checked when read).

    Raises:
        AudioError: a missing path, a folder without audio files, or an empty path.
    """
    from probtalk.errors import AudioError

    files: list[Path] = []
    for name in paths:
        if not name.strip():
            raise AudioError("an input path is empty; give speech files or folders")
        path = Path(name)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise AudioError(f"folder {path} holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            files.extend(found)
        elif path.exists() or path.is_symlink():
            files.append(path)  # read (and checked) when its turn comes
        else:
            raise AudioError(f"audio file {path} not found; check the path")
    return files


@app.command()
@with_flags(FLAGS)
def animate(
    inputs: list[str] = typer.Argument(..., help="Speech files or folders of them."),
    out: str = typer.Option("out", "-o", "--out", help="Output folder."),
    emotion: str = typer.Option(DEFAULTS.emotion, "-e", "--emotion", help="Emotions, comma-separated; a blend is happy:0.7+surprised:0.3."),
    intensity: str = typer.Option("medium", "-i", "--intensity", help="low | medium (= 1) | high, or a number in [0, 2]."),
    speaker: str = typer.Option(None, "--speaker", help="A training speaker id (default: the average speaker)."),
    takes: int = typer.Option(DEFAULTS.num_samples, "-n", "--takes", help="Takes per file and emotion (1-64)."),
    temperature: float = typer.Option(DEFAULTS.temperature, "--temperature", help="How much takes differ, 0-1: 0 = the deterministic take, 0.2 default, 1 = most varied."),
    seed: int = typer.Option(None, "--seed", help="Seed for reproducible takes (0 to 2^63-1)."),
    deterministic: bool = typer.Option(DEFAULTS.deterministic, "--deterministic", help="Argmax codes: the same take every time."),
    formats: str = typer.Option("npz", "--format", "-f", help="Comma-separated: npz, glb, fbx, csv, json, mp4."),
    model: str = typer.Option(None, "--model", help="Checkpoint path (default: the embedded model)."),
    rig: str = typer.Option(None, "--rig", help="FLAME .pkl or probtalk .npz rig for exports/renders."),
    hubert: str = typer.Option(None, "--hubert", help="Folder with pretrained HuBERT weights."),
    engine: str = typer.Option("model", "--engine", help="model (learned) or rules (phone-based baseline)."),
    text: str = typer.Option(
        None, "--text",
        help="Transcript of the speech (one audio file); in folder mode a <name>.txt beside each file is read.",
    ),
    seal_lips: bool = typer.Option(
        DEFAULTS.seal_lips, "--seal-lips/--no-seal-lips",
        help="Close the lips on every p, b and m (and open them on open vowels): aligned from the transcript, "
        "or heard by the model's bilabial detector and speech recognition without one (default on).",
    ),
    listen: str = typer.Option(
        DEFAULTS.listen, "--listen",
        help="Without a transcript, how the lip seal hears p, b and m beside its detector: words (recognises "
        "the words; the default), phones (about 3x faster, hears far fewer on real recordings) or whisper "
        "(a local Whisper model recognises a transcript, used as --text is: holds in noise and rooms; "
        "`make whisper` installs one).",
    ),
    whisper_model: str = typer.Option(
        None, "--whisper-model",
        help="CTranslate2 Whisper folder for --listen whisper (default: $PROBTALK_WHISPER_MODEL, else "
        "models/whisper-base from `make whisper`).",
    ),
    fps: float = typer.Option(None, "--fps", help="Export frame rate, resampled from 25 (e.g. 24, 29.97, 30, 60)."),
    with_audio: bool = typer.Option(False, "--with-audio", help="Copy the speech next to the exports as <stem>.wav."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace files an earlier run left under the same names (refused without it)."
    ),
    head_motion: float = typer.Option(
        DEFAULTS.head_motion, "--head-motion", help="Head motion scale, 0-2 (0: the head stays exactly still)."
    ),
    blinks: bool = typer.Option(DEFAULTS.blinks, "--blinks/--no-blinks", help="Add seeded blinks."),
    gaze: bool = typer.Option(DEFAULTS.gaze, "--gaze/--no-gaze", help="Move the eyes (saccades, aversion, eye contact)."),
    performance: str = typer.Option(
        None, "--performance",
        help="Hold habits of every take, habit=score in -3..3 (0 = the median take), e.g. articulation=1.5,rest_open=-1; "
        "the rest are drawn per take ('probtalk info' lists the model's habits).",
    ),
    variation: float = typer.Option(
        DEFAULTS.variation, "--variation",
        help="How widely each take's performance (articulation, brows, smiles) is drawn, 0-2: 1 = the model's own "
        "widths (default; the corpus's retakes', 'probtalk info' shows any other), 0 = every take the median "
        "performance, 2 = twice as widely.",
    ),
) -> None:
    """Animate speech: one file per input, emotion, take and format.

    Two inputs that would write the same file, or files an earlier run left under the same names
    (without --overwrite), are refused before any work. A bad input is reported and skipped; the
    others are written, and the exit status is 2.
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from probtalk.errors import InputError, OutputError
    from probtalk.options import parse_emotion_list
    from probtalk.pipeline import AnimateJob, run_job

    if not out.strip():
        raise OutputError("-o/--out is empty; give an output folder (e.g. -o out)")
    options = AnimateOptions(
        intensity=intensity, speaker=speaker, num_samples=takes, temperature=temperature, seed=seed,
        deterministic=deterministic, seal_lips=seal_lips, listen=listen, whisper_model=whisper_model,
        head_motion=head_motion, blinks=blinks,
        gaze=gaze, performance=performance, variation=variation,
    )
    if engine not in ("model", "rules"):
        raise InputError(f"unknown engine {engine!r}; use --engine model or --engine rules")
    job = AnimateJob(
        inputs=collect_inputs(inputs),
        out=Path(out),
        emotions=parse_emotion_list(emotion),
        options=options,
        formats=[f.strip().lower() for f in formats.split(",") if f.strip()],
        model=model,
        rig=rig,
        hubert=hubert,
        engine=engine,
        text=text,
        fps=fps,
        with_audio=with_audio,
        overwrite=overwrite,
    )
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("animating", total=len(job.inputs))
        result = run_job(job, on_file_done=lambda _path: progress.advance(task))
    if result.takes:
        table = Table(title=f"probtalk animate -> {out}")
        for col in ("input", "emotion", "take", "frames", "files"):
            table.add_column(col)
        for r in result.takes:
            table.add_row(r.input.name, r.emotion, str(r.take), str(r.frames), ", ".join(p.name for p in r.files))
        Console().print(table)
    for f in result.failures:
        typer.echo(f"error: {f.message}", err=True)
    if result.failures and len(job.inputs) > 1:
        typer.echo(f"error: {len(result.failures)} of {len(job.inputs)} inputs failed; the others were written", err=True)
    if result.failures:
        raise typer.Exit(2)
