"""Every script in examples/ runs against the public API with the embedded default model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from probtalk import Animation

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_sample_takes(tmp_path):
    out = run_example("sample_takes.py", "--out", str(tmp_path), "--takes", "3")
    assert "3 takes" in out
    takes = [Animation.load(tmp_path / f"take{k}.npz") for k in range(3)]
    assert not np.allclose(takes[0].motion(), takes[1].motion())


def test_emotion_blend_sweep(tmp_path):
    out = run_example("emotion_blend_sweep.py", "--out", str(tmp_path), "--steps", "3")
    heights = [float(line.split()[-1]) for line in out.splitlines()[1:]]
    assert len(heights) == 3
    # happy (first) lifts the mouth corners more than sad (last); the middle lies between
    assert heights[0] > heights[-1]
    assert min(heights[0], heights[-1]) - 0.05 <= heights[1] <= max(heights[0], heights[-1]) + 0.05
    assert len(list(tmp_path.glob("*.npz"))) == 3


def test_export_for_engine(tmp_path):
    run_example("export_for_engine.py", "--out", str(tmp_path))
    assert (tmp_path / "face.glb").read_bytes()[:4] == b"glTF"
    header = (tmp_path / "face_arkit.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["Timecode", "BlendshapeCount", "EyeBlinkLeft"]
    assert (tmp_path / "face_arkit.json").stat().st_size > 0


def test_stream_chunks(tmp_path):
    out = run_example("stream_chunks.py", "--out", str(tmp_path / "s.npz"), "--chunk-ms", "250")
    lines = out.splitlines()
    assert lines[0].startswith("audio ") and "frames 0.." in lines[0]
    take = Animation.load(tmp_path / "s.npz")
    assert take.num_frames == 139 and "139 frames" in lines[-1]
