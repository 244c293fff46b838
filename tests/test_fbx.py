"""FBX export through Blender, read back by the independent `ufbx` reader in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_rig import make_tiny_rig

import exporters
from exporters.fbx import FbxWriter, find_blender
from probtalk import Animation
from probtalk.arkit import ARKIT_NAMES

pytestmark = [
    pytest.mark.skipif(find_blender() is None,
                       reason="no Blender: run 'bash scripts/setup.sh' (bpy 4.5 in .venv-blender) or install blender"),
    pytest.mark.skipif(importlib.util.find_spec("ufbx") is None,
                       reason="independent FBX reader 'ufbx' not installed (pip install 'probtalk[dev]')"),
]

PROBE = Path(__file__).parent / "_fbx_probe.py"


def probe(path: Path, frames: list[int]) -> dict:
    """Read ``path`` with ufbx in a subprocess (it can segfault) and return its JSON summary."""
    proc = subprocess.run([sys.executable, str(PROBE), str(path), *map(str, frames)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, f"ufbx probe failed ({proc.returncode}): {proc.stderr[-500:]}"
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def rig():
    return make_tiny_rig()


def test_fbx_shape_keys_frames_fps_weights_and_jaw(tmp_path, rig):
    rng = np.random.default_rng(0)
    frames, fps = 14, 30.0
    anim = Animation(fps=fps, expression=rng.normal(0, 1, (frames, 12)), jaw_pose=rng.normal(0, 0.15, (frames, 3)),
                     neck_pose=rng.normal(0, 0.05, (frames, 3)))
    path = exporters.write(anim, tmp_path / "take.fbx", rig)
    sample = [0, 5, 13]
    info = probe(path, sample)
    assert info["fps"] == pytest.approx(fps)
    morphs = FbxWriter(rig=rig).morphs(anim)  # signed components split into _pos / _neg keys in [0, 1]
    assert info["channels"] == morphs.names
    assert {n.rsplit("_", 1)[0] for n in morphs.names} == {f"exp{k:03d}" for k in range(12)}
    assert round((info["time_end"] - info["time_begin"]) * fps) + 1 == frames
    for f in sample:
        np.testing.assert_allclose(info["weights"][str(f)], morphs.weights[f], atol=1e-4)
    # Unit-clean: metres, every root node at scale 1 and identity rotation, the take named after the file.
    assert info["unit_meters"] == pytest.approx(1.0)
    assert info["stacks"] == ["take"]
    for root in info["roots"].values():
        np.testing.assert_allclose(root["scale"], 1.0, atol=1e-6)
        np.testing.assert_allclose(np.abs(root["rotation"]), [0, 0, 0, 1], atol=1e-6)
        # Bones rest in one shared orientation, so the jaw's local rotation angle is |jaw_pose|.
        q = np.array(info["rotations"][str(f)]["jaw"])
        angle = 2 * np.arccos(min(1.0, abs(q[3])))
        assert angle == pytest.approx(np.linalg.norm(anim.jaw_pose[f]), abs=1e-4)
    assert {"jaw", "neck", "left_eye", "right_eye"} <= set(info["bones"])


def test_fbx_arkit_shape_keys(tmp_path, rig):
    rng = np.random.default_rng(1)
    weights = np.clip(rng.normal(0.3, 0.4, (6, 52)), 0, 1)
    anim = Animation(fps=25.0, expression=weights @ rig.semantic_expression, jaw_pose=np.zeros((6, 3)))
    path = exporters.write(anim, tmp_path / "arkit.fbx", rig, arkit=True)
    info = probe(path, [0, 3, 5])
    assert info["fps"] == pytest.approx(25.0)
    assert info["channels"] == list(ARKIT_NAMES)
    for f in (0, 3, 5):
        np.testing.assert_allclose(info["weights"][str(f)], weights[f], atol=0.02)


def test_fbx_of_a_users_character(tmp_path, rig):
    from test_exporters import make_character

    from exporters.arkit import solve_arkit
    from probtalk.arkit import ARKIT_INDEX

    make_character(tmp_path / "char")
    rng = np.random.default_rng(2)
    weights = np.clip(rng.normal(0.3, 0.4, (6, 52)), 0, 1)
    anim = Animation(fps=30.0, expression=weights @ rig.semantic_expression, jaw_pose=np.zeros((6, 3)))
    path = exporters.write(anim, tmp_path / "mine.fbx", rig, character=tmp_path / "char")
    info = probe(path, [0, 3, 5])
    names = ["eyeBlinkRight", "jawOpen", "mouthSmileLeft"]
    assert info["channels"] == names and info["stacks"] == ["mine"]
    expected = solve_arkit(anim, rig).weights[:, [ARKIT_INDEX[n] for n in names]]
    for f in (0, 3, 5):
        np.testing.assert_allclose(info["weights"][str(f)], expected[f], atol=1e-4)
    for root in info["roots"].values():
        np.testing.assert_allclose(root["scale"], 1.0, atol=1e-6)
