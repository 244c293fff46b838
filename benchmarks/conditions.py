"""Conditions that separate recordings from studio speech, shared by the benchmarks that score the lip seal
in them (``ear_rooms.py``: the ear's marks; ``lipsync_speech.py --condition``: whole ``animate()``).

Each condition maps (speech, clip number, the set's other clips) to the speech as heard; none moves a
phone, so a clip is scored at the alignment of the speech as recorded:

* rooms heard from a distance (``probtalk.train.augment.far_room``: the direct sound, then an
  exponentially decaying noise tail from 1 ms on, 60 dB down after 0.4 s) at a direct-to-reverberant
  ratio of 5 dB and of 0 dB;
* a room of another make (:func:`reflecting_room`: six discrete early reflections, then a 0.7 s tail
  as loud as the direct sound);
* white noise at 20 dB SNR, pink noise at 10 dB, and four other clips of the set talking over the
  speech at 10 dB (:func:`babble`);
* MP3 at 24 kbit/s and Opus at 8 kbit/s (``probtalk.train.augment.codec``);
* the benchmarks' moved voice's room (``probtalk.train.augment.moved_voice``: a 0.3 s tail with no
  separate direct sound, then 20 dB of noise);
* another voice: pitch and formants 4 semitones up or down at the same duration (a shorter or longer
  vocal tract; ``probtalk.train.augment.pitch_shift``);
* another speaking rate: the speech time-stretched (pitch kept) 1.25x faster or 0.8x as fast. These are
  the only conditions that move the phones: every time scales by ``1 / TEMPO[name]`` (:func:`retimed`).

The shipped detector's training (``probtalk.train.bilabial.DETECTOR_AUGMENT``) hears white noise and
reverb tails with no separate direct sound, like the moved voice's room; none of the others.
"""

from __future__ import annotations

import numpy as np
import torch

from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.train.augment import (
    add_noise,
    codec,
    convolve,
    far_room,
    moved_voice,
    pitch_shift,
    room_response,
    time_stretch,
)


def reflecting_room(audio: np.ndarray, seed: int) -> np.ndarray:
    """A room of another make than :func:`probtalk.train.augment.room` (whose tail starts as noise right
    after the direct sound): the direct sound, six discrete early reflections 2-25 ms after it at
    0.3-0.7 of its amplitude, then a tail decaying 60 dB in 0.7 s as loud as the direct sound; level
    kept."""
    rng = np.random.default_rng(seed)
    rt60 = 0.7
    ir = room_response(rt60, 0.0, rng.standard_normal(int(rt60 * AUDIO_SAMPLE_RATE)))
    ir[:400] = 0.0  # the diffuse tail from 25 ms on, as loud as the direct sound
    ir /= np.linalg.norm(ir)
    ir[0] = 1.0
    for delay, gain in zip(rng.integers(32, 400, 6), rng.uniform(0.3, 0.7, 6) * rng.choice([-1, 1], 6), strict=True):
        ir[delay] += gain
    return convolve(np.asarray(audio, np.float64), ir).astype(np.float32)


def babble(audio: np.ndarray, others: list[np.ndarray], seed: int, snr_db: float) -> np.ndarray:
    """Speech with four other clips of the set talking over it (each at the same level, looped to length),
    together ``snr_db`` below it."""
    crowd = np.zeros(audio.size)
    for k in range(4):
        other = others[(seed + 1 + 7 * k) % len(others)]
        other = np.tile(other, -(-audio.size // other.size))[: audio.size].astype(np.float64)
        crowd += other / max(float(other.std()), 1e-9)
    scale = np.sqrt(np.mean(np.square(audio, dtype=np.float64)) / max(np.mean(crowd**2), 1e-12) / 10 ** (snr_db / 10))
    return (audio + crowd * scale).astype(np.float32)


def _noise(a: np.ndarray, n: int, snr_db: float, color: float = 0.0) -> np.ndarray:
    return add_noise(torch.from_numpy(a), snr_db, torch.Generator().manual_seed(n), color).numpy()


def _pitch(a: np.ndarray, semitones: float) -> np.ndarray:
    return pitch_shift(torch.from_numpy(np.asarray(a, np.float32)), semitones).numpy()


def _tempo(a: np.ndarray, rate: float) -> np.ndarray:
    return time_stretch(torch.from_numpy(np.asarray(a, np.float32)), rate).numpy()


#: The conditions that change the speaking rate, by name: the speech is ``rate`` times as fast.
TEMPO = {"faster speech, x1.25": 1.25, "slower speech, x0.8": 0.8}


def retimed(phones: list, name: str) -> list:
    """``(start_s, end_s, phone)`` segments of the speech as recorded, timed as heard in condition ``name``."""
    rate = TEMPO.get(name, 1.0)
    return [(float(a) / rate, float(b) / rate, p) for a, b, p in phones]


#: Conditions: (name, speech, clip number, the set's other clips) -> the speech as heard.
CONDITIONS = {
    "as recorded": lambda a, n, o: a,
    "room, DRR 5 dB": lambda a, n, o: far_room(a, 5.0, n),
    "room, DRR 0 dB": lambda a, n, o: far_room(a, 0.0, n),
    "reflecting room, DRR 0 dB, 0.7 s": lambda a, n, o: reflecting_room(a, n),
    "white noise, 20 dB SNR": lambda a, n, o: _noise(a, n, 20.0),
    "pink noise, 10 dB SNR": lambda a, n, o: _noise(a, n, 10.0, 1.0),
    "babble of four voices, 10 dB SNR": lambda a, n, o: babble(a, o, n, 10.0),
    "MP3, 24 kbit/s": lambda a, n, o: codec(a, "mp3", 24),
    "Opus, 8 kbit/s": lambda a, n, o: codec(a, "opus", 8),
    "moved voice's room": lambda a, n, o: moved_voice(a, 0.0, True, n),
    "voice 4 semitones up": lambda a, n, o: _pitch(a, 4.0),
    "voice 4 semitones down": lambda a, n, o: _pitch(a, -4.0),
    "faster speech, x1.25": lambda a, n, o: _tempo(a, TEMPO["faster speech, x1.25"]),
    "slower speech, x0.8": lambda a, n, o: _tempo(a, TEMPO["slower speech, x0.8"]),
}
