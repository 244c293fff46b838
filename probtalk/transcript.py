"""Transcripts as model input: force-align the words to the speech, check the fit, make phone tokens.

A model trained with ``phone_input`` takes per-frame phones besides the audio.
:func:`align_transcript` force-aligns a transcript with pocketsphinx
(:func:`probtalk.corpus.align.align_scored`) and checks that it fits the speech (see
:func:`acoustic_fit`), a goodness-of-pronunciation test:

* the forced alignment's acoustic log-likelihood per frame, less free phone
  recognition's of the same frames, must not fall too low in any large part of the clip
  (pocketsphinx scores each frame against its best-matching senone; free recognition
  follows those closely, so in practice its score is near 0 and the test reads how far
  the words' path strays from the best acoustic match);
* the words must account for the speech the recogniser hears: frames it hears as
  speech that the alignment gives to silence, or to a word stretched far beyond its
  phones, must stay few;
* a fit a little below the bar still passes when a second, independent ear agrees: the
  model's bilabial detector (:mod:`probtalk.bilabial`) hears most of the p, b and m
  where the alignment puts them. Pocketsphinx's acoustic model scores voices unlike its
  training speech (higher, lower, in a room) lower throughout, right words included; the
  detector was trained on such voices, and a wrong line puts its p, b and m where the
  speech has none.

The previous check compared mouth-shape classes of the aligned and the recognised phones;
the recogniser's phone labels degrade with the voice, room and microphone, and it refused
most correct transcripts on moved speech. A transcript that does not fit (another line,
another language, half the words missing) is not used; the caller then animates from audio
alone and says so in one warning line.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from probtalk.corpus.phones import Phone
from probtalk.errors import AudioError, InputError

if TYPE_CHECKING:  # align imports nothing heavy, but keep this module's import light
    from probtalk.corpus.align import Segment

# The fit check's thresholds, set with benchmarks/transcript_fit.py on 12 clips per test split, each
# clean and moved five ways (pitch -5..+5 semitones, reverb and noise), against wrong transcripts
# (another sentence, the words reversed) and half transcripts; docs/default_model_metrics.md has the
# table, and the held-out check on the val split.
FIT_WINDOW_FRAMES = 50  # 0.5 s at pocketsphinx's 100 frames per second
FIT_QUANTILE = 20.0  # percentile of the windows' mean log-likelihood ratio that must pass
MIN_FIT = -3.3  # nats per frame, forced alignment less free recognition
MAX_UNCOVERED = 0.2  # share of recognised speech frames the alignment may leave to silence
# A fit from FLOOR_FIT up to MIN_FIT passes when the bilabial detector hears at least MIN_HEARD of the
# aligned p, b and m (a transcript without any does not pass this way). Set on the same 12 clips per
# test split: correct transcripts used 129 -> 158 of 216, wrong ones 4 -> 7 of 648 (3 more halves);
# on 24 val clips 91 -> 104 of 144 and 12 -> 13 of 432 (docs/default_model_metrics.md).
FLOOR_FIT = -4.2
MIN_HEARD = 0.5
# A word covers at most this many frames per phone of its pronunciation (0.25 s); the rest of a
# stretched word counts as uncovered. Without it, a transcript missing words passed 19 of 216 times
# on the calibration clips: the aligner stretched a short word ("a") over the words left out.
MAX_FRAMES_PER_PHONE = 25


@dataclass
class TranscriptAlignment:
    """What became of a transcript.

    Attributes:
        used: True when the phones fit the speech and go to the model.
        phones: the aligned phones (None when alignment failed).
        fit: the acoustic fit (see :func:`acoustic_fit`); NaN when alignment failed.
        uncovered: share of recognised speech frames that the alignment leaves to silence.
        reason: why the transcript was not used ("" when it was).
        seconds: wall time of the alignment and the fit check.
        words: words in the transcript.
        phone_level: False when only the words could be aligned and each word's phones share its
            time evenly (usable as model input; too coarse to score or train on phone timing).
        heard: share of the aligned p, b and m that the bilabial detector hears (see
            :func:`bilabials_heard`); NaN when it was not asked (a fit at or above
            :data:`MIN_FIT` or below :data:`FLOOR_FIT`, or no detector).
    """

    used: bool
    phones: list[Phone] | None = None
    fit: float = float("nan")
    uncovered: float = float("nan")
    reason: str = ""
    seconds: float = 0.0
    words: int = 0
    phone_level: bool = True
    heard: float = float("nan")


def _frame_scores(segments: Sequence[Segment], frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame log-likelihood [frames] (each segment's score spread evenly) and speech mask [frames]
    (each word or phone up to :data:`MAX_FRAMES_PER_PHONE` per phone)."""
    score = np.zeros(frames)
    speech = np.zeros(frames, bool)
    for seg in segments:
        first, last = max(0, seg.first), min(seg.last, frames - 1)
        if last < first:
            continue
        score[first : last + 1] = seg.log_score / (last - first + 1)
        if not seg.is_filler:
            speech[first : min(last, first + MAX_FRAMES_PER_PHONE * seg.phones - 1) + 1] = True
    return score, speech


def acoustic_fit(aligned: Sequence[Segment], recognised: Sequence[Segment], frames: int) -> tuple[float, float]:
    """How well a forced alignment fits the speech, against free phone recognition of it.

    Args:
        aligned: the forced alignment's segments (words and fillers) with acoustic scores.
        recognised: free phone recognition's segments of the same audio.
        frames: frames of the audio (100 per second).

    Returns:
        ``(fit, uncovered)``: ``fit`` is the :data:`FIT_QUANTILE` th percentile, over 0.5 s
        windows, of the mean per-frame log-likelihood of the alignment minus the
        recognition's (0 at best, more negative the worse the words match somewhere);
        ``uncovered`` is the share of frames the recogniser hears as speech that the
        alignment gives to silence, or to the part of a word beyond
        :data:`MAX_FRAMES_PER_PHONE` per phone (words missing from the transcript).
    """
    frames = max(1, int(frames))
    a, a_speech = _frame_scores(aligned, frames)
    r, r_speech = _frame_scores(recognised, frames)
    ratio = a - r
    if frames > FIT_WINDOW_FRAMES:
        windows = np.convolve(ratio, np.full(FIT_WINDOW_FRAMES, 1.0 / FIT_WINDOW_FRAMES), mode="valid")
    else:
        windows = np.array([ratio.mean()])
    uncovered = float((r_speech & ~a_speech).sum() / max(1, r_speech.sum()))
    return float(np.percentile(windows, FIT_QUANTILE)), uncovered


class BilabialEar(Protocol):
    """What the fit check asks of a bilabial detector (:class:`probtalk.bilabial.BilabialNet`)."""

    @property
    def threshold(self) -> float: ...

    def probabilities(self, wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray: ...


def bilabials_heard(phones: Sequence[Phone], probabilities: np.ndarray, fps: float, threshold: float) -> float:
    """Share of the aligned p, b and m in which a detector hears one: its probability reaches
    ``threshold`` on a frame inside the phone or one frame beside it. NaN without any p, b or m.

    Args:
        phones: the aligned phones.
        probabilities: the detector's per-frame probability [T] at ``fps``.
        fps: its frame rate.
        threshold: the detector's threshold.
    """
    from probtalk.lipseal import BILABIAL_PHONES

    heard = []
    for p in phones:
        if p.phone.upper().rstrip("012") not in BILABIAL_PHONES:
            continue
        lo, hi = max(0, int(np.floor(p.start * fps)) - 1), min(probabilities.size, int(np.ceil(p.end * fps)) + 1)
        heard.append(hi > lo and float(probabilities[lo:hi].max()) >= threshold)
    return float(np.mean(heard)) if heard else float("nan")


def align_transcript(audio: np.ndarray, text: str, bilabial: BilabialEar | None = None,
                     fps: float = 25.0) -> TranscriptAlignment:
    """Force-align ``text`` to 16 kHz speech and check that it fits.

    Never raises for a transcript that does not fit: the result says ``used=False`` and why.

    Args:
        audio: float32 [N] mono speech at 16 kHz.
        text: the words spoken.
        bilabial: the model's bilabial detector, asked when the fit lies between :data:`FLOOR_FIT`
            and :data:`MIN_FIT` (None: such a fit fails).
        fps: the detector's frame rate.

    Raises:
        InputError: ``text`` is empty or has no words (a usage error, not a mismatch).
    """
    from probtalk.corpus.align import FRAME_RATE, align_detailed, align_scored
    from probtalk.corpus.text import words_of

    if not text or not text.strip() or not words_of(text):
        raise InputError("the transcript has no words; pass the sentence spoken, or leave --text out")
    start = time.perf_counter()
    words = len(words_of(text))
    audio = np.asarray(audio, np.float32)
    duration = audio.shape[0] / 16000.0
    try:
        aligned, aligned_segments, phone_level = align_detailed(audio, text)
        _, recognised_segments = align_scored(audio, None)
    except (AudioError, InputError) as exc:
        return TranscriptAlignment(False, None, reason=f"alignment failed ({exc})",
                                   seconds=time.perf_counter() - start, words=words)
    fit, uncovered = acoustic_fit(aligned_segments, recognised_segments, int(np.ceil(duration * FRAME_RATE)))
    heard = float("nan")
    reason = ""
    if fit < MIN_FIT:
        reason = f"the transcript does not fit the speech (acoustic fit {fit:.2f} < {MIN_FIT})"
        if bilabial is not None and fit >= FLOOR_FIT and uncovered <= MAX_UNCOVERED:
            frames = int(np.ceil(duration * fps))
            heard = bilabials_heard(aligned, bilabial.probabilities(audio, fps, frames), fps, bilabial.threshold)
            if heard >= MIN_HEARD:
                reason = ""
            elif np.isnan(heard):
                reason += "; it has no p, b or m to check by ear"
            else:
                reason += f"; the detector hears {heard:.0%} of its p, b and m, under {MIN_HEARD:.0%}"
    if not reason and uncovered > MAX_UNCOVERED:
        reason = f"the transcript leaves {uncovered:.0%} of the speech unaligned (more than {MAX_UNCOVERED:.0%}; words missing?)"
    return TranscriptAlignment(not reason, aligned, fit, uncovered, reason, time.perf_counter() - start, words,
                               phone_level, heard)
