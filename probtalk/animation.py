"""The Animation result type and its .npz file format (the contract in docs/architecture.md)."""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.errors import AnimationFileError
from probtalk.io import atomic_path, open_npz
from probtalk.layout import MOTION_DIM, MOTION_EXPRESSION, MOTION_JAW, NUM_EXPRESSION, NUM_SHAPE

_OPTIONAL = ("neck_pose", "eye_pose", "shape")
_ARRAY_KEYS = ("expression", "jaw_pose", *_OPTIONAL)


@dataclass
class Animation:
    """FLAME motion for one take.

    Attributes:
        fps: frames per second (> 0).
        expression: float32 [T, E] FLAME expression coefficients, E <= 100.
        jaw_pose: float32 [T, 3] jaw axis-angle in radians.
        neck_pose: optional float32 [T, 3].
        eye_pose: optional float32 [T, 6] (left eye, right eye axis-angle).
        shape: optional float32 [300] identity coefficients.
        meta: JSON-serialisable provenance (emotion mix, intensity, speaker,
            seed, temperature, take index, model id, audio name and sha256).
    """

    fps: float
    expression: np.ndarray
    jaw_pose: np.ndarray
    neck_pose: np.ndarray | None = None
    eye_pose: np.ndarray | None = None
    shape: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fps = _as_fps(self.fps)
        for key in ("expression", "jaw_pose"):
            if getattr(self, key) is None:
                raise AnimationFileError(f"{key} is required (an array of [T, ...] values), got None")
        for key in _ARRAY_KEYS:
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, _as_float32(key, value))
        if self.meta is None:
            self.meta = {}
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise AnimationFileError if shapes, values or fps break the contract."""
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise AnimationFileError(f"animation fps must be > 0, got {self.fps}")
        if not isinstance(self.meta, dict):
            raise AnimationFileError(f"animation meta must be a dict, got {type(self.meta).__name__}")
        expr = self.expression
        if expr.ndim != 2 or not 0 < expr.shape[1] <= NUM_EXPRESSION:
            raise AnimationFileError(f"expression must be [T, E] with 0 < E <= {NUM_EXPRESSION}, got {expr.shape}")
        frames = expr.shape[0]
        expected = {"jaw_pose": (frames, 3), "neck_pose": (frames, 3), "eye_pose": (frames, 6), "shape": None}
        for key, want in expected.items():
            value = getattr(self, key)
            if value is None:
                continue
            if key == "shape":
                if value.ndim != 1 or value.shape[0] > NUM_SHAPE:
                    raise AnimationFileError(f"shape must be [<= {NUM_SHAPE}], got {value.shape}")
            elif value.shape != want:
                raise AnimationFileError(f"{key} must be {list(want)} to match {frames} frames, got {list(value.shape)}")
        for key in _ARRAY_KEYS:
            value = getattr(self, key)
            if value is not None and not np.all(np.isfinite(value)):
                raise AnimationFileError(f"{key} holds NaN or infinite values")

    # -------------------------------------------------------------- properties
    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.expression.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    def motion(self) -> np.ndarray:
        """Return the [T, 53] motion features (expression 0-49 | jaw), zero-padded if E < 50."""
        out = np.zeros((self.num_frames, MOTION_DIM), dtype=np.float32)
        e = min(self.expression.shape[1], MOTION_EXPRESSION.stop)
        out[:, :e] = self.expression[:, :e]
        out[:, MOTION_JAW] = self.jaw_pose
        return out

    def resample(self, fps: float) -> Animation:
        """This take at another frame rate (linear interpolation; the same take when ``fps`` is its own).

        The duration is kept: ``round(duration * fps)`` frames, the last one holding
        the final pose. Axis-angle rotations are interpolated per component, exact
        enough for the small angles of faces.

        Raises:
            AnimationFileError: ``fps`` is not a positive number.
        """
        fps = _as_fps(fps)
        if not np.isfinite(fps) or fps <= 0:
            raise AnimationFileError(f"fps must be a positive number, got {fps}")
        if self.duration * fps > _MAX_RESAMPLED_FRAMES:
            raise AnimationFileError(
                f"resampling {self.num_frames} frames to {fps:g} fps gives too many frames; give 1-240 fps"
            )
        if abs(fps - self.fps) < 1e-9:
            return self
        frames = max(1, int(round(self.duration * fps)))

        def track(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else resample_motion(x, self.fps, fps, frames)

        meta = dict(self.meta, fps_source=self.fps)
        return Animation(fps=fps, expression=track(self.expression), jaw_pose=track(self.jaw_pose),
                         neck_pose=track(self.neck_pose), eye_pose=track(self.eye_pose), shape=self.shape, meta=meta)

    @classmethod
    def from_motion(cls, motion: np.ndarray, fps: float, **kwargs: Any) -> Animation:
        """Build an Animation from [T, 53] motion features."""
        motion = _as_float32("motion", motion)
        if motion.ndim != 2 or motion.shape[1] != MOTION_DIM:
            raise AnimationFileError(f"motion must be [T, {MOTION_DIM}], got {list(motion.shape)}")
        return cls(fps=fps, expression=motion[:, MOTION_EXPRESSION], jaw_pose=motion[:, MOTION_JAW], **kwargs)

    # --------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the animation to ``path`` (.npz) atomically and return the path.

        Raises:
            AnimationFileError: ``path`` is not a path, or ``meta`` holds NaN/infinite or non-JSON values.
            OutputError: the folder cannot be written.
        """
        path = _as_path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays: dict[str, Any] = {"fps": np.float64(self.fps)}
        for key in _ARRAY_KEYS:
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        arrays["meta_json"] = np.array(meta_to_json(self.meta))
        with atomic_path(path, needed=sum(np.asarray(a).nbytes for a in arrays.values())) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Animation:
        """Read an animation written by :meth:`save`.

        Raises:
            AnimationFileError: the file is missing, truncated or not an animation.
        """
        path = _as_path(path)
        if not path.is_file():
            raise AnimationFileError(f"animation file {path} not found; check the path")
        try:
            with open_npz(path, "a probtalk animation (.npz)", AnimationFileError) as data:
                keys = set(data.files)
                missing = {"fps", "expression", "jaw_pose"} - keys
                if missing:
                    raise AnimationFileError(
                        f"{path} is not a probtalk animation (missing {', '.join(sorted(missing))}); "
                        "write it with Animation.save or 'probtalk animate'"
                    )
                kwargs: dict[str, Any] = {k: data[k] for k in _ARRAY_KEYS if k in keys}
                fps_array = data["fps"]
                if fps_array.shape not in ((), (1,)) or fps_array.dtype.kind not in "iuf":
                    raise AnimationFileError(f"{path} has a malformed fps entry ({fps_array.dtype}, shape "
                                             f"{list(fps_array.shape)}); re-export it")
                fps = float(fps_array.reshape(()))
                meta = _meta_from_json(data["meta_json"], path) if "meta_json" in keys else {}
        except AnimationFileError:
            raise
        except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, json.JSONDecodeError) as exc:
            raise AnimationFileError(f"{path} is corrupt or truncated ({type(exc).__name__}); re-export it") from None
        try:
            return cls(fps=fps, meta=meta, **kwargs)
        except AnimationFileError as exc:
            raise AnimationFileError(f"{path}: {exc}") from None


#: The most frames :meth:`Animation.resample` makes (one hour at 240 fps, as the exporters allow).
_MAX_RESAMPLED_FRAMES = 240 * 3600


def _as_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise AnimationFileError(f"an animation path must be a str or Path, got {type(path).__name__}")
    if not str(path).strip():
        raise AnimationFileError("the animation path is empty; give a file name such as take0.npz")
    return Path(path)


def _as_fps(value: Any) -> float:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise AnimationFileError(f"fps must be a number of frames per second, got {type(value).__name__} {value!r}")
    return float(value)


def _as_float32(key: str, value: Any) -> np.ndarray:
    """``value`` as a float32 array; refuses text, objects, complex and boolean arrays."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise AnimationFileError(f"{key} must be a regular array of numbers (ragged or mixed input)") from None
    if array.dtype.kind not in "iuf":
        kind = {"c": "complex", "b": "boolean", "U": "text", "S": "bytes", "O": "object"}.get(array.dtype.kind, str(array.dtype))
        raise AnimationFileError(f"{key} must hold real numbers, got a {kind} array")
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are refused by validate()
        return array.astype(np.float32, copy=False)


def meta_to_json(meta: dict[str, Any]) -> str:
    """``meta`` as strict JSON text (numpy scalars, arrays and paths converted).

    Raises:
        AnimationFileError: a value is NaN/infinite, not JSON-serialisable, or refers to itself.
    """
    try:
        return json.dumps(meta, sort_keys=True, default=_json_default, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        detail = " ".join(str(exc).split())
        if "Out of range float" in detail:
            detail = "it holds a NaN or infinite number; use None or a finite value"
        raise AnimationFileError(f"animation meta cannot be written as JSON: {detail}") from None


def _meta_from_json(value: np.ndarray, path: Path) -> dict[str, Any]:
    """The meta dict of a file; NaN/Infinity written by older versions are read as None."""
    if value.dtype.kind not in "US":
        raise AnimationFileError(f"{path} has a malformed meta_json entry ({value.dtype}); re-export it")
    meta = json.loads(str(value), parse_constant=lambda _name: None)
    if not isinstance(meta, dict):
        raise AnimationFileError(f"{path} meta_json holds a {type(meta).__name__}, not a JSON object; re-export it")
    return meta


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"a {type(value).__name__} value is not JSON serialisable; use str, number, list or dict values")


def resample_motion(
    values: np.ndarray, src_fps: float, dst_fps: float, num_frames: int | None = None
) -> np.ndarray:
    """Linearly resample per-frame values [T, D] from ``src_fps`` to ``dst_fps``.

    The one frame-rate converter of the project (datasets, evaluation engines, rendering).

    Args:
        values: [T, D] values at ``src_fps``.
        src_fps: their frame rate.
        dst_fps: the wanted rate.
        num_frames: output frames; past the input's end the last frame is held. None:
            ``max(1, round(T * dst_fps / src_fps))``, and the input is returned as it is
            (as float32) when the rates match or it has fewer than two frames.

    Returns:
        float32 [num_frames, D].
    """
    for rate in (src_fps, dst_fps):
        if isinstance(rate, bool) or not isinstance(rate, int | float | np.integer | np.floating) or not 0 < rate < np.inf:
            raise AnimationFileError(f"frame rates must be positive numbers, got {src_fps!r} -> {dst_fps!r}")
    values = _as_float32("values", values)
    t = values.shape[0]
    if num_frames is None:
        if abs(src_fps - dst_fps) < 1e-6 or t < 2:
            return values
        num_frames = max(1, int(round(t * dst_fps / src_fps)))
    t_src = np.arange(t) / src_fps
    t_dst = np.arange(num_frames) / dst_fps
    out = np.empty((num_frames, values.shape[1]), np.float32)
    for d in range(values.shape[1]):
        out[:, d] = np.interp(t_dst, t_src, values[:, d])  # holds the first/last value outside [0, T)
    return out
