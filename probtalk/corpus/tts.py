"""Text to speech with emotional prosody and exact phone timings.

Two engines, each run by one long-lived helper process per Python process
(started on first use, restarted if it dies), so synthesis runs far faster
than real time:

* **espeak-ng** through libespeak-ng's C API (ctypes): synchronous mode with
  ``espeakINITIALIZE_PHONEME_EVENTS``; every phoneme event carries its sample
  position, which gives the phone onsets. The helper forks per utterance so
  that output never depends on what was spoken before (see _ESPEAK_HELPER).
* **festival** (``festival --pipe``): the kal/ked diphone voices and the CMU
  slt HTS voice; ``utt.save.segs`` gives each phone's exact end time.

Everything random (prosody jitter, lead/trail silence, noise floor) comes from
the caller's ``rng``, so the same arguments and rng state give identical audio.

Emotion shapes prosody the way people do (see :data:`EMOTION_PROSODY`),
scaled by intensity, with a little random jitter per utterance. Output is
16 kHz mono float32 with phones tiling ``[0, duration]`` (SIL at both ends).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import json
import logging
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, replace

import numpy as np

from probtalk.audio import resample
from probtalk.corpus.phones import (
    SIL,
    Phone,
    espeak_to_arpabet,
    expand_timed,
    festival_to_arpabet,
    normalize_phones,
)
from probtalk.corpus.voices import EMOTION_PROSODY, Prosody, Voice, emotion_prosody, intensity_scale
from probtalk.errors import ProbtalkError
from probtalk.layout import AUDIO_SAMPLE_RATE

log = logging.getLogger(__name__)

# Prosody lives with the voices; re-exported here because synthesis is where it is applied.
__all__ = [
    "EMOTION_PROSODY",
    "Prosody",
    "SpeechEngineError",
    "Utterance",
    "emotion_prosody",
    "intensity_scale",
    "synthesize",
]


class SpeechEngineError(ProbtalkError):
    """A speech synthesiser is missing (system package) or failed on an input."""


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
        audio, sr, spans, words = _espeak().synth(text, voice.voice, rate, pitch_st, prange)
    else:
        audio, sr, spans, words = _festival().synth(text, voice.voice, rate, pitch_st, prange)
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
    return not (voice.engine == "festival" and "hts" in voice.voice)


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


# --- espeak-ng (libespeak-ng via ctypes) ----------------------------------------

_EV_WORD, _EV_PHONEME = 1, 7  # espeak_EVENT_TYPE
ESPEAK_RATE_NORMAL = 175  # words per minute (espeakRATE_NORMAL)
ESPEAK_RATE_LIMITS = (80, 450)  # espeakRATE_MINIMUM, espeakRATE_MAXIMUM
ESPEAK_PITCH_NORMAL = 50
# Measured (en-us+m3, autocorrelation median F0): +-25 pitch units move F0 by +4.1 / -3.5 semitones.
ESPEAK_SEMITONES_PER_PITCH_UNIT = 0.165

Spans = list[tuple[int, int, tuple[str, ...]]]  # (start sample, end sample, ARPAbet phones)
WordSpans = list[tuple[int, int, str]]

# libespeak-ng keeps state between utterances that is never reset (the pitch-flutter phase,
# the echo buffer, rand() for breath noise), so the same call gives slightly different audio
# each time. For bit-identical output, a small helper process initialises espeak once and
# forks a child per utterance: every utterance starts from the same pristine state. The helper
# needs only the standard library (it starts in ~20 ms) and speaks this line protocol:
#   start:    helper -> {"sr": int} + newline
#   request:  parent -> {"voice", "rate", "pitch", "range", "text"} + newline (JSON)
#   response: helper -> int32 meta_len, int32 pcm_len, meta JSON, int16 PCM (meta_len < 0: crash)
_ESPEAK_HELPER = r"""
import ctypes, json, os, struct, sys
lib = ctypes.CDLL(sys.argv[1])
class Ev(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("uid", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]
CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(Ev))
lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                             ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
# AUDIO_OUTPUT_SYNCHRONOUS, espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT
sr = lib.espeak_Initialize(2, 0, None, 0x0001 | 0x8000)
pcm, events = [], []
def on_synth(wav, num, ev):
    i = 0
    while ev[i].type != 0:
        e = ev[i]
        if e.type in (1, 7):  # espeakEVENT_WORD, espeakEVENT_PHONEME
            name = bytes(e.id).split(b"\0")[0].decode("utf-8", "replace") if e.type == 7 else ""
            events.append((e.type, e.sample, e.text_position, e.length, name))
        i += 1
    if wav and num > 0:
        pcm.append(ctypes.string_at(wav, 2 * num))
    return 0
callback = CB(on_synth)
lib.espeak_SetSynthCallback(callback)
out = sys.stdout.buffer
out.write(json.dumps({"sr": sr}).encode() + b"\n"); out.flush()
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            meta = {"error": None, "events": events}
            if lib.espeak_SetVoiceByName(req["voice"].encode()) != 0:
                meta["error"] = "novoice"
            else:
                for param, value in ((1, req["rate"]), (3, req["pitch"]), (4, req["range"])):
                    lib.espeak_SetParameter(param, value, 0)
                data = req["text"].encode()
                err = lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 1, None, None)  # POS_CHARACTER, CHARS_UTF8
                if err != 0:
                    meta["error"] = "synth %d" % err
            blob, audio = json.dumps(meta).encode(), b"".join(pcm)
            out.write(struct.pack("<ii", len(blob), len(audio)) + blob + audio)
            out.flush()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        out.write(struct.pack("<ii", -1, 0)); out.flush()
"""


class _Espeak:
    """libespeak-ng (ctypes) in a forking helper process; one per Python process, calls serialised."""

    def __init__(self) -> None:
        import sys

        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            ctypes.CDLL(name)
        except OSError:
            raise SpeechEngineError(
                "libespeak-ng is not installed; apt-get install espeak-ng libespeak-ng1 (see scripts/setup.sh)"
            ) from None
        self.owner_pid = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _ESPEAK_HELPER, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.lock = threading.Lock()
        self._unknown: set[str] = set()
        assert self.proc.stdout is not None
        hello = self.proc.stdout.readline()
        if not hello:
            raise SpeechEngineError("espeak-ng failed to start; run `espeak-ng --version` to check it")
        self.sample_rate = int(json.loads(hello)["sr"])
        if self.sample_rate <= 0:
            raise SpeechEngineError("espeak-ng failed to start (no espeak-ng-data?); reinstall espeak-ng-data")
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the helper process (only in the process that started it)."""
        if os.getpid() == self.owner_pid and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()

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
            if etype != _EV_PHONEME:
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
        spans = _move_closures(spans, audio, self.sample_rate)
        words: WordSpans = []
        starts = [(sample, pos, length) for etype, sample, pos, length, _ in events if etype == _EV_WORD]
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


def _move_closures(spans: Spans, audio: np.ndarray, sr: int) -> Spans:
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


_TOKEN = re.compile(r"[\w']+")
_ESPEAK: dict[int, _Espeak] = {}


def _espeak() -> _Espeak:
    pid = os.getpid()
    if pid not in _ESPEAK or _ESPEAK[pid].proc.poll() is not None:
        _ESPEAK.clear()
        _ESPEAK[pid] = _Espeak()
    return _ESPEAK[pid]


# --- festival (one `festival --pipe` helper process per Python process) --------

_DONE = "@@probtalk-done@@"
_FESTIVAL_PRELUDE = """
(define (probtalk_scale_f0 fm fs)
  (if (assoc 'target_f0_mean int_lr_params)
    (set! int_lr_params
      (list (list 'target_f0_mean (* fm (cadr (assoc 'target_f0_mean int_lr_params))))
            (list 'target_f0_std (* fs (cadr (assoc 'target_f0_std int_lr_params))))
            (list 'model_f0_mean (cadr (assoc 'model_f0_mean int_lr_params)))
            (list 'model_f0_std (cadr (assoc 'model_f0_std int_lr_params)))))))
"""


class _Festival:
    """A ``festival --pipe`` process fed scheme commands; completion is signalled on stderr."""

    def __init__(self) -> None:
        exe = shutil.which("festival")
        if exe is None:
            raise SpeechEngineError(
                "festival is not installed; apt-get install festival festvox-us-slt-hts festvox-kallpc16k "
                "festvox-kdlpc16k (see scripts/setup.sh)"
            )
        self.tmp = tempfile.mkdtemp(prefix="probtalk-festival-")
        self.owner_pid = os.getpid()
        self.proc = subprocess.Popen(
            [exe, "--pipe"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lock = threading.Lock()
        self._run(_FESTIVAL_PRELUDE)
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the helper process and remove its scratch folder (only in the process that started it)."""
        if os.getpid() != self.owner_pid:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _run(self, commands: str) -> None:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        try:
            self.proc.stdin.write(f'{commands}\n(format stderr "{_DONE}\\n")\n')
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise SpeechEngineError("festival exited unexpectedly; run `festival --version` to check it") from None
        errors = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                self.proc.kill()  # reap it so that the next call starts a fresh one
                self.proc.wait()
                raise SpeechEngineError(f"festival exited unexpectedly ({' '.join(errors) or 'no message'})")
            if line.strip() == _DONE:
                break
            if "error" in line.lower():
                errors.append(line.strip())
        if errors:
            raise SpeechEngineError(f"festival failed: {errors[0]}")

    def synth(
        self, text: str, voice: str, rate: float, pitch_st: float, pitch_range: float
    ) -> tuple[np.ndarray, int, Spans, WordSpans]:
        """Speak ``text``: float32 audio [N] at the voice's rate, phone and word spans in samples."""
        import soundfile as sf

        safe = " ".join(text.replace("\\", " ").replace('"', " ").split())
        wav, segs, wrds = (os.path.join(self.tmp, f"u.{ext}") for ext in ("wav", "segs", "words"))
        if "hts" in voice:
            # HTS engine: -r speed factor. festival 2.5 ignores its pitch (-fm) option and has no
            # pitch-range control; synthesize() shifts this voice's pitch by resampling instead.
            setup = (
                f"({voice})(set! hts_engine_params (append hts_engine_params "
                f'(list (list "-r" {rate:.4f}))))'
                f"(Parameter.set 'Duration_Stretch 1.0)"
            )
        else:
            setup = (
                f"({voice})(probtalk_scale_f0 {2.0 ** (pitch_st / 12.0):.5f} {pitch_range:.4f})"
                f"(Parameter.set 'Duration_Stretch {1.0 / rate:.4f})"
            )
        cmd = (
            f'{setup}(set! probtalk_utt (Utterance Text "{safe}"))(utt.synth probtalk_utt)'
            f'(utt.save.wave probtalk_utt "{wav}" \'riff)(utt.save.segs probtalk_utt "{segs}")'
            f'(utt.save.words probtalk_utt "{wrds}")'
        )
        with self.lock:
            for stale in (wav, segs, wrds):  # never read a previous utterance's files
                with contextlib.suppress(FileNotFoundError):
                    os.remove(stale)
            self._run(cmd)
            if not os.path.exists(wav):
                raise SpeechEngineError(f"festival produced no audio for {text!r}; give a sentence with words")
            audio, sr = sf.read(wav, dtype="float32", always_2d=False)
            seg_rows, word_rows = _read_label_file(segs), _read_label_file(wrds)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
        spans: Spans = []
        t0 = 0
        for end_s, name in seg_rows:
            end = min(int(round(end_s * sr)), audio.shape[0])
            phones = festival_to_arpabet(name)
            if phones is None:
                log.warning("festival phone %r has no ARPAbet mapping; read as silence", name)
                phones = (SIL,)
            if end > t0:
                spans.append((t0, end, phones))
                t0 = end
        words: WordSpans = []
        for end_s, word in word_rows:
            end = int(round(end_s * sr))
            if word.startswith("'") and words:  # festival splits "Anna's" into "Anna" + "'s" (often end 0)
                words[-1] = (words[-1][0], max(end, words[-1][1]), words[-1][2] + word)
                continue
            # A word starts at the first non-silent phone that starts at or after the previous word's end.
            prev = words[-1][1] if words else 0
            start = next((s for s, _, p in spans if s >= prev and p != (SIL,)), prev)
            words.append((min(start, end), end, word))
        return audio.astype(np.float32), int(sr), spans, words


def _read_label_file(path: str) -> list[tuple[float, str]]:
    """Rows (end_s, label) of a festival/xwaves label file (header ends at '#')."""
    rows, body = [], False
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not body:
                body = line.strip() == "#"
                continue
            parts = line.split()
            if len(parts) >= 3:
                rows.append((float(parts[0]), parts[2]))
    return rows


_FESTIVAL: dict[int, _Festival] = {}


def _festival() -> _Festival:
    pid = os.getpid()
    if pid not in _FESTIVAL or _FESTIVAL[pid].proc.poll() is not None:
        _FESTIVAL.clear()  # a forked child must not share its parent's pipe
        _FESTIVAL[pid] = _Festival()
    return _FESTIVAL[pid]
