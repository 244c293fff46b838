"""A face that lives: blink, gaze and head-motion figures of takes from a model on a 60 s clip.

    .venv/bin/python benchmarks/living_face.py                               # the embedded model
    .venv/bin/python benchmarks/living_face.py --head runs/head/head.npz     # with a head net not shipped yet
    .venv/bin/python benchmarks/living_face.py --data datasets/synth2        # the clip from a corpus's test clips

The clip: ``--data``'s test clips (or the bundled hello.wav) joined with pauses of 0.2-1.4 s
until 60 s. Prints, per take and overall: blinks per minute; the share of blinks whose
``EyeBlinkLeft`` in the Live Link CSV (written by the exporters) reaches 0.8; head rotation
std per axis (degrees) during speech; the std of its frame-to-frame change; Pearson r of the
head's angular speed and the loudness envelope; the largest rotation with head_motion=0; and
the real-time factor of animate() with and without the life stage (and of the stage alone).
Targets (issue 13): 10-25 blinks/min with >= 90 % reaching 0.8; std 1.5-6 deg on >= 2 axes;
change std < 0.5 deg; r > 0.2; exactly 0; RTF <= 0.03.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np

from probtalk.audio import load_audio
from probtalk.life import HeadNet, LifeSettings, add_life, blink_vector
from probtalk.life.prosody import PROSODY_NAMES, prosody_features
from probtalk.runtime.backend import DEFAULT_ONNX_DIR
from probtalk.runtime.loading import load_fast_model

SECONDS = 60.0


def clip(data: str | None) -> np.ndarray:
    """60 s of speech with pauses between utterances."""
    if data and (Path(data) / "splits" / "test").is_file():
        keys = Path(data, "splits", "test").read_text().split()
        files = [Path(data, "wav", f"{k.split('-p')[0]}.wav") for k in keys]
        files = [f for f in dict.fromkeys(files) if f.is_file()]
    else:
        files = [DEFAULT_ONNX_DIR.parent / "hello.wav"]
    parts, n, k = [], 0, 0
    while n < SECONDS * 16000:
        wav = load_audio(files[k % len(files)])
        gap = np.zeros(int(16000 * (0.2 + 0.3 * (k % 5))), np.float32)
        parts += [wav, gap]
        n += wav.size + gap.size
        k += 1
    return np.concatenate(parts)[: int(SECONDS * 16000)]


def blink_events(anim) -> list[tuple[int, int]]:
    """(first, last) frame of each blink: where the expression's projection on the lid-closing shape passes 0.5."""
    v = blink_vector()[: anim.expression.shape[1]]
    c = anim.expression @ v / (v @ v)
    above = c > 0.5
    starts = np.flatnonzero(above & ~np.concatenate([[False], above[:-1]]))
    ends = np.flatnonzero(above & ~np.concatenate([above[1:], [False]]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def live_link_blinks(anim, rig) -> np.ndarray:
    """EyeBlinkLeft per frame from the Live Link CSV the exporters write."""
    import exporters

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "take.csv"
        exporters.write(anim, path, rig)
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    return np.array([float(r["EyeBlinkLeft"]) for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint or ONNX folder (default: the embedded model)")
    parser.add_argument("--head", default=None, help="head net .npz to use instead of the model's own")
    parser.add_argument("--data", default="datasets/synth2", help="corpus whose test clips make the 60 s clip")
    parser.add_argument("--takes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    from probtalk.flame import load_rig

    rig = load_rig()
    model = load_fast_model(args.model)
    if args.head:
        model.head_net = HeadNet.load(args.head)
    wav = clip(args.data)
    print(f"model {model.name}  head net: {'yes' if model.head_net is not None else 'no (stochastic head only)'}  "
          f"clip {wav.size / 16000:.0f} s  takes {args.takes}  seed {args.seed}")
    model.animate(wav[:16000], 16000, seed=0)  # warm up
    t0 = time.perf_counter()
    takes = model.animate(wav, 16000, seed=args.seed, num_samples=args.takes)
    with_life = time.perf_counter() - t0
    t0 = time.perf_counter()
    # one sample rotated: the runtime keeps the last clip's lip-seal marks, and this run must listen afresh too
    still = model.animate(np.roll(wav, 1), 16000, seed=args.seed, num_samples=args.takes, head_motion=0.0,
                          blinks=False, gaze=False)
    without = time.perf_counter() - t0
    total = takes[0].num_frames
    t0 = time.perf_counter()
    add_life([np.zeros((total, 53), np.float32)] * args.takes, wav, fps=model.fps, seed=args.seed,
             settings=LifeSettings(), emotion={"neutral": 1.0}, intensity=1.0, head=model.head_net,
             metas=[{} for _ in range(args.takes)])
    stage = time.perf_counter() - t0

    feats = prosody_features(wav, model.fps, total)
    speech = feats[:, PROSODY_NAMES.index("pause")] < 0.5
    power = np.sqrt(np.mean(np.pad(wav, (0, total * 640 - wav.size))[: total * 640].reshape(total, 640) ** 2, axis=1))
    envelope = np.convolve(power, np.ones(5) / 5, mode="same")
    rows = []
    for k, anim in enumerate(takes):
        events = blink_events(anim)
        lids = live_link_blinks(anim, rig)
        reached = [lids[a : b + 1].max() >= 0.8 for a, b in events]
        deg = np.degrees(anim.neck_pose)
        std = deg[speech].std(0)
        change = np.diff(deg, axis=0).std(0)
        speed = np.linalg.norm(np.diff(deg, axis=0), axis=1)
        r = float(np.corrcoef(speed, envelope[1:])[0, 1])
        rows.append((len(events) * 60.0 / anim.duration, np.mean(reached) if reached else 0.0, std, change, r))
        print(f"take {k}: blinks {rows[-1][0]:5.1f}/min  reaching 0.8: {100 * rows[-1][1]:5.1f} %  "
              f"head std (pitch, yaw, roll) {np.round(std, 2)} deg  change std {np.round(change, 3)} deg  "
              f"r(speed, loudness) {r:.3f}  eye range {np.degrees(np.ptp(anim.eye_pose[:, :2], axis=0)).round(1)} deg")
    rate = np.mean([x[0] for x in rows])
    share = np.mean([x[1] for x in rows])
    std = np.mean([x[2] for x in rows], axis=0)
    change = np.max([x[3] for x in rows], axis=0)
    r = np.mean([x[4] for x in rows])
    zero = max(float(np.abs(a.neck_pose).max()) for a in still)
    duration = wav.size / 16000
    print(f"blinks per minute        {rate:.1f}   (target 10-25)")
    print(f"blinks reaching 0.8      {100 * share:.1f} %   (target >= 90 %)")
    print(f"head std during speech   {np.round(std, 2)} deg (pitch, yaw, roll; target 1.5-6 on >= 2 axes)")
    print(f"frame-to-frame change    {np.round(change, 3)} deg std (worst take; target < 0.5)")
    print(f"r(head speed, loudness)  {r:.3f}   (target > 0.2)")
    print(f"head_motion=0 max |rot|  {zero}   (target exactly 0)")
    print(f"RTF with life {with_life / duration:.4f}  without {without / duration:.4f}  "
          f"life stage alone {stage / duration:.5f}  ({args.takes} takes; target <= 0.03)")


if __name__ == "__main__":
    main()
