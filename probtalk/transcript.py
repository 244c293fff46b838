"""Transcripts as model input: force-align the words to the speech, check the fit, make phone tokens.

A model trained with ``phone_input`` takes per-frame phones besides the audio.
:func:`align_transcript` force-aligns a transcript with pocketsphinx
(:func:`probtalk.corpus.align.align_phones`) and checks that it fits the speech: the
aligned phones must agree with what a free phone recogniser hears often enough
(in broad mouth-shape classes, see :data:`MOUTH_CLASS`). A transcript that does
not fit (another line, another language, half the words missing) is not used;
the caller then animates from audio alone and says so in one warning line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from probtalk.corpus.phones import BILABIAL, LABIODENTAL, OPEN_VOWELS, ROUNDED, SIL, VOWELS, Phone, phones_to_frames
from probtalk.errors import AudioError, InputError

log = logging.getLogger(__name__)

# A transcript fits when at least this share of speech frames falls in the same mouth class
# under forced alignment and under free phone recognition (see benchmarks/lipsync.py --calibrate:
# matching transcripts scored 0.56-0.84 on 12 test clips, other sentences 0.24-0.35 or failed to align).
MIN_AGREEMENT = 0.45
AGREEMENT_FPS = 100.0


def _mouth_class(phone: str) -> int:
    """Broad mouth-shape class of an ARPAbet phone: 0 silence, 1 lips closed, 2 lip-teeth, 3 rounded,
    4 open vowel, 5 other vowel, 6 other consonant."""
    if phone == SIL:
        return 0
    if phone in BILABIAL:
        return 1
    if phone in LABIODENTAL:
        return 2
    if phone in ROUNDED:
        return 3
    if phone in OPEN_VOWELS:
        return 4
    if phone in VOWELS:
        return 5
    return 6


@dataclass
class TranscriptAlignment:
    """What became of a transcript.

    Attributes:
        used: True when the phones fit the speech and go to the model.
        phones: the aligned phones (None when alignment failed).
        agreement: share of speech frames whose mouth class agrees with free phone recognition.
        reason: why the transcript was not used ("" when it was).
        seconds: wall time of the alignment and the fit check.
    """

    used: bool
    phones: list[Phone] | None = None
    agreement: float = float("nan")
    reason: str = ""
    seconds: float = 0.0
    words: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def phone_agreement(aligned: Sequence[Phone], recognised: Sequence[Phone], duration: float) -> float:
    """Share of frames (100 per second) that either labels as speech where both give the same mouth class."""
    n = max(1, int(round(duration * AGREEMENT_FPS)))
    a = np.array([_mouth_class(p) for p in phones_to_frames(list(aligned), AGREEMENT_FPS, n)])
    b = np.array([_mouth_class(p) for p in phones_to_frames(list(recognised), AGREEMENT_FPS, n)])
    speech = (a > 0) | (b > 0)
    if not speech.any():
        return 0.0
    return float(np.mean(a[speech] == b[speech]))


def align_transcript(audio: np.ndarray, text: str, min_agreement: float = MIN_AGREEMENT) -> TranscriptAlignment:
    """Force-align ``text`` to 16 kHz speech and check that it fits.

    Never raises for a transcript that does not fit: the result says ``used=False`` and why.

    Args:
        audio: float32 [N] mono speech at 16 kHz.
        text: the words spoken.
        min_agreement: the fit threshold (see :data:`MIN_AGREEMENT`).

    Raises:
        InputError: ``text`` is empty or has no words (a usage error, not a mismatch).
    """
    from probtalk.corpus.align import align_phones
    from probtalk.corpus.text import words_of

    if not text or not text.strip() or not words_of(text):
        raise InputError("the transcript has no words; pass the sentence spoken, or leave --text out")
    start = time.perf_counter()
    words = len(words_of(text))
    audio = np.asarray(audio, np.float32)
    duration = audio.shape[0] / 16000.0
    try:
        aligned = align_phones(audio, text)
        recognised = align_phones(audio, None)
    except (AudioError, InputError) as exc:
        return TranscriptAlignment(False, None, float("nan"), f"alignment failed ({exc})",
                                   time.perf_counter() - start, words)
    agreement = phone_agreement(aligned, recognised, duration)
    used = agreement >= min_agreement
    reason = "" if used else f"the transcript does not fit the speech (phone agreement {agreement:.2f} < {min_agreement})"
    return TranscriptAlignment(used, aligned, agreement, reason, time.perf_counter() - start, words)
