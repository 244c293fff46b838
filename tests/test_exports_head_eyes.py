"""Head motion, gaze and blinks in every output, read back by independent readers.

A "living" take (sinusoidal neck and eye rotations and two full blinks made of the
rig's eyeBlink shapes) is written to Live Link CSV, ARKit JSON, GLB, FBX, npz and
rendered; each file is read with a reader that is not ours (the csv and json
modules, pygltflib plus a hand-written linear blend skinning, ufbx in a subprocess,
PIL) and compared with the input, conventions included. A take without neck or eye
tracks writes zeros / identity, as before.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_rig import make_tiny_rig
from scipy.spatial.transform import Rotation

import exporters
from exporters.fbx import find_blender
from probtalk import Animation

FPS = 25.0
FRAMES = 40
BLINK = {10: 0.35, 11: 0.8, 12: 1.0, 13: 1.0, 14: 0.6, 15: 0.2, 30: 0.5, 31: 1.0, 32: 0.4}  # frame -> closure
FULL_BLINKS = (12, 13, 31)

# Four rows of a CSV recorded by the Live Link Face app (dwskillman/BlendFiles, MySlate_1_iPhone.csv): the eye
# blendshapes and the 6 eye rotation columns. (EyeLookDownLeft, EyeLookInLeft, EyeLookDownRight, EyeLookInRight),
# (LeftEyeYaw, LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll).
RECORDED = [
    ((0.1126266047, 0.0544237606, 0.1126226410, 0.0626601055),
     (-0.0381863005, 0.0688475519, -0.0026325486, 0.0331669003, 0.0688375905, 0.0022863199)),
    ((0.1079610214, 0.0599510521, 0.1079849526, 0.0569633357),
     (-0.0347212180, 0.0660041049, -0.0022946114, 0.0365423709, 0.0659937561, 0.0024145332)),
    ((0.2331103086, 0.0666978657, 0.2332067341, 0.0502357632),
     (-0.0303763282, 0.1425241083, -0.0043582148, 0.0403308012, 0.1425156891, 0.0057853712)),
    ((0.2460200489, 0.0668132082, 0.2461184859, 0.0505499132),
     (-0.0305307414, 0.1504158378, -0.0046265060, 0.0403535850, 0.1504085064, 0.0061139739)),
]


@pytest.fixture(scope="module")
def head():
    from probtalk.flame import bundled_rig_path, load_rig

    if not bundled_rig_path().is_file():
        pytest.skip("bundled rig flame_assets/probtalk_head.npz not built (python -m flame_assets.build)")
    return load_rig()


@pytest.fixture(scope="module")
def tiny():
    return make_tiny_rig()


def living_take(rig, frames: int = FRAMES, head_and_eyes: bool = True) -> Animation:
    """Neck nods/turns/tilts, eyes looking around (both together), two blinks from the rig's eyeBlink shapes."""
    t = np.arange(frames) / FPS
    closure = np.zeros(frames)
    for f, v in BLINK.items():
        if f < frames:
            closure[f] = v
    blink = rig.semantic_expression[[rig.semantic_names.index("eyeBlinkLeft"),
                                     rig.semantic_names.index("eyeBlinkRight")]].sum(axis=0)
    expression = closure[:, None] * blink[None, :]  # all 100 components: nothing may truncate the blink
    jaw = np.c_[0.15 * np.clip(np.sin(2 * np.pi * 1.5 * t), 0, None), np.zeros((frames, 2))]
    if not head_and_eyes:
        return Animation(fps=FPS, expression=expression, jaw_pose=jaw, meta={"name": "still"})
    neck = np.c_[0.12 * np.sin(2 * np.pi * 0.7 * t), 0.2 * np.sin(2 * np.pi * 0.5 * t + 1.0),
                 0.08 * np.sin(2 * np.pi * 0.9 * t + 2.0)]
    gaze = np.c_[0.15 * np.sin(2 * np.pi * 0.8 * t), 0.25 * np.sin(2 * np.pi * 0.6 * t + 0.5), np.zeros(frames)]
    # Both eyes look the same way, converging a little (In/Out mirror between the eyes, and the eyes differ).
    eyes = np.concatenate([gaze + [0, -0.04, 0], gaze + [0, 0.04, 0]], axis=1)
    return Animation(fps=FPS, expression=expression, jaw_pose=jaw, neck_pose=neck, eye_pose=eyes,
                     meta={"name": "living"})


def rotvec_from_live_link(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """The documented Live Link Face convention, written out independently: R = Rx(pitch) Ry(-yaw) Rz(roll)."""
    return Rotation.from_euler("XYZ", np.stack([pitch, -yaw, roll], axis=1)).as_rotvec()


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame angle (radians) of the rotation taking axis-angle ``a`` [T, 3] to ``b`` [T, 3]."""
    return (Rotation.from_rotvec(a).inv() * Rotation.from_rotvec(b)).magnitude()


# ------------------------------------------------------------ the convention
def test_convention_reproduces_a_recorded_live_link_face_file():
    """Read with our convention, the app's eye rotations are roll-free gazes, and LeftEye* is the Eye*Right eye."""
    for looks, rot in RECORDED:
        down_l, in_l, down_r, in_r = looks
        for yaw, pitch, roll in (rot[:3], rot[3:]):
            gaze = Rotation.from_rotvec(rotvec_from_live_link(np.array([yaw]), np.array([pitch]), np.array([roll])))
            # A gaze turns about the vertical axis, then about the turned horizontal one: no twist left over.
            assert abs(gaze.as_euler("YXZ")[0, 2]) < 2e-8
            # The other sign of roll would leave a twist of twice the roll.
            flipped = Rotation.from_euler("XYZ", [[pitch, -yaw, -roll]]).as_euler("YXZ")[0, 2]
            assert abs(flipped) > 1.5 * abs(roll)
        # LeftEye* moves with the Eye*Right curves (pitch / look-down and -yaw / look-in share one ratio), and
        # RightEye* with the Eye*Left curves.
        ratios = [rot[1] / down_r, -rot[0] / in_r, rot[4] / down_l, rot[3] / in_l]
        assert np.ptp(ratios) < 0.01, ratios
        swapped = [rot[1] / down_l, -rot[0] / in_l, rot[4] / down_r, rot[3] / in_r]
        assert np.ptp(swapped) > 0.05 or looks[1] == looks[3]


def test_live_link_angles_signs_and_identity():
    from exporters.arkit import live_link_angles

    nod_down, turn_right, tilt_right = [0.3, 0, 0], [0, -0.3, 0], [0, 0, 0.3]  # FLAME axis-angles
    got = live_link_angles(np.array([nod_down, turn_right, tilt_right, [0, 0, 0]]), 4)
    np.testing.assert_allclose(got, [[0, 0.3, 0], [0.3, 0, 0], [0, 0, 0.3], [0, 0, 0]], atol=1e-7)
    assert not np.signbit(got[3]).any()  # no "-0.000000" in the files
    np.testing.assert_array_equal(live_link_angles(None, 3), np.zeros((3, 3), np.float32))


# ------------------------------------------------------------ curves
def test_live_link_csv_carries_head_eyes_and_blinks(tmp_path, head):
    anim = living_take(head)
    path = exporters.write(anim, tmp_path / "living.csv", head)
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == FRAMES and all(r["BlendshapeCount"] == "61" for r in rows)
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0] if k != "Timecode"}

    def track(prefix: str) -> np.ndarray:
        return rotvec_from_live_link(col[f"{prefix}Yaw"], col[f"{prefix}Pitch"], col[f"{prefix}Roll"])

    # The app's pairing: LeftEye* holds the eye of the Eye*Right curves (the subject's right eye), and vice versa.
    assert angle_between(track("Head"), anim.neck_pose).max() < 2e-5
    assert angle_between(track("LeftEye"), anim.eye_pose[:, 3:]).max() < 2e-5
    assert angle_between(track("RightEye"), anim.eye_pose[:, :3]).max() < 2e-5
    # Physical signs: FLAME +x rotation nods down (HeadPitch > 0), +y turns toward the subject's left (HeadYaw < 0).
    np.testing.assert_array_equal(np.sign(col["HeadPitch"][1:]), np.sign(anim.neck_pose[1:, 0]))
    moving = np.abs(anim.neck_pose[:, 1]) > 0.02
    np.testing.assert_array_equal(np.sign(col["HeadYaw"][moving]), -np.sign(anim.neck_pose[moving, 1]))
    # Blinks: every full blink reaches >= 0.8 on both eyes; open eyes stay near 0.
    for side in ("Left", "Right"):
        blink = col[f"EyeBlink{side}"]
        assert blink[list(FULL_BLINKS)].min() >= 0.8, blink[list(FULL_BLINKS)]
        open_frames = [f for f in range(FRAMES) if f not in BLINK]
        assert blink[open_frames].max() < 0.1
    # Gaze curves: looking toward the subject's left (+y) is Out for the left eye and In for the right eye.
    left = (anim.eye_pose[:, [1, 4]] > 0.1).all(axis=1)
    right = (anim.eye_pose[:, [1, 4]] < -0.1).all(axis=1)
    assert left.sum() >= 5 and right.sum() >= 5
    assert (col["EyeLookOutLeft"][left] > 0.2).all() and (col["EyeLookInRight"][left] > 0.2).all()
    assert (col["EyeLookInLeft"][right] > 0.2).all() and (col["EyeLookOutRight"][right] > 0.2).all()
    assert col["EyeLookInLeft"][left].max() < 0.05 and col["EyeLookOutRight"][left].max() < 0.05
    down = anim.eye_pose[:, 0] > 0.08  # FLAME +x looks down
    assert down.sum() >= 5
    assert (col["EyeLookDownLeft"][down] > 0.2).all() and (col["EyeLookDownRight"][down] > 0.2).all()
    assert col["EyeLookUpLeft"][down].max() < 0.05
    # ...and the rotation columns agree with the curves, as in the app's files.
    assert (col["LeftEyeYaw"][left] < 0).all() and (col["RightEyeYaw"][left] < 0).all()
    assert (col["LeftEyePitch"][down] > 0).all() and (col["RightEyePitch"][down] > 0).all()


def test_arkit_json_carries_head_eyes_and_blinks(tmp_path, head):
    from probtalk.arkit import ARKIT_INDEX

    anim = living_take(head)
    doc = json.loads(exporters.write(anim, tmp_path / "living.json", head).read_text())
    assert doc["rotation_names"] == ["yaw", "pitch", "roll"] and "radians" in doc["rotation_convention"]
    for key, want in (("head", anim.neck_pose), ("left_eye", anim.eye_pose[:, :3]), ("right_eye", anim.eye_pose[:, 3:])):
        a = np.array(doc[key])
        assert angle_between(rotvec_from_live_link(a[:, 0], a[:, 1], a[:, 2]), want).max() < 2e-5, key
    frames = np.array(doc["frames"])
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert frames[list(FULL_BLINKS), ARKIT_INDEX[name]].min() >= 0.8
    left = (anim.eye_pose[:, [1, 4]] > 0.1).all(axis=1)
    assert (frames[left, ARKIT_INDEX["eyeLookOutLeft"]] > 0.2).all()
    assert (frames[left, ARKIT_INDEX["eyeLookInRight"]] > 0.2).all()


def test_still_take_writes_zero_rotations(tmp_path, tiny):
    anim = living_take(tiny, head_and_eyes=False)
    path = exporters.write(anim, tmp_path / "still.csv", tiny)
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert all(r[-9:] == ["0.000000"] * 9 for r in rows[1:])
    doc = json.loads(exporters.write(anim, tmp_path / "still.json", tiny).read_text())
    assert np.array(doc["head"]).tolist() == [[0.0, 0.0, 0.0]] * FRAMES


def test_live_stream_lines_carry_rotations(tmp_path, tiny):
    from exporters.arkit import live_link_angles
    from probtalk.runtime.live import FrameLines

    anim = living_take(tiny, frames=6)
    rig_path = tiny.save(tmp_path / "tiny.npz")
    csv_lines = FrameLines("csv", arkit=True, rig=rig_path).lines(anim)
    rows = [line.split(",") for line in csv_lines]
    np.testing.assert_allclose(np.array([r[-9:-6] for r in rows], float), live_link_angles(anim.neck_pose, 6), atol=2e-6)
    np.testing.assert_allclose(np.array([r[-6:-3] for r in rows], float),
                               live_link_angles(anim.eye_pose[:, 3:], 6), atol=2e-6)
    first = json.loads(FrameLines("jsonl", arkit=True, rig=rig_path).lines(anim)[0])
    assert first["rotations"]["HeadPitch"] == pytest.approx(float(rows[0][-8]), abs=2e-6)


# ------------------------------------------------------------ GLB
def _accessor(gltf, blob: bytes, index: int) -> np.ndarray:
    """A dense accessor decoded straight from the binary chunk (no probtalk reader involved)."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}[acc.componentType]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    return np.frombuffer(blob, dtype, acc.count * width, start).reshape(acc.count, width)


def _skinned(gltf, blob: bytes, frame: int) -> np.ndarray:
    """Vertices of the GLB's mesh at ``frame``: its joint rotation channels applied by linear blend skinning."""
    nodes = gltf.nodes
    rot = {i: np.array(n.rotation or [0, 0, 0, 1], float) for i, n in enumerate(nodes)}
    anim = gltf.animations[0]
    for ch in anim.channels:
        if ch.target.path == "rotation":
            rot[ch.target.node] = _accessor(gltf, blob, anim.samplers[ch.sampler].output)[frame].astype(float)
    parent = {c: i for i, n in enumerate(nodes) for c in (n.children or [])}

    def world(i: int) -> np.ndarray:
        local = np.eye(4)
        local[:3, :3] = Rotation.from_quat(rot[i]).as_matrix()
        local[:3, 3] = nodes[i].translation or [0, 0, 0]
        return world(parent[i]) @ local if i in parent else local

    skin = gltf.skins[0]
    ibm = _accessor(gltf, blob, skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)
    mats = np.stack([world(j) @ ibm[k] for k, j in enumerate(skin.joints)])
    prim = gltf.meshes[0].primitives[0]
    verts = _accessor(gltf, blob, prim.attributes.POSITION).astype(float)
    joints = _accessor(gltf, blob, prim.attributes.JOINTS_0).astype(int)
    weights = _accessor(gltf, blob, prim.attributes.WEIGHTS_0).astype(float)
    homo = np.c_[verts, np.ones(len(verts))]
    per_joint = np.einsum("jab,vb->vja", mats, homo)[..., :3]
    return np.einsum("vk,vkc->vc", weights, np.take_along_axis(per_joint, joints[:, :, None], axis=1))


def test_glb_neck_and_eye_joints_move_the_mesh_like_flame(tmp_path, tiny):
    """pygltflib + our own skinning of the file equals FLAME posing (the tiny rig has no pose correctives)."""
    import pygltflib
    import torch

    from probtalk.flame import FlameLayer

    anim = living_take(tiny, frames=12)
    posed = Animation(fps=FPS, expression=np.zeros((12, 10)), jaw_pose=anim.jaw_pose, neck_pose=anim.neck_pose,
                      eye_pose=anim.eye_pose)
    path = exporters.write(posed, tmp_path / "posed.glb", tiny)
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    names = [n.name for n in gltf.nodes]
    channels = {(names[c.target.node], c.target.path) for c in gltf.animations[0].channels}
    assert {("neck", "rotation"), ("jaw", "rotation"), ("left_eye", "rotation"), ("right_eye", "rotation")} <= channels
    for joint, want in (("neck", anim.neck_pose), ("jaw", anim.jaw_pose), ("left_eye", anim.eye_pose[:, :3]),
                        ("right_eye", anim.eye_pose[:, 3:])):
        ch = next(c for c in gltf.animations[0].channels if names[c.target.node] == joint)
        quats = _accessor(gltf, blob, gltf.animations[0].samplers[ch.sampler].output)
        assert angle_between(Rotation.from_quat(quats).as_rotvec(), want).max() < 1e-5, joint
    with torch.no_grad():
        want = FlameLayer(tiny).from_animation(posed).numpy()
    for f in (0, 5, 11):
        np.testing.assert_allclose(_skinned(gltf, blob, f), want[f], atol=2e-6)


def test_glb_without_neck_or_eyes_keeps_them_at_rest(tmp_path, tiny):
    import pygltflib

    path = exporters.write(living_take(tiny, frames=6, head_and_eyes=False), tmp_path / "still.glb", tiny)
    gltf = pygltflib.GLTF2().load(str(path))
    names = [n.name for n in gltf.nodes]
    animated = {names[c.target.node] for c in gltf.animations[0].channels if c.target.path == "rotation"}
    assert animated == {"jaw"}
    assert all(gltf.nodes[names.index(j)].rotation in (None, [0, 0, 0, 1]) for j in ("neck", "left_eye", "right_eye"))


def test_arkit_glb_turns_the_neck_and_drives_gaze_and_blink_targets(tmp_path, head):
    import pygltflib

    from probtalk.arkit import ARKIT_INDEX

    anim = living_take(head)
    path = exporters.write(anim, tmp_path / "arkit.glb", head, arkit=True)
    gltf = pygltflib.GLTF2().load(str(path))
    blob = gltf.binary_blob()
    names = [n.name for n in gltf.nodes]
    rotations = {names[c.target.node]: c for c in gltf.animations[0].channels if c.target.path == "rotation"}
    assert set(rotations) == {"neck"}  # jaw and eyes live in the ARKit targets
    quats = _accessor(gltf, blob, gltf.animations[0].samplers[rotations["neck"].sampler].output)
    assert angle_between(Rotation.from_quat(quats).as_rotvec(), anim.neck_pose).max() < 1e-5
    targets = gltf.meshes[0].extras["targetNames"]
    ch = next(c for c in gltf.animations[0].channels if c.target.path == "weights")
    weights = _accessor(gltf, blob, gltf.animations[0].samplers[ch.sampler].output).reshape(FRAMES, len(targets))
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert weights[list(FULL_BLINKS), targets.index(name)].min() >= 0.8
    left = (anim.eye_pose[:, [1, 4]] > 0.1).all(axis=1)
    assert (weights[left, targets.index("eyeLookOutLeft")] > 0.2).all()
    assert targets == [n for n in targets if n in ARKIT_INDEX]


@pytest.mark.skipif(not __import__("shutil").which("node"), reason="node is not installed")
def test_living_glb_validates(tmp_path, tiny):
    from exporters.gltf import validate_gltf, validator_path

    if validator_path() is None:
        pytest.skip("Khronos gltf-validator not installed (scripts/setup.sh installs it)")
    for options in ({}, {"arkit": True}):
        report = validate_gltf(exporters.write(living_take(tiny, frames=8), tmp_path / "v.glb", tiny, **options))
        assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0, report["issues"]


# ------------------------------------------------------------ FBX
@pytest.mark.skipif(find_blender() is None, reason="no Blender: run 'bash scripts/setup.sh' or install blender")
@pytest.mark.skipif(importlib.util.find_spec("ufbx") is None, reason="independent FBX reader 'ufbx' not installed")
def test_fbx_neck_and_eye_bones_carry_the_rotations(tmp_path, tiny):
    anim = living_take(tiny, frames=10)
    probe = Path(__file__).parent / "_fbx_probe.py"
    sample = [0, 4, 9]
    for name, take in (("living", anim), ("still", living_take(tiny, frames=10, head_and_eyes=False))):
        path = exporters.write(take, tmp_path / f"{name}.fbx", tiny)
        proc = subprocess.run([sys.executable, str(probe), str(path), *map(str, sample)], capture_output=True,
                              text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr[-500:]
        rotations = json.loads(proc.stdout)["rotations"]
        for joint, cols in (("neck", take.neck_pose), ("left_eye", None if take.eye_pose is None else take.eye_pose[:, :3]),
                            ("right_eye", None if take.eye_pose is None else take.eye_pose[:, 3:])):
            got = np.array([rotations[str(f)][joint] for f in sample])
            want = np.zeros((len(sample), 3)) if cols is None else cols[sample]
            # Bones rest in FLAME's (world-aligned) frame, so their local rotations are the FLAME axis-angles.
            assert angle_between(Rotation.from_quat(got).as_rotvec(), want).max() < 1e-4, (name, joint)


# ------------------------------------------------------------ npz
def test_npz_round_trip_keeps_head_and_eyes(tmp_path, tiny):
    from exporters.npz import bake_vertices

    anim = living_take(tiny, frames=8)
    back = Animation.load(exporters.write(anim, tmp_path / "t.npz", tiny))
    np.testing.assert_array_equal(back.neck_pose, anim.neck_pose)
    np.testing.assert_array_equal(back.eye_pose, anim.eye_pose)
    with np.load(exporters.write(anim, tmp_path / "baked.npz", tiny, bake_vertices=True)) as data:
        np.testing.assert_array_equal(data["neck_pose"], anim.neck_pose)
        np.testing.assert_allclose(data["vertices"], bake_vertices(anim, tiny), atol=1e-7)
        still = bake_vertices(Animation(fps=FPS, expression=anim.expression, jaw_pose=anim.jaw_pose), tiny)
        assert np.abs(data["vertices"] - still).max() > 1e-3  # the head and eyes moved the baked mesh


# ------------------------------------------------------------ renders
def test_render_turns_the_head_and_the_eyes(tmp_path, head):
    """Stills of the bundled head: eye rotation changes the eyes (eyeballs follow the eye joints), the neck the head."""
    pytest.importorskip("moderngl", reason="moderngl (render extra) is not installed")
    from PIL import Image

    from probtalk.rendering import render
    from probtalk.rendering.camera import Camera

    size = 160
    rest = np.zeros((3, 3))
    eyes = np.zeros((3, 6))
    eyes[1] = [0, 0.35, 0, 0, 0.35, 0]  # both eyes look toward the subject's left
    neck = rest.copy()
    neck[2] = [0, 0.35, 0]
    anim = Animation(fps=FPS, expression=np.zeros((3, 10)), jaw_pose=rest, neck_pose=neck, eye_pose=eyes)
    frames = [np.asarray(Image.open(render(anim, rig=head, out=tmp_path / f"f{f}.png", size=size, frame=f,
                                           captions=False)), int) for f in range(3)]
    for region in ("left_eyeball", "right_eyeball"):
        assert head.weights[head.region(region)].argmax(axis=1).tolist().count(3 if "left" in region else 4) > 0.9 * len(
            head.region(region))
    cam = Camera().setup(head, size, size)
    eye_px = cam.project(head.v_template[np.concatenate([head.region("left_eyeball"), head.region("right_eyeball")])],
                         size, size)
    (c0, r0), (c1, r1) = eye_px.min(axis=0).astype(int), eye_px.max(axis=0).astype(int) + 1
    gaze = np.abs(frames[1] - frames[0]).mean(axis=-1)
    assert gaze[r0:r1, c0:c1].mean() > 2.0, gaze[r0:r1, c0:c1].mean()
    assert gaze[r1 + 10:].mean() < 0.1 * gaze[r0:r1, c0:c1].mean()  # below the eyes nothing moved
    turn = np.abs(frames[2] - frames[0]).mean(axis=-1)
    assert turn.mean() > 3.0 and turn[r1 + 10:].mean() > 3.0
