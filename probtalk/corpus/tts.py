"""Text to speech with emotional prosody and exact phone timings.

espeak-ng and festival are each run by one long-lived helper process per Python process
(started on first use, restarted if it dies), so synthesis runs far faster
than real time:

* **espeak-ng** (:mod:`probtalk.corpus.espeak`) through libespeak-ng's C API;
  phoneme events give the phone onsets. Its helper forks per utterance so that
  output never depends on what was spoken before.
* **festival** (:mod:`probtalk.corpus.festival`, ``festival --pipe``): the
  kal/ked diphone voices and the CMU slt HTS voice; ``utt.save.segs`` gives
  each phone's exact end time.
* **flite** (:mod:`probtalk.corpus.flite`, one ``flite`` run per utterance):
  kal, kal16, awb, rms and slt; ``-psdur`` gives each phone's end time.

Everything random (prosody jitter, lead/trail silence, noise floor) comes from
the caller's ``rng``, so the same arguments and rng state give identical audio.

Emotion shapes prosody the way people do (see :data:`EMOTION_PROSODY`),
scaled by intensity, with a little random jitter per utterance. Output is
16 kHz mono float32 with phones tiling ``[0, duration]`` (SIL at both ends).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from probtalk.audio import resample
from probtalk.corpus.espeak import Espeak
from probtalk.corpus.festival import Festival
from probtalk.corpus.flite import flite_synth
from probtalk.corpus.helper_process import SpeechEngineError
from probtalk.corpus.phones import Phone, expand_timed, normalize_phones
from probtalk.corpus.voices import EMOTION_PROSODY, Prosody, Voice, emotion_prosody, intensity_scale
from probtalk.layout import AUDIO_SAMPLE_RATE

# Prosody lives with the voices and the engine error with the engines; re-exported here
# because synthesis is where they are applied and raised.
__all__ = [
    "EMOTION_PROSODY",
    "Prosody",
    "SpeechEngineError",
    "Utterance",
    "emotion_prosody",
    "intensity_scale",
    "synthesize",
]


@dataclass
class Utterance:
    """Synthesised speech with its timing.

    Attributes:
        audio: float32 [N] mono at 16 kHz.
        phones: ARPAbet phones tiling ``[0, N / 16000]`` (``SIL`` at both ends).
        text: the sentence spoken.
        words: (start_s, end_s, word) per spoken word, or None when unknown.
    """

    audio: np.ndarray
    phones: list[Phone]
    text: str
    words: list[tuple[float, float, str]] | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.audio.shape[0] / AUDIO_SAMPLE_RATE


# Per-utterance jitter (standard deviations): the same sentence is never said twice alike.
JITTER = Prosody(pitch=0.4, pitch_range=0.08, rate=0.03, gain_db=0.7, tremor=0.0, tremor_hz=0.0, tilt=0.05)
LEAD_SILENCE_S = (0.12, 0.3)
TRAIL_SILENCE_S = (0.15, 0.35)
TARGET_RMS = 0.05  # about -26 dBFS before the emotion's gain
NOISE_FLOOR = 3e-5  # a faint noise floor so that no sample stretch is digitally silent
PEAK_LIMIT = 0.98


def _jittered(p: Prosody, rng: np.random.Generator) -> Prosody:
    j = rng.standard_normal(5)
    return replace(
        p,
        pitch=p.pitch + JITTER.pitch * j[0],
        pitch_range=p.pitch_range * math.exp(JITTER.pitch_range * j[1]),
        rate=p.rate * math.exp(JITTER.rate * j[2]),
        gain_db=p.gain_db + JITTER.gain_db * j[3],
        tilt=p.tilt + JITTER.tilt * j[4],
    )


def synthesize(text: str, voice: Voice, emotion: str, intensity: float, rng: np.random.Generator) -> Utterance:
    """Speak ``text`` with ``voice`` in ``emotion`` at ``intensity``.

    Args:
        text: one sentence of English.
        voice: the speaker (engine, voice, personal prosody and timbre).
        emotion: one of :data:`probtalk.emotions.EMOTIONS`.
        intensity: continuous in [0, 2] (0 low, 1 medium, 2 high).
        rng: random generator for the per-utterance jitter and silences;
            the same state gives bit-identical audio.

    Returns:
        An :class:`Utterance` at 16 kHz with phones from the synthesiser.

    Raises:
        StyleError: unknown emotion or intensity out of range.
        SpeechEngineError: the engine is not installed or fails.
    """
    if not _SPEAKABLE.search(text):
        raise SpeechEngineError(f"nothing to say in {text!r}: give a sentence with words")
    pros = _jittered(emotion_prosody(emotion, intensity), rng)
    lead = float(rng.uniform(*LEAD_SILENCE_S))
    trail = float(rng.uniform(*TRAIL_SILENCE_S))
    noise_seed = int(rng.integers(2**31))
    k = voice.formant_scale
    pitch_st = voice.pitch + pros.pitch
    if not _has_native_pitch(voice):
        # festival's HTS engine ignores pitch options: shift pitch by resampling, formants move with it.
        k *= 2.0 ** (pitch_st / 12.0)
        pitch_st = 0.0
    # Resampling by k multiplies pitch and rate by k: ask the engine for the inverse.
    pitch_st -= 12.0 * math.log2(k)
    rate = voice.rate * pros.rate / k
    prange = voice.pitch_range * pros.pitch_range
    if voice.engine == "espeak":
        audio, sr, spans, words = Espeak.instance().synth(text, voice.voice, rate, pitch_st, prange)
    elif voice.engine == "flite":
        audio, sr, spans, words = flite_synth(text, voice.voice, rate)
    else:
        audio, sr, spans, words = Festival.instance().synth(text, voice.voice, rate, pitch_st, prange)
    if audio.size == 0:
        raise SpeechEngineError(f"{voice.engine} produced no audio for {text!r}; check the voice {voice.voice!r}")
    sr_eff = max(100, int(round(sr * k / 100.0)) * 100)  # a round rate keeps the polyphase filter small
    audio = resample(audio.astype(np.float32), sr_eff, AUDIO_SAMPLE_RATE)
    scale = 1.0 / sr_eff  # engine samples -> output seconds
    audio = _post_process(audio, pros, voice.tilt, lead, trail, noise_seed)
    duration = audio.shape[0] / AUDIO_SAMPLE_RATE
    timed = [(lead + s0 * scale, lead + s1 * scale, names) for s0, s1, names in spans]
    phones = normalize_phones(expand_timed(timed), duration)
    word_times = [(lead + s0 * scale, lead + s1 * scale, w) for s0, s1, w in words] if words is not None else None
    return Utterance(audio=audio, phones=phones, text=text, words=word_times)


_SPEAKABLE = re.compile(r"[^\W_]")  # at least one letter or digit


def _has_native_pitch(voice: Voice) -> bool:
    """espeak-ng and festival's diphone voices take a pitch setting; festival's HTS voice does not."""
    return not ((voice.engine == "festival" and "hts" in voice.voice) or voice.engine == "flite")


def _post_process(
    audio: np.ndarray, pros: Prosody, voice_tilt: float, lead: float, trail: float, noise_seed: int
) -> np.ndarray:
    """Tremor, spectral tilt, loudness, silences and noise floor on 16 kHz float32 [N]."""
    from scipy.signal import lfilter

    if pros.tremor > 0:
        # Vibrato as a sinusoidal time warp: t' = t + A sin(2 pi f t) with pitch deviation
        # 2^(tremor/12) - 1 = 2 pi f A; the warp moves phones by under a millisecond.
        n = audio.shape[0]
        depth = 2.0 ** (pros.tremor / 12.0) - 1.0
        amp = depth / (2 * math.pi * pros.tremor_hz) * AUDIO_SAMPLE_RATE
        t = np.arange(n, dtype=np.float64)
        warped = np.clip(t + amp * np.sin(2 * math.pi * pros.tremor_hz * t / AUDIO_SAMPLE_RATE), 0, n - 1)
        audio = np.interp(warped, t, audio).astype(np.float32)
    tilt = float(np.clip(voice_tilt + pros.tilt, -0.9, 0.9))
    if abs(tilt) > 1e-3:
        # First-order tilt: y[n] = x[n] - a x[n-1]; a > 0 lifts highs (tense), a < 0 lowers them (soft).
        audio = lfilter([1.0, -tilt], [1.0], audio).astype(np.float32)
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms > 0:
        audio = audio * np.float32(TARGET_RMS / rms * 10.0 ** (pros.gain_db / 20.0))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > PEAK_LIMIT:
        audio = np.tanh(audio / PEAK_LIMIT).astype(np.float32) * np.float32(PEAK_LIMIT)
    n_lead, n_trail = int(round(lead * AUDIO_SAMPLE_RATE)), int(round(trail * AUDIO_SAMPLE_RATE))
    out = np.concatenate([np.zeros(n_lead, np.float32), audio.astype(np.float32), np.zeros(n_trail, np.float32)])
    noise = np.random.default_rng(noise_seed).standard_normal(out.shape[0]).astype(np.float32)
    return (out + NOISE_FLOOR * noise).astype(np.float32)
