"""The phone inventory shared by speech synthesis, alignment, the animator and the lip-sync metric.

Phones are ARPAbet (the 39 phones of the CMU dictionary, stress digits
stripped) plus ``SIL`` for silence and pauses. Synthesisers and aligners speak
their own phone alphabets; the tables here map them onto ARPAbet:

* espeak-ng phoneme mnemonics (the names its ``espeakEVENT_PHONEME`` events
  carry) for the English voices ``en``, ``en-us``, ``en-gb-*`` and ``en-029``;
  one espeak phoneme may become two ARPAbet phones (``e@`` -> ``EH R``),
* festival's ``radio`` phone set (lower-case ARPAbet with ``ax``/``pau``),
  used by the kal/ked diphone and the CMU slt HTS voices,
* pocketsphinx (already ARPAbet, ``SIL`` and fillers such as ``+NSN+``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

SIL = "SIL"
ARPABET: tuple[str, ...] = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY",
    "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P",
    "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
PHONES: tuple[str, ...] = (*ARPABET, SIL)
PHONE_INDEX: dict[str, int] = {p: i for i, p in enumerate(PHONES)}

VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"})
CONSONANTS = frozenset(ARPABET) - VOWELS

# Lips pressed together: the lip-sync metric expects a closed mouth here.
BILABIAL = frozenset({"P", "B", "M"})
# Lower lip against the upper teeth.
LABIODENTAL = frozenset({"F", "V"})
# Tongue between/behind the teeth, jaw slightly open, lips neutral.
DENTAL = frozenset({"TH", "DH"})
ALVEOLAR = frozenset({"T", "D", "N", "L", "S", "Z"})
POSTALVEOLAR = frozenset({"SH", "ZH", "CH", "JH"})
VELAR = frozenset({"K", "G", "NG"})
# Vowels whose nucleus has a wide jaw opening (IPA open and open-mid:
# /ɑ æ ʌ ɔ/ and the diphthongs /aʊ aɪ/ that start at /a/). The metric expects an
# open mouth on these. EH/EY/OW are mid vowels and left out so that the test is
# not fooled by a half-open mouth; AH covers both the stressed /ʌ/ and the
# reduced schwa, but the CMU dictionary keeps schwa mostly as AH0, so it is kept.
OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
MID_VOWELS = frozenset({"EH", "EY", "ER", "OW", "OY"})
CLOSE_VOWELS = frozenset({"IY", "IH", "UW", "UH"})
# Lip rounding / protrusion (funnel, pucker). ER is r-coloured and rounded in
# most American speakers, and R itself is labialised in English.
ROUNDED = frozenset({"UW", "UH", "OW", "OY", "AO", "W", "ER", "R"})
# Lips spread (smile-like stretch).
SPREAD = frozenset({"IY", "IH", "EY", "EH", "Y"})
SILENCES = frozenset({SIL})


@dataclass(frozen=True)
class Phone:
    """One timed phone.

    Attributes:
        start: onset in seconds from the start of the audio.
        end: offset in seconds (``end > start``).
        phone: an ARPAbet symbol from :data:`PHONES` (``SIL`` for silence).
    """

    start: float
    end: float
    phone: str

    @property
    def duration(self) -> float:
        """Length of the phone in seconds."""
        return self.end - self.start


def strip_stress(symbol: str) -> str:
    """``"AH0"`` -> ``"AH"``: drop CMU stress digits and upper-case."""
    return symbol.upper().rstrip("012")


# espeak-ng English phoneme mnemonics (phsource/ph_english*, Kirshenbaum-like).
# The en-gb and en-us voices share most names; values are what a General
# American listener would transcribe, so RP's non-rhotic "A@" still maps to
# AA R (the animator cares about the mouth, and the R is short there).
ESPEAK_TO_ARPABET: dict[str, tuple[str, ...]] = {
    # vowels
    "a": ("AE",), "a#": ("AH",), "aa": ("AE",), "a2": ("AH",), "A:": ("AA",), "A": ("AA",),
    "A@": ("AA", "R"), "A#": ("AA",), "aI": ("AY",), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"),
    "aU": ("AW",), "aU@": ("AW", "ER"), "@": ("AH",), "@2": ("AH",), "@5": ("AH",),
    "@L": ("AH", "L"), "@U": ("OW",), "3": ("ER",), "3:": ("ER",), "3:r": ("ER",),
    "0": ("AA",), "0#": ("AA",), "E": ("EH",), "E2": ("EH",), "E#": ("EH",), "E3": ("EH",),
    "e@": ("EH", "R"), "eI": ("EY",), "e": ("EY",), "i": ("IY",), "i:": ("IY",), "i@": ("IH", "R"),
    "i@3": ("IY", "ER"), "I": ("IH",), "I2": ("IH",), "I#": ("IH",), "I2#": ("IH",), "y": ("IH",),
    "O": ("AO",), "O:": ("AO",), "O@": ("AO", "R"), "o@": ("AO", "R"), "OI": ("OY",), "o": ("OW",),
    "oU": ("OW",), "oU#": ("OW",), "u": ("UW",), "u:": ("UW",), "u@": ("UH", "R"), "U": ("UH",),
    "U@": ("UH", "R"), "V": ("AH",), "Q": ("AA",), "3@": ("ER",), "@r": ("ER",), "V@": ("AH", "R"),
    # consonants
    "b": ("B",), "d": ("D",), "D": ("DH",), "dZ": ("JH",), "f": ("F",), "g": ("G",), "h": ("HH",),
    "j": ("Y",), "k": ("K",), "l": ("L",), "l/": ("L",), "l/2": ("L",), "L": ("L",), "m": ("M",),
    "m-": ("M",), "n": ("N",), "n-": ("N",), "N": ("NG",), "p": ("P",), "r": ("R",), "r-": ("R",),
    "*": ("R",), "s": ("S",), "S": ("SH",), "t": ("T",), "t#": ("T",), "t2": ("T",), "d#": ("D",),
    "d2": ("D",), "T": ("TH",), "tS": ("CH",), "v": ("V",), "w": ("W",), "W": ("W",), "z": ("Z",),
    "Z": ("ZH",), "?": ("T",), "x": ("K",), "C": ("HH",), "n^": ("N", "Y"), "l^": ("L", "Y"),
    "k-": ("K",), "z/2": ("Z",), "s2": ("S",), "h#": ("HH",),
    # pauses
    "_": (SIL,), "_:": (SIL,), "_!": (SIL,), "_^_": (SIL,), "_|": (SIL,), "||": (SIL,), "|": (SIL,),
}  # fmt: skip

# Regional allophones (Scottish r-coloured vowels, dental stops, syllabic schwa).
ESPEAK_TO_ARPABET.update({"@-": ("AH",), "IR": ("IH", "R"), "VR": ("AH", "R"), "t[": ("T",), "d[": ("D",)})

# Modifiers that espeak reports as separate "phonemes" but that carry no time of their own.
ESPEAK_IGNORED = frozenset({";", "#", "'", ",", "%", "=", ":"})

# festival's radio phone set (kal/ked diphone and CMU ARCTIC HTS voices).
FESTIVAL_TO_ARPABET: dict[str, tuple[str, ...]] = {
    **{p.lower(): (p,) for p in ARPABET},
    "ax": ("AH",), "axr": ("ER",), "ix": ("IH",), "el": ("AH", "L"), "em": ("AH", "M"),
    "en": ("AH", "N"), "dx": ("T",), "nx": ("N",), "hv": ("HH",), "h": ("HH",),
    "pau": (SIL,), "h#": (SIL,), "brth": (SIL,), "sil": (SIL,), "#": (SIL,),
}  # fmt: skip


def espeak_to_arpabet(name: str) -> tuple[str, ...] | None:
    """Map one espeak-ng phoneme mnemonic to ARPAbet phones.

    Returns:
        The ARPAbet phones (usually one), ``()`` for modifiers that carry no
        time of their own, or ``None`` when the name is unknown.
    """
    if name in ESPEAK_IGNORED:
        return ()
    if name in ESPEAK_TO_ARPABET:
        return ESPEAK_TO_ARPABET[name]
    # Voice-specific allophones add suffixes (digits, '#', '/') to a base name.
    base = name.rstrip("0123456789#/")
    if base and base in ESPEAK_TO_ARPABET:
        return ESPEAK_TO_ARPABET[base]
    if name.startswith("_"):
        return (SIL,)
    return None


def festival_to_arpabet(name: str) -> tuple[str, ...] | None:
    """Map one festival phone name (radio phone set) to ARPAbet, ``None`` when unknown."""
    return FESTIVAL_TO_ARPABET.get(name.lower())


def sphinx_to_arpabet(name: str) -> str:
    """Map a pocketsphinx phone or filler (``+NSN+``, ``<sil>``) to ARPAbet or ``SIL``."""
    sym = strip_stress(name)
    return sym if sym in PHONE_INDEX else SIL


def expand_timed(
    events: Iterable[tuple[float, float, Sequence[str]]],
) -> list[Phone]:
    """Turn (start, end, ARPAbet phones) spans into phones, splitting a span evenly among its phones.

    Args:
        events: spans in time order; a span with several phones (a diphthong
            with an r-colouring, a syllabic l) is divided into equal parts.

    Returns:
        Phones in time order; spans of zero length are dropped.
    """
    out: list[Phone] = []
    for start, end, names in events:
        if end <= start or not names:
            continue
        step = (end - start) / len(names)
        for i, name in enumerate(names):
            s = start + i * step
            e = end if i == len(names) - 1 else start + (i + 1) * step
            out.append(Phone(float(s), float(e), name))
    return out


def normalize_phones(phones: Sequence[Phone], duration: float, min_duration: float = 1e-4) -> list[Phone]:
    """Make phones tile ``[0, duration]`` exactly: no gaps, no overlaps, silences merged.

    Gaps become ``SIL``; consecutive ``SIL`` phones are merged; phones that
    start after ``duration`` are dropped and the last one is cut or extended
    (with ``SIL``) to end at ``duration``; phones shorter than ``min_duration``
    are absorbed by their predecessor.

    Args:
        phones: phones in time order (may overlap slightly or leave gaps).
        duration: audio length in seconds.
        min_duration: phones shorter than this (seconds) are merged away.

    Returns:
        A new list covering ``[0, duration]``.
    """
    out: list[Phone] = []
    t = 0.0
    for ph in sorted(phones, key=lambda p: p.start):
        if ph.phone not in PHONE_INDEX:
            raise ValueError(f"unknown phone symbol {ph.phone!r}")
        start, end = max(ph.start, t), min(ph.end, duration)
        if start >= duration:
            break
        if start > t + min_duration:
            _append(out, Phone(t, start, SIL), min_duration)
        elif out:
            start = t  # close a tiny gap or overlap by moving the onset
        if end - start < min_duration:
            continue
        _append(out, Phone(start if out else 0.0, end, ph.phone), min_duration)
        t = end
    if duration - t > min_duration or not out:
        _append(out, Phone(t, duration, SIL), min_duration)
    elif out[-1].end != duration:
        out[-1] = Phone(out[-1].start, duration, out[-1].phone)
    if out[0].start != 0.0:
        out[0] = Phone(0.0, out[0].end, out[0].phone)
    return out


def _append(out: list[Phone], ph: Phone, min_duration: float) -> None:
    if out and (out[-1].phone == ph.phone == SIL or ph.duration < min_duration):
        out[-1] = Phone(out[-1].start, ph.end, out[-1].phone)
    else:
        out.append(ph)


def phones_to_frames(phones: Sequence[Phone], fps: float, num_frames: int | None = None) -> list[str]:
    """Label each video frame with the phone at its centre time.

    Args:
        phones: phones tiling the audio.
        fps: frames per second.
        num_frames: number of frames T; defaults to ``round(end * fps)``.

    Returns:
        T phone symbols (``SIL`` outside the phones).
    """
    end = phones[-1].end if phones else 0.0
    n = int(round(end * fps)) if num_frames is None else num_frames
    labels, j = [], 0
    for i in range(n):
        t = (i + 0.5) / fps
        while j < len(phones) and phones[j].end <= t:
            j += 1
        labels.append(phones[j].phone if j < len(phones) and phones[j].start <= t else SIL)
    return labels
