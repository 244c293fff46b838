"""Streaming animation: audio chunks in, the frames that are ready out, with a bounded look-ahead.

Each step encodes one window of audio: a left context (frames already sent,
so the new ones join them seamlessly), the new frames, and ``lookahead``
frames of audio after them. Codes are chosen once, when their frames are first
sent, and are kept as context for later windows; the counter-based sampling
rule makes a code depend on (seed, take, position) only, and a take's noise
(models with a noise input) on (seed, take, frame) only, so streamed takes
follow the offline ones. Only ``context + lookahead`` seconds of audio and
codes are kept, so memory stays flat for any length of input.

Lip seal: with ``seal_lips`` (the default) and a model that ships a bilabial
detector, each step runs the detector on its window's audio and seals the new
frames where it hears p, b or m, as ``animate()`` does offline
(:mod:`probtalk.lipseal`). The detector normalises over the window it is given
(left context plus look-ahead) where offline it normalises over the clip, so
a few frames near the threshold can differ. It looks
:attr:`~probtalk.framenet.FrameNetConfig.lookahead` frames ahead and the seal's fade one
more, so a sealing stream's look-ahead is at least that (7 frames, 0.28 s at 25 fps).

Latency: a frame is sent as soon as the audio ``lookahead`` beyond its end
has arrived (the algorithmic latency), plus the compute time of one step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.animation import Animation
from probtalk.errors import AudioError
from probtalk.layout import AUDIO_SAMPLE_RATE, MOTION_DIM
from probtalk.life import Life, LifeFrames, live_animation
from probtalk.lipseal import RAMP_FRAMES
from probtalk.options import DEFAULT_VARIATION, check_finite
from probtalk.runtime.backend import Backend, StyleInputs, latent_count
from probtalk.runtime.engine import encoder_inputs, frames_for, sample_codes
from probtalk.runtime.threads import numpy_blas_one_thread

if TYPE_CHECKING:
    from probtalk.bilabial import BilabialNet
    from probtalk.lipseal import LipSeal

logger = logging.getLogger(__name__)

MIN_STREAM_SECONDS = 0.2
MAX_WINDOW_SECONDS = 60.0  # longer look-ahead or context is what animate() is for
# Time constant (frames) of the offset fade at joins: short enough that a step's frames follow its
# window's prediction after ~3 frames (120 ms at 25 fps), long enough to remove the join step.
JOIN_FRAMES = 2.0


@dataclass(frozen=True)
class StreamOptions:
    """Latency and memory of a stream (validated on construction).

    Attributes:
        lookahead_seconds: audio needed after a frame before it is sent (the algorithmic latency).
        context_seconds: already-sent audio kept as left context for the next window (memory is bounded by it).
        max_step_seconds: the longest stretch of new frames computed in one step (a big chunk is cut up).
    """

    lookahead_seconds: float = 0.24
    context_seconds: float = 2.0
    max_step_seconds: float = 2.0

    def __post_init__(self) -> None:
        check_finite("lookahead_seconds", self.lookahead_seconds, low=0.0, high=MAX_WINDOW_SECONDS)
        check_finite("context_seconds", self.context_seconds, low=0.0, high=MAX_WINDOW_SECONDS)
        check_finite("max_step_seconds", self.max_step_seconds, low=0.04, high=MAX_WINDOW_SECONDS)


class Stream:
    """One live stream (its own audio, codes and position; run many side by side).

    Build it with ``model.stream(...)``; then ``feed(chunk)`` as audio arrives
    and ``flush()`` at the end. Both return one :class:`Animation` per take
    holding only the new frames (possibly none); ``meta["start_frame"]`` says
    where they begin.
    """

    def __init__(
        self,
        backend: Backend,
        style: StyleInputs,
        *,
        num_samples: int,
        temperature: float | None,
        top_k: int | None,
        seed: int,
        options: StreamOptions,
        meta: dict[str, Any],
        life: Life | None = None,
        sealer: tuple[LipSeal, BilabialNet] | None = None,
        performance: np.ndarray | None = None,
        variation: float = DEFAULT_VARIATION,
    ) -> None:
        self.backend = backend
        self.performance = performance
        self.variation = variation
        self.style = style
        self.num_samples = num_samples
        self.temperature = temperature
        self.top_k = top_k
        self.seed = seed
        self.options = options
        self.meta = meta
        self.fps = backend.fps
        self._spf = AUDIO_SAMPLE_RATE / self.fps
        self._fpc = backend.frames_per_code
        # The life stage (blinks, gaze, head motion) runs on each step's frames; its head net looks a
        # few frames ahead, so the stream's look-ahead is at least that.
        self.life = life
        self._lookahead = max(int(math.ceil(options.lookahead_seconds * self.fps - 1e-9)), life.lookahead if life else 0)
        # The lip seal (the rig's seal, the detector) and the look-ahead its marks need: a new frame's
        # fade reads the mark RAMP_FRAMES after it, and that mark the detector's look-ahead after that.
        self._sealer = sealer
        if sealer is not None:
            self._lookahead = max(self._lookahead, RAMP_FRAMES + sealer[1].config.lookahead)
        self._context = int(math.ceil(options.context_seconds * self.fps - 1e-9))
        self._max_step = max(1, int(round(options.max_step_seconds * self.fps)))
        self._audio = np.zeros(0, dtype=np.float32)  # samples [audio_start, received)
        self._audio_start = 0
        self._received = 0
        self._emitted = 0  # frames sent so far
        self._codes = np.zeros((num_samples, 0), dtype=np.int64)  # committed codes [codes_start, ...)
        self._codes_start = 0
        self._last: np.ndarray | None = None  # the last frame sent per take [num_samples, 53]
        self._closed = False

    # ------------------------------------------------------------------ public
    @property
    def lookahead_seconds(self) -> float:
        """The algorithmic latency: audio needed after a frame's end before it is sent."""
        return self._lookahead / self.fps

    @property
    def frames_sent(self) -> int:
        """Frames returned so far."""
        return self._emitted

    def feed(self, chunk: np.ndarray, sample_rate: int | None = None) -> list[Animation]:
        """Add audio and return the frames now ready (one Animation per take, possibly 0 frames).

        Args:
            chunk: mono speech [N] (or [N, 1]), float32/float64 in [-1, 1] or int16 PCM.
            sample_rate: the chunk's rate, if given it must be the stream's (16000).

        Raises:
            AudioError: wrong type, dtype, shape, rate, or NaN/infinite samples; feeding a flushed stream.
        """
        if self._closed:
            raise AudioError("this stream was flushed; start a new one with model.stream()")
        samples = _check_chunk(chunk, sample_rate)
        self._audio = np.concatenate([self._audio, samples])
        self._received += samples.size
        with numpy_blas_one_thread():
            return self._run(final=False)

    def flush(self) -> list[Animation]:
        """End of audio: return every remaining frame (the stream cannot be fed afterwards).

        Raises:
            AudioError: less than 0.2 s of audio was fed in all.
        """
        if self._closed:
            raise AudioError("this stream was already flushed; start a new one with model.stream()")
        if self._received < MIN_STREAM_SECONDS * AUDIO_SAMPLE_RATE:
            raise AudioError(
                f"the stream holds {self._received / AUDIO_SAMPLE_RATE:.3f} s of audio; feed at least {MIN_STREAM_SECONDS} s"
            )
        with numpy_blas_one_thread():
            out = self._run(final=True)
        self._closed = True
        self._audio = np.zeros(0, dtype=np.float32)
        return out

    # ---------------------------------------------------------------- internal
    def _run(self, final: bool) -> list[Animation]:
        if final:
            available = total = frames_for(self._received, self.fps)
            ready = total
        else:
            available = int(self._received // self._spf)
            total = None
            ready = available - self._lookahead
        parts: list[np.ndarray] = []
        lives: list[list[LifeFrames]] = []
        start = self._emitted
        while ready > self._emitted:
            stop = min(ready, self._emitted + self._max_step)
            if self.life is not None:
                lives.append(self.life.step(self._audio, self._audio_start, stop, total))
            parts.append(self._step(stop, available, total))
        motion = np.concatenate(parts, axis=1) if parts else np.zeros((self.num_samples, 0, MOTION_DIM), dtype=np.float32)
        out = []
        for k in range(self.num_samples):
            meta = {**self.meta, "take": k, "start_frame": start}
            if self.life is None:
                out.append(Animation.from_motion(motion[k], fps=self.fps, meta=meta))
                continue
            frames = LifeFrames(*(np.concatenate([getattr(step[k], a) for step in lives] or [empty])
                                  for a, empty in (("blink", np.zeros(0, np.float32)), ("neck", np.zeros((0, 3), np.float32)),
                                                   ("eyes", np.zeros((0, 6), np.float32)))))
            out.append(live_animation(motion[k], frames, self.fps, meta))
        return out

    def _step(self, stop: int, available: int, total: int | None) -> np.ndarray:
        """Send frames [emitted, stop): encode the window around them, commit their codes, decode."""
        fpc = self._fpc
        w0 = max(0, self._emitted - self._context) // fpc * fpc  # latent-aligned, so positions are global
        w1 = min(available, stop + self._lookahead)
        s0 = int(round(w0 * self._spf))
        s1 = self._received if total is not None and w1 == total else int(round(w1 * self._spf))
        audio = self._audio[s0 - self._audio_start : s1 - self._audio_start]
        # A take's noise depends on (seed, take, absolute frame) only, so every step sees the same noise
        # for the frames it shares with earlier steps. Streams take no transcript.
        extra = encoder_inputs(self.backend, w0, w1 - w0, num_samples=self.num_samples,
                               temperature=self.temperature, seed=self.seed, performance=self.performance,
                               variation=self.variation)
        _, distances = self.backend.encode(audio, w1 - w0, self.style, extra)
        p0 = w0 // fpc
        codes = sample_codes(
            self.backend, distances, num_samples=self.num_samples, temperature=self.temperature,
            top_k=self.top_k, seed=self.seed, first_position=p0,
        )
        # Codes already sent stay as they were; codes of the new frames are committed now.
        committed_stop = self._codes_start + self._codes.shape[1]
        keep = committed_stop - p0
        if keep > 0:
            codes[:, :keep] = self._codes[:, p0 - self._codes_start :]
        new_stop = latent_count(stop, fpc)
        if new_stop > committed_stop:
            self._codes = np.concatenate([self._codes, codes[:, committed_stop - p0 : new_stop - p0]], axis=1)
        decoded = self.backend.decode(codes, w1 - w0)
        motion = decoded[:, self._emitted - w0 : stop - w0]
        if self._last is not None and self._emitted - 1 >= w0:
            # This window's idea of the last frame sent differs a little from what was sent: carry that
            # offset into the new frames and let it fade, so the join has no step (see JOIN_FRAMES).
            offset = self._last - decoded[:, self._emitted - 1 - w0]
            fade = np.exp(-np.arange(1, motion.shape[1] + 1, dtype=np.float32) / JOIN_FRAMES)
            motion = motion + offset[:, None, :] * fade[None, :, None]
        self._last = motion[:, -1].copy()  # before the seal: the next window's join follows the model
        if self._sealer is not None:
            motion = self._seal(motion, decoded, audio, w0, w1, stop)
        self._emitted = stop
        self._trim()
        return motion

    def _seal(self, motion: np.ndarray, decoded: np.ndarray, audio: np.ndarray, w0: int, w1: int, stop: int) -> np.ndarray:
        """The new frames [emitted, stop) sealed where the detector hears p/b/m in the window [w0, w1).

        The seal of a frame depends on the marks up to RAMP_FRAMES either side of it (and, on a fade frame,
        on its sealed neighbour's motion): the segment sealed reaches that far on both sides, with the
        window's own decoding of the frames around the new ones."""
        seal, net = self._sealer  # type: ignore[misc]
        marks = net.frames(audio, self.fps, w1 - w0)
        a = max(w0, self._emitted - RAMP_FRAMES)
        b = min(w1, stop + RAMP_FRAMES)
        lo, hi = self._emitted - a, stop - a
        out = np.empty_like(motion)
        for k in range(motion.shape[0]):
            segment = decoded[k, a - w0 : b - w0].copy()
            segment[lo:hi] = motion[k]
            out[k] = seal.seal_frames(segment, marks[a - w0 : b - w0])[0][lo:hi]
        return out

    def _trim(self) -> None:
        """Forget audio and codes older than the next window's left context (at least one frame: the
        life stage's prosody window reaches 64 ms back)."""
        w0 = max(0, self._emitted - max(self._context, 1)) // self._fpc * self._fpc
        s0 = int(round(w0 * self._spf))
        if s0 > self._audio_start:
            self._audio = self._audio[s0 - self._audio_start :].copy()
            self._audio_start = s0
        p0 = w0 // self._fpc
        if p0 > self._codes_start:
            self._codes = self._codes[:, p0 - self._codes_start :].copy()
            self._codes_start = p0


def _check_chunk(chunk: Any, sample_rate: int | None) -> np.ndarray:
    """A validated float32 [N] chunk from float or int16 PCM input."""
    if sample_rate is not None and int(sample_rate) != AUDIO_SAMPLE_RATE:
        raise AudioError(
            f"chunk sample rate {sample_rate} Hz differs from the stream's {AUDIO_SAMPLE_RATE} Hz; resample to 16 kHz first"
        )
    if not isinstance(chunk, np.ndarray):
        raise AudioError(f"a chunk must be a numpy array, got {type(chunk).__name__}; pass np.asarray(samples)")
    if chunk.ndim == 2 and chunk.shape[1] == 1:
        chunk = chunk[:, 0]
    if chunk.ndim != 1:
        raise AudioError(f"a chunk must be mono samples [N] (or [N, 1]), got shape {list(chunk.shape)}; mix down first")
    if chunk.dtype == np.int16:
        return chunk.astype(np.float32) / 32768.0
    if chunk.dtype not in (np.float32, np.float64):
        raise AudioError(f"a chunk must be float32/float64 in [-1, 1] or int16 PCM, got dtype {chunk.dtype}")
    if not np.all(np.isfinite(chunk)):
        raise AudioError("a chunk holds NaN or infinite samples; check the audio source")
    return chunk.astype(np.float32, copy=False)
