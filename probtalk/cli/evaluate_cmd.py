"""``probtalk evaluate``: the paper's metrics, lip-sync and emotion accuracy on a corpus split."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from probtalk.cli.app import app, progress_bar, run_cli


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
    from probtalk.errors import OutputError
    from probtalk.eval.compare import compare_engines
    from probtalk.io import atomic_write_text, ensure_writable_dir

    # refuse unwritable outputs before the (long) evaluation, not after it
    for flag, path in (("--json", json_out), ("--classifier", classifier)):
        if path is not None and path.is_dir():
            raise OutputError(f"{flag} {path} is a folder (or empty); name a file, e.g. {flag} results.json")
    if json_out is not None:
        ensure_writable_dir(json_out.parent if str(json_out.parent) else ".", create=False)
    engines = [engine] + (["rules"] if baseline else [])
    with progress_bar() as bar:
        task = bar.add_task("evaluating", total=None)

        def progress(description: str, started: int, total: int) -> None:
            bar.update(task, description=description, completed=started, total=total)

        result = compare_engines(
            data, engines, model=model, splits=split, takes=takes, limit=limit, seed=seed, rig=rig,
            classifier=classifier, classifier_steps=classifier_steps, progress=progress,
        )
    typer.echo(result.to_table())
    typer.echo(f"emotion classifier: {result.classifier_source}")
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(result.to_dict(), indent=2) + "\n")
        typer.echo(f"wrote {json_out}")
