"""Render speed: frames per second at 512x512 for one take and a 2x2 grid, rendering only and with H.264 encoding.

Usage:
    .venv/bin/python benchmarks/render_speed.py [--frames 100] [--size 512] [--backend auto] [--rig PATH]

Uses the bundled head when it is installed (else a 5k-vertex sphere rig, said
so in the output). "render" = FLAME posing + normals + rasterising + read-back +
tile composition; "render+encode" = the whole ``probtalk.render`` call to an
MP4 with AAC audio (context creation included).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from probtalk import Animation
from probtalk.flame import FlameLayer, load_rig
from probtalk.flame.rig import Rig
from probtalk.layout import KINTREE_TABLE
from probtalk.rendering import Camera, render
from probtalk.rendering.api import AUTO_SAMPLES
from probtalk.rendering.backends import create_backend
from probtalk.rendering.compose import Compositor
from probtalk.rendering.scene import PosedTake, posed_batches
from probtalk.rendering.shading import vertex_colours

FPS = 25.0


def sphere_rig() -> Rig:
    import trimesh

    ico = trimesh.creation.icosphere(subdivisions=5, radius=0.1)  # 10242 vertices; keep half -> ~5k
    keep = np.where(ico.vertices[:, 2] > -0.02)[0]
    sub = ico.submesh([np.where(np.all(np.isin(ico.faces, keep), axis=1))[0]], append=True)
    v = np.asarray(sub.vertices, np.float32)
    n = len(v)
    rng = np.random.default_rng(0)
    w_jaw = np.clip((-0.01 - v[:, 1]) / 0.03, 0, 1)
    weights = np.zeros((n, 5), np.float32)
    weights[:, 2], weights[:, 0] = w_jaw, 1 - w_jaw
    return Rig(
        name="bench-sphere", v_template=v, faces=np.asarray(sub.faces), shapedirs=np.zeros((n, 3, 1)),
        exprdirs=rng.normal(0, 1e-3, (n, 3, 50)), posedirs=np.zeros((n, 3, 36)),
        j_regressor=np.full((5, n), 1.0 / n), weights=weights,
        kintree_table=np.array(KINTREE_TABLE),
    )


def take(frames: int, k: int) -> Animation:
    rng = np.random.default_rng(k)
    t = np.linspace(0, frames / FPS, frames)
    jaw = np.zeros((frames, 3), np.float32)
    jaw[:, 0] = 0.15 * (1 - np.cos(2 * np.pi * 3 * t + k))
    expr = (0.5 * np.sin(t[:, None] * rng.uniform(1, 6, 50) + rng.uniform(0, 6, 50))).astype(np.float32)
    return Animation(fps=FPS, expression=expr, jaw_pose=jaw, meta={"emotion": "neutral", "take": k})


def render_only(rig: Rig, anims: list[Animation], size: int, backend: str) -> float:
    """Frames/s of posing + drawing + composing (no encoding, context made before timing)."""
    n = anims[0].num_frames
    be = create_backend(backend, rig.faces, vertex_colours(rig), size, size, AUTO_SAMPLES)
    with be:
        layer = FlameLayer(rig).to(be.device)
        takes = [PosedTake(layer, a, FPS, n) for a in anims]
        cams = [Camera().setup(rig, size, size)] * len(anims)
        comp = Compositor(len(anims), size, size, captions=[f"take {i}" for i in range(len(anims))])
        buf = np.empty((comp.height, comp.width, 3), np.uint8)
        faces = layer.faces.to(be.device)
        start = time.perf_counter()
        for _idx, verts, nrms in posed_batches(takes, faces):
            for b in range(verts.shape[0]):
                comp.compose(be.draw(verts[b], nrms[b], cams), buf)
        return n / (time.perf_counter() - start)


def with_encoding(rig: Rig, anims: list[Animation], size: int, backend: str, folder: Path) -> float:
    """Frames/s of the whole ``probtalk.render`` call (with a speech-like AAC track)."""
    n = anims[0].num_frames
    sr = 16000
    t = np.arange(int(n / FPS * sr)) / sr
    audio = (0.2 * np.sin(2 * np.pi * 200 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)
    start = time.perf_counter()
    render(anims, rig=rig, audio=audio, out=folder / "bench.mp4", size=size, backend=backend)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--rig", default=None)
    args = parser.parse_args()
    try:
        rig = load_rig(args.rig)
    except Exception as exc:  # noqa: BLE001 - benchmark falls back to a synthetic mesh and says so
        print(f"(bundled rig unavailable: {exc}; using a synthetic sphere rig)")
        rig = sphere_rig()
    print(f"rig {rig.name}: {rig.num_vertices} vertices, {len(rig.faces)} faces; "
          f"{args.frames} frames at {args.size}x{args.size} per tile; torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, count in (("1 take", 1), ("2x2 grid", 4)):
            anims = [take(args.frames, k) for k in range(count)]
            fps_r = render_only(rig, anims, args.size, args.backend)
            fps_e = with_encoding(rig, anims, args.size, args.backend, Path(tmp))
            print(f"{label:9s} render: {fps_r:6.1f} frames/s   render+encode: {fps_e:6.1f} frames/s")


if __name__ == "__main__":
    main()
