"""``probtalk train vq|predictor|head|bilabial|vowel``: thin shell over :mod:`probtalk.train`,
:mod:`probtalk.life.train` and :mod:`probtalk.train.bilabial`."""

from __future__ import annotations

import enum
import os
from typing import Any

import typer

from probtalk.cli.app import app, run_cli


class Stage(str, enum.Enum):
    vq = "vq"
    predictor = "predictor"
    head = "head"
    bilabial = "bilabial"
    vowel = "vowel"


HEAD_KEYS = {"steps": int, "batch_size": int, "lr": float, "seed": int, "max_clips": int, "velocity_weight": float}
BILABIAL_KEYS = {"steps": int, "batch_size": int, "lr": float, "seed": int, "max_clips": int, "variants": int,
                 "dropout": float, "positive_weight": float, "threshold": float, "speech_share": float,
                 "hidden": int, "depth": int}


@app.command()
@run_cli
def train(
    stage: Stage = typer.Argument(
        ..., help="vq (stage 1: motion VQ-VAE), predictor (stage 2: audio -> latents), head (head motion net) "
        "bilabial (the lip seal's p/b/m detector) or vowel (its open-vowel detector)."
    ),
    data: str = typer.Option(..., "--data", help="Corpus folder in the dataset layout, e.g. datasets/synth."),
    out: str = typer.Option(..., "--out", help="Run folder for last.pt, best.pt, train_state.pt, metrics.csv."),
    vq: str = typer.Option(None, "--vq", help="Stage-1 checkpoint (required for 'predictor')."),
    config: str = typer.Option(None, "--config", help="TOML file: TrainConfig keys plus tables vq, audio, predictor, augment."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key, e.g. --set lr=3e-4 --set vq.hidden=128."),
    hubert: str = typer.Option(None, "--hubert", help="Local pretrained HuBERT folder (default: small HuBERT from scratch)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/train_state.pt."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    speech: list[str] = typer.Option([], "--speech", help="bilabial and vowel only: a folder of recordings with a <name>.txt "
                                     "transcript beside each, force-aligned and added to the corpus (repeatable)."),
) -> None:
    """Train stage 1 (vq), stage 2 (predictor), the head motion net (head: --set steps=, batch_size=, lr=,
    seed=, max_clips=, velocity_weight=) or the bilabial or open-vowel detector (bilabial, vowel: --set steps=,
    batch_size=, lr=, seed=, max_clips=, variants=, dropout=, positive_weight=, threshold=, speech_share=,
    hidden=, depth=; --speech); torchrun --nproc-per-node N runs
    vq and predictor data-parallel."""
    from probtalk.errors import InputError, OutputError
    from probtalk.train import load_train_config, train_predictor, train_vq

    for flag, value in (("--out", out), ("--data", data)):
        if not value.strip():
            raise OutputError(f"{flag} is empty; give a folder (e.g. --data datasets/synth --out runs/vq)")
    detector = stage in (Stage.bilabial, Stage.vowel)
    if speech and not detector:
        raise InputError(f"--speech is for 'probtalk train bilabial' and 'vowel', not {stage.value}; leave it out")
    if stage is Stage.head or detector:
        if stage is Stage.head:
            from probtalk.life.train import train_head as train_net
        else:
            from probtalk.train.bilabial import train_bilabial as train_net
        keys = HEAD_KEYS if stage is Stage.head else BILABIAL_KEYS
        settings: dict[str, Any] = dict(_net_settings(stage.value, keys, set_))
        if detector:
            settings["target"] = stage.value
        if speech:
            settings["speech"] = speech
        path, net_metrics = train_net(data, out, **settings)
        shown = {k: v for k, v in net_metrics.items() if not isinstance(v, dict)}
        typer.echo(f"done: {path}  " + "  ".join(f"{k} {v}" for k, v in shown.items()))
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


def _net_settings(stage: str, keys: dict[str, type], items: list[str]) -> dict[str, int | float]:
    """``--set key=value`` pairs for ``train head``, ``train bilabial`` or ``train vowel`` (keys of :data:`HEAD_KEYS`,
    :data:`BILABIAL_KEYS`)."""
    from probtalk.errors import InputError

    out: dict[str, int | float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in keys:
            raise InputError(f"--set {item!r}: train {stage} takes {', '.join(f'{k}=' for k in keys)}")
        try:
            out[key] = keys[key](value)
        except ValueError:
            raise InputError(f"--set {item!r}: {key} must be a {keys[key].__name__}") from None
        if out[key] < 0 or (out[key] == 0 and key not in ("seed", "velocity_weight", "dropout")):
            raise InputError(f"--set {item!r}: {key} must be > 0")
    return out
