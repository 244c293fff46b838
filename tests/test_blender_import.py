"""Exports opened the way a user opens them: GLB and FBX imported by Blender 4.5 (bpy) in a subprocess.

Checks what Blender shows, not what we wrote: no shape key clamped by its slider range,
the evaluated head (shape keys + armature) equal to the baked FLAME vertices, upright at
scale 1, clips named after the take, and the frame rate (30 and 60 fps).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

import exporters
from exporters.fbx import find_blender
from exporters.npz import bake_vertices
from probtalk import Animation

BLENDER_PYTHON = Path(__file__).resolve().parents[1] / ".venv-blender" / "bin" / "python"
PROBE = Path(__file__).parent / "_blender_probe.py"

pytestmark = pytest.mark.skipif(
    find_blender() is None or not BLENDER_PYTHON.is_file(),
    reason="no bpy: run 'bash scripts/setup.sh' (installs bpy 4.5 into .venv-blender)",
)


@pytest.fixture(scope="module")
def head():
    from probtalk.flame import bundled_rig_path, load_rig

    if not bundled_rig_path().is_file():
        pytest.skip("bundled rig flame_assets/probtalk_head.npz not built (python -m flame_assets.build)")
    return load_rig()


def speech_like(frames: int, fps: float, seed: int = 0) -> Animation:
    """Model-like motion: coefficients from -2.5 to 2.8 (the range that Blender used to clamp), jaw, neck, eyes."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None] / fps
    amp = rng.uniform(0.2, 2.8, (1, 50))
    expr = amp * np.sin(2 * np.pi * rng.uniform(0.5, 3.0, (1, 50)) * t + rng.uniform(0, 6.3, (1, 50)))
    jaw = np.c_[0.2 * np.clip(np.sin(2 * np.pi * 2.0 * t[:, 0]), 0, None), np.zeros((frames, 2))]
    neck = 0.08 * np.sin(2 * np.pi * np.array([0.4, 0.3, 0.2]) * t)
    eyes = 0.05 * np.sin(2 * np.pi * np.array([0.5, 0.7, 0.0, 0.5, 0.7, 0.0]) * t)
    return Animation(fps=fps, expression=expr, jaw_pose=jaw, neck_pose=neck, eye_pose=eyes)


def blender_import(path: Path, frames: list[int], fps: float) -> tuple[dict, np.ndarray]:
    """Import ``path`` in Blender; (summary, evaluated vertices [F, V, 3] in FLAME's frame)."""
    out = path.with_suffix(".probe.npz")
    proc = subprocess.run([str(BLENDER_PYTHON), str(PROBE), "--", str(path), str(out), str(fps), *map(str, frames)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-800:]
    with np.load(out) as data:
        return json.loads(str(data["summary"])), data["vertices"]


@pytest.mark.parametrize("suffix", [".glb", ".fbx"])
@pytest.mark.parametrize("fps", [30.0, 60.0])
def test_blender_imports_the_take_as_baked(tmp_path, head, suffix, fps):
    model_take = speech_like(20, 25.0)  # the model's rate, resampled on export
    assert model_take.expression.min() < -1.5 and model_take.expression.max() > 1.5  # clamped before
    path = exporters.write(model_take, tmp_path / f"hello_happy_take0{suffix}", head, fps=fps)
    anim = model_take.resample(fps)
    frames = anim.num_frames
    assert frames == int(round(0.8 * fps))
    sample = [0, frames // 3, frames // 2, frames - 1]
    # glTF times are seconds: a user sets the scene rate first; FBX carries its own rate.
    info, verts = blender_import(path, sample, fps if suffix == ".glb" else 0.0)

    assert info["fps"] == pytest.approx(fps)
    clamped = [k["name"] for k in info["shape_keys"]
               if k["min"] < k["slider_min"] - 1e-6 or k["max"] > k["slider_max"] + 1e-6]
    assert info["shape_keys"] and clamped == []
    assert all(k["keys"] == frames for k in info["shape_keys"])  # the ranges above come from every key
    assert all(0.0 <= k["min"] and k["max"] <= 1.0 + 1e-6 for k in info["shape_keys"])
    assert any(a.endswith("hello_happy_take0") for a in info["actions"]), info["actions"]
    for root in info["roots"]:
        np.testing.assert_allclose(root["scale"], 1.0, atol=1e-6)
    # The evaluated head matches FLAME (baked vertices, pose correctives included) within 0.5 mm,
    # which also shows it stands upright (Blender's +Z is FLAME's +Y) with nothing scaled.
    baked = bake_vertices(anim, head)[sample]
    err = np.linalg.norm(verts - baked, axis=2)
    assert err.max() < 5e-4, err.max(axis=1)
    up = verts[0, :, 1]
    assert np.ptp(up) == pytest.approx(np.ptp(baked[0, :, 1]), rel=1e-3)
