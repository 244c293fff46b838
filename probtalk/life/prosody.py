"""Per-frame prosody at the motion frame rate: loudness, its rise, voicing, pitch, pauses, speech rate.

Everything is causal, so a stream computes exactly what an offline call
computes: frame ``f`` reads the 64 ms of audio that end where the frame ends
(samples ``[(f + 1) * hop - 1024, (f + 1) * hop)``, zeros outside the clip),
and the running normalisers (speech level, mean pitch, speech rate) are
updated frame by frame from the start of the audio. :class:`ProsodyTracker`
carries that state from one stream step to the next; an offline call runs it
once over the whole clip.

Features (float32 [T, NUM_PROSODY], in the order of :data:`PROSODY_NAMES`):

* ``loudness``: log RMS in dB minus the running speech level, / 10 (0 = typical speech, -2 = 20 dB quieter);
* ``rise``: the change of ``loudness`` from the previous frame, clipped to [-3, 3];
* ``voiced``: 1 where the normalised autocorrelation peak (70-400 Hz) exceeds 0.45;
* ``pitch``: log2 f0 minus the running mean log2 f0 of voiced frames, / 0.5 (0 where unvoiced);
* ``pause``: 1 where the frame is more than 25 dB below the speech level (or below -55 dBFS);
* ``rate``: a running mean (about 1 s) of positive loudness rises: high for fast, syllable-dense speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from probtalk.layout import AUDIO_SAMPLE_RATE

PROSODY_NAMES = ("loudness", "rise", "voiced", "pitch", "pause", "rate")
NUM_PROSODY = len(PROSODY_NAMES)
WINDOW = 1024  # samples per analysis window (64 ms at 16 kHz), ending where the frame ends
MIN_F0, MAX_F0 = 70.0, 400.0
VOICING_THRESHOLD = 0.45
FLOOR_DB = -90.0
SILENCE_DB = -55.0  # below this a frame is a pause whatever the speech level
PAUSE_BELOW_LEVEL_DB = 25.0
INITIAL_LEVEL_DB = -26.0  # a typical speech level for a normalised recording
INITIAL_LOG2_F0 = float(np.log2(150.0))
BLOCK = 1500  # frames analysed at once (about 30 MB of spectra)
LEVEL_SECONDS = 3.0  # time constant of the running speech level
RATE_SECONDS = 1.0  # time constant of the running speech rate


def frame_windows(audio: np.ndarray, audio_start: int, first_frame: int, num_frames: int, hop: float) -> np.ndarray:
    """Analysis windows float32 [num_frames, WINDOW] of frames ``first_frame ...`` (zeros outside the samples held).

    Args:
        audio: samples held, the first at absolute index ``audio_start``.
        audio_start: absolute index of ``audio[0]``.
        first_frame: absolute index of the first frame.
        num_frames: frames wanted.
        hop: samples per frame (16000 / fps).
    """
    ends = np.round((first_frame + 1 + np.arange(num_frames)) * hop).astype(np.int64) - audio_start
    idx = ends[:, None] - WINDOW + np.arange(WINDOW)[None, :]
    inside = (idx >= 0) & (idx < audio.size)
    return np.where(inside, audio[np.clip(idx, 0, max(audio.size - 1, 0))] if audio.size else 0.0, 0.0).astype(np.float32)


def raw_features(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-window dB level, voicing flag and log2 f0 (NaN where unvoiced) for windows [T, WINDOW]."""
    x = windows.astype(np.float64)
    rms = np.sqrt(np.mean(x * x, axis=1))
    db = np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), FLOOR_DB)
    x = x - x.mean(axis=1, keepdims=True)
    x *= np.hanning(WINDOW)[None, :]
    spec = np.fft.rfft(x, n=2 * WINDOW, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :WINDOW]
    # divide out the window's own autocorrelation so long lags are not penalised
    w = np.hanning(WINDOW)
    wac = np.fft.irfft(np.abs(np.fft.rfft(w, n=2 * WINDOW)) ** 2)[:WINDOW]
    lo, hi = int(AUDIO_SAMPLE_RATE / MAX_F0), int(AUDIO_SAMPLE_RATE / MIN_F0)
    norm = ac[:, lo : hi + 1] / np.maximum(ac[:, :1], 1e-12) / (wac[lo : hi + 1] / wac[0])[None, :]
    best = norm.argmax(axis=1)
    peak = norm[np.arange(norm.shape[0]), best]
    voiced = (peak > VOICING_THRESHOLD) & (db > SILENCE_DB)
    log_f0 = np.where(voiced, np.log2(AUDIO_SAMPLE_RATE / (lo + best)), np.nan)
    return db, voiced.astype(np.float64), log_f0


@dataclass
class ProsodyState:
    """The running normalisers after some frames (see the module docstring)."""

    level_db: float = INITIAL_LEVEL_DB
    log2_f0: float = INITIAL_LOG2_F0
    previous: float = 0.0
    rate: float = 0.0


class ProsodyTracker:
    """Prosody features frame by frame; ``state`` holds the normalisers after the frames committed so far.

    Args:
        fps: motion frames per second.
    """

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)
        self.hop = AUDIO_SAMPLE_RATE / self.fps
        self.state = ProsodyState()
        self._level_rate = 1.0 / (LEVEL_SECONDS * self.fps)
        self._rate_rate = 1.0 / (RATE_SECONDS * self.fps)

    def features(self, audio: np.ndarray, audio_start: int, first_frame: int, num_frames: int) -> np.ndarray:
        """Features float32 [num_frames, NUM_PROSODY] of frames ``first_frame ...``, advancing ``state``.

        The caller gives frames in order, each once (``first_frame`` is the first frame not yet given).
        """
        # in blocks, so an hour of audio never holds more than a block's windows and spectra at once
        parts = [raw_features(frame_windows(audio, audio_start, first_frame + a, min(BLOCK, num_frames - a), self.hop))
                 for a in range(0, num_frames, BLOCK)]
        db, voiced, log_f0 = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3))
        rows = []
        s = self.state
        # plain Python floats in the loop: numpy scalar calls would cost more than the analysis itself
        for i, (level, is_voiced, f0) in enumerate(zip(db.tolist(), voiced.tolist(), log_f0.tolist(), strict=True)):
            if level > s.level_db - 15.0:  # a speech frame: follow the level
                s.level_db += self._level_rate * (level - s.level_db)
            loud = (level - s.level_db) / 10.0
            rise = min(max(loud - s.previous, -3.0), 3.0) if i or first_frame else 0.0
            s.previous = loud
            pitch = 0.0
            if is_voiced:
                s.log2_f0 += 4.0 * self._level_rate * (f0 - s.log2_f0)
                pitch = min(max((f0 - s.log2_f0) / 0.5, -3.0), 3.0)
            s.rate += self._rate_rate * (max(rise, 0.0) - s.rate)
            pause = float(level < s.level_db - PAUSE_BELOW_LEVEL_DB or level < SILENCE_DB)
            rows.append((max(loud, -4.0), rise, is_voiced, pitch, pause, s.rate * 4.0))
        out = np.array(rows, np.float32).reshape(num_frames, NUM_PROSODY)
        return out


def prosody_features(wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """Prosody of a whole clip: float32 [num_frames, NUM_PROSODY] for 16 kHz speech [N] (see the module docstring)."""
    return ProsodyTracker(fps).features(np.asarray(wav, np.float32), 0, 0, int(num_frames))
