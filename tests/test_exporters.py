"""Exporters: registry, npz, glTF/GLB round trip + Khronos validator, ARKit solve, retargeting, Live Link CSV, CLI."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_rig import make_tiny_rig
from scipy.spatial.transform import Rotation

import exporters
from exporters.arkit import solve_arkit
from exporters.curves import live_link_timecode
from exporters.gltf import validate_gltf, validator_path
from exporters.readers import load_gltf, read_accessor
from exporters.solver import ArkitSolver
from probtalk import Animation
from probtalk.arkit import ARKIT_INDEX, ARKIT_NAMES
from probtalk.errors import InputError, MissingExtraError, OutputError, ProbtalkError, RigError

# The header of a CSV written by Epic's Live Link Face app (its documented/observed column order).
LIVE_LINK_HEADER = (
    "Timecode,BlendshapeCount,EyeBlinkLeft,EyeLookDownLeft,EyeLookInLeft,EyeLookOutLeft,EyeLookUpLeft,"
    "EyeSquintLeft,EyeWideLeft,EyeBlinkRight,EyeLookDownRight,EyeLookInRight,EyeLookOutRight,EyeLookUpRight,"
    "EyeSquintRight,EyeWideRight,JawForward,JawRight,JawLeft,JawOpen,MouthClose,MouthFunnel,MouthPucker,"
    "MouthRight,MouthLeft,MouthSmileLeft,MouthSmileRight,MouthFrownLeft,MouthFrownRight,MouthDimpleLeft,"
    "MouthDimpleRight,MouthStretchLeft,MouthStretchRight,MouthRollLower,MouthRollUpper,MouthShrugLower,"
    "MouthShrugUpper,MouthPressLeft,MouthPressRight,MouthLowerDownLeft,MouthLowerDownRight,MouthUpperUpLeft,"
    "MouthUpperUpRight,BrowDownLeft,BrowDownRight,BrowInnerUp,BrowOuterUpLeft,BrowOuterUpRight,CheekPuff,"
    "CheekSquintLeft,CheekSquintRight,NoseSneerLeft,NoseSneerRight,TongueOut,HeadYaw,HeadPitch,HeadRoll,"
    "LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll"
)


@pytest.fixture(scope="module")
def rig():
    return make_tiny_rig()


def _anim(frames: int = 12, fps: float = 25.0, seed: int = 0, full: bool = True, width: int = 50) -> Animation:
    rng = np.random.default_rng(seed)
    kw = {}
    if full:
        kw = {"neck_pose": rng.normal(0, 0.1, (frames, 3)), "eye_pose": rng.normal(0, 0.1, (frames, 6))}
    return Animation(fps=fps, expression=rng.normal(0, 1, (frames, width)), jaw_pose=rng.normal(0, 0.1, (frames, 3)),
                     meta={"name": "take0"}, **kw)


def _arkit_anim(rig, weights: np.ndarray, fps: float = 30.0) -> Animation:
    """A FLAME take realising ARKit weights [T, 52] through the rig's semantic expressions."""
    expr = weights @ rig.semantic_expression
    return Animation(fps=fps, expression=expr, jaw_pose=np.zeros((len(weights), 3)))


def _known_weights(frames: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = np.clip(rng.normal(0.3, 0.45, (frames, len(ARKIT_NAMES))), 0.0, 1.0)  # many exactly 0 or 1
    return w


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


# ------------------------------------------------------------------ registry
def test_registry_formats_and_suffixes(tmp_path):
    assert {"npz", "glb", "gltf", "fbx", "livelink", "arkit-json", "curves-csv"} <= set(exporters.formats())
    assert exporters.resolve_format("a/b.glb", None) == "glb"
    assert exporters.resolve_format("b.csv", None) == "livelink"
    assert exporters.resolve_format("b.json", None) == "arkit-json"
    assert exporters.resolve_format("b.curves.csv", None) == "curves-csv"
    assert exporters.resolve_format("b.take.0.fbx", None) == "fbx"
    assert exporters.resolve_format("x.glb", "csv") == "livelink"  # explicit format (alias) wins
    glb, fbx = exporters.get_writer("glb").option_names(), exporters.get_writer("fbx").option_names()
    assert fbx == glb | {"timeout"}  # the mesh formats share one option set
    with pytest.raises(InputError, match="unknown export format 'obj'"):
        exporters.write(_anim(), tmp_path / "a.glb", format="obj")
    with pytest.raises(InputError, match="cannot tell the export format"):
        exporters.write(_anim(), tmp_path / "a.xyz")
    with pytest.raises(InputError, match="has no option"):
        exporters.write(_anim(), tmp_path / "a.npz", bake=True)
    assert list(tmp_path.iterdir()) == []


def test_bad_fps_and_frames_raise(tmp_path, rig):
    anim = _anim()
    anim.fps = 0.0
    for name in ("a.npz", "a.glb", "a.csv"):
        with pytest.raises(ProbtalkError, match="fps"):
            exporters.write(anim, tmp_path / name, rig)
    anim = _anim()
    anim.fps = float("nan")
    with pytest.raises(ProbtalkError, match="fps"):
        exporters.write(anim, tmp_path / "a.glb", rig)
    with pytest.raises(InputError, match="Animation"):
        exporters.write(np.zeros((3, 53)), tmp_path / "a.glb", rig)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------- npz
def test_npz_round_trip_and_baked_vertices(tmp_path, rig):
    import torch

    from probtalk.flame import FlameLayer

    anim = _anim()
    anim.shape = np.random.default_rng(5).normal(0, 1, 300).astype(np.float32)
    path = exporters.write(anim, tmp_path / "take.npz")
    back = Animation.load(path)
    np.testing.assert_array_equal(back.expression, anim.expression)
    np.testing.assert_array_equal(back.eye_pose, anim.eye_pose)
    assert back.fps == anim.fps and back.meta == anim.meta

    path = exporters.write(anim, tmp_path / "baked.npz", rig, bake_vertices=True)
    with np.load(path) as data:
        verts, faces = data["vertices"], data["faces"]
    assert verts.shape == (anim.num_frames, rig.num_vertices, 3) and verts.dtype == np.float32
    np.testing.assert_array_equal(faces, rig.faces)
    with torch.no_grad():
        want = FlameLayer(rig).from_animation(anim, with_shape=True)[7].numpy()
    np.testing.assert_allclose(verts[7], want, atol=1e-6)
    assert Animation.load(path).num_frames == anim.num_frames  # still a valid Animation file


# ---------------------------------------------------------------------- glTF
def _morph_offsets(gltf, blob, frames: int) -> np.ndarray:
    """Per-frame morph offsets [T, V, 3] = sum_k weight_k(t) * target_k, read back from a glTF file."""
    prim = gltf.meshes[0].primitives[0]
    targets = np.stack([read_accessor(gltf, blob, t["POSITION"]) for t in prim.targets])
    anim_g = gltf.animations[0]
    ch = next(c for c in anim_g.channels if c.target.path == "weights")
    weights = read_accessor(gltf, blob, anim_g.samplers[ch.sampler].output).reshape(frames, len(targets))
    return np.einsum("tk,kvc->tvc", weights.astype(np.float64), targets), weights


def test_glb_round_trip_weights_and_rotations(tmp_path, rig):
    anim = _anim(frames=9, fps=30.0)
    path = exporters.write(anim, tmp_path / "take.glb", rig, tolerance=0.0)
    gltf, blob = load_gltf(path)
    mesh = gltf.meshes[0]
    names = mesh.extras["targetNames"]
    # Signed components become positive / negative targets so every weight lies in [0, 1].
    assert names == [f"exp{k:03d}_{side}" for k in range(50) for side in ("pos", "neg")]
    prim = mesh.primitives[0]
    for k in (0, 17, 99):  # sparse morph targets with min/max
        acc = gltf.accessors[prim.targets[k]["POSITION"]]
        assert acc.sparse is not None and acc.min is not None and acc.max is not None
    offsets, weights = _morph_offsets(gltf, blob, anim.num_frames)
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    np.testing.assert_allclose(weights.max(axis=0), 1.0, atol=1e-6)  # each side peaks at 1
    want = np.einsum("tk,vck->tvc", anim.expression, rig.exprdirs[:, :, :50])
    np.testing.assert_allclose(offsets, want, atol=1e-6)
    np.testing.assert_allclose(read_accessor(gltf, blob, prim.attributes.POSITION), rig.v_template, atol=1e-7)
    skin_w = read_accessor(gltf, blob, prim.attributes.WEIGHTS_0)
    np.testing.assert_allclose(skin_w.sum(axis=1), 1.0, atol=1e-6)

    anim_g = gltf.animations[0]
    assert anim_g.name == "take0"  # the take's name (the file stem when it has none)
    node_names = [n.name for n in gltf.nodes]
    times = None
    seen = set()
    for ch in anim_g.channels:
        sampler = anim_g.samplers[ch.sampler]
        times = read_accessor(gltf, blob, sampler.input)
        out = read_accessor(gltf, blob, sampler.output)
        node = node_names[ch.target.node]
        seen.add((node, ch.target.path))
        if ch.target.path != "weights":
            source = {"jaw": anim.jaw_pose, "neck": anim.neck_pose, "left_eye": anim.eye_pose[:, :3],
                      "right_eye": anim.eye_pose[:, 3:]}[node]
            np.testing.assert_allclose(Rotation.from_quat(out).as_rotvec(), source, atol=1e-5)
    assert seen == {("head", "weights"), ("jaw", "rotation"), ("neck", "rotation"), ("left_eye", "rotation"),
                    ("right_eye", "rotation")}
    np.testing.assert_allclose(times, np.arange(anim.num_frames) / 30.0, atol=1e-6)

    # Inverse bind matrices undo each joint's rest position (joints regressed from the mesh).
    skin = gltf.skins[0]
    ibm = read_accessor(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    joints = rig.j_regressor @ rig.v_template
    np.testing.assert_allclose(ibm[:, :3, 3], -joints, atol=1e-6)


def test_glb_pruning_bound_nonzero_only_and_arkit_targets(tmp_path, rig):
    anim = _anim(frames=6)
    anim.expression[:, 3:] = np.random.default_rng(1).normal(0, 5e-5, (6, 47))  # a model's noise on unused ones
    anim.expression[:, 0] = np.abs(anim.expression[:, 0])  # never negative: no exp000_neg target
    gltf, _ = load_gltf(exporters.write(anim, tmp_path / "few.glb", rig, nonzero_only=True))
    assert gltf.meshes[0].extras["targetNames"] == ["exp000_pos", "exp001_pos", "exp001_neg", "exp002_pos",
                                                    "exp002_neg"]
    # The default pruning bound: no vertex of any frame is off by more than the tolerance.
    for tol in (1e-5, 1e-4):
        gltf, blob = load_gltf(exporters.write(anim, tmp_path / "pruned.glb", rig, tolerance=tol))
        offsets, _ = _morph_offsets(gltf, blob, anim.num_frames)
        want = np.einsum("tk,vck->tvc", anim.expression, rig.exprdirs[:, :, :50])
        assert np.linalg.norm(offsets - want, axis=2).max() <= tol * (1 + 1e-4)
    with pytest.raises(InputError, match="tolerance"):
        exporters.write(anim, tmp_path / "bad.glb", rig, tolerance=-1.0)

    weights = _known_weights(5)
    path = exporters.write(_arkit_anim(rig, weights), tmp_path / "arkit.glb", rig, arkit=True)
    gltf, blob = load_gltf(path)
    assert gltf.meshes[0].extras["targetNames"] == list(ARKIT_NAMES)
    channels = {gltf.nodes[c.target.node].name: c for c in gltf.animations[0].channels}
    assert set(channels) == {"head"}  # jaw/eye motion lives in the ARKit shapes; no neck in this take
    out = read_accessor(gltf, blob, gltf.animations[0].samplers[channels["head"].sampler].output)
    np.testing.assert_allclose(out.reshape(5, 52), weights, atol=0.02)


@pytest.mark.skipif(validator_path() is None or not __import__("shutil").which("node"),
                    reason="Khronos gltf-validator not installed (needs node + 'npm install --prefix .tools/node "
                           "gltf-validator'; scripts/setup.sh does it)")
def test_khronos_validator_reports_no_errors(tmp_path, rig):
    anim = _anim(frames=8)
    files = [
        exporters.write(anim, tmp_path / "a.glb", rig),
        exporters.write(anim, tmp_path / "a.gltf", rig),
        exporters.write(_anim(frames=3, full=False, width=10), tmp_path / "b.glb", rig),
        exporters.write(anim, tmp_path / "c.glb", rig, arkit=True),
    ]
    for path in files:
        report = validate_gltf(path)
        assert report["issues"]["numErrors"] == 0, (path.name, report["issues"]["messages"][:5])
    # The validator really checks: a morph target accessor without min/max is an error.
    from exporters.gltf import GlbWriter, build_gltf

    gltf = build_gltf(anim, rig, GlbWriter(rig=rig).morphs(anim))
    assert gltf.accessors[gltf.meshes[0].primitives[0].targets[0]["POSITION"]].sparse is not None
    gltf.accessors[gltf.meshes[0].primitives[0].targets[0]["POSITION"]].min = None
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"".join(gltf.save_to_bytes()))
    assert validate_gltf(broken)["issues"]["numErrors"] > 0


# --------------------------------------------------------------------- ARKit
def test_arkit_solver_recovers_known_weights_within_bounds(rig):
    weights = _known_weights(40)
    offsets = np.einsum("tk,kvc->tvc", weights, rig.semantic_offsets)
    solver = ArkitSolver(rig.semantic_names, rig.semantic_offsets)
    got, residual = solver.solve(offsets)
    assert got.shape == (40, 52) and got.min() >= 0.0 and got.max() <= 1.0
    assert np.abs(got - weights).max() < 0.02
    assert residual.max() < 1e-5
    # Motion outside the box (weights 1.5 / -0.5) is clipped to the bounds, still best fit.
    over = weights.copy()
    over[:, ARKIT_INDEX["jawOpen"]] = 1.5
    over[:, ARKIT_INDEX["browInnerUp"]] = -0.5
    got, _ = solver.solve(np.einsum("tk,kvc->tvc", over, rig.semantic_offsets))
    assert got.min() >= 0.0 and got.max() <= 1.0
    assert np.all(got[:, ARKIT_INDEX["jawOpen"]] > 0.9) and np.all(got[:, ARKIT_INDEX["browInnerUp"]] < 0.1)
    # The batched active-set answer agrees with scipy's BVLS on every frame.
    rhs = np.einsum("tvc,kvc->tk", np.einsum("tk,kvc->tvc", over, rig.semantic_offsets).astype(np.float64),
                    rig.semantic_offsets.astype(np.float64)) * solver.scale
    for t in (0, 13, 39):
        np.testing.assert_allclose(got[t], solver._bvls(rhs[t]), atol=1e-4)


def test_solve_arkit_from_flame_motion_and_smoothing(rig):
    weights = _known_weights(30)
    anim = _arkit_anim(rig, weights)
    curves = solve_arkit(anim, rig)
    assert curves.fps == 30.0 and curves.weights.shape == (30, 52)
    assert np.abs(curves.weights - weights).max() < 0.02
    smooth = solve_arkit(anim, rig, smoothing=0.5)
    assert smooth.weights.min() >= 0.0 and smooth.weights.max() <= 1.0
    jitter = lambda w: np.abs(np.diff(w, axis=0)).mean()  # noqa: E731
    assert jitter(smooth.weights) < 0.8 * jitter(curves.weights)

    # The smoothed answer is the bounded optimum: compare with scipy's lsq_linear on the stacked system.
    from scipy import sparse
    from scipy.optimize import lsq_linear

    solver = ArkitSolver(rig.semantic_names, rig.semantic_offsets, smoothing=0.5)
    d = np.einsum("tk,kvc->tvc", weights, rig.semantic_offsets)[:8]
    got, _ = solver.solve(d)
    basis = rig.semantic_offsets[:, solver.active].reshape(52, -1).astype(np.float64)
    rhs = d[:, solver.active].reshape(8, -1).astype(np.float64)
    k = 52
    a = sparse.vstack([sparse.block_diag([basis.T * np.sqrt(solver.scale)] * 8),
                       sparse.kron(sparse.diags([-np.ones(7), np.ones(7)], [0, 1], shape=(7, 8)),
                                   sparse.identity(k)) * np.sqrt(solver.smoothing)])
    b = np.concatenate([rhs.ravel() * np.sqrt(solver.scale), np.zeros(7 * k)])
    ref = lsq_linear(a.tocsr(), b, bounds=(0, 1), tol=1e-12, max_iter=500).x.reshape(8, k)
    np.testing.assert_allclose(got, ref, atol=2e-3)


def _write_obj(path: Path, verts: np.ndarray) -> None:
    path.write_text("".join(f"v {x:.9f} {y:.9f} {z:.9f}\n" for x, y, z in verts) + "f 1 2 3\n")


def make_character(folder: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """A user's character of another topology (a 7 x 5 quad grid, not a head) as an OBJ folder."""
    folder.mkdir(parents=True)
    x, y = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    verts = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    quads = [(r * 7 + c, r * 7 + c + 1, (r + 1) * 7 + c + 1, (r + 1) * 7 + c) for r in range(4) for c in range(6)]
    rng = np.random.default_rng(7)
    shapes = {name: rng.normal(0, 0.1, verts.shape) * (rng.random((len(verts), 1)) < 0.5)
              for name in ("jawOpen", "mouthSmileLeft", "eyeBlinkRight")}
    faces = "".join(f"f {a + 1}/1 {b + 1}/1 {c + 1}/1 {d + 1}/1\n" for a, b, c, d in quads)  # quads, v/vt style
    (folder / "neutral.obj").write_text("".join(f"v {p[0]:.9f} {p[1]:.9f} {p[2]:.9f}\n" for p in verts) + faces)
    for name, off in shapes.items():
        _write_obj(folder / f"{name}.obj", verts + off)
    tris = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    return verts, tris, shapes


def test_character_of_another_topology_is_animated_by_solved_curves(tmp_path, rig):
    verts, tris, shapes = make_character(tmp_path / "char")
    weights = _known_weights(8)
    anim = _arkit_anim(rig, weights)
    expected = solve_arkit(anim, rig).weights  # solved on the FLAME head, no vertex correspondence
    names = sorted(shapes)  # the OBJ files' order
    idx = [ARKIT_INDEX[n] for n in names]
    path = exporters.write(anim, tmp_path / "mine.glb", rig, character=tmp_path / "char", tolerance=0.0)
    gltf, blob = load_gltf(path)
    prim = gltf.meshes[0].primitives[0]
    assert gltf.meshes[0].extras["targetNames"] == names
    assert gltf.skins == [] and prim.attributes.JOINTS_0 is None
    np.testing.assert_allclose(read_accessor(gltf, blob, prim.attributes.POSITION), verts, atol=1e-6)
    np.testing.assert_array_equal(read_accessor(gltf, blob, prim.indices).reshape(-1, 3), tris)
    offsets, got = _morph_offsets(gltf, blob, anim.num_frames)
    np.testing.assert_allclose(got, expected[:, idx], atol=1e-6)
    np.testing.assert_allclose(got, weights[:, idx], atol=0.02)
    want = np.einsum("tk,kvc->tvc", weights[:, idx], np.stack([shapes[n] for n in names]))
    np.testing.assert_allclose(offsets, want, atol=0.02 * 3 * 0.5)
    if validator_path() is not None and __import__("shutil").which("node"):
        assert validate_gltf(path)["issues"]["numErrors"] == 0
    # The written GLB is itself a character (round trip through the GLB reader).
    again = exporters.write(anim, tmp_path / "again.glb", rig, character=path, tolerance=0.0)
    gltf2, blob2 = load_gltf(again)
    assert gltf2.meshes[0].extras["targetNames"] == names
    np.testing.assert_allclose(_morph_offsets(gltf2, blob2, anim.num_frames)[0], offsets, atol=1e-6)
    with pytest.raises(InputError, match="character"):
        exporters.write(anim, tmp_path / "x.glb", rig, character=tmp_path / "nothing")
    with pytest.raises(InputError, match="targets"):
        exporters.write(anim, tmp_path / "x.glb", rig, character=path, arkit=True, targets=tmp_path / "char")


def test_retarget_onto_obj_folder(tmp_path, rig):
    # A user's blendshape set with the same topology: a subset of shapes, file names in PascalCase.
    user = tmp_path / "shapes"
    user.mkdir()
    neutral = rig.v_template + 0.0
    _write_obj(user / "neutral.obj", neutral)
    keep = ["jawOpen", "mouthSmileLeft", "eyeBlinkRight", "browInnerUp", "mouthPucker"]
    for name in keep:
        off = rig.semantic_offsets[rig.semantic_index(name)]
        _write_obj(user / f"{name[0].upper()}{name[1:]}.obj", neutral + off)
    (user / "readme.txt").write_text("not a shape")
    _write_obj(user / "notAShape.obj", neutral)
    names, offsets = exporters.load_blendshape_targets(user)
    assert sorted(names) == sorted(keep) and offsets.shape == (5, rig.num_vertices, 3)

    weights = np.zeros((10, 52))
    idx = [ARKIT_INDEX[n] for n in keep]
    weights[:, idx] = np.random.default_rng(2).uniform(0, 1, (10, 5))
    anim = _arkit_anim(rig, weights)
    curves = solve_arkit(anim, rig, targets=user)
    np.testing.assert_allclose(curves.weights[:, idx], weights[:, idx], atol=0.02)
    others = np.setdiff1d(np.arange(52), idx)
    assert np.all(curves.weights[:, others] == 0.0)

    path = exporters.write(anim, tmp_path / "retarget.csv", rig, targets=user)
    rows = list(csv.reader(path.open()))
    col = rows[0].index("JawOpen")
    np.testing.assert_allclose([float(r[col]) for r in rows[1:]], weights[:, ARKIT_INDEX["jawOpen"]], atol=0.02)

    # A GLB with named morph targets works as a blendshape set too (our own ARKit GLB here).
    glb = exporters.write(anim, tmp_path / "shapes.glb", rig, arkit=True)
    names, offsets = exporters.load_blendshape_targets(glb)
    assert names == ARKIT_NAMES
    np.testing.assert_allclose(offsets, rig.semantic_offsets, atol=1e-7)

    # Mismatched topology is a one-line error, and nothing is written.
    bad = tmp_path / "bad"
    bad.mkdir()
    _write_obj(bad / "neutral.obj", neutral[:10])
    _write_obj(bad / "jawOpen.obj", neutral[:10])
    with pytest.raises(RigError, match="vertices"):
        exporters.write(anim, tmp_path / "bad.csv", rig, targets=bad)
    with pytest.raises(InputError, match="neutral"):
        exporters.load_blendshape_targets(tmp_path)
    assert not (tmp_path / "bad.csv").exists() and _leftovers(tmp_path) == []


def test_live_link_csv_layout(tmp_path, rig):
    weights = _known_weights(30, seed=9)
    anim = _arkit_anim(rig, weights, fps=25.0)
    anim.neck_pose = np.tile([0.0, 0.2, 0.0], (30, 1)).astype(np.float32)  # turn toward the subject's left
    path = exporters.write(anim, tmp_path / "take.csv", rig)
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == LIVE_LINK_HEADER
    assert len(lines) == 31
    rows = list(csv.reader(lines[1:]))
    assert all(len(r) == 63 and r[1] == "61" for r in rows)
    assert rows[0][0] == "00:00:00:00.000" and rows[26][0] == "00:00:01:01.000"
    header = lines[0].split(",")
    for name in ("JawRight", "JawLeft", "MouthLeft", "EyeBlinkLeft", "TongueOut"):
        col = header.index(name)
        want = weights[:, ARKIT_INDEX[name[0].lower() + name[1:]]]
        np.testing.assert_allclose([float(r[col]) for r in rows], want, atol=0.02)
    # Live Link Face: yaw > 0 turns toward the subject's right (docs/guides/unreal.md).
    np.testing.assert_allclose([float(r[header.index("HeadYaw")]) for r in rows], -0.2, atol=1e-5)
    assert live_link_timecode(3600 * 30 + 61, 30.0) == "01:00:02:01.000"
    assert live_link_timecode(1, 29.97).startswith("00:00:00:01")


def test_json_and_curves_csv(tmp_path, rig):
    weights = _known_weights(7)
    anim = _arkit_anim(rig, weights, fps=60.0)
    doc = json.loads(exporters.write(anim, tmp_path / "take.json", rig).read_text())
    assert doc["fps"] == 60.0 and doc["names"] == list(ARKIT_NAMES)
    np.testing.assert_allclose(np.array(doc["frames"]), weights, atol=0.02)
    path = exporters.write(anim, tmp_path / "take.curves.csv", rig)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["frame", "time", *ARKIT_NAMES]
    assert rows[2][:2] == ["1", f"{1 / 60:.6f}"]
    np.testing.assert_allclose(np.array(rows[1:], float)[:, 2:], weights, atol=0.02)


def test_rig_without_arkit_shapes_is_an_error(tmp_path, rig):
    import dataclasses

    bare = dataclasses.replace(rig, semantic_names=(), semantic_offsets=None, semantic_expression=None,
                               semantic_jaw=None, semantic_eye=None)
    with pytest.raises(RigError, match="targets"):
        exporters.write(_anim(), tmp_path / "a.csv", bare)
    with pytest.raises(InputError, match="arkit"):
        exporters.write(_anim(), tmp_path / "a.glb", rig, targets=tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------ frame rate and audio
def test_fps_resampling_on_export(tmp_path, rig):
    anim = _anim(frames=26, fps=25.0)  # 1.04 s
    for fps, frames in ((30.0, 31), (60.0, 62), (24.0, 25), (29.97, 31)):
        back = Animation.load(exporters.write(anim, tmp_path / f"r{frames}.npz", rig, fps=fps))
        assert back.fps == fps and back.num_frames == frames
        # Frames that fall on a source frame are that frame; others interpolate linearly.
        t = np.arange(frames) / fps
        for j in range(anim.expression.shape[1])[:5]:
            want = np.interp(t, np.arange(26) / 25.0, anim.expression[:, j])
            np.testing.assert_allclose(back.expression[:, j], want, atol=1e-5)
    gltf, blob = load_gltf(exporters.write(anim, tmp_path / "r.glb", rig, fps=60))
    times = read_accessor(gltf, blob, gltf.animations[0].samplers[0].input)
    np.testing.assert_allclose(times, np.arange(62) / 60.0, atol=1e-6)
    assert anim.resample(25.0) is anim
    for bad in (0, -5, 1000, "fast"):
        with pytest.raises(InputError, match="fps"):
            exporters.write(anim, tmp_path / "bad.npz", rig, fps=bad)
    assert not (tmp_path / "bad.npz").exists()


def test_with_audio_writes_speech_and_json_names_it(tmp_path, rig):
    import soundfile as sf

    sr = 22050
    speech = tmp_path / "speech.flac"
    sf.write(speech, 0.3 * np.sin(2 * np.pi * 220 * np.arange(int(1.3 * sr)) / sr), sr, format="FLAC")
    anim = _anim(frames=25, fps=25.0)  # 1.0 s: the speech is trimmed to the take
    paths = exporters.write_all(anim, tmp_path / "out", "hello_neutral_take0", ["json", "npz"], rig,
                                audio=speech, fps=30)
    assert [p.name for p in paths] == ["hello_neutral_take0.json", "hello_neutral_take0.npz",
                                       "hello_neutral_take0.wav"]
    samples, rate = sf.read(paths[2])
    assert rate == 16000 and len(samples) == 16000
    doc = json.loads(paths[0].read_text())
    assert doc["audio"] == {"file": "hello_neutral_take0.wav", "offset": 0.0, "sample_rate": 16000}
    assert doc["fps"] == 30.0 and len(doc["frames"]) == 30
    with pytest.raises(InputError, match="not found"):
        exporters.write_all(anim, tmp_path / "none", "x", ["json"], rig, audio=tmp_path / "missing.wav")
    assert not (tmp_path / "none").exists()


# ---------------------------------------------------------- fan-out, atomic
def test_write_all_fans_out(tmp_path, rig):
    paths = exporters.write_all(_anim(), tmp_path / "out", "take3", ["npz", "glb,csv", "json"], rig)
    assert [p.name for p in paths] == ["take3.npz", "take3.glb", "take3.csv", "take3.json"]
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(InputError, match="no export format"):
        exporters.write_all(_anim(), tmp_path / "out", "x", [" , "], rig)


def test_failed_write_leaves_no_partial_file(tmp_path, rig, monkeypatch):
    import exporters.gltf as gltf_mod

    target = tmp_path / "take.glb"
    target.write_bytes(b"old")

    def boom(self, animation, clip="take"):  # fails after the writer started
        raise OutputError("disk full")

    monkeypatch.setattr(gltf_mod.GlbWriter, "encode", boom)
    with pytest.raises(OutputError):
        exporters.write(_anim(), target, rig)
    assert target.read_bytes() == b"old" and _leftovers(tmp_path) == []

    # FBX: a "Blender" that fails mid-export leaves nothing behind either.
    monkeypatch.setenv("PROBTALK_BLENDER", sys.executable)  # a Python without bpy
    with pytest.raises(OutputError, match="Blender failed"):
        exporters.write(_anim(), tmp_path / "take.fbx", rig)
    assert not (tmp_path / "take.fbx").exists() and _leftovers(tmp_path) == []


def test_fbx_without_blender_names_the_fix(tmp_path, rig, monkeypatch):
    import exporters.fbx as fbx_mod

    monkeypatch.setattr(fbx_mod, "find_blender", lambda: None)
    with pytest.raises(MissingExtraError, match="scripts/setup.sh"):
        exporters.write(_anim(), tmp_path / "a.fbx", rig)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ CLI
def test_cli_export(tmp_path, rig):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    rig_path = rig.save(tmp_path / "rig.npz")
    a = _anim(frames=5).save(tmp_path / "a.npz")
    b = _anim(frames=4, seed=1).save(tmp_path / "b.npz")
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["export", str(a), str(b), "--format", "glb,csv,npz", "-o", str(out),
                              "--rig", str(rig_path)])
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == ["a.csv", "a.glb", "a.npz", "b.csv", "b.glb", "b.npz"]
    assert Animation.load(out / "b.npz").num_frames == 4
    res = runner.invoke(app, ["export", str(a), "--format", "glb", "--arkit", "-o", str(out / "k"),
                              "--rig", str(rig_path)])
    assert res.exit_code == 0, res.output
    gltf, _ = load_gltf(out / "k" / "a.glb")
    assert gltf.meshes[0].extras["targetNames"] == list(ARKIT_NAMES)
    res = runner.invoke(app, ["export", str(a), "--format", "dae", "-o", str(out), "--rig", str(rig_path)])
    assert res.exit_code == 2 and "unknown export format 'dae'" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "missing.npz"), "-o", str(out)])
    assert res.exit_code == 2 and "not found" in res.output


def test_targets_without_arkit_is_the_same_error_from_cli_and_api(tmp_path, rig):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    shapes = tmp_path / "shapes"
    shapes.mkdir()
    neutral = rig.v_template
    _write_obj(shapes / "neutral.obj", neutral)
    _write_obj(shapes / "jawOpen.obj", neutral + rig.semantic_offsets[rig.semantic_index("jawOpen")])
    anim = _anim(frames=4)
    a = anim.save(tmp_path / "a.npz")
    out = tmp_path / "out"
    messages = []
    for call in (
        lambda: exporters.write(anim, out / "a.glb", rig, targets=shapes),
        lambda: exporters.write_all(anim, out, "a", ["csv", "fbx"], rig, targets=shapes),
    ):
        with pytest.raises(InputError) as err:
            call()
        messages.append(str(err.value))
    res = CliRunner().invoke(app, ["export", str(a), "-f", "csv,glb", "--targets", str(shapes), "-o", str(out),
                                   "--rig", str(rig.save(tmp_path / "rig.npz"))])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert messages[0] == messages[1] and messages[0] in " ".join(res.output.split())
    assert "--arkit" in messages[0] and "\n" not in messages[0]
    assert not out.exists()  # nothing written, not even the csv
    # Curve formats take targets alone, and so do mesh formats with arkit.
    assert len(exporters.write_all(anim, out, "a", ["csv", "glb"], rig, targets=shapes, arkit=True)) == 2


# ------------------------------------------------------------- bundled head
@pytest.fixture(scope="module")
def head():
    from probtalk.flame import bundled_rig_path, load_rig

    if not bundled_rig_path().is_file():
        pytest.skip("bundled rig flame_assets/probtalk_head.npz not built (python -m flame_assets.build)")
    return load_rig()


def test_bundled_head_arkit_recovery(head):
    assert head.has_semantic_shapes and set(head.semantic_names) == set(ARKIT_NAMES)
    weights = _known_weights(30, seed=4)  # every shape active at once, many at 0 or 1
    solver = ArkitSolver(head.semantic_names, head.semantic_offsets)
    got, _ = solver.solve(np.einsum("tk,kvc->tvc", weights, head.semantic_offsets))
    assert got.min() >= 0.0 and got.max() <= 1.0
    assert np.abs(got - weights).max() < 0.02
    # FLAME motion realising each shape alone (expression + jaw + eye rotation) maps back to that shape.
    eye = np.eye(len(head.semantic_names))
    anim = Animation(fps=25.0, expression=head.semantic_expression, jaw_pose=head.semantic_jaw,
                     eye_pose=head.semantic_eye)
    curves = solve_arkit(anim, head)
    order = [ARKIT_INDEX[n] for n in head.semantic_names]
    assert np.abs(curves.weights[:, order] - eye).max() < 0.02


@pytest.mark.skipif(validator_path() is None or not __import__("shutil").which("node"),
                    reason="Khronos gltf-validator not installed (scripts/setup.sh installs it)")
def test_bundled_head_glb_validates(tmp_path, head):
    anim = _anim(frames=4)
    for options in ({}, {"arkit": True}):
        path = exporters.write(anim, tmp_path / "head.glb", head, **options)
        report = validate_gltf(path)
        assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
