"""``probtalk evaluate``: the paper's metrics, lip-sync and emotion accuracy on a corpus split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from probtalk.cli.app import app, run_cli

if TYPE_CHECKING:
    from probtalk.eval.evaluate import GenerateFn
    from probtalk.flame.rig import Rig

ENGINES = ("model", "rules", "truth")


@app.command()
@run_cli
def evaluate(
    model: str = typer.Option("default", "--model", help="Checkpoint path, or 'default' for the embedded model."),
    data: Path = typer.Option(Path("datasets/synth"), "--data", help="Dataset folder (dataset layout)."),
    split: list[str] = typer.Option(["test"], "--split", help="Split(s) to score; repeat for several."),
    takes: int = typer.Option(10, "--takes", min=1, help="Takes per sample (MEE, CE, Diversity)."),
    engine: str = typer.Option("model", "--engine", help="What to score: 'model', 'rules' or 'truth' (replays the ground truth: a sanity check)."),
    baseline: bool = typer.Option(False, "--baseline", help="Also score the rule-based baseline, side by side."),
    limit: int = typer.Option(None, "--limit", min=1, help="Score at most N samples per split."),
    json_out: Path = typer.Option(None, "--json", help="Write all figures to this JSON file."),
    classifier: Path = typer.Option(
        None, "--classifier",
        help="Emotion classifier file: loaded if it exists, else trained on the train split and saved there.",
    ),
    rig: str = typer.Option(None, "--rig", help="FLAME .pkl or probtalk .npz rig (default: bundled head)."),
    seed: int = typer.Option(0, "--seed", help="Base seed of the takes."),
    classifier_steps: int = typer.Option(200, "--classifier-steps", min=1, help="Training steps of a new classifier."),
) -> None:
    """Score generated motion against the ground truth: MVE, LVE, MEE, CE, FDD, Diversity, lip-sync, emotion."""
    from rich.progress import Progress

    from probtalk.errors import DatasetError, InputError
    from probtalk.eval import (
        compare_reports,
        load_emotion_classifier,
        save_emotion_classifier,
        train_emotion_classifier,
    )
    from probtalk.eval import evaluate as run_evaluate
    from probtalk.io import atomic_write_text, ensure_writable_dir

    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; use one of: {', '.join(ENGINES)}")
    if not data.is_dir():
        raise DatasetError(f"data folder {data} not found; generate a corpus with 'probtalk data synth' or pass --data")
    if json_out is not None:
        ensure_writable_dir(json_out.parent if str(json_out.parent) else ".", create=False)

    from probtalk.data.dataset import MotionDataset
    from probtalk.flame import load_rig

    the_rig = load_rig(rig)
    datasets = {name: MotionDataset(data, name) for name in dict.fromkeys(split)}
    names = [engine] + (["rules"] if baseline and engine != "rules" else [])
    fns = {name: _generate_fn(name, model, the_rig) for name in names}  # load the model before training

    if classifier is not None and classifier.is_file():
        clf = load_emotion_classifier(classifier)
        clf_source = str(classifier)
    else:
        typer.echo("training the emotion classifier on the train split ...", err=True)
        clf = train_emotion_classifier(MotionDataset(data, "train"), steps=classifier_steps, seed=seed)
        clf_source = "trained on train split"
        if classifier is not None:
            save_emotion_classifier(clf, classifier)
            clf_source += f", saved to {classifier}"

    total = sum(len(d) if limit is None else min(len(d), limit) for d in datasets.values()) * len(fns)
    reports = {}
    with Progress(transient=True) as bar:
        task = bar.add_task("evaluating", total=total)
        for name, fn in fns.items():

            def tick(keyid: str, name: str = name) -> None:
                bar.update(task, advance=1, description=f"{name} {keyid}")

            reports[name] = run_evaluate(
                fn, datasets, the_rig, takes=takes, seed=seed, classifier=clf, limit=limit, progress=tick
            )
            reports[name].meta.update({"engine": name, "data": str(data), "model": model if name == "model" else None})
    typer.echo(compare_reports(reports) if len(reports) > 1 else next(iter(reports.values())).to_table())
    typer.echo(f"emotion classifier: {clf_source}")
    if json_out is not None:
        payload = {
            "engines": {name: r.to_dict() for name, r in reports.items()},
            "classifier": {"source": clf_source},
        }
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")
        typer.echo(f"wrote {json_out}")


def _generate_fn(name: str, model: str, rig: Rig) -> GenerateFn:
    from probtalk.eval import model_generate_fn, rules_generate_fn, truth_generate_fn

    if name == "rules":
        return rules_generate_fn(rig=rig)
    if name == "truth":
        return truth_generate_fn()
    from probtalk.api import load_model

    return model_generate_fn(load_model(model))
