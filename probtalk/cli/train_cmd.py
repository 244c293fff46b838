"""``probtalk train vq|predictor``: thin shell over :mod:`probtalk.train`."""

from __future__ import annotations

import enum
import os

import typer

from probtalk.cli.app import app, run_cli


class Stage(str, enum.Enum):
    vq = "vq"
    predictor = "predictor"


@app.command()
@run_cli
def train(
    stage: Stage = typer.Argument(..., help="vq (stage 1: motion VQ-VAE) or predictor (stage 2: audio -> latents)."),
    data: str = typer.Option(..., "--data", help="Corpus folder in the dataset layout, e.g. datasets/synth."),
    out: str = typer.Option(..., "--out", help="Run folder for last.pt, best.pt, train_state.pt, metrics.csv."),
    vq: str = typer.Option(None, "--vq", help="Stage-1 checkpoint (required for 'predictor')."),
    config: str = typer.Option(None, "--config", help="TOML file: TrainConfig keys plus tables vq, audio, predictor, augment."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key, e.g. --set lr=3e-4 --set vq.hidden=128."),
    hubert: str = typer.Option(None, "--hubert", help="Local pretrained HuBERT folder (default: small HuBERT from scratch)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/train_state.pt."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train stage 1 (vq) or stage 2 (predictor); torchrun --nproc-per-node N runs it data-parallel."""
    from probtalk.errors import InputError, OutputError
    from probtalk.train import load_train_config, train_predictor, train_vq

    for flag, value in (("--out", out), ("--data", data)):
        if not value.strip():
            raise OutputError(f"{flag} is empty; give a folder (e.g. --data datasets/synth --out runs/vq)")
    cfg = load_train_config(config, set_)
    if stage is Stage.vq:
        _, _, metrics = train_vq(data, out, cfg, resume=resume, progress=progress)
    else:
        if vq is None:
            raise InputError("'probtalk train predictor' needs --vq runs/vq/last.pt (a stage-1 checkpoint)")
        _, metrics = train_predictor(data, out, vq, cfg, hubert=hubert, resume=resume, progress=progress)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        typer.echo(f"done: {out}/last.pt  {shown}")
