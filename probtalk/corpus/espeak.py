"""espeak-ng through libespeak-ng's C API, run in a helper process.

Synchronous mode with ``espeakINITIALIZE_PHONEME_EVENTS``: every phoneme event
carries its sample position, which gives the phone onsets; word events give the
word spans. The helper (:mod:`probtalk.corpus.espeak_helper`) forks per
utterance so that output never depends on what was spoken before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

from probtalk.corpus.espeak_helper import EVENT_PHONEME, EVENT_WORD
from probtalk.corpus.helper_process import HelperProcess, Spans, SpeechEngineError, WordSpans
from probtalk.corpus.phones import SIL, espeak_to_arpabet

log = logging.getLogger(__name__)

_HELPER = Path(__file__).with_name("espeak_helper.py")

ESPEAK_RATE_NORMAL = 175  # words per minute (espeakRATE_NORMAL)
ESPEAK_RATE_LIMITS = (80, 450)  # espeakRATE_MINIMUM, espeakRATE_MAXIMUM
ESPEAK_PITCH_NORMAL = 50
# Measured (en-us+m3, autocorrelation median F0): +-25 pitch units move F0 by +4.1 / -3.5 semitones.
ESPEAK_SEMITONES_PER_PITCH_UNIT = 0.165

_TOKEN = re.compile(r"[\w']+")


class Espeak(HelperProcess):
    """libespeak-ng (ctypes) in a forking helper process (:mod:`probtalk.corpus.espeak_helper`)."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            ctypes.CDLL(name)
        except OSError:
            raise SpeechEngineError(
                "libespeak-ng is not installed; apt-get install espeak-ng libespeak-ng1 (see scripts/setup.sh)"
            ) from None
        # Run by path in isolated mode: the helper imports only the standard library, never probtalk.
        super().__init__([sys.executable, "-I", str(_HELPER), name], stdout=subprocess.PIPE)
        self._unknown: set[str] = set()
        assert self.proc.stdout is not None
        hello = self.proc.stdout.readline()
        if not hello:
            raise SpeechEngineError("espeak-ng failed to start; run `espeak-ng --version` to check it")
        self.sample_rate = int(json.loads(hello)["sr"])
        if self.sample_rate <= 0:
            raise SpeechEngineError("espeak-ng failed to start (no espeak-ng-data?); reinstall espeak-ng-data")

    def synth(
        self, text: str, voice: str, rate: float, pitch_st: float, pitch_range: float
    ) -> tuple[np.ndarray, int, Spans, WordSpans]:
        """Speak ``text``: float32 audio [N] at the engine rate, phone spans and word spans in samples."""
        request = {
            "voice": voice,
            "rate": int(np.clip(round(ESPEAK_RATE_NORMAL * rate), *ESPEAK_RATE_LIMITS)),
            "pitch": int(np.clip(round(ESPEAK_PITCH_NORMAL + pitch_st / ESPEAK_SEMITONES_PER_PITCH_UNIT), 0, 100)),
            "range": int(np.clip(round(50 * pitch_range), 0, 100)),
            "text": text,
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            try:
                self.proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
                self.proc.stdin.flush()
                head = self.proc.stdout.read(8)
                meta_len, pcm_len = struct.unpack("<ii", head) if len(head) == 8 else (-1, 0)
                if meta_len < 0:
                    raise SpeechEngineError(f"espeak-ng crashed on {text!r}; try simpler text")
                meta = json.loads(self.proc.stdout.read(meta_len))
                pcm = self.proc.stdout.read(pcm_len)
            except BrokenPipeError:
                raise SpeechEngineError("espeak-ng helper exited unexpectedly; run `espeak-ng --version`") from None
        if meta["error"] == "novoice":
            raise SpeechEngineError(f"espeak-ng has no voice {voice!r}; list them with: espeak-ng --voices=en")
        if meta["error"]:
            raise SpeechEngineError(f"espeak-ng failed on {text!r} ({meta['error']})")
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        events = [tuple(e) for e in meta["events"]]
        return audio, self.sample_rate, *self._timings(text, events, audio)

    def _timings(
        self, text: str, events: list[tuple[int, int, int, int, str]], audio: np.ndarray
    ) -> tuple[Spans, WordSpans]:
        n = audio.shape[0]
        onsets: list[tuple[int, tuple[str, ...]]] = []
        for etype, sample, _, _, name in events:
            if etype != EVENT_PHONEME:
                continue
            phones = espeak_to_arpabet(name)
            if phones is None:
                if name not in self._unknown:
                    self._unknown.add(name)
                    log.warning("espeak phoneme %r has no ARPAbet mapping; merged into its neighbour", name)
                continue
            if phones:
                onsets.append((min(sample, n), phones))
        spans = [(s, onsets[i + 1][0] if i + 1 < len(onsets) else n, p) for i, (s, p) in enumerate(onsets)]
        spans = [sp for sp in spans if sp[1] > sp[0]]
        spans = move_closures(spans, audio, self.sample_rate)
        words: WordSpans = []
        starts = [(sample, pos, length) for etype, sample, pos, length, _ in events if etype == EVENT_WORD]
        for j, (sample, pos, length) in enumerate(starts):
            limit = starts[j + 1][0] if j + 1 < len(starts) else n
            # A word ends where its last spoken phone ends (pauses after it are not part of it).
            own = [(s, e) for s, e, p in spans if sample <= s < limit and p != (SIL,)]
            start, end = (own[0][0], own[-1][1]) if own else (sample, limit)
            # espeak's word length stops at an apostrophe ("can" of "can't"): take the whole token.
            token = _TOKEN.match(text, max(pos - 1, 0))
            word = token.group(0) if token else text[max(pos - 1, 0) : max(pos - 1, 0) + length]
            words.append((start, min(end, limit), word))
        return spans, words


# espeak emits a voiceless stop's event at its burst; the silent closure before it is synthesised
# as the tail of the previous phone. Acoustically (and for the lips: p/b/m close the mouth) the
# stop starts at the closure, so its onset is moved back over the silence, as measured in the audio.
CLOSURE_STOPS = frozenset({"P", "T", "K", "CH"})
CLOSURE_MAX_S = 0.1
CLOSURE_HOP_S = 0.005
CLOSURE_LEVEL = 0.01  # silence: frame RMS below this fraction of the loudest frame
MIN_PREVIOUS_S = 0.02  # the phone before keeps at least this much


def move_closures(spans: Spans, audio: np.ndarray, sr: int) -> Spans:
    """Move the onsets of voiceless stops back over the silent closure that precedes them."""
    hop = max(1, int(sr * CLOSURE_HOP_S))
    if audio.shape[0] < hop or not spans:
        return spans
    frames = audio[: audio.shape[0] // hop * hop].reshape(-1, hop)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    quiet = rms < CLOSURE_LEVEL * float(rms.max())
    out = list(spans)
    for i in range(1, len(out)):
        s, e, p = out[i]
        ps, _, pp = out[i - 1]
        if p[0] not in CLOSURE_STOPS or pp == (SIL,):
            continue
        limit = max(ps + int(MIN_PREVIOUS_S * sr), s - int(CLOSURE_MAX_S * sr))
        f = s // hop
        while f > 0 and (f - 1) * hop >= limit and quiet[f - 1]:
            f -= 1
        onset = min(s, max(f * hop, limit))
        if onset < s:
            out[i - 1] = (ps, onset, pp)
            out[i] = (onset, e, p)
    return out
