"""FLAME parameter and motion-feature layout: the one place these numbers live.

A 3DMEAD-style parameter vector has 403 entries per frame: identity shape
0-299, expression 300-399, jaw pose (axis-angle) 400-402. The model works on
53 motion features per frame: expression 0-49 followed by the jaw pose.
"""

from __future__ import annotations

import numpy as np

# FLAME model sizes.
NUM_SHAPE = 300
NUM_EXPRESSION = 100
NUM_JOINTS = 5  # global, neck, jaw, left eye, right eye
JOINT_NAMES = ("global", "neck", "jaw", "left_eye", "right_eye")
JAW_JOINT = 2
#: FLAME's kinematic tree: parent of each joint (-1 for the root), then the joint ids.
PARENTS = (-1, 0, 1, 1, 1)
KINTREE_TABLE = (PARENTS, tuple(range(NUM_JOINTS)))

# The FLAME pose vector [..., 15]: axis-angle of each joint in JOINT_NAMES order.
POSE_DIM = NUM_JOINTS * 3
POSE_GLOBAL = slice(0, 3)
POSE_NECK = slice(3, 6)
POSE_JAW = slice(6, 9)
POSE_EYES = slice(9, 15)  # left eye then right eye
#: Which Animation field drives each non-root joint: (field name, its columns).
JOINT_CHANNELS = {
    "neck": ("neck_pose", slice(0, 3)),
    "jaw": ("jaw_pose", slice(0, 3)),
    "left_eye": ("eye_pose", slice(0, 3)),
    "right_eye": ("eye_pose", slice(3, 6)),
}

# The 403-vector stored in datasets (param/<keyid>.npy, shape [1, T, 403]).
PARAM_SHAPE = slice(0, 300)
PARAM_EXPRESSION = slice(300, 400)
PARAM_JAW = slice(400, 403)
PARAM_DIM = 403

# The 53 motion features the models see (expression 0-49 | jaw pose).
MOTION_EXPRESSION_DIM = 50
MOTION_EXPRESSION = slice(0, 50)
MOTION_JAW = slice(50, 53)
MOTION_DIM = 53

# Dataset frame rate (3DMEAD as processed by the paper's scripts).
DATASET_FPS = 25.0
AUDIO_SAMPLE_RATE = 16000


def pose_vector(
    frames: int,
    neck: np.ndarray | None = None,
    jaw: np.ndarray | None = None,
    eyes: np.ndarray | None = None,
    global_orient: np.ndarray | None = None,
) -> np.ndarray:
    """float32 [frames, 15] FLAME pose vectors from per-joint axis-angles (missing joints at rest).

    Args:
        frames: number of frames T.
        neck: [T, 3] axis-angle.
        jaw: [T, 3] axis-angle.
        eyes: [T, 6] left then right eye axis-angle.
        global_orient: [T, 3] axis-angle of the root.
    """
    pose = np.zeros((frames, POSE_DIM), np.float32)
    for value, cols in ((global_orient, POSE_GLOBAL), (neck, POSE_NECK), (jaw, POSE_JAW), (eyes, POSE_EYES)):
        if value is not None:
            pose[:, cols] = value
    return pose


def params_to_motion(params: np.ndarray) -> np.ndarray:
    """Convert [..., 403] FLAME parameter vectors to [..., 53] motion features."""
    params = np.asarray(params)
    if params.shape[-1] != PARAM_DIM:
        raise ValueError(f"expected {PARAM_DIM} parameters per frame, got {params.shape[-1]}")
    expr = params[..., PARAM_EXPRESSION][..., :MOTION_EXPRESSION_DIM]
    return np.concatenate([expr, params[..., PARAM_JAW]], axis=-1).astype(np.float32)


def motion_to_params(motion: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
    """Convert [..., 53] motion features to [..., 403] parameter vectors (unused entries zero)."""
    motion = np.asarray(motion, dtype=np.float32)
    if motion.shape[-1] != MOTION_DIM:
        raise ValueError(f"expected {MOTION_DIM} motion features per frame, got {motion.shape[-1]}")
    out = np.zeros(motion.shape[:-1] + (PARAM_DIM,), dtype=np.float32)
    out[..., PARAM_EXPRESSION.start : PARAM_EXPRESSION.start + MOTION_EXPRESSION_DIM] = motion[..., MOTION_EXPRESSION]
    out[..., PARAM_JAW] = motion[..., MOTION_JAW]
    if shape is not None:
        out[..., PARAM_SHAPE] = np.asarray(shape, dtype=np.float32)[..., :NUM_SHAPE]
    return out
