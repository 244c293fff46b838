"""Corpus generation speed: generate a slice with the default recipe and project the full corpus.

    python benchmarks/corpus_generation.py [--speakers 2] [--sentences 4] [--workers 2]

Prints seconds of speech generated per wall second, the average clip length
and the projected wall time of ``probtalk data synth`` with the defaults.
The slice uses the default recipe (emotions, intensity levels, emotions per
sentence) on fewer speakers and sentences, in a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from probtalk.data.synth import SynthConfig, plan_corpus, synthesize_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speakers", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
