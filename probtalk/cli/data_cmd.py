"""``probtalk data synth``: generate the synthetic corpus in the dataset layout."""

from __future__ import annotations

from pathlib import Path

import typer

from probtalk.cli.app import data_app, progress_bar, run_cli


@data_app.command("synth")
@run_cli
def synth(
    out: str = typer.Option("datasets/synth", "--out", "-o", help="Corpus folder (created; resumable)."),
    speakers: int = typer.Option(24, "--speakers", help="Number of speakers (TTS voices)."),
    sentences: int = typer.Option(40, "--sentences", help="Neutral sentences per speaker (emotional: 75 % as many)."),
    emotions: str = typer.Option("all", "--emotions", help="'all' or a comma list, e.g. neutral,happy,sad."),
    intensities: int = typer.Option(3, "--intensities", help="Intensity levels: 3 low/medium/high, 2 low/high, 1 medium."),
    emotions_per_sentence: int = typer.Option(3, "--emotions-per-sentence", help="Emotions each emotional sentence is spoken in."),
    seed: int = typer.Option(0, "--seed", help="Corpus seed: same seed, same corpus."),
    workers: int = typer.Option(2, "--workers", "-j", help="Worker processes."),
    heldout_speakers: int = typer.Option(2, "--heldout-speakers", help="Whole speakers held out (splits/test_unseen_speakers)."),
    performances: int = typer.Option(3, "--performances", help="Performances (motion takes) per training utterance."),
    heldout_engine_speakers: int = typer.Option(
        5, "--heldout-engine-speakers", help="Extra speakers voiced by flite, held out whole (splits/test_unseen_engine)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Generate the synthetic speech + FLAME motion corpus (see datasets/README.md)."""
    from probtalk.corpus.synth import SynthConfig, synthesize_corpus
    from probtalk.errors import OptionError, OutputError
    from probtalk.options import parse_emotion_names

    if not out.strip():
        raise OutputError("-o/--out is empty; give the corpus folder (e.g. -o datasets/synth)")
    if workers < 1:
        raise OptionError(f"--workers must be >= 1, got {workers}")
    config = SynthConfig(
        speakers=speakers, sentences=sentences, emotions=parse_emotion_names(emotions), intensities=intensities,
        seed=seed, heldout_speakers=heldout_speakers, emotions_per_sentence=emotions_per_sentence,
        performances=performances, heldout_engine_speakers=heldout_engine_speakers,
    )
    if quiet:
        result = synthesize_corpus(out, config, workers=workers)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        columns = (TextColumn("synth"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with progress_bar(*columns) as bar:
            task = bar.add_task("clips", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = synthesize_corpus(out, config, workers=workers, progress=update)
    counts = result.manifest["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in counts["splits"].items())
    typer.echo(
        f"{result.root}: {result.clips} clips ({result.generated} new, {result.skipped} kept), "
        f"{counts['speakers']} speakers, {result.hours:.2f} h of speech in {result.seconds:.0f} s; splits: {splits}"
    )


@data_app.command("splits")
@run_cli
def splits(
    root: Path = typer.Argument(..., help="Corpus folder with param/ (e.g. datasets/3DMEAD)."),
) -> None:
    """Write splits/{train,val,test} by 3DMEAD's sentence ranges (neutral 1-32/33-36/37-40, emotional 1-24/25-27/28-30)."""
    from probtalk.data.dataset import write_sentence_range_splits

    counts = write_sentence_range_splits(root)
    typer.echo(f"{root}/splits: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
