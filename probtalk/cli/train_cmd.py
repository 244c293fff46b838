"""``probtalk train vq|predictor|head``: thin shell over :mod:`probtalk.train` and :mod:`probtalk.life.train`."""

from __future__ import annotations

import enum
import os

import typer

from probtalk.cli.app import app, run_cli


class Stage(str, enum.Enum):
    vq = "vq"
    predictor = "predictor"
    head = "head"


HEAD_KEYS = {"steps": int, "batch_size": int, "lr": float, "seed": int, "max_clips": int, "velocity_weight": float}


@app.command()
@run_cli
def train(
    stage: Stage = typer.Argument(
        ..., help="vq (stage 1: motion VQ-VAE), predictor (stage 2: audio -> latents) or head (head motion net)."
    ),
    data: str = typer.Option(..., "--data", help="Corpus folder in the dataset layout, e.g. datasets/synth."),
    out: str = typer.Option(..., "--out", help="Run folder for last.pt, best.pt, train_state.pt, metrics.csv."),
    vq: str = typer.Option(None, "--vq", help="Stage-1 checkpoint (required for 'predictor')."),
    config: str = typer.Option(None, "--config", help="TOML file: TrainConfig keys plus tables vq, audio, predictor, augment."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key, e.g. --set lr=3e-4 --set vq.hidden=128."),
    hubert: str = typer.Option(None, "--hubert", help="Local pretrained HuBERT folder (default: small HuBERT from scratch)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/train_state.pt."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Train stage 1 (vq), stage 2 (predictor) or the head motion net (head: --set steps=, batch_size=, lr=,
    seed=, max_clips=, velocity_weight=); torchrun --nproc-per-node N runs vq and predictor data-parallel."""
    from probtalk.errors import InputError, OutputError
    from probtalk.train import load_train_config, train_predictor, train_vq

    for flag, value in (("--out", out), ("--data", data)):
        if not value.strip():
            raise OutputError(f"{flag} is empty; give a folder (e.g. --data datasets/synth --out runs/vq)")
    if stage is Stage.head:
        from probtalk.life.train import train_head

        path, head_metrics = train_head(data, out, **_head_settings(set_))
        typer.echo(f"done: {path}  " + "  ".join(f"{k} {v}" for k, v in head_metrics.items()))
        return
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


def _head_settings(items: list[str]) -> dict[str, int | float]:
    """``--set key=value`` pairs for ``train head`` (keys of :data:`HEAD_KEYS`)."""
    from probtalk.errors import InputError

    out: dict[str, int | float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in HEAD_KEYS:
            raise InputError(f"--set {item!r}: train head takes {', '.join(f'{k}=' for k in HEAD_KEYS)}")
        try:
            out[key] = HEAD_KEYS[key](value)
        except ValueError:
            raise InputError(f"--set {item!r}: {key} must be a {HEAD_KEYS[key].__name__}") from None
        if out[key] < 0 or (out[key] == 0 and key not in ("seed", "velocity_weight")):
            raise InputError(f"--set {item!r}: {key} must be > 0")
    return out
