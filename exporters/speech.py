"""The speech beside the exports: a WAV with the take's stem that starts at the animation's frame 0.

Engines and DCC tools play sound from their own tracks, so the speech is a
plain file next to the animation files: 16-bit PCM WAV at the 16 kHz the
model heard (the rate the animation was timed against), trimmed or padded to
the take's duration. Offset 0: audio sample 0 plays with animation frame 0.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from probtalk.animation import Animation
from probtalk.io import atomic_write_bytes
from probtalk.layout import AUDIO_SAMPLE_RATE

#: Seconds of speech before animation frame 0 (none: both start together).
AUDIO_OFFSET_S = 0.0


def write_speech(animation: Animation, audio: str | os.PathLike[str] | np.ndarray, path: Path) -> Path:
    """Write the take's speech as ``path`` (WAV, 16 kHz mono PCM16, the take's duration) and return it.

    Args:
        animation: the take (its duration sets the length).
        audio: a speech file (any format :func:`probtalk.audio.load_audio` reads) or 16 kHz mono float samples.
        path: the ``.wav`` to write (atomically).

    Raises:
        AudioError: the speech cannot be read.
    """
    import soundfile as sf

    from probtalk.audio import load_audio

    samples = np.asarray(audio, np.float32) if isinstance(audio, np.ndarray) else load_audio(audio)
    length = int(round(animation.duration * AUDIO_SAMPLE_RATE))
    samples = np.pad(samples[:length], (0, max(0, length - len(samples))))
    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), AUDIO_SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return atomic_write_bytes(path, buf.getvalue())
