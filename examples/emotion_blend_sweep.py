"""Sweep an emotion blend from happy to sad and print how the face changes.

    python examples/emotion_blend_sweep.py [speech.wav] --out out/sweep --steps 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import probtalk
from probtalk.flame import FlameLayer, load_rig

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "probtalk" / "assets" / "hello.wav"


def mouth_corner_height(layer: FlameLayer, rig, anim: probtalk.Animation) -> float:
    """Mean height (mm) of the mouth corners relative to the lip centre: up for smiles, down for frowns."""
    verts = layer.from_animation(anim).numpy()
    kp = rig.keypoints
    corners = (verts[:, kp["mouth_corner_left"], 1] + verts[:, kp["mouth_corner_right"], 1]) / 2
    centre = (verts[:, kp["upper_lip"], 1] + verts[:, kp["lower_lip"], 1]) / 2
    return float(np.mean(corners - centre) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default=str(SAMPLE))
    parser.add_argument("--out", default="out/sweep")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    args = parser.parse_args()

    model = probtalk.load_model(args.model)
    rig = load_rig()
    layer = FlameLayer(rig)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("happy  sad   mouth-corner height (mm)")
    with torch.no_grad():
        for w in np.linspace(0.0, 1.0, args.steps):
            blend = {"happy": float(1 - w), "sad": float(w)}
            (anim,) = model.animate(args.audio, emotion=blend, intensity="high", deterministic=True)
            anim.save(out / f"happy{round(100 * (1 - w))}_sad{round(100 * w)}.npz")
            print(f"{1 - w:5.2f} {w:5.2f}   {mouth_corner_height(layer, rig, anim):+.2f}")


if __name__ == "__main__":
    main()
