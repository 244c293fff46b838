"""``probtalk stream`` (live audio in, one line per frame out) and ``probtalk export-model --onnx``."""

from __future__ import annotations

import sys

import typer

from probtalk.cli.app import app, run_cli, with_flags
from probtalk.options import AnimateOptions

DEFAULTS = AnimateOptions()
FLAGS = {
    "emotion": "-e/--emotion",
    "intensity": "-i/--intensity",
    "speaker": "--speaker",
    "temperature": "--temperature",
    "seed": "--seed",
    "head_motion": "--head-motion",
    "performance": "--performance",
    "variation": "--variation",
    "lookahead_seconds": "--lookahead",
    "context_seconds": "--context",
}


@app.command()
@with_flags(FLAGS)
def stream(
    source: str = typer.Argument("-", help="Raw PCM16 or WAV (16 kHz) file, or - for standard input."),
    line_format: str = typer.Option("csv", "--format", "-f", help="csv or jsonl: one line per frame."),
    arkit: bool = typer.Option(False, "--arkit", help="ARKit-52 curves (Live Link Face columns) instead of FLAME parameters."),
    rig: str = typer.Option(None, "--rig", help="Rig for the ARKit solve (default: the bundled head)."),
    emotion: str = typer.Option("neutral", "-e", "--emotion", help="An emotion, or a blend happy:0.7+surprised:0.3."),
    intensity: str = typer.Option("medium", "-i", "--intensity", help="low | medium (= 1) | high, or a number in [0, 2]."),
    speaker: str = typer.Option(None, "--speaker", help="A training speaker id (default: the average speaker)."),
    temperature: float = typer.Option(DEFAULTS.temperature, "--temperature", help="How much takes differ, 0-1: 0 = the deterministic take, 0.2 default, 1 = most varied."),
    seed: int = typer.Option(None, "--seed", help="Seed for a reproducible take."),
    deterministic: bool = typer.Option(False, "--deterministic", help="Argmax codes: the same take every time."),
    lookahead: float = typer.Option(0.24, "--lookahead", help="Seconds of audio needed after a frame (latency)."),
    context: float = typer.Option(2.0, "--context", help="Seconds of already-sent audio kept as context."),
    raw: bool = typer.Option(False, "--raw", help="Input is raw PCM16 even if it starts like a WAV header."),
    follow: bool = typer.Option(False, "--follow", help="Keep reading a growing file until it stops growing."),
    idle: float = typer.Option(1.0, "--idle", help="With --follow: seconds without new bytes that end the stream."),
    model: str = typer.Option(None, "--model", help="Checkpoint .pt or ONNX export folder (default: the embedded model)."),
    threads: int = typer.Option(2, "--threads", help="CPU threads for inference."),
    head_motion: float = typer.Option(
        DEFAULTS.head_motion, "--head-motion", help="Head motion scale, 0-2 (0: the head stays exactly still)."
    ),
    blinks: bool = typer.Option(DEFAULTS.blinks, "--blinks/--no-blinks", help="Add seeded blinks."),
    gaze: bool = typer.Option(DEFAULTS.gaze, "--gaze/--no-gaze", help="Move the eyes (saccades, aversion, eye contact)."),
    performance: str = typer.Option(
        None, "--performance", help="Hold habits of the take, habit=score in -3..3, e.g. articulation=1.5,rest_open=-1."
    ),
    variation: float = typer.Option(
        DEFAULTS.variation, "--variation",
        help="How widely each take's performance (articulation, brows, smiles) is drawn, 0-2: 1 = as the corpus's "
        "retakes differ (default), 0 = every take the median performance, 2 = twice as widely.",
    ),
) -> None:
    """Animate live speech: one line per frame on standard output, each as soon as it is ready."""
    from pathlib import Path

    from probtalk.errors import InputError
    from probtalk.options import parse_emotion_list
    from probtalk.runtime.live import FrameLines, run_live
    from probtalk.runtime.loading import load_fast_model
    from probtalk.runtime.stream import StreamOptions

    emotions = parse_emotion_list(emotion)
    if len(emotions) != 1:
        raise InputError("-e/--emotion: a stream takes one emotion or one blend, not a list")
    the_model = load_fast_model(model, threads=threads)
    live = the_model.stream(
        16000, AnimateOptions(emotion=emotions[0], intensity=intensity, speaker=speaker, temperature=temperature,
                              seed=seed, deterministic=deterministic, head_motion=head_motion, blinks=blinks,
                              gaze=gaze, performance=performance, variation=variation),
        stream_options=StreamOptions(lookahead_seconds=lookahead, context_seconds=context),
    )
    lines = FrameLines(line_format, arkit=arkit, rig=rig)

    def emit(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    if source == "-":
        run_live(sys.stdin.buffer, live, lines, emit, raw=raw or None, follow=False)
        return
    path = Path(source)
    if not path.is_file():
        raise InputError(f"audio source {path} not found; give a file or - for standard input")
    with open(path, "rb") as fh:
        run_live(fh, live, lines, emit, raw=raw or None, follow=follow, idle_seconds=idle)


@app.command("export-model")
@run_cli
def export_model(
    onnx: str = typer.Option(..., "--onnx", help="Output folder for encoder.onnx, decoder.onnx and probtalk_onnx.json."),
    model: str = typer.Option(None, "--model", help="Checkpoint path (default: the embedded model)."),
    hubert: str = typer.Option(None, "--hubert", help="Folder with pretrained HuBERT weights, if the checkpoint needs them."),
) -> None:
    """Export a model's inference graph as ONNX (onnxruntime, Unity Sentis, Unreal NNE); see docs/realtime.md."""
    from pathlib import Path

    from probtalk.api import default_model_path
    from probtalk.errors import CheckpointError
    from probtalk.runtime.export import export_onnx

    source = Path(model) if model else default_model_path()
    if not source.is_file():
        raise CheckpointError(f"model checkpoint {source} not found; give a .pt file from 'probtalk train'")
    out = export_onnx(source, Path(onnx), hubert=hubert)
    for path in sorted(out.iterdir()):
        typer.echo(str(path))
