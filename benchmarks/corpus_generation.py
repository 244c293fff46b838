"""Corpus generation speed: generate a slice with the default recipe and project the full corpus.

    python benchmarks/corpus_generation.py [--speakers 2] [--sentences 4] [--workers 2]
    python benchmarks/corpus_generation.py --score datasets/synth [--clips 200]

Prints seconds of speech generated per wall second, the average clip length
and the projected wall time of ``probtalk data synth`` with the defaults.
``--score`` instead reads an existing corpus and prints its size and the
lip-sync rates of the procedural motion (lips shut < 2 mm at p/b/m
midpoints, open > 6 mm at open-vowel midpoints) over a sample of clips.
The slice uses the default recipe (emotions, intensity levels, emotions per
sentence) on fewer speakers and sentences, in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from probtalk.corpus.synth import SynthConfig, plan_corpus, synthesize_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--score", type=Path, help="score an existing corpus instead of generating a slice")
    parser.add_argument("--clips", type=int, default=200, help="clips sampled by --score")
    args = parser.parse_args()
    if args.score is not None:
        score(args.score, args.clips)
        return

    default = SynthConfig()
    config = SynthConfig(speakers=args.speakers, sentences=args.sentences, heldout_speakers=0, seed=default.seed)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = synthesize_corpus(tmp, config, workers=args.workers)
        wall = time.perf_counter() - start
    speech = result.manifest["total_seconds"]
    clips = result.clips
    full_clips = len(plan_corpus(default)[2])
    per_clip_wall = wall / clips
    mean_clip = speech / clips
    print(f"slice: {clips} clips, {speech:.1f} s of speech in {wall:.1f} s wall with {args.workers} workers")
    print(f"speed: {speech / wall:.2f} s of speech per wall second, {per_clip_wall:.2f} s wall per clip")
    print(f"mean clip length: {mean_clip:.2f} s")
    print(
        f"default corpus ({default.speakers} speakers, {full_clips} clips): projected "
        f"{full_clips * mean_clip / 3600:.2f} h of speech in {full_clips * per_clip_wall / 60:.1f} min "
        f"with {args.workers} workers (worker start-up included in the slice)"
    )


def score(root: Path, clips: int) -> None:
    import torch

    from probtalk.eval.lipsync import lip_gap, lipsync_counts
    from probtalk.flame import FlameLayer, load_rig
    from probtalk.layout import PARAM_EXPRESSION, PARAM_JAW, PARAM_SHAPE

    manifest = json.loads((root / "manifest.json").read_text())
    print(
        f"{root}: {manifest['counts']['clips']} clips, {manifest['counts']['speakers']} speakers, "
        f"{manifest['total_hours']:.2f} h; splits {manifest['counts']['splits']}"
    )
    rig = load_rig()
    layer = FlameLayer(rig)
    paths = sorted((root / "param").glob("*.npy"))
    pick = np.random.default_rng(0).choice(len(paths), size=min(clips, len(paths)), replace=False)
    counts = None
    for i in sorted(pick):
        p = torch.from_numpy(np.load(paths[i])[0])
        with torch.no_grad():
            verts = layer(shape=p[:, PARAM_SHAPE], expression=p[:, PARAM_EXPRESSION], jaw_pose=p[:, PARAM_JAW])
        phones = json.loads((root / "align" / f"{paths[i].stem}.json").read_text())["phones"]
        c = lipsync_counts(lip_gap(verts, rig), manifest["fps"], phones)
        counts = c if counts is None else counts + c
    print(
        f"lip-sync over {len(pick)} clips: closed at {counts.closure_rate:.1%} of {counts.closed_total} p/b/m, "
        f"open at {counts.opening_rate:.1%} of {counts.open_total} open vowels"
    )


if __name__ == "__main__":
    main()
