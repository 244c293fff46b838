"""Sample several takes of one recording and show how they differ.

    python examples/sample_takes.py [speech.wav] --out out/takes --takes 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import probtalk

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "probtalk" / "assets" / "hello.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default=str(SAMPLE))
    parser.add_argument("--out", default="out/takes")
    parser.add_argument("--takes", type=int, default=4)
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    args = parser.parse_args()

    model = probtalk.load_model(args.model)
    takes = model.animate(args.audio, emotion="neutral", num_samples=args.takes, temperature=0.2, seed=0)
    (reference,) = model.animate(args.audio, deterministic=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(takes)} takes of {takes[0].duration:.2f} s at {takes[0].fps:g} fps")
    for take in takes:
        path = take.save(out / f"take{take.meta['take']}.npz")
        spread = float(np.abs(take.motion() - reference.motion()).mean())
        jaw = float(take.jaw_pose[:, 0].max())
        print(f"  {path.name}: mean |take - argmax take| = {spread:.4f}, max jaw opening = {jaw:.3f} rad")


if __name__ == "__main__":
    main()
