"""Writers of ARKit-52 curves: Unreal Live Link Face CSV, ARKit JSON and a plain curves CSV.

The curves come from :class:`exporters.arkit.ArkitCache`, so every curve
format of one take shares one solve.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exporters.arkit import ArkitCache, ArkitCurves
from exporters.base import Writer, register
from exporters.speech import AUDIO_OFFSET_S
from probtalk.animation import Animation
from probtalk.arkit import ARKIT_INDEX, ARKIT_NAMES, LIVE_LINK_FACE_NAMES, LIVE_LINK_FACE_ROTATIONS
from probtalk.errors import InputError
from probtalk.io import atomic_write_text
from probtalk.layout import AUDIO_SAMPLE_RATE

if TYPE_CHECKING:
    from probtalk.flame.rig import Rig

LIVE_LINK_BLENDSHAPE_COUNT = len(ARKIT_NAMES) + len(LIVE_LINK_FACE_ROTATIONS)  # 61
#: How the ARKit JSON's rotations read (the Live Link Face convention of :func:`exporters.arkit.live_link_angles`).
ROTATION_CONVENTION = (
    "radians; R = Rx(pitch) Ry(-yaw) Rz(roll) in the head frame (x: subject's left, y: up, z: out of the face); "
    "pitch > 0 down, yaw > 0 toward the subject's right, roll > 0 top toward the subject's right"
)


def live_link_timecode(frame: int, fps: float) -> str:
    """Live Link Face timecode ``HH:MM:SS:FF.mmm`` of ``frame`` at ``fps`` (mmm = sub-frame, thousandths)."""
    nominal = round(fps)
    if abs(fps - nominal) < 1e-9 and nominal > 0:
        seconds, ff, sub = frame // nominal, frame % nominal, 0
    else:
        t = frame / fps
        seconds = int(math.floor(t + 1e-9))
        pos = (t - seconds) * fps
        ff = int(math.floor(pos + 1e-6))
        sub = min(int(round((pos - ff) * 1000)), 999)
    hh, rem = divmod(seconds, 3600)
    mm, ss = divmod(rem, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}.{sub:03d}"


def live_link_header() -> list[str]:
    """The Live Link Face CSV header: Timecode, BlendshapeCount (the app's spelling), 52 curves, 9 rotations."""
    return ["Timecode", "BlendshapeCount", *LIVE_LINK_FACE_NAMES, *LIVE_LINK_FACE_ROTATIONS]


#: Column order of the 52 curves in a Live Link Face CSV, as indices into ARKIT_NAMES.
LIVE_LINK_ORDER = [ARKIT_INDEX[n[0].lower() + n[1:]] for n in LIVE_LINK_FACE_NAMES]


def live_link_rotations(head: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray) -> np.ndarray:
    """The 9 rotation columns float32 [T, 9] of a Live Link Face CSV from per-eye yaw, pitch, roll [T, 3].

    Recorded Live Link Face files pair the ``LeftEye*`` rotation columns with the
    ``Eye*Right`` blendshape columns (and ``RightEye*`` with ``Eye*Left``): their
    ``LeftEyePitch`` is ``EyeLookDownRight`` times a constant, frame after frame. So the
    eye whose blinks and looks fill the ``Eye*Right`` columns (the subject's right eye)
    fills ``LeftEye*``, as in the app's files. See ``docs/guides/unreal.md``.

    Args:
        head: [T, 3] head yaw, pitch, roll (radians).
        left_eye: [T, 3] the subject's left eye (the ``Eye*Left`` curves' eye).
        right_eye: [T, 3] the subject's right eye.
    """
    return np.concatenate([head, right_eye, left_eye], axis=1).astype(np.float32)


def live_link_row(timecode: str, weights: np.ndarray, rotations: np.ndarray) -> list[str]:
    """One Live Link Face CSV row: timecode, 61, the 52 curves (``weights`` in ARKIT_NAMES order), 9 rotations."""
    return [timecode, str(LIVE_LINK_BLENDSHAPE_COUNT), *(f"{v:.6f}" for v in weights[LIVE_LINK_ORDER]),
            *(f"{v:.6f}" for v in rotations)]


def curves_to_live_link_csv(curves: ArkitCurves) -> str:
    """Live Link Face CSV text of ``curves`` (columns in the app's order, rotations in radians)."""
    rot = live_link_rotations(curves.head, curves.left_eye, curves.right_eye)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(live_link_header())
    for i in range(curves.num_frames):
        writer.writerow(live_link_row(live_link_timecode(i, curves.fps), curves.weights[i], rot[i]))
    return buf.getvalue()


class CurvesWriter(Writer):
    """Shared options of the ARKit curve writers."""

    def __init__(
        self,
        rig: Rig | None = None,
        *,
        targets: str | os.PathLike[str] | None = None,
        arkit_smoothing: float = 0.0,
    ) -> None:
        super().__init__(rig)
        self.targets = targets
        self.smoothing = float(arkit_smoothing)
        if not math.isfinite(self.smoothing) or self.smoothing < 0:
            raise InputError(f"arkit_smoothing must be >= 0, got {arkit_smoothing}")

    def curves(self, animation: Animation) -> ArkitCurves:
        """The take's curves (solved once per take when the writer shares a cache)."""
        cache = self.cache if self.cache is not None else ArkitCache()
        return cache.curves(animation, self.rig, self.targets, self.smoothing)

    def _write(self, animation: Animation, path: Path) -> None:
        atomic_write_text(path, self.render(self.curves(animation)))

    @abstractmethod
    def render(self, curves: ArkitCurves) -> str:
        """The file's text for ``curves`` (each curve format defines its own)."""


@register
class LiveLinkWriter(CurvesWriter):
    """Unreal Live Link Face CSV (importable by the LiveLinkFaceImporter plugin)."""

    name = "livelink"
    suffixes = (".csv",)
    description = "Unreal Live Link Face CSV of the ARKit-52 curves + head/eye rotations"

    def render(self, curves: ArkitCurves) -> str:
        return curves_to_live_link_csv(curves)


@register
class ArkitJsonWriter(CurvesWriter):
    """``{"fps", "names", "frames": [[52 weights] per frame], "rotation_names", "head", "left_eye", "right_eye"}``.

    ``head``, ``left_eye`` (the subject's left eye) and ``right_eye`` are [T, 3] yaw, pitch,
    roll in radians, the Live Link Face convention (:func:`exporters.arkit.live_link_angles`,
    spelled out in ``rotation_convention``).

    With ``audio_file`` (set by :func:`exporters.write_all` when it writes the speech) the
    document also holds ``"audio": {"file", "offset", "sample_rate"}``: the WAV beside it,
    and the seconds of speech before frame 0.
    """

    name = "arkit-json"
    suffixes = (".json",)
    description = "ARKit-52 curves as JSON (fps, names, frames)"

    def __init__(
        self,
        rig: Rig | None = None,
        *,
        targets: str | os.PathLike[str] | None = None,
        arkit_smoothing: float = 0.0,
        audio_file: str | None = None,
    ) -> None:
        super().__init__(rig, targets=targets, arkit_smoothing=arkit_smoothing)
        self.audio_file = audio_file

    def render(self, curves: ArkitCurves) -> str:
        doc: dict[str, Any] = {
            "fps": curves.fps,
            "names": list(ARKIT_NAMES),
            "frames": np.round(curves.weights.astype(np.float64), 6).tolist(),
            "rotation_names": ["yaw", "pitch", "roll"],
            "rotation_convention": ROTATION_CONVENTION,
            "head": np.round(curves.head.astype(np.float64), 6).tolist(),
            "left_eye": np.round(curves.left_eye.astype(np.float64), 6).tolist(),
            "right_eye": np.round(curves.right_eye.astype(np.float64), 6).tolist(),
        }
        if self.audio_file is not None:
            doc["audio"] = {"file": self.audio_file, "offset": AUDIO_OFFSET_S, "sample_rate": AUDIO_SAMPLE_RATE}
        return json.dumps(doc, separators=(",", ":"))


@register
class CurvesCsvWriter(CurvesWriter):
    """Plain CSV ``frame,time,<52 ARKit names>`` for Unity/Maya importers."""

    name = "curves-csv"
    suffixes = (".curves.csv",)
    description = "ARKit-52 curves as plain CSV (frame, time, 52 named columns)"

    def render(self, curves: ArkitCurves) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["frame", "time", *ARKIT_NAMES])
        for i in range(curves.num_frames):
            writer.writerow([i, f"{i / curves.fps:.6f}", *(f"{v:.6f}" for v in curves.weights[i])])
        return buf.getvalue()

