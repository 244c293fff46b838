"""Phone timings from audio with pocketsphinx 5: forced alignment to text, or phone recognition.

* With text, the words are looked up in pocketsphinx's CMU dictionary (words
  it lacks get a letter-to-sound pronunciation from espeak-ng) and aligned in
  two passes: a word-level pass constrained to the text, then a phone-level
  pass (``Decoder.set_alignment``).
* Without text, an all-phone decoder with the bundled phonetic language model
  (``en-us-phone.lm.bin``) recognises the phones.

Times are at pocketsphinx's 100 frames per second. :func:`align_scored` also gives the
decoder's segments with their acoustic log-likelihoods (the transcript fit check compares
forced alignment with free recognition on them). :func:`compare_alignments`
scores two phone sequences against each other (used to cross-check the
synthesisers' own timings).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.audio import validate_audio
from probtalk.corpus.ear_helper import word_phone_segments
from probtalk.corpus.phones import SIL, Phone, normalize_phones, sphinx_to_arpabet
from probtalk.corpus.text import load_dictionary, words_of
from probtalk.errors import AudioError, InputError
from probtalk.layout import AUDIO_SAMPLE_RATE

if TYPE_CHECKING:
    from pocketsphinx import Decoder

log = logging.getLogger(__name__)

FRAME_RATE = 100.0  # pocketsphinx frames per second
ALIGN_PEAK = 0.9  # audio is peak-normalised before decoding: quiet word endings otherwise drop out
ALIGN_DITHER = 0.005  # noise floor added before decoding (see pcm16)
# Forced-alignment attempts in order: (decoder kind, dither); the next is tried only while no attempt
# has aligned every word phone by phone. The filler-free grammar is the last resort but one: it cannot
# place silence between or around words, so timings near pauses suffer. The last, with less dither,
# rescues the phone pass on a neural voice: on datasets/speech_joe the first three left 22 of 144
# clips split evenly within words, it aligns 9 of those phone by phone (none refused by the fit check;
# more dither, with or without fillers, rescued none).
ALIGN_ATTEMPTS = (
    ("align", ALIGN_DITHER), ("align", 3 * ALIGN_DITHER), ("align-nofiller", ALIGN_DITHER),
    ("align", 0.3 * ALIGN_DITHER),
)
# Language weight and beams for phone recognition (pocketsphinx's documented allphone settings).
PHONE_LW = 2.0
PHONE_BEAM = 1e-20
PHONE_PBEAM = 1e-20

# The lip seal's second ear (:mod:`probtalk.corpus.ear`): the same recogniser with the search pruned
# harder, about 1.5x faster (RTF 0.04 against 0.06 on 2 cores), the same phones on 60 s of speech. At
# 1e-8 (2.5x faster) the search lost every path a few seconds into many clips and read the rest as one
# phone; if a search ever does that here, the ear decodes the clip again at the fit check's beam.
EAR_BEAM = 1e-10
# Word recognition for the ear (``listen="words"``): the first (tree) pass alone, with no lattice
# search after it, at most WORDS_MAXHMMPF active HMMs per frame, and the 2 best Gaussians per senone
# (WORDS_TOPN) instead of 4. Against pocketsphinx's defaults (a second, flat pass, a lattice best
# path, 30000 HMMs) the first pass at 1500 HMMs took 0.13-0.14 s per second of speech on one core
# instead of 0.24-0.33; without the best path and with 2 Gaussians, recognition and the phone
# alignment of its words together take 0.15-0.17 s instead of 0.18-0.22, and the seal's ear marks
# 94.0 / 89.5 / 85.7 / 89.7 % of the p/b/m midpoints instead of 92.0 / 88.6 / 82.9 / 89.2 % (the
# corpus's test and unseen-engine splits: 40 clips each; real speech: 11; joe: 135; compared clip by
# clip, interleaved). Beams pruned harder (1e-40) were another 20 % faster but lost 4 points on joe
# (docs/default_model_metrics.md).
WORDS_MAXHMMPF = 1500
WORDS_TOPN = 2

_DECODERS: dict[tuple[int, int, str], Decoder] = {}


@dataclasses.dataclass(frozen=True)
class Segment:
    """One segment of a decoder's best path.

    Attributes:
        label: a word or filler (``<sil>``, ``<s>``) of a forced alignment, a phone (``SIL``,
            ``+SPN+``, ...) of phone recognition, as pocketsphinx names them.
        first: first frame (100 per second).
        last: last frame, inclusive.
        log_score: acoustic log-likelihood of the segment (natural log; pocketsphinx's
            scores are relative to each frame's best senone, so 0 is the best possible).
        phones: phones in the segment (a word's pronunciation; 1 for a recognised phone).
    """

    label: str
    first: int
    last: int
    log_score: float
    phones: int = 1

    @property
    def is_filler(self) -> bool:
        """Silence or noise rather than a word or phone."""
        return self.label.startswith(("<", "[", "+")) or self.label == "SIL"


def decoder_config(kind: str) -> dict[str, Any]:
    """The pocketsphinx ``Decoder`` keywords of a decoder kind: "align" and "align-nofiller" (forced
    alignment, with and without fillers between words), "phones" (phone recognition, the fit check's) and
    "ear" (the same pruned harder: the lip seal's second ear, :mod:`probtalk.corpus.ear`, whose helper
    process builds its decoders from these) and "words" (word recognition with pocketsphinx's en-us
    language model, its first pass only, pruned (:data:`WORDS_MAXHMMPF`, :data:`WORDS_TOPN`): the ear's
    ``listen="words"``)."""
    from pocketsphinx import get_model_path

    if kind in ("phones", "ear"):
        beam = PHONE_BEAM if kind == "phones" else EAR_BEAM
        return {"samprate": AUDIO_SAMPLE_RATE, "allphone": get_model_path("en-us/en-us-phone.lm.bin"), "lw": PHONE_LW,
                "beam": beam, "pbeam": PHONE_PBEAM if kind == "phones" else EAR_BEAM, "loglevel": "FATAL"}
    if kind == "align-nofiller":
        return {"samprate": AUDIO_SAMPLE_RATE, "fsgusefiller": False, "loglevel": "FATAL"}
    if kind == "words":
        return {"samprate": AUDIO_SAMPLE_RATE, "fwdflat": False, "bestpath": False, "maxhmmpf": WORDS_MAXHMMPF,
                "topn": WORDS_TOPN, "loglevel": "FATAL"}
    return {"samprate": AUDIO_SAMPLE_RATE, "loglevel": "FATAL"}  # "align": the en-us language model


def _decoder(kind: str) -> Decoder:
    """One cached pocketsphinx Decoder per process, thread and kind (see :func:`decoder_config`), its
    features reset."""
    key = (os.getpid(), threading.get_ident(), kind)  # a decoder is not thread-safe: one per thread
    if key not in _DECODERS:
        from pocketsphinx import Decoder

        _DECODERS[key] = Decoder(**decoder_config(kind))
    decoder = _DECODERS[key]
    # Feature extraction adapts across utterances (noise floor, cepstral mean): start it afresh, so the
    # same audio gives the same phones whatever this process aligned before (measured: phone recognition
    # of one clip changed after another clip was aligned; a transcript's fit score moved by 0.03).
    decoder.reinit_feat()
    return decoder


def pcm16(audio: np.ndarray, dither: float = 0.0) -> bytes:
    """float32 [N] -> peak-normalised 16-bit little-endian PCM bytes, plus fixed-seed white noise.

    Synthetic speech has (near-)digital silence, which pocketsphinx's silence model has
    never heard: alignment then often drifts or fails. A faint noise floor (``dither``,
    relative to full scale) fixes that: at 0.005, all of 84 varied test clips aligned
    against 68 without it.
    """
    peak = float(np.max(np.abs(audio)))
    x = audio.astype(np.float64) * (ALIGN_PEAK / peak if peak > 0 else 1.0)
    if dither > 0:
        x += dither * np.random.default_rng(0).standard_normal(x.shape[0])
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def letter_to_sound(word: str) -> list[str]:
    """ARPAbet phones for a word the dictionary lacks, from espeak-ng's own pronunciation rules.

    Raises:
        InputError: espeak-ng is unavailable or gives no phones for the word.
    """
    from probtalk.corpus.espeak import Espeak
    from probtalk.corpus.helper_process import SpeechEngineError

    try:
        _, _, spans, _ = Espeak.instance().synth(word, "en-us", 1.0, 0.0, 1.0)
    except SpeechEngineError as exc:
        raise InputError(f"word {word!r} is not in the dictionary and espeak-ng is unavailable ({exc})") from None
    phones = [p for _, _, names in spans for p in names if p != SIL]
    if not phones:
        raise InputError(f"word {word!r} has no pronunciation; spell it as ordinary English words")
    return phones


def align_phones(audio: np.ndarray, text: str | None = None) -> list[Phone]:
    """Phone timings of 16 kHz speech (see :func:`align_scored`, whose phones these are)."""
    return align_scored(audio, text)[0]


def align_scored(audio: np.ndarray, text: str | None = None) -> tuple[list[Phone], list[Segment]]:
    """Phone timings of 16 kHz speech, and the decoder segments they came from.

    Args:
        audio: float32 [N] mono at 16 kHz.
        text: the words spoken (forced alignment) or None (phone recognition).

    Returns:
        ARPAbet phones tiling ``[0, N / 16000]`` with ``SIL`` for silence, and the best
        path's segments with their acoustic scores: the words (and fillers) of the forced
        alignment, or the recognised phones.

    Raises:
        AudioError: the audio is empty, silent, too short or not finite, or
            nothing could be aligned.
        InputError: the text has no words.
    """
    phones, segments, _ = align_detailed(audio, text)
    return phones, segments


def align_detailed(audio: np.ndarray, text: str | None = None) -> tuple[list[Phone], list[Segment], bool]:
    """:func:`align_scored`, and whether every phone was placed by the phone pass.

    The third value is False when only the word pass worked and each word's phones share its time
    evenly (a forced alignment's fallback, with a warning); phone recognition (``text=None``) is
    always True.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise AudioError(f"expected mono audio [N] at 16 kHz, got shape {list(audio.shape)}")
    validate_audio(audio, "audio to align")
    duration = audio.shape[0] / AUDIO_SAMPLE_RATE
    phone_level = True
    if text is None:
        raw, segments = recognise_phones(pcm16(audio, ALIGN_DITHER))
    else:
        words = words_of(text)
        if not words:
            raise InputError(f"text {text!r} has no words to align; pass the sentence spoken, or None")
        raw, segments, phone_level = _force_align(audio, words)
    if not any(p.phone != SIL for p in raw):
        raise AudioError("no speech could be aligned; check that the audio is 16 kHz speech matching the text")
    return normalize_phones(raw, duration), segments, phone_level


def _segments(d: Decoder, words: bool = False) -> list[Segment]:
    """The decoder's latest best path, scores as natural logs (the bindings give probabilities).

    With ``words``, each word segment carries its pronunciation's phone count."""
    out = [Segment(s.word, s.start_frame, s.end_frame, math.log(max(s.ascore, 1e-300))) for s in d.seg() or ()]
    if words:
        out = [seg if seg.is_filler else dataclasses.replace(seg, phones=len((d.lookup_word(seg.label) or "x").split()))
               for seg in out]
    return out


def recognise_phones(pcm: bytes, kind: str = "phones") -> tuple[list[Phone], list[Segment]]:
    """Free phone recognition of 16 kHz PCM (:func:`pcm16`) with a decoder of ``kind`` ("phones" or "ear"):
    the phones, from the start of ``pcm``, and the decoder's segments.

    Raises:
        RuntimeError: the search found no path (pocketsphinx's "Failed to stop utterance processing").
    """
    d = _decoder(kind)
    d.start_utt()
    d.process_raw(pcm, full_utt=True)
    d.end_utt()
    segments = _segments(d)
    return phones_of(segments), segments


def recognise_words(pcm: bytes) -> list[Phone]:
    """Word recognition of 16 kHz PCM (:func:`pcm16`) with pocketsphinx's en-us language model, then a
    phone-level alignment of the words recognised (every one is in the dictionary): the phones, from
    the start of ``pcm``; [] where the search found no words.

    Raises:
        RuntimeError: a search found no path.
    """
    segments = word_phone_segments(_decoder("words"), pcm)
    return phones_of([Segment(str(label), int(first), int(last), 0.0) for label, first, last in segments])


def phones_of(segments: Sequence[Segment]) -> list[Phone]:
    """The phones of a phone recogniser's segments (ARPAbet, seconds)."""
    return [Phone(s.first / FRAME_RATE, (s.last + 1) / FRAME_RATE, sphinx_to_arpabet(s.label)) for s in segments]


def _force_align(audio: np.ndarray, words: list[str]) -> tuple[list[Phone], list[Segment], bool]:
    # With unusual voices the search sometimes ends off the grammar, or the phone pass fails;
    # then the next of ALIGN_ATTEMPTS is tried and the result covering most words wins. When
    # only a word pass works, each word's dictionary phones share its time evenly (a warning).
    best: list[Phone] = []
    best_n, fallback, fallback_n = 0, [], 0
    best_segments: list[Segment] = []
    fallback_segments: list[Segment] = []
    for kind, dither in ALIGN_ATTEMPTS:
        d = _decoder(kind)
        pcm = pcm16(audio, dither)
        segs = _word_pass(d, pcm, words)
        if len(segs) <= best_n:
            continue
        segments = _segments(d, words=True)  # the word pass's path, before the phone pass replaces it
        phones = _phone_pass(d, pcm)
        if phones:
            best, best_n, best_segments = phones, len(segs), segments
        elif len(segs) > fallback_n:
            fallback, fallback_n, fallback_segments = _split_words(d, segs), len(segs), segments
        if best_n == len(words):
            break
    phone_level = bool(best)
    if not best and fallback:
        log.warning("phone-level alignment failed; phones split evenly within the aligned words")
        best, best_n, best_segments = fallback, fallback_n, fallback_segments
    if not best:
        raise AudioError("the speech could not be aligned to the text; check that the text matches the audio")
    if best_n < len(words):
        log.warning("aligned %d of %d words (the rest are read as silence)", best_n, len(words))
    return best, best_segments, phone_level


def _word_pass(d: Decoder, pcm: bytes, words: list[str]) -> list[tuple[str, int, int]]:
    """Word-level alignment pass: (word, first frame, last frame) per aligned word; [] on failure."""
    dictionary = load_dictionary()
    for w in dict.fromkeys(words):
        if w not in dictionary and d.lookup_word(w) is None:
            phones = letter_to_sound(w)
            log.info("word %r not in the dictionary; using letter-to-sound %s", w, " ".join(phones))
            d.add_word(w, " ".join(phones), True)
    d.set_align_text(" ".join(words))
    try:
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
    except RuntimeError:  # "Failed to stop utterance processing": the search ended off the grammar
        return []
    if d.hyp() is None:
        return []
    return [(s.word, s.start_frame, s.end_frame) for s in d.seg() or () if not s.word.startswith(("<", "["))]


def _phone_pass(d: Decoder, pcm: bytes) -> list[Phone]:
    """Phone-level pass on the decoder's latest word alignment; [] on failure."""
    try:
        d.set_alignment()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        alignment = d.get_alignment()
    except RuntimeError:
        return []
    return [
        Phone(ph.start / FRAME_RATE, (ph.start + ph.duration) / FRAME_RATE, sphinx_to_arpabet(ph.name))
        for word in alignment or ()
        for ph in word
    ]


def _split_words(d: Decoder, segs: list[tuple[str, int, int]]) -> list[Phone]:
    """Phones of each aligned word, sharing the word's frames evenly."""
    out = []
    for word, first, last in segs:
        pron = (d.lookup_word(word) or "").split()
        start, end = first / FRAME_RATE, (last + 1) / FRAME_RATE
        step = (end - start) / max(len(pron), 1)
        out += [Phone(start + i * step, start + (i + 1) * step, sphinx_to_arpabet(p)) for i, p in enumerate(pron)]
    return out


def compare_alignments(a: Sequence[Phone], b: Sequence[Phone]) -> float:
    """Mean absolute boundary difference (seconds) between two phone timings of the same speech.

    The two non-silent phone sequences are matched by edit distance (equal
    symbols preferred, substitutions allowed, so pronunciation variants still
    pair up); for every matched pair both its start and its end are compared.

    Raises:
        InputError: the sequences have no phones in common.
    """
    pa = [p for p in a if p.phone != SIL]
    pb = [p for p in b if p.phone != SIL]
    pairs = _match(pa, pb)
    if not pairs:
        raise InputError("the two alignments share no phones; compare timings of the same utterance")
    diffs = [abs(pa[i].start - pb[j].start) + abs(pa[i].end - pb[j].end) for i, j in pairs]
    return float(np.sum(diffs) / (2 * len(pairs)))


def _match(a: Sequence[Phone], b: Sequence[Phone]) -> list[tuple[int, int]]:
    """Index pairs of a minimum-cost alignment (substitution 1, insertion/deletion 1, match 0)."""
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            sub = cost[i - 1, j - 1] + (a[i - 1].phone != b[j - 1].phone)
            cost[i, j] = min(sub, cost[i - 1, j] + 1, cost[i, j - 1] + 1)
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (a[i - 1].phone != b[j - 1].phone):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]
