"""flite (CMU Flite 2.2, Debian package ``flite``): one ``flite`` run per utterance.

Its built-in voices kal, kal16, awb, rms and slt speak festival's radio phone
set; ``-psdur`` prints every phone with its end time. flite has no pitch option
that works across its voices, so :func:`probtalk.corpus.tts.synthesize` shifts
its pitch by resampling (as for festival's HTS voice).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

from probtalk.corpus.helper_process import Spans, SpeechEngineError, WordSpans
from probtalk.corpus.phones import SIL, festival_to_arpabet

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"(\S+):([0-9.]+)")


def flite_synth(text: str, voice: str, rate: float) -> tuple[np.ndarray, int, Spans, WordSpans | None]:
    """Speak ``text`` with flite's ``voice`` at ``rate``: float32 audio at the voice's rate and phone spans in samples.

    Raises:
        SpeechEngineError: flite is not installed or fails.
    """
    import soundfile as sf

    exe = shutil.which("flite")
    if exe is None:
        raise SpeechEngineError("flite is not installed; apt-get install flite (see scripts/setup.sh)")
    safe = " ".join(text.split())
    with tempfile.TemporaryDirectory(prefix="probtalk-flite-") as tmp:
        wav = os.path.join(tmp, "u.wav")
        try:
            proc = subprocess.run(
                [exe, "-voice", voice, "--setf", f"duration_stretch={1.0 / rate:.4f}", "-psdur", "-o", wav, "-t", safe],
                capture_output=True, text=True, timeout=120, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SpeechEngineError(f"flite failed on {text!r} ({type(exc).__name__})") from None
        if proc.returncode != 0 or not os.path.exists(wav):
            raise SpeechEngineError(f"flite failed on {text!r}: {proc.stderr.strip()[:200] or 'no audio'}")
        audio, sr = sf.read(wav, dtype="float32", always_2d=False)
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    spans: Spans = []
    t0 = 0
    for name, end_s in _SEGMENT.findall(proc.stdout):
        end = min(int(round(float(end_s) * sr)), audio.shape[0])
        phones = festival_to_arpabet(name)
        if phones is None:
            log.warning("flite phone %r has no ARPAbet mapping; read as silence", name)
            phones = (SIL,)
        if end > t0:
            spans.append((t0, end, phones))
            t0 = end
    return audio.astype(np.float32), int(sr), spans, None
