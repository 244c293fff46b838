"""Export speed and file size of a 10 s take (250 frames at 25 fps) in every format.

Usage:
    .venv/bin/python benchmarks/export_speed.py [--frames 250] [--rig PATH] [--repeat 2] [--take take.npz]

Uses the bundled head when it is installed (else a ~5k-vertex sphere rig with
random bases and 52 ARKit shapes, said so in the output). Each format is
written ``--repeat`` times; the best wall time is reported (the first call
also pays imports such as scipy, so it is shown separately as "first").
FBX times include starting Blender (bpy) in a subprocess. The last lines
compare one curve format with all three written by ``exporters.write_all``
(which solves the ARKit curves once for all of them), and give the default
GLB's size for a 5 s take (``--take`` uses a real take, e.g. from
``probtalk animate``, instead of the synthetic one).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import exporters
from exporters.fbx import find_blender
from probtalk import Animation
from probtalk.arkit import ARKIT_NAMES
from probtalk.flame.rig import Rig, bundled_rig_path, load_rig
from probtalk.layout import KINTREE_TABLE, NUM_EXPRESSION, NUM_JOINTS, NUM_SHAPE

FPS = 25.0


def sphere_rig(rings: int = 70, segments: int = 72) -> Rig:
    """A ~5k-vertex stand-in head with random localised ARKit shapes (used when the bundled rig is absent)."""
    rng = np.random.default_rng(0)
    theta = np.linspace(0.1, np.pi - 0.1, rings)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    v = np.stack([0.09 * np.sin(t) * np.sin(p), 0.12 * np.cos(t), 0.1 * np.sin(t) * np.cos(p)], -1).reshape(-1, 3)
    faces = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            faces += [(a, a + segments, b), (b, a + segments, b + segments)]
    n = len(v)
    weights = np.zeros((n, NUM_JOINTS), np.float32)
    jaw = np.clip((-0.02 - v[:, 1]) / 0.03, 0, 1)
    weights[:, 2], weights[:, 1] = jaw, 1 - jaw
    exprdirs = rng.normal(0, 1e-3, (n, 3, NUM_EXPRESSION)) * (rng.random((n, 1, NUM_EXPRESSION)) < 0.2)
    sem_expr = np.abs(rng.normal(0, 1, (52, NUM_EXPRESSION))) * (rng.random((52, NUM_EXPRESSION)) < 0.1)
    j_reg = np.zeros((NUM_JOINTS, n))
    j_reg[:, :] = 1.0 / n
    return Rig(
        name="bench-sphere", v_template=v, faces=np.array(faces), shapedirs=np.zeros((n, 3, NUM_SHAPE)),
        exprdirs=exprdirs, posedirs=np.zeros((n, 3, (NUM_JOINTS - 1) * 9)), j_regressor=j_reg, weights=weights,
        kintree_table=np.array(KINTREE_TABLE), semantic_names=ARKIT_NAMES,
        semantic_offsets=np.einsum("vck,nk->nvc", exprdirs, sem_expr), semantic_expression=sem_expr,
        semantic_jaw=np.zeros((52, 3)), semantic_eye=np.zeros((52, 6)),
    )


def take(frames: int) -> Animation:
    """Smooth pseudo-speech motion: sums of sines per component, jaw opening, small head/eye motion."""
    rng = np.random.default_rng(1)
    t = np.arange(frames)[:, None] / FPS
    freq, phase = rng.uniform(0.3, 4.0, (1, 50)), rng.uniform(0, 6.3, (1, 50))
    expr = 0.8 * np.sin(2 * np.pi * freq * t + phase) * rng.uniform(0.2, 1.0, (1, 50))
    jaw = np.zeros((frames, 3))
    jaw[:, 0] = 0.12 * np.clip(np.sin(2 * np.pi * 3.0 * t[:, 0]), 0, None)
    neck = 0.05 * np.sin(2 * np.pi * np.array([0.2, 0.3, 0.1]) * t)
    eyes = 0.05 * np.sin(2 * np.pi * np.array([0.5, 0.7, 0.0, 0.5, 0.7, 0.0]) * t)
    return Animation(fps=FPS, expression=expr, jaw_pose=jaw, neck_pose=neck, eye_pose=eyes, meta={"name": "bench"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--rig", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--take", type=Path, default=None, help="an Animation .npz to export instead")
    args = parser.parse_args()
    if args.rig is not None or bundled_rig_path().is_file():
        rig = load_rig(args.rig)
        label = rig.rig_id()
    else:
        rig = sphere_rig()
        label = "bench-sphere (bundled rig not installed)"
    anim = Animation.load(args.take) if args.take is not None else take(args.frames)
    cases = [
        ("npz", "take.npz", {}),
        ("npz + baked vertices", "baked.npz", {"bake_vertices": True}),
        ("glb (expression targets, default)", "take.glb", {}),
        ("glb, exact (tolerance 0)", "exact.glb", {"tolerance": 0.0}),
        ("glb --arkit (52 ARKit targets)", "arkit.glb", {"arkit": True}),
        ("gltf (embedded buffer)", "take.gltf", {}),
        ("livelink csv", "take.csv", {}),
        ("livelink csv, smoothing 0.1", "smooth.csv", {"arkit_smoothing": 0.1}),
        ("arkit-json", "take.json", {}),
        ("curves-csv", "take.curves.csv", {}),
    ]
    if find_blender() is not None:
        cases += [("fbx (Blender)", "take.fbx", {}), ("fbx --arkit (Blender)", "arkit.fbx", {"arkit": True})]
    print(f"rig: {label}, {rig.num_vertices} vertices, {len(rig.faces)} faces")
    print(f"take: {anim.num_frames} frames at {anim.fps:g} fps ({anim.duration:.1f} s)")
    print(f"{'format':34s} {'size':>10s} {'first s':>8s} {'best s':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, name, options in cases:
            times = []
            for _ in range(max(1, args.repeat)):
                start = time.perf_counter()
                path = exporters.write(anim, Path(tmp) / name, rig, **options)
                times.append(time.perf_counter() - start)
            size = path.stat().st_size
            print(f"{label:34s} {size / 1024:8.1f}kB {times[0]:8.3f} {min(times):8.3f}")
        one = best_of(args.repeat, lambda: exporters.write_all(anim, tmp, "one", ["livelink"], rig))
        three = best_of(args.repeat, lambda: exporters.write_all(anim, tmp, "three",
                                                                 ["livelink", "arkit-json", "curves-csv"], rig))
        print(f"curves: one format {one:.3f} s, csv + json + curves-csv {three:.3f} s ({three / one:.2f}x)")
        frames5 = int(round(5.0 * anim.fps))
        short = Animation(fps=anim.fps, expression=anim.expression[:frames5], jaw_pose=anim.jaw_pose[:frames5],
                          neck_pose=None if anim.neck_pose is None else anim.neck_pose[:frames5],
                          eye_pose=None if anim.eye_pose is None else anim.eye_pose[:frames5])
        size = exporters.write(short, Path(tmp) / "five.glb", rig).stat().st_size
        print(f"default glb of a {short.duration:.1f} s take: {size / 1e6:.2f} MB")
    if find_blender() is None:
        print("fbx: skipped (no Blender; run 'bash scripts/setup.sh')")


def best_of(repeat: int, fn) -> float:
    """Best wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
