"""Live input and output for ``probtalk stream``: PCM16/WAV bytes in, one text line per frame out.

:class:`PcmDecoder` turns a byte stream (raw 16 kHz mono PCM16, or a WAV
file's bytes, recognised by its RIFF header) into float32 chunks;
:class:`FrameLines` writes frames as CSV rows or JSON lines - FLAME
parameters, or ARKit-52 curves in Live Link Face column order;
:func:`run_live` pumps a readable binary source (stdin, or a file that is
still being written) through a stream, printing each frame as soon as it is
ready.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from probtalk.animation import Animation
from probtalk.errors import AudioError, InputError
from probtalk.layout import AUDIO_SAMPLE_RATE, MOTION_EXPRESSION, MOTION_EXPRESSION_DIM, MOTION_JAW
from probtalk.runtime.stream import Stream

LINE_FORMATS = ("csv", "jsonl")


class PcmDecoder:
    """Incremental decoder of raw PCM16 or WAV bytes (PCM16 or float32, 16 kHz, mono or multi-channel mixed down)."""

    def __init__(self, raw: bool | None = None) -> None:
        self._raw = raw  # None: decide from the first bytes (RIFF header or not)
        self._buf = b""
        self._header_done = bool(raw)
        self._width = 2
        self._channels = 1
        self._float = False

    def feed(self, data: bytes) -> np.ndarray:
        """Decode the bytes that form whole frames; keep the rest. Returns float32 [N] mono."""
        self._buf += data
        if not self._header_done:
            if self._raw is None and len(self._buf) < 4:
                return np.zeros(0, np.float32)
            if self._raw is None and self._buf[:4] != b"RIFF":
                self._header_done = True
            elif not self._parse_header():
                return np.zeros(0, np.float32)
        frame = self._width * self._channels
        n = len(self._buf) // frame * frame
        block, self._buf = self._buf[:n], self._buf[n:]
        if self._float:
            x = np.frombuffer(block, dtype="<f4").astype(np.float32)
        else:
            x = np.frombuffer(block, dtype="<i2").astype(np.float32) / 32768.0
        if self._channels > 1:
            x = x.reshape(-1, self._channels).mean(axis=1)
        return x

    def _parse_header(self) -> bool:
        """Read a RIFF/WAVE header up to the data chunk; False while more bytes are needed."""
        b = self._buf
        if len(b) < 12:
            return False
        if b[8:12] != b"WAVE":
            raise AudioError("input starts with RIFF but is not a WAVE file; send raw PCM16 or a WAV file")
        pos, fmt = 12, None
        while True:
            if len(b) < pos + 8:
                return False
            cid, size = b[pos : pos + 4], struct.unpack("<I", b[pos + 4 : pos + 8])[0]
            if cid == b"data":
                break
            if len(b) < pos + 8 + size:
                return False
            if cid == b"fmt ":
                fmt = struct.unpack("<HHIIHH", b[pos + 8 : pos + 24])
            pos += 8 + size + (size & 1)
        if fmt is None:
            raise AudioError("WAV input has no fmt chunk before its data; re-export it")
        tag, channels, rate, _, _, bits = fmt
        if rate != AUDIO_SAMPLE_RATE:
            raise AudioError(f"WAV input is {rate} Hz; the stream takes 16 kHz (e.g. ffmpeg -ar 16000)")
        if (tag, bits) == (1, 16):
            self._width, self._float = 2, False
        elif (tag, bits) == (3, 32):
            self._width, self._float = 4, True
        else:
            raise AudioError(f"WAV input is format {tag} with {bits}-bit samples; send PCM16 or float32 WAV")
        self._channels = max(1, channels)
        self._buf = b[pos + 8 :]
        self._header_done = True
        return True


class FrameLines:
    """Formats frames as text lines: CSV (header first) or JSON lines; FLAME parameters or ARKit curves.

    Args:
        fmt: "csv" or "jsonl".
        arkit: write ARKit-52 curves (Live Link Face names and order) solved from the FLAME motion.
        rig: the rig for the ARKit solve (None: the bundled head).
    """

    def __init__(self, fmt: str = "csv", arkit: bool = False, rig: Any = None) -> None:
        if fmt not in LINE_FORMATS:
            raise InputError(f"unknown line format {fmt!r}; choose from {', '.join(LINE_FORMATS)}")
        self.fmt, self.arkit = fmt, arkit
        self._solver: Any = None
        if arkit:
            from exporters.arkit import rig_targets
            from exporters.solver import ArkitSolver
            from probtalk.flame import load_rig

            self._rig = load_rig(rig)
            self._solver = ArkitSolver(*rig_targets(self._rig))

    def header(self) -> list[str]:
        """The CSV header line (empty for JSON lines)."""
        if self.fmt != "csv":
            return []
        if self.arkit:
            from exporters.curves import live_link_header

            return [",".join(live_link_header())]
        cols = (["frame", "time"] + [f"expression{i}" for i in range(MOTION_EXPRESSION_DIM)] + ["jaw0", "jaw1", "jaw2"]
                + ["neck0", "neck1", "neck2"] + [f"eye{i}" for i in range(6)])
        return [",".join(cols)]

    def lines(self, anim: Animation) -> list[str]:
        """One line per frame of ``anim`` (frame numbers from ``anim.meta['start_frame']``)."""
        out: list[str] = []
        if anim.num_frames == 0:
            return out
        start = int(anim.meta.get("start_frame", 0))
        if self.arkit:
            out += self._arkit_lines(anim, start)
            return out
        motion = anim.motion()
        neck = anim.neck_pose if anim.neck_pose is not None else np.zeros((anim.num_frames, 3), np.float32)
        eyes = anim.eye_pose if anim.eye_pose is not None else np.zeros((anim.num_frames, 6), np.float32)
        for i, row in enumerate(motion):
            frame = start + i
            t = frame / anim.fps
            if self.fmt == "csv":
                out.append(f"{frame},{t:.4f}," + ",".join(f"{v:.6f}" for v in (*row, *neck[i], *eyes[i])))
            else:
                out.append(json.dumps({
                    "frame": frame, "time": round(t, 4),
                    "expression": [round(float(v), 6) for v in row[MOTION_EXPRESSION]],
                    "jaw_pose": [round(float(v), 6) for v in row[MOTION_JAW]],
                    "neck_pose": [round(float(v), 6) for v in neck[i]],
                    "eye_pose": [round(float(v), 6) for v in eyes[i]],
                }))
        return out

    def _arkit_lines(self, anim: Animation, start: int) -> list[str]:
        from exporters.arkit import live_link_angles, motion_offsets
        from exporters.curves import LIVE_LINK_ORDER, live_link_rotations, live_link_row, live_link_timecode
        from probtalk.arkit import LIVE_LINK_FACE_NAMES, LIVE_LINK_FACE_ROTATIONS

        weights, _ = self._solver.solve_active(motion_offsets(anim, self._rig, self._solver.active))
        t, eyes = anim.num_frames, anim.eye_pose
        rotations = live_link_rotations(live_link_angles(anim.neck_pose, t),
                                        live_link_angles(None if eyes is None else eyes[:, :3], t),
                                        live_link_angles(None if eyes is None else eyes[:, 3:], t))
        out = []
        for i, w in enumerate(weights):
            frame = start + i
            if self.fmt == "csv":
                out.append(",".join(live_link_row(live_link_timecode(frame, anim.fps), w, rotations[i])))
            else:
                out.append(json.dumps({
                    "frame": frame, "time": round(frame / anim.fps, 4),
                    "blendshapes": {name: round(float(w[j]), 6) for name, j in zip(LIVE_LINK_FACE_NAMES, LIVE_LINK_ORDER, strict=True)},
                    "rotations": {name: round(float(v), 6) for name, v in zip(LIVE_LINK_FACE_ROTATIONS, rotations[i], strict=True)},
                }))
        return out


def run_live(
    source: IO[bytes],
    stream: Stream,
    lines: FrameLines,
    emit: Callable[[str], None],
    *,
    raw: bool | None = None,
    follow: bool = False,
    idle_seconds: float = 1.0,
    read_bytes: int = 3200,
) -> int:
    """Pump ``source`` through ``stream`` and ``emit`` one line per frame (take 0) as soon as it is ready.

    Args:
        source: a binary file object (stdin's buffer, or a file still being written).
        stream: the stream to feed.
        lines: the line formatter.
        emit: called with each line (e.g. print with flush).
        raw: True for raw PCM16, False for WAV, None to detect from the first bytes.
        follow: at end of file, wait for the file to grow (like ``tail -f``) until
            ``idle_seconds`` pass without new bytes.
        idle_seconds: how long ``follow`` waits for more bytes before ending the stream.
        read_bytes: the largest read (3200 bytes = 100 ms of PCM16).

    Returns:
        The number of frames written.
    """
    decoder = PcmDecoder(raw)
    read = getattr(source, "read1", source.read)
    frames = 0
    idle_since: float | None = None
    for line in lines.header():
        emit(line)
    while True:
        data = read(read_bytes)
        if not data:
            if not follow:
                break
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > idle_seconds:
                break
            time.sleep(0.01)
            continue
        idle_since = None
        samples = decoder.feed(data)
        if samples.size:
            take = stream.feed(samples)[0]
            for line in lines.lines(take):
                emit(line)
            frames += take.num_frames
    take = stream.flush()[0]
    for line in lines.lines(take):
        emit(line)
    return frames + take.num_frames
