"""What each performance channel of a model does to the face: the `performance` option, measured.

    python benchmarks/performance_channels.py [--model default] [--data datasets/synth3] [--clips 6] [--score 2]

For ``--clips`` test clips of ``--data`` (speech only; the corpus's motion is not used),
each habit of the model is held at ``-score`` and at ``+score`` (the others at 0, the
median take) in deterministic takes, with the lip seal on, through the public API.
Printed per habit (FLAME vertices with shape, neck and eyes zero, as ``probtalk evaluate``):

* the mean per-vertex distance between the two takes (mm), over the lips and the upper face;
* how much wider the mouth opens at +score than at -score: the mean lip gap (mm) over all
  frames, and over the pauses (frames more than 0.15 s from any phone but silence);
* the mean absolute jaw rotation (degrees) at -score and +score.

A model without performance channels is refused with one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

SILENCE = {"SIL", "SP", "SPN", "<SIL>", ""}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default', a .pt checkpoint or an ONNX export folder")
    parser.add_argument("--data", default="datasets/synth3", help="corpus whose test speech is animated")
    parser.add_argument("--split", default="test")
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--score", type=float, default=2.0, help="habit held at -score and +score (0 < score <= 3)")
    args = parser.parse_args()

    from probtalk.data.dataset import MotionDataset
    from probtalk.eval.evaluate import motion_to_vertices
    from probtalk.flame import FlameLayer, load_rig
    from probtalk.layout import MOTION_JAW
    from probtalk.runtime.loading import load_fast_model

    model = load_fast_model(args.model)
    habits = model.backend.performance_habits
    if not habits:
        print(f"error: model {model.name} has no performance channels; pass one trained with them", file=sys.stderr)
        return 2
    rig = load_rig()
    layer = FlameLayer(rig)
    lips, upper = np.asarray(rig.region("lips")), np.asarray(rig.region("upper_face"))
    up, low = rig.keypoints["upper_lip"], rig.keypoints["lower_lip"]
    data = MotionDataset(Path(args.data), args.split)
    picks = np.linspace(0, len(data) - 1, min(args.clips, len(data))).astype(int)
    clips = [data[int(i)] for i in picks]
    print(f"model {model.name}: {len(habits)} performance channels; {len(clips)} clips of {args.data}/{args.split}, "
          f"deterministic takes, habit at -{args.score:g} vs +{args.score:g} (others 0)")
    print(f"{'habit':16s} {'lips mm':>8s} {'upper mm':>9s} {'gap - / + mm':>14s} {'pause gap - / + mm':>19s} "
          f"{'jaw - / + deg':>14s}")
    for habit in habits:
        rows = {"lips": [], "upper": [], "gap": ([], []), "pause": ([], []), "jaw": ([], [])}
        for clip in clips:
            verts, motions = [], []
            for side, score in enumerate((-args.score, args.score)):
                (anim,) = model.animate(clip.audio, sample_rate=16000, deterministic=True,
                                        performance={habit: score}, blinks=False, gaze=False, head_motion=0.0)
                motion = anim.motion()
                v = motion_to_vertices(layer, motion)
                gap = np.linalg.norm(v[:, up] - v[:, low], axis=-1) * 1000
                pause = _pause_frames(clip.phones, len(gap), model.fps)
                rows["gap"][side].append(gap.mean())
                if pause.any():
                    rows["pause"][side].append(gap[pause].mean())
                rows["jaw"][side].append(np.degrees(np.linalg.norm(motion[:, MOTION_JAW], axis=-1)).mean())
                verts.append(v)
                motions.append(motion)
            rows["lips"].append(np.linalg.norm(verts[0][:, lips] - verts[1][:, lips], axis=-1).mean() * 1000)
            rows["upper"].append(np.linalg.norm(verts[0][:, upper] - verts[1][:, upper], axis=-1).mean() * 1000)
        pair = {k: tuple(float(np.mean(x)) if x else float("nan") for x in rows[k]) for k in ("gap", "pause", "jaw")}
        print(f"{habit:16s} {np.mean(rows['lips']):8.3f} {np.mean(rows['upper']):9.3f} "
              f"{pair['gap'][0]:6.2f} / {pair['gap'][1]:5.2f} {pair['pause'][0]:10.2f} / {pair['pause'][1]:5.2f} "
              f"{pair['jaw'][0]:6.2f} / {pair['jaw'][1]:5.2f}", flush=True)
    return 0


def _pause_frames(phones: list[tuple[float, float, str]] | None, frames: int, fps: float) -> np.ndarray:
    """Frames more than 0.15 s from any spoken phone (all False without phones)."""
    pause = np.zeros(frames, dtype=bool)
    if not phones:
        return pause
    t = np.arange(frames) / fps
    near = np.zeros(frames, dtype=bool)
    for start, end, phone in phones:
        if phone.upper() not in SILENCE:
            near |= (t >= start - 0.15) & (t <= end + 0.15)
    return ~near


if __name__ == "__main__":
    raise SystemExit(main())
