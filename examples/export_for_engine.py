"""Animate speech and export it for a game engine: GLB (morph targets + jaw bone),
Live Link Face CSV (ARKit-52 curves, Unreal) and JSON curves (Unity/Maya).

    python examples/export_for_engine.py [speech.wav] --out out/engine --emotion happy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import exporters
import probtalk

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "probtalk" / "assets" / "hello.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default=str(SAMPLE))
    parser.add_argument("--out", default="out/engine")
    parser.add_argument("--emotion", default="happy")
    parser.add_argument("--model", default=None, help="checkpoint (default: the embedded model)")
    args = parser.parse_args()

    model = probtalk.load_model(args.model)
    (anim,) = model.animate(args.audio, emotion=args.emotion, intensity="medium", seed=1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rig = probtalk.load_rig()
    for name in ("face.glb", "face_arkit.csv", "face_arkit.json"):
        path = exporters.write(anim, out / name, rig=rig)
        print(f"{path}  {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
