"""Hear open vowels in speech: the detector whose vowels the audio-only seal opens beside the words heard.

Without a transcript the seal opens the jaw at the centre of each open vowel (AA, AE, AH, AO, AW, AY)
of the words the ear recognises (:meth:`probtalk.lipseal.LipSeal.open_frames`). Where the ear hears no
word, or the wrong one, the vowel is left to the motion model, which on voices unlike its corpus keeps
the lips near shut on many of them, short unstressed AH above all (docs/default_model_metrics.md, "Open
vowels heard by a detector"). This net listens for the vowels themselves, as the bilabial detector
(:mod:`probtalk.bilabial`) listens for p, b and m: the same front end (:func:`probtalk.bilabial.log_mel`)
and the same shape of net (three convs, 6 frames of context and look-ahead), one sigmoid output, the
probability that the frame lies inside an open vowel; trained on the corpus's phone timings by
``probtalk train vowel`` (:func:`probtalk.train.bilabial.train_bilabial` with ``target="vowel"``).

Each stretch of frames above the net's threshold becomes one heard open vowel (:func:`heard_vowels`),
opened like a recognised one. Numpy only, so the torch and onnxruntime paths share it; offline only, as
the seal's opening is (a stream's seal does not open vowels).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from probtalk.bilabial import BilabialNet

if TYPE_CHECKING:
    from probtalk.corpus.phones import Phone

VOWEL_FORMAT = "probtalk-vowel"
VOWEL_VERSION = 1
#: The label of a vowel the detector hears: it tells an open vowel from the rest, not which one, and the
#: seal opens every open vowel alike (:func:`probtalk.lipseal.open_vowel_centres`).
HEARD_VOWEL = "AH"


class VowelNet(BilabialNet):
    """The open-vowel detector in numpy: per frame, the probability of being inside an open vowel
    (the bilabial detector's front end and net, its own file format and threshold)."""

    FORMAT = VOWEL_FORMAT
    VERSION = VOWEL_VERSION
    WHAT = "open-vowel detector"
    REMEDY = "train one with 'probtalk train vowel'"


def heard_vowels(net: VowelNet, wav: np.ndarray, fps: float, num_frames: int) -> list[Phone]:
    """The open vowels ``net`` hears in 16 kHz speech [N]: one ``(start_s, end_s, "AH")`` phone per stretch
    of frames whose probability is above the net's threshold (frame k spans [k / fps, (k + 1) / fps),
    as the corpus's phone tokens do)."""
    from probtalk.corpus.phones import Phone
    from probtalk.lipseal import true_runs

    on = net.probabilities(wav, fps, num_frames) > net.threshold
    return [Phone(float(a) / fps, float(b) / fps, HEARD_VOWEL) for a, b in true_runs(on)]
