"""Fingerprint the embedded default model's outputs for fixed seeds (sha256 of every array).

Run before and after a refactor on the same machine; identical digests mean bit-identical outputs:

    python scripts/output_fingerprint.py > before.txt
    ... change ...
    python scripts/output_fingerprint.py | diff before.txt -
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

import probtalk

AUDIO = Path(probtalk.__file__).with_name("assets") / "hello.wav"
CASES = {
    "sampled": {"emotion": "happy", "intensity": 1.5, "num_samples": 2, "temperature": 0.2, "seed": 7},
    "blend": {"emotion": {"happy": 0.7, "surprised": 0.3}, "intensity": "high", "num_samples": 1, "seed": 3},
    "deterministic": {"emotion": "sad", "deterministic": True},
    "windowed": {"emotion": "angry", "speaker": None, "seed": 11, "window_seconds": 2.0, "overlap_seconds": 0.5},
}


def digest(anim: probtalk.Animation) -> str:
    """sha256 over the animation's arrays (expression, jaw and, where present, neck and eyes)."""
    h = hashlib.sha256()
    for name in ("expression", "jaw_pose", "neck_pose", "eye_pose"):
        value = getattr(anim, name, None)
        if value is not None:
            h.update(name.encode() + np.ascontiguousarray(value).tobytes())
    return h.hexdigest()[:16]


def main() -> None:
    """Print one line per take: case, take index, frames, digest."""
    torch.set_num_threads(1)
    model = probtalk.load_model()
    for case, kwargs in CASES.items():
        for k, anim in enumerate(model.animate(str(AUDIO), **kwargs)):
            print(f"{case} take{k} frames={anim.expression.shape[0]} sha256={digest(anim)}")


if __name__ == "__main__":
    main()
