"""``probtalk animate``: speech files in, one animation file per take and format out."""

from __future__ import annotations

from pathlib import Path

import typer

from probtalk.cli.app import app, run_cli

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".aac", ".opus", ".aiff", ".aif"}


def collect_inputs(paths: list[Path]) -> list[Path]:
    """Expand folders into their audio files (sorted); keep files as given."""
    from probtalk.errors import AudioError

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise AudioError(f"folder {path} holds no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise AudioError(f"audio file {path} not found; check the path")
    return files


@app.command()
@run_cli
def animate(
    inputs: list[Path] = typer.Argument(..., help="Speech files or folders of them."),
    out: Path = typer.Option(Path("out"), "-o", "--out", help="Output folder."),
    emotion: str = typer.Option("neutral", "-e", "--emotion", help="Emotions, comma-separated; a blend is happy:0.7+surprised:0.3."),
    intensity: str = typer.Option("medium", "-i", "--intensity", help="low | medium | high, or a number in [0, 2]."),
    speaker: str = typer.Option(None, "--speaker", help="A training speaker id (default: the average speaker)."),
    takes: int = typer.Option(1, "-n", "--takes", help="Takes per file and emotion."),
    temperature: float = typer.Option(0.2, "--temperature", help="Code-sampling temperature (> 0)."),
    seed: int = typer.Option(None, "--seed", help="Seed for reproducible takes."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Argmax codes: the same take every time."),
    formats: str = typer.Option("npz", "--format", "-f", help="Comma-separated: npz, glb, fbx, csv, json, mp4."),
    model: str = typer.Option(None, "--model", help="Checkpoint path (default: the embedded model)."),
    rig: str = typer.Option(None, "--rig", help="FLAME .pkl or probtalk .npz rig for exports/renders."),
    hubert: str = typer.Option(None, "--hubert", help="Folder with pretrained HuBERT weights."),
    engine: str = typer.Option("model", "--engine", help="model (learned) or rules (phone-based baseline)."),
    text: str = typer.Option(None, "--text", help="Transcript, for --engine rules (optional)."),
    fps: float = typer.Option(None, "--fps", help="Export frame rate, resampled from 25 (e.g. 24, 29.97, 30, 60)."),
    with_audio: bool = typer.Option(False, "--with-audio", help="Copy the speech next to the exports as <stem>.wav."),
) -> None:
    """Animate speech: one file per input, emotion, take and format."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from probtalk.errors import InputError
    from probtalk.pipeline import AnimateJob, parse_emotions, run_job

    if engine not in ("model", "rules"):
        raise InputError(f"unknown engine {engine!r}; use --engine model or --engine rules")
    job = AnimateJob(
        inputs=collect_inputs(inputs),
        out=out,
        emotions=parse_emotions(emotion),
        intensity=intensity,
        speaker=speaker,
        takes=takes,
        temperature=temperature,
        seed=seed,
        deterministic=deterministic,
        formats=[f.strip().lower() for f in formats.split(",") if f.strip()],
        model=model,
        rig=rig,
        hubert=hubert,
        engine=engine,
        text=text,
        fps=fps,
        with_audio=with_audio,
    )
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("animating", total=len(job.inputs))
        results = run_job(job, on_file_done=lambda _path: progress.advance(task))
    table = Table(title=f"probtalk animate -> {out}")
    for col in ("input", "emotion", "take", "frames", "files"):
        table.add_column(col)
    for r in results:
        table.add_row(r.input.name, r.emotion, str(r.take), str(r.frames), ", ".join(p.name for p in r.files))
    Console().print(table)
