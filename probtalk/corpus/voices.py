"""Synthetic speakers (a TTS voice plus personal rate, pitch and timbre) and emotional prosody.

A :class:`Voice` names the engine and its voice (espeak-ng language with a
``+variant``, or a festival voice) and the speaker's own prosody relative to
that voice. :func:`make_speakers` draws a deterministic set of distinct
speakers with 3DMEAD-style ids (``M001``, ``W002``: gender letter + number).
:data:`EMOTION_PROSODY` says how each emotion changes a voice (pitch, range,
rate, loudness, tremor, tilt); :mod:`probtalk.corpus.tts` applies it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from probtalk.emotions import EMOTIONS, MAX_INTENSITY
from probtalk.errors import InputError, StyleError

ENGINES = ("espeak", "festival", "flite")

# espeak-ng English accents (language names as espeak_SetVoiceByName takes them).
ESPEAK_LANGUAGES = (
    "en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)  # fmt: skip
ESPEAK_MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7")
ESPEAK_FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
# festival voices shipped by Debian (festvox-us-slt-hts, festvox-kallpc16k, festvox-kdlpc16k) and their gender.
FESTIVAL_VOICES: dict[str, str] = {
    "voice_cmu_us_slt_arctic_hts": "W",
    "voice_kal_diphone": "M",
    "voice_ked_diphone": "M",
}
FESTIVAL_SHARE = 0.25  # fraction of speakers voiced by festival (the rest by espeak-ng)
# flite (Debian package ``flite``, CMU Flite 2.2) and its built-in voices: a third engine whose
# voices the default corpus holds out whole (split ``test_unseen_engine``).
FLITE_VOICES: dict[str, str] = {"kal": "M", "kal16": "M", "awb": "M", "rms": "M", "slt": "W"}

# Per-speaker ranges (drawn uniformly): the spread of people speaking the same voice.
RATE_RANGE = (0.9, 1.12)
PITCH_RANGE_ST = (-2.0, 2.0)
PITCH_SPREAD_RANGE = (0.8, 1.25)
FORMANT_SCALE_RANGE = (0.94, 1.06)
TILT_RANGE = (-0.3, 0.3)


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    Attributes:
        speaker_id: 3DMEAD-style id, e.g. ``"M001"`` or ``"W002"``.
        engine: ``"espeak"`` or ``"festival"``.
        voice: engine voice: espeak ``"en-us+m3"``, festival ``"voice_kal_diphone"``.
        rate: speaking rate relative to the engine's default (espeak: 175 words/min).
        pitch: mean pitch offset from the voice's own, in semitones.
        pitch_range: multiplier of the voice's pitch range (intonation width).
        timbre: audio-level voice quality: ``formant_scale`` (vocal-tract length
            factor, applied by resampling with pitch and rate compensated) and
            ``tilt`` (spectral tilt, -1..1; > 0 brighter/tenser, < 0 darker).
    """

    speaker_id: str
    engine: str
    voice: str
    rate: float = 1.0
    pitch: float = 0.0
    pitch_range: float = 1.0
    timbre: Mapping[str, float] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"unknown TTS engine {self.engine!r}; use one of {', '.join(ENGINES)}")
        if self.engine == "festival" and self.voice not in FESTIVAL_VOICES:
            raise InputError(f"unknown festival voice {self.voice!r}; use one of {', '.join(FESTIVAL_VOICES)}")
        if self.engine == "flite" and self.voice not in FLITE_VOICES:
            raise InputError(f"unknown flite voice {self.voice!r}; use one of {', '.join(FLITE_VOICES)}")
        if not 0.3 <= self.rate <= 3.0:
            raise InputError(f"speaking rate {self.rate} is out of range; use 0.3-3.0 (1 = normal)")
        if self.pitch_range < 0:
            raise InputError(f"pitch_range must be >= 0, got {self.pitch_range}")

    @property
    def gender(self) -> str:
        """``"M"`` or ``"W"`` (the first letter of the speaker id)."""
        return self.speaker_id[:1]

    @property
    def formant_scale(self) -> float:
        """Vocal-tract length factor from :attr:`timbre` (1 = unchanged)."""
        return float(self.timbre.get("formant_scale", 1.0))

    @property
    def tilt(self) -> float:
        """Spectral tilt from :attr:`timbre` (0 = unchanged)."""
        return float(self.timbre.get("tilt", 0.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for dataset manifests)."""
        d = asdict(self)
        d["timbre"] = dict(self.timbre)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Voice:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**d, "timbre": dict(d.get("timbre", {}))})


def voice_candidates() -> list[tuple[str, str, str]]:
    """All base voices as (engine, voice, gender), festival first."""
    out = [("festival", v, g) for v, g in FESTIVAL_VOICES.items()]
    for lang in ESPEAK_LANGUAGES:
        out += [("espeak", f"{lang}+{v}", "M") for v in ESPEAK_MALE_VARIANTS]
        out += [("espeak", f"{lang}+{v}", "W") for v in ESPEAK_FEMALE_VARIANTS]
    return out


def make_speakers(n: int, seed: int) -> list[Voice]:
    """``n`` distinct speakers, the same for the same seed.

    About a quarter are festival voices (cycling slt HTS, kal and ked), the
    rest espeak-ng accent/variant pairs, no pair used twice until all are
    used. Each gets its own rate, pitch, pitch range and timbre.

    Args:
        n: number of speakers (>= 0).
        seed: random seed.

    Returns:
        Voices with ids ``M001``/``W002``/... numbered 1..n in order.

    Raises:
        InputError: ``n`` is negative.
    """
    if n < 0:
        raise InputError(f"number of speakers must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    n_fest = int(round(n * FESTIVAL_SHARE)) if n >= 2 else 0
    fest = [c for c in voice_candidates() if c[0] == "festival"]
    esp = [c for c in voice_candidates() if c[0] == "espeak"]
    esp_order = [esp[i] for i in rng.permutation(len(esp))]
    chosen = [fest[i % len(fest)] for i in range(n_fest)]
    chosen += list(itertools.islice(itertools.cycle(esp_order), n - n_fest))
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    speakers = []
    for i, (engine, voice, gender) in enumerate(chosen):
        speakers.append(_drawn_voice(rng, f"{gender}{i + 1:03d}", engine, voice))
    return speakers


def make_engine_speakers(engine: str, n: int, seed: int, first_number: int) -> list[Voice]:
    """``n`` speakers voiced by ``engine`` alone (cycling its voices), numbered from ``first_number``.

    Used for the held-out engine: every voice of the engine, each with its own
    rate, pitch, pitch range and timbre drawn like :func:`make_speakers`'s.

    Raises:
        InputError: unknown engine or negative ``n``.
    """
    voices = {"flite": FLITE_VOICES, "festival": FESTIVAL_VOICES}.get(engine)
    if voices is None:
        raise InputError(f"cannot hold out engine {engine!r}; use flite or festival")
    if n < 0:
        raise InputError(f"number of speakers must be >= 0, got {n}")
    rng = np.random.default_rng([seed, 7919, len(engine)])
    names = list(voices)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        out.append(_drawn_voice(rng, f"{voices[name]}{first_number + i:03d}", engine, name))
    return out


def _drawn_voice(rng: np.random.Generator, speaker_id: str, engine: str, voice: str) -> Voice:
    """A speaker of ``engine``'s ``voice`` with rate, pitch, pitch range and timbre drawn from ``rng``."""
    return Voice(
        speaker_id=speaker_id,
        engine=engine,
        voice=voice,
        rate=round(float(rng.uniform(*RATE_RANGE)), 3),
        pitch=round(float(rng.uniform(*PITCH_RANGE_ST)), 2),
        pitch_range=round(float(rng.uniform(*PITCH_SPREAD_RANGE)), 3),
        timbre={
            "formant_scale": round(float(rng.uniform(*FORMANT_SCALE_RANGE)), 3),
            "tilt": round(float(rng.uniform(*TILT_RANGE)), 3),
        },
    )


@dataclass(frozen=True)
class Prosody:
    """Prosody changes relative to a speaker's neutral voice.

    Attributes:
        pitch: mean pitch shift in semitones.
        pitch_range: multiplier of the pitch range (intonation width).
        rate: speaking-rate multiplier (> 1 faster, shorter).
        gain_db: loudness change in dB.
        tremor: vibrato depth in semitones (fear).
        tremor_hz: vibrato rate.
        tilt: spectral tilt change (> 0 tenser/brighter, < 0 softer/darker).
    """

    pitch: float = 0.0
    pitch_range: float = 1.0
    rate: float = 1.0
    gain_db: float = 0.0
    tremor: float = 0.0
    tremor_hz: float = 6.0
    tilt: float = 0.0


# Prosody at medium intensity (1). After the literature on vocal emotion
# (Scherer 2003; Juslin & Laukka 2003): joy and surprise raise and widen pitch;
# sadness is slower, lower, narrower and softer; anger louder, faster and tense;
# fear higher, faster, with tremor; disgust and contempt slower and lower.
EMOTION_PROSODY: dict[str, Prosody] = {
    "neutral": Prosody(),
    "happy": Prosody(pitch=2.5, pitch_range=1.4, rate=1.05, gain_db=2.0, tilt=0.15),
    "sad": Prosody(pitch=-2.0, pitch_range=0.6, rate=0.82, gain_db=-5.0, tilt=-0.3),
    "surprised": Prosody(pitch=4.0, pitch_range=1.7, rate=1.0, gain_db=3.0, tilt=0.1),
    "fear": Prosody(pitch=3.0, pitch_range=0.9, rate=1.15, gain_db=-1.0, tremor=0.5, tremor_hz=6.5),
    "disgusted": Prosody(pitch=-1.5, pitch_range=0.9, rate=0.88, gain_db=-1.0, tilt=-0.1),
    "angry": Prosody(pitch=1.0, pitch_range=1.25, rate=1.12, gain_db=5.0, tilt=0.35),
    "contempt": Prosody(pitch=-1.0, pitch_range=0.8, rate=0.9, gain_db=-2.0, tilt=-0.05),
}


def intensity_scale(intensity: float) -> float:
    """How strongly an emotion shows: 0.4 at low (0), 1 at medium (1), 1.6 at high (2)."""
    return 0.4 + 0.6 * intensity


def emotion_prosody(emotion: str, intensity: float) -> Prosody:
    """The prosody of ``emotion`` at a continuous ``intensity`` in [0, 2].

    Additive parameters (pitch, gain, tilt, tremor) scale linearly with
    :func:`intensity_scale`, multiplicative ones (range, rate) geometrically.

    Raises:
        StyleError: unknown emotion or intensity out of range.
    """
    if emotion not in EMOTION_PROSODY:
        raise StyleError(f"unknown emotion {emotion!r}; use one of {', '.join(EMOTIONS)}")
    if not 0.0 <= intensity <= MAX_INTENSITY:
        raise StyleError(f"intensity {intensity} is out of range; use 0 (low) to {MAX_INTENSITY:g} (high)")
    p, s = EMOTION_PROSODY[emotion], intensity_scale(intensity)
    return Prosody(
        pitch=p.pitch * s,
        pitch_range=p.pitch_range**s,
        rate=p.rate**s,
        gain_db=p.gain_db * s,
        tremor=p.tremor * s,
        tremor_hz=p.tremor_hz,
        tilt=p.tilt * s,
    )
