"""``animate()`` and ``stream()`` over any backend: the part of a model that is not the network.

:class:`RuntimeModel` turns options into style numbers, runs the windowed
engine or a :class:`~probtalk.runtime.stream.Stream`, and builds the
Animations with their provenance. :class:`probtalk.runtime.onnx_model.OnnxModel`
(onnxruntime, no torch) and :class:`probtalk.api.Model` (torch) both use it,
so the same seed gives the same take whichever runs it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.animation import Animation
from probtalk.audio import audio_sha256, load_audio
from probtalk.errors import AudioError, InputError
from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.runtime.backend import Backend, StyleInputs
from probtalk.runtime.engine import sample_takes
from probtalk.runtime.stream import Stream, StreamOptions
from probtalk.vocabulary import StyleNames

EmotionSpec = str | dict[str, float]


class RuntimeModel:
    """Mixin: subclasses set ``backend``, ``names`` (a :class:`StyleNames`), ``name`` and ``rig_id``."""

    backend: Backend
    names: StyleNames
    name: str
    rig_id: str | None

    @property
    def fps(self) -> float:
        """Motion frames per second."""
        return float(self.backend.fps)

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(self.names.speakers)

    @property
    def emotions(self) -> tuple[str, ...]:
        return tuple(self.names.emotions)

    def style_inputs(self, emotion: EmotionSpec, intensity: float | str, speaker: str | None) -> StyleInputs:
        """Resolve style names to numbers (raises StyleError for unknown names or out-of-range values)."""
        spk, weights, level = self.names.resolve(emotion, intensity, speaker)
        return StyleInputs(spk, tuple(weights), level)

    def run_animate(self, audio: Any, sample_rate: int | None, opts: Any) -> list[Animation]:
        """Animate with validated options ``opts`` (an :class:`probtalk.api.AnimateOptions`)."""
        style = self.style_inputs(opts.emotion, opts.intensity, opts.speaker)
        wav = load_audio(audio, sample_rate)
        seed = opts.seed if opts.seed is not None else secrets.randbits(31)
        motions = sample_takes(
            self.backend, wav, style, num_samples=opts.num_samples,
            temperature=None if opts.deterministic else float(opts.temperature), top_k=opts.top_k, seed=seed,
            window_seconds=opts.window_seconds, overlap_seconds=opts.overlap_seconds,
        )
        meta = self.take_meta(opts, style, seed)
        if not isinstance(audio, np.ndarray):
            meta["audio"] = Path(audio).name
            meta["audio_sha256"] = audio_sha256(audio)
        return [Animation.from_motion(m, fps=self.fps, meta={**meta, "take": k}) for k, m in enumerate(motions)]

    def run_stream(self, sample_rate: int, opts: Any, stream_options: StreamOptions) -> Stream:
        """A new :class:`Stream` with validated options."""
        if not isinstance(sample_rate, int | np.integer) or int(sample_rate) != AUDIO_SAMPLE_RATE:
            raise AudioError(f"streams take {AUDIO_SAMPLE_RATE} Hz audio, got sample_rate={sample_rate!r}; resample to 16 kHz first")
        if not isinstance(stream_options, StreamOptions):
            raise InputError("stream options must be a probtalk.runtime.StreamOptions")
        style = self.style_inputs(opts.emotion, opts.intensity, opts.speaker)
        seed = opts.seed if opts.seed is not None else secrets.randbits(31)
        meta = {**self.take_meta(opts, style, seed), "stream": {
            "lookahead_seconds": stream_options.lookahead_seconds, "context_seconds": stream_options.context_seconds,
        }}
        return Stream(
            self.backend, style, num_samples=opts.num_samples,
            temperature=None if opts.deterministic else float(opts.temperature), top_k=opts.top_k, seed=seed,
            options=stream_options, meta=meta,
        )

    def take_meta(self, opts: Any, style: StyleInputs, seed: int) -> dict[str, Any]:
        """Provenance shared by every take of one call."""
        return {
            "engine": "model",
            "model": self.name,
            "rig": self.rig_id,
            "emotion": {name: round(w, 4) for name, w in zip(self.emotions, style.emotion, strict=True) if w > 0},
            "intensity": style.intensity,
            "speaker": opts.speaker,
            "seed": seed,
            "temperature": None if opts.deterministic else float(opts.temperature),
            "top_k": opts.top_k,
            "deterministic": opts.deterministic,
        }

