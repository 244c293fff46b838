"""probtalk.Animation: the .npz contract (exact round trip, clear errors for bad files)."""

from __future__ import annotations

import numpy as np
import pytest

from probtalk import Animation
from probtalk.errors import AnimationFileError
from probtalk.layout import MOTION_DIM


def _animation(frames: int = 6, full: bool = True) -> Animation:
    rng = np.random.default_rng(1)
    extra = {}
    if full:
        extra = {
            "neck_pose": rng.normal(size=(frames, 3)),
            "eye_pose": rng.normal(size=(frames, 6)),
            "shape": rng.normal(size=300),
        }
    meta = {"emotion": {"happy": 0.7, "neutral": 0.3}, "intensity": 2, "seed": 5, "take": 1, "audio": "hello.wav",
            "temperature": 0.2, "nested": [1, 2.5, "x"]}
    return Animation(fps=25.0, expression=rng.normal(size=(frames, 100)), jaw_pose=rng.normal(size=(frames, 3)),
                     meta=meta, **extra)


@pytest.mark.parametrize("full", [True, False])
def test_round_trip_is_exact(tmp_path, full):
    anim = _animation(full=full)
    path = anim.save(tmp_path / "take.npz")
    back = Animation.load(path)
    assert back.fps == anim.fps
    assert back.meta == anim.meta
    for key in ("expression", "jaw_pose", "neck_pose", "eye_pose", "shape"):
        a, b = getattr(anim, key), getattr(back, key)
        if a is None:
            assert b is None, key
        else:
            assert b.dtype == np.float32
            np.testing.assert_array_equal(a, b, err_msg=key)


def test_save_adds_the_suffix(tmp_path):
    path = _animation(full=False).save(tmp_path / "take")
    assert path.suffix == ".npz" and path.is_file()


def test_motion_round_trip():
    anim = _animation(full=False)
    motion = anim.motion()
    assert motion.shape == (anim.num_frames, MOTION_DIM)
    again = Animation.from_motion(motion, fps=anim.fps)
    np.testing.assert_array_equal(again.expression, anim.expression[:, :50])
    np.testing.assert_array_equal(again.jaw_pose, anim.jaw_pose)
    assert anim.duration == pytest.approx(anim.num_frames / 25.0)


def test_corrupt_and_truncated_files(tmp_path):
    good = _animation().save(tmp_path / "good.npz")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00garbage" * 50)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.zeros(4))
    for path in (truncated, garbage, foreign, tmp_path / "missing.npz"):
        with pytest.raises(AnimationFileError):
            Animation.load(path)


def test_bad_shapes_and_values_are_rejected(tmp_path):
    e, j = np.zeros((4, 50)), np.zeros((4, 3))
    bad = [
        {"fps": 0.0, "expression": e, "jaw_pose": j},
        {"fps": -25.0, "expression": e, "jaw_pose": j},
        {"fps": float("nan"), "expression": e, "jaw_pose": j},
        {"fps": 25.0, "expression": np.zeros((4, 101)), "jaw_pose": j},
        {"fps": 25.0, "expression": np.zeros(4), "jaw_pose": j},
        {"fps": 25.0, "expression": e, "jaw_pose": np.zeros((5, 3))},
        {"fps": 25.0, "expression": e, "jaw_pose": j, "eye_pose": np.zeros((4, 3))},
        {"fps": 25.0, "expression": e, "jaw_pose": j, "shape": np.zeros(301)},
        {"fps": 25.0, "expression": np.full((4, 50), np.nan), "jaw_pose": j},
        {"fps": 25.0, "expression": e, "jaw_pose": np.full((4, 3), np.inf)},
    ]
    for kwargs in bad:
        with pytest.raises(AnimationFileError):
            Animation(**kwargs)
    # a file holding bad values is rejected on load too
    path = tmp_path / "nan.npz"
    np.savez(path, fps=np.float64(25.0), expression=np.full((3, 10), np.nan, np.float32), jaw_pose=np.zeros((3, 3), np.float32))
    with pytest.raises(AnimationFileError):
        Animation.load(path)
    path = tmp_path / "fps.npz"
    np.savez(path, fps=np.float64(0.0), expression=np.zeros((3, 10), np.float32), jaw_pose=np.zeros((3, 3), np.float32))
    with pytest.raises(AnimationFileError):
        Animation.load(path)
