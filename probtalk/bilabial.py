"""Hear p, b and m in speech: the detector whose frames the lip seal closes when there is no transcript.

With a transcript, forced alignment says where every bilabial is
(:mod:`probtalk.transcript`). Without one, the motion model alone closes the
lips on only part of them; this small learned net listens for the closures
themselves (the silence and burst of p and b, the nasal murmur of m) and
:mod:`probtalk.lipseal` closes the lips on the frames it marks, in every take.

Numpy only, so the torch and onnxruntime paths share it:

* the front end (:func:`log_mel`) is 40 log-mel bands of four 25 ms windows per
  motion frame (160 channels at 25 fps), after scaling the clip to unit RMS
  and taking away each band's mean over the clip (a microphone's or room's
  colouring is a constant offset per band, so it cancels);
* the net (:class:`BilabialNet`) is a :class:`~probtalk.framenet.FrameNet`
  of three convs that sees 6 frames (0.24 s) each side, with one sigmoid
  output: the probability that the frame lies inside a p, b or m;
* the frames to seal (:func:`shown_frames`) are the frames as shown: the
  net's frame i is the phone at its centre time, (i + 0.5) / fps, as the
  phone tokens it learnt from, but a take's frame k is shown at k / fps,
  half-way between centres k - 1 and k; so frame k is sealed where the mean of
  those two probabilities is above the net's threshold (stored with it when it
  was trained, :mod:`probtalk.train.bilabial`; 0.4 for the default model's) and
  neither is below :data:`EDGE_MIN_P` (the edge of a p, b or m is left to the
  seal's fade).

Offline, the seal listens with a second ear as well (:func:`heard_frames`): free phone
recognition (:mod:`probtalk.corpus.ear`), whose acoustic model
learnt from recorded human speech where the detector learnt from synthetic voices; each
hears p, b and m the other misses.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from probtalk.framenet import FrameNet, FrameNetConfig
from probtalk.layout import AUDIO_SAMPLE_RATE

if TYPE_CHECKING:
    from probtalk.corpus.phones import Phone

BILABIAL_FORMAT = "probtalk-bilabial"
BILABIAL_VERSION = 1
SUBFRAMES = 4  # analysis windows per motion frame
MELS = 40
WINDOW = 400  # samples (25 ms at 16 kHz)
N_FFT = 512
MEL_RANGE_HZ = (60.0, 7600.0)
CHUNK_WINDOWS = 4096  # analysis windows transformed at once
FEATURE_SCALE = 0.25  # log-mel units to net inputs (a band's deviation from its clip mean is a few units)
DEFAULT_THRESHOLD = 0.5  # for nets whose provenance names none
LOOKAHEAD = 6  # frames a marked frame may depend on after it: the stream's delay for the detector
#: A p, b or m that free phone recognition hears is sealed where the detector's probability reaches
#: this within a frame of it (:func:`heard_frames`). Chosen on the validation split (40 clips): with the
#: recogniser the seal marks 82.2 % of the p/b/m midpoints with or without the bar (the detector alone
#: 74.0 %), and seals 34 frames of other phones instead of 100.
RECOGNISED_MIN_P = 0.05
#: A shown frame is marked only where both centres beside it reach this probability (:func:`shown_frames`):
#: the frame at a p, b or m's edge, between a centre inside it and one clearly outside, is left to the
#: seal's fade, which keeps the vowel beside it open. Sealing those frames fully closed the lips on the
#: centre of the vowel after a release on voices whose detector probabilities trail the closure
#: (docs/default_model_metrics.md, "The detector's edge frames").
EDGE_MIN_P = 0.1
#: The word ear hears a voice again, played :data:`WARP` times faster, where its words miss most of what
#: the detector is sure of (:func:`rehear`): the share of the detector's confident frames (both centres
#: at least :data:`CONFIDENT_P`, :func:`shown_frames`) within a frame of a p, b or m of the words heard is
#: below :data:`REHEAR_BELOW` over at least :data:`REHEAR_MIN_FRAMES` such frames. The faster hearing is
#: kept where its share is :data:`REHEAR_GAIN` higher and it covers :data:`REHEAR_MORE_FRAMES` more of
#: them (one frame more flipped voices that are not low, on three frames in all). Chosen on 11 real
#: recordings and 30 joe clips, as recorded and moved 4 semitones down and up, and the corpus's test
#: splits (docs/default_model_metrics.md, "A low voice heard again faster").
CONFIDENT_P = 0.6
REHEAR_BELOW = 0.5
REHEAR_MIN_FRAMES = 2
REHEAR_GAIN = 0.15
REHEAR_MORE_FRAMES = 2
#: The warp of a second hearing: the speech resampled from 20160 Hz to 16000 Hz (1.26 times faster, pitch
#: and formants up by 4 semitones, a vocal tract a fifth shorter); the words' times are scaled back.
WARP = (20160, 16000)
DEFAULT_CONFIG = FrameNetConfig(inputs=SUBFRAMES * MELS, hidden=128, layers=((5, 1, 2),) * 3, outputs=1)


def detector_config(hidden: int = DEFAULT_CONFIG.hidden, depth: int = len(DEFAULT_CONFIG.layers)) -> FrameNetConfig:
    """A detector of ``depth`` convs of kernel 5 and ``hidden`` channels whose look-ahead adds up to
    :data:`LOOKAHEAD` frames (two per conv from the first, at least one each), so a larger net keeps the
    stream's delay; ``detector_config()`` is :data:`DEFAULT_CONFIG`."""
    if not 1 <= depth <= LOOKAHEAD:
        raise ValueError(f"depth must be 1..{LOOKAHEAD}, got {depth}")
    share = [1] * depth
    for i in range(LOOKAHEAD - depth):
        share[i % depth] += 1
    return FrameNetConfig(inputs=SUBFRAMES * MELS, hidden=hidden, layers=tuple((5, 1, la) for la in share), outputs=1)


def _mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


@functools.lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """Triangular mel filters float64 [MELS, N_FFT // 2 + 1] over :data:`MEL_RANGE_HZ`."""
    lo, hi = _mel(np.array(MEL_RANGE_HZ))
    edges = 700.0 * (10.0 ** (np.linspace(lo, hi, MELS + 2) / 2595.0) - 1.0)
    bins = np.fft.rfftfreq(N_FFT, 1.0 / AUDIO_SAMPLE_RATE)
    bank = np.zeros((MELS, bins.size))
    for i in range(MELS):
        left, centre, right = edges[i : i + 3]
        bank[i] = np.clip(np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)), 0.0, None)
    return bank


def log_mel(wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """The detector's input float32 [num_frames, SUBFRAMES * MELS] for 16 kHz speech [N].

    Frame t holds the log-mel bands of :data:`SUBFRAMES` Hann windows centred
    evenly inside [t / fps, (t + 1) / fps), each band less its mean over the
    clip, times :data:`FEATURE_SCALE`. Windows past the audio see zeros.
    """
    x = np.asarray(wav, np.float64).ravel()
    rms = float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    x = x / max(rms, 1e-5)
    offsets = (np.arange(SUBFRAMES) + 0.5) / SUBFRAMES
    centres = np.round((np.arange(num_frames)[:, None] + offsets[None]) / fps * AUDIO_SAMPLE_RATE).astype(np.int64)
    centres = centres.ravel() + WINDOW  # in the padded signal
    padded = np.concatenate([np.zeros(WINDOW), x, np.zeros(WINDOW)])
    window, bank = np.hanning(WINDOW), mel_filterbank().T
    bands = np.empty((centres.size, MELS))
    for start in range(0, centres.size, CHUNK_WINDOWS):  # in pieces: an hour of speech stays a few MB at a time
        index = centres[start : start + CHUNK_WINDOWS, None] + np.arange(WINDOW)[None] - WINDOW // 2
        frames = np.where(index < padded.size, padded[np.clip(index, 0, padded.size - 1)], 0.0) * window
        bands[start : start + CHUNK_WINDOWS] = np.log(np.abs(np.fft.rfft(frames, N_FFT)) ** 2 @ bank + 1e-4)
    if bands.shape[0]:
        bands -= bands.mean(0, keepdims=True)
    return (bands.reshape(num_frames, SUBFRAMES * MELS) * FEATURE_SCALE).astype(np.float32)


class BilabialNet(FrameNet):
    """The bilabial detector in numpy: per frame, the probability of being inside a p, b or m."""

    FORMAT = BILABIAL_FORMAT
    VERSION = BILABIAL_VERSION
    WHAT = "bilabial detector"
    REMEDY = "train one with 'probtalk train bilabial'"
    OUTPUTS = 1

    def forward(self, x: np.ndarray, first: int, total: int | None) -> np.ndarray:
        """Probabilities float32 [n, 1] (see :meth:`FrameNet.raw`)."""
        return (1.0 / (1.0 + np.exp(-self.raw(x, first, total).astype(np.float64)))).astype(np.float32)

    @property
    def threshold(self) -> float:
        """The probability above which a frame counts as bilabial (stored with the net)."""
        return float(self.provenance.get("threshold", DEFAULT_THRESHOLD))

    def probabilities(self, wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
        """float32 [num_frames]: each frame's probability of lying inside a p, b or m."""
        if num_frames <= 0:
            return np.zeros(0, np.float32)
        return self.run(log_mel(wav, fps, num_frames))[:, 0]

    def frames(self, wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
        """bool [num_frames]: the frames to seal, as shown (see :func:`shown_frames`)."""
        return shown_frames(self.probabilities(wav, fps, num_frames), self.threshold)


def heard_frames(
    net: BilabialNet, wav: np.ndarray, fps: float, num_frames: int, recognised: Sequence[Phone] | None = None,
    min_p: float = RECOGNISED_MIN_P, probabilities: np.ndarray | None = None,
) -> np.ndarray:
    """bool [num_frames]: the frames, as shown, that the audio-only lip seal closes: those the detector
    marks (:meth:`BilabialNet.frames`), and those inside a p, b or m that free phone recognition hears
    (``recognised``, or :func:`probtalk.corpus.ear.recognise_bilabials` of ``wav`` when None) where the
    detector gives it at least ``min_p`` (:data:`RECOGNISED_MIN_P`: free phone recognition alone also
    hears m in n and b in "the"; 0 for the p, b and m of recognised words, ``listen="words"``, which
    need no bar). Offline only: the recogniser needs the utterance, so a stream's seal hears with the
    detector alone. ``probabilities``: the net's on this clip (:meth:`BilabialNet.probabilities`),
    when the caller has them already.

    When the bar was chosen (corpus version 5, the phone recogniser, before :data:`EDGE_MIN_P`), over 90
    clips of the corpus's three test splits the detector alone marked 71.6 / 93.3 / 75.6 % of the p/b/m
    midpoints; with the recogniser 85.1 / 96.0 / 85.9 %, sealing 44 / 51 / 79 frames of other phones the
    detector left alone (77 / 106 / 126 without the bar; docs/default_model_metrics.md).
    """
    from probtalk.corpus.ear import recognise_bilabials
    from probtalk.lipseal import shown_bilabials

    p = net.probabilities(wav, fps, num_frames) if probabilities is None else np.asarray(probabilities)
    marked = shown_frames(p, net.threshold)
    kept = []
    for ph in recognise_bilabials(wav) if recognised is None else recognised:
        lo, hi = max(0, int(np.ceil(ph.start * fps)) - 1), min(p.size, int(np.ceil(ph.end * fps)) + 1)
        if hi > lo and float(p[lo:hi].max()) >= min_p:
            kept.append(ph)
    return marked | shown_bilabials(kept, fps, num_frames)


def ear_marks(net: BilabialNet, wav: np.ndarray, fps: float, num_frames: int, phones: list[Phone], words: bool,
              probabilities: np.ndarray) -> tuple[np.ndarray, list[Phone], float]:
    """What the audio-only seal hears in a clip (``RuntimeModel``'s ear; ``benchmarks/lipsync.py`` calls the
    same): (the shown frames to seal [num_frames], the phones heard, the warp they were heard at).

    ``phones`` are the ear's (:func:`probtalk.corpus.ear.listen`), ``probabilities`` the net's on ``wav``.
    With ``words`` (``listen="words"``) a low voice's words are heard again faster (:func:`rehear`) and every
    p, b and m of the words kept is sealed; with phones only those the detector gives at least
    :data:`RECOGNISED_MIN_P` (:func:`heard_frames`).
    """
    from probtalk.corpus.ear import BILABIALS

    heard, warp = rehear(wav, phones, probabilities, fps) if words else (list(phones), 1.0)
    bilabials = [q for q in heard if q.phone in BILABIALS]
    marks = heard_frames(net, wav, fps, num_frames, bilabials, 0.0 if words else RECOGNISED_MIN_P, probabilities)
    return marks, heard, warp


def words_agreement(phones: Sequence[Phone], p: np.ndarray, fps: float) -> tuple[float, int]:
    """(the share of the detector's confident frames, :data:`CONFIDENT_P`, that lie within a frame of a p, b
    or m of ``phones``, the number of confident frames); (1, 0) without any. The share times the number
    is the confident frames covered."""
    from probtalk.corpus.ear import BILABIALS
    from probtalk.lipseal import shown_bilabials

    p = np.asarray(p, np.float64)
    confident = shown_frames(p, CONFIDENT_P)
    if not confident.any():
        return 1.0, 0
    said = shown_bilabials([q for q in phones if q.phone in BILABIALS], fps, p.size)
    near = said.copy()
    near[1:] |= said[:-1]
    near[:-1] |= said[1:]
    return float((confident & near).sum() / confident.sum()), int(confident.sum())


def played_faster(wav: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """float32 [round(N * slow / fast)]: speech [N] played ``fast / slow`` times faster (``fast`` >= ``slow``),
    resampled through one FFT, band-limited to the new Nyquist frequency. Numpy only, unlike
    :func:`probtalk.audio.resample` (scipy), so that a clip heard again costs ``probtalk animate``'s
    cold start no scipy import."""
    x = np.asarray(wav, np.float64).ravel()
    size = int(round(x.size * slow / fast))
    if size < 2 or x.size < 2:
        return np.zeros(max(size, 0), np.float32)
    spectrum = np.fft.rfft(x)[: size // 2 + 1]
    return (np.fft.irfft(spectrum, size) * (size / x.size)).astype(np.float32)


def rehear(wav: np.ndarray, phones: list[Phone], p: np.ndarray, fps: float) -> tuple[list[Phone], float]:
    """The words heard in 16 kHz speech ``wav`` (``phones``, :func:`probtalk.corpus.ear.listen`'s with
    ``words``), heard again played faster where they miss most of the detector's confident p, b and m
    (probabilities ``p`` at ``fps``; :data:`REHEAR_BELOW`); and the warp of the hearing kept (1: as given).

    Pocketsphinx's acoustic model hears a low voice (a long vocal tract) badly: on real speech moved 4
    semitones down the words' p, b and m fell from 80 to 46 % of the midpoints marked. Played 1.26 times
    faster the voice is heard nearly as well as before the move; a voice that is not low is heard worse
    (a high one at half the rate), so the faster hearing is kept only where its words agree with the
    detector by :data:`REHEAR_GAIN` more, on at least :data:`REHEAR_MORE_FRAMES` more frames.
    """
    from probtalk.corpus import ear
    from probtalk.corpus.phones import Phone

    share, confident = words_agreement(phones, p, fps)
    if share >= REHEAR_BELOW or confident < REHEAR_MIN_FRAMES:
        return phones, 1.0
    fast, slow = WARP
    warp = fast / slow
    again = [Phone(q.start * warp, q.end * warp, q.phone)
             for q in ear.listen(played_faster(wav, fast, slow), words=True).phones()]
    better = words_agreement(again, p, fps)[0]
    if better >= share + REHEAR_GAIN and round((better - share) * confident) >= REHEAR_MORE_FRAMES:
        return again, warp
    return phones, 1.0


def shown_frames(p: np.ndarray, threshold: float) -> np.ndarray:
    """The shown frames inside a p, b or m, from the net's per-frame probabilities.

    Shown frame k (time k / fps) lies half-way between the centres of the net's frames k - 1 and k,
    so it is marked where their mean probability is above ``threshold`` and neither is below
    :data:`EDGE_MIN_P` (a frame with one centre clearly outside the bilabial is its edge). A stretch
    of centres above the threshold none of whose frames is marked that way (a bilabial shorter than
    a frame) still marks one frame: of its own frames and the one after, the one with the highest mean.
    A single marked frame keeps the edge frame after it, where that frame's mean is above the threshold.

    Args:
        p: float [T] probabilities of the frames' centres.
        threshold: the probability above which a frame counts as bilabial.

    Returns:
        bool [T].
    """
    from probtalk.lipseal import true_runs

    p = np.asarray(p, np.float64)
    if p.size == 0:
        return np.zeros(0, bool)
    before = np.concatenate([p[:1], p[:-1]])
    shown = 0.5 * (p + before)
    above = shown > threshold
    marked = above & (np.minimum(p, before) >= EDGE_MIN_P)
    for start, stop in true_runs(p > threshold):
        hi = min(stop + 1, p.size)
        if not marked[start:hi].any():
            marked[start + int(np.argmax(shown[start:hi]))] = True
    # a closure of one frame keeps the edge after it (a p, b or m shorter than a frame still shows for two)
    alone = marked & ~np.concatenate([[False], marked[:-1]]) & ~np.concatenate([marked[1:], [False]])
    after = np.concatenate([[False], alone[:-1]])
    return marked | (after & above)


def unheard_frames(p: np.ndarray, threshold: float) -> np.ndarray:
    """bool [T]: the shown frames where the detector hears no p, b or m: both centres beside the frame
    (see :func:`shown_frames`) below ``threshold``. At the net's threshold, the audio-only seal lets an
    open vowel of the words heard open a brief closure of the deterministic take only there
    (:meth:`probtalk.lipseal.LipSeal.shared_closures`); at :data:`EDGE_MIN_P` (the detector silent), an
    open vowel's centre of the transcript spreads to the frame beside it only there
    (:func:`probtalk.lipseal.open_vowel_centres`).
    """
    p = np.asarray(p, np.float64)
    if p.size == 0:
        return np.zeros(0, bool)
    return np.maximum(p, np.concatenate([p[:1], p[:-1]])) < threshold
