"""``animate()`` and ``stream()`` over any backend: the part of a model that is not the network.

:class:`RuntimeModel` turns options into style numbers, runs the windowed
engine or a :class:`~probtalk.runtime.stream.Stream`, and builds the
Animations with their provenance. :class:`probtalk.runtime.onnx_model.OnnxModel`
(onnxruntime, no torch) and :class:`probtalk.api.Model` (torch) both use it,
so the same seed gives the same take whichever runs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.animation import Animation
from probtalk.audio import audio_sha256, load_audio
from probtalk.errors import AudioError, OptionError, OptionTypeError
from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.life import HeadNet, Life, LifeSettings, add_life, life_takes
from probtalk.options import DEFAULT_VARIATION, AnimateOptions
from probtalk.runtime.backend import Backend, StyleInputs
from probtalk.runtime.engine import frames_for, sample_takes_with_reference
from probtalk.runtime.stream import Stream, StreamOptions
from probtalk.runtime.threads import numpy_blas_one_thread
from probtalk.vocabulary import StyleNames

if TYPE_CHECKING:
    from probtalk.bilabial import BilabialNet
    from probtalk.corpus.ear import Listening
    from probtalk.corpus.phones import Phone
    from probtalk.lipseal import LipSeal
    from probtalk.vowels import VowelNet

logger = logging.getLogger(__name__)


class RuntimeModel:
    """Mixin: subclasses set ``backend``, ``names`` (a :class:`StyleNames`), ``name``, ``rig_id``,
    ``head_net`` (the learned head motion net, None when the model ships none), ``bilabial_net``
    (the lip seal's p/b/m detector for audio without a transcript, None when the model ships none) and
    ``vowel_net`` (the seal's open-vowel detector, :mod:`probtalk.vowels`, None when the model ships none)."""

    backend: Backend
    names: StyleNames
    name: str
    rig_id: str | None
    head_net: HeadNet | None = None
    bilabial_net: BilabialNet | None = None
    vowel_net: VowelNet | None = None

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

    def input_names(self) -> list[str]:
        """What the model listens to: audio and style, plus a transcript and per-take noise if it takes them."""
        names = ["audio", "style"]
        if self.backend.phone_input:
            names.append("transcript phones (text=)")
        if self.backend.noise_dim:
            be = self.backend
            habits = [h if s == 1.0 else f"{h} x{s:g}" for h, s in zip(be.performance_habits, be.habit_spread, strict=True)]
            names.append(f"per-take noise ({be.noise_dim} channels"
                         + (f", {len(habits)} of them the take's performance: {', '.join(habits)}" if habits else "")
                         + (f"; knot memory {be.noise_memory:g}" if be.noise_memory else "") + ")")
        return names

    def style_inputs(self, emotion: Any, intensity: float | str, speaker: str | None) -> StyleInputs:
        """Resolve style names to numbers (raises StyleError for unknown names or out-of-range values)."""
        names = self.names
        return StyleInputs(names.speaker_index(speaker), tuple(names.emotion_weights(emotion)), names.intensity_value(intensity))

    def animate(
        self, audio: Any, sample_rate: float | None = None, options: AnimateOptions | None = None, **overrides: Any
    ) -> list[Animation]:
        """Animate speech: one :class:`Animation` per take (see :meth:`probtalk.api.Model.animate`).

        Args:
            audio: a speech file path, or samples [N] / [N, C] with ``sample_rate``.
            sample_rate: the samples' rate in Hz (arrays only).
            options: every animate option; default options if None.
            **overrides: options to change by name (``emotion=``, ``num_samples=``, ``seed=``, ...).

        Raises:
            AudioError, OptionError: unusable audio or options.
        """
        if isinstance(sample_rate, AnimateOptions) and options is None:  # animate(path, opts)
            sample_rate, options = None, sample_rate
        with numpy_blas_one_thread():
            return self.run_animate(audio, sample_rate, _options(options, overrides))

    def stream(
        self,
        sample_rate: int = AUDIO_SAMPLE_RATE,
        options: AnimateOptions | None = None,
        *,
        stream_options: StreamOptions | None = None,
        **overrides: Any,
    ) -> Stream:
        """Start a live stream: ``feed(chunk)`` returns the frames that are ready, ``flush()`` the rest.

        Args:
            sample_rate: the chunks' rate; must be 16000.
            options: animate options (emotion, intensity, speaker, takes, temperature, top_k, seed, deterministic).
            stream_options: look-ahead, context and step size (:class:`StreamOptions`).
            **overrides: animate options, or ``lookahead_seconds=`` / ``context_seconds=`` / ``max_step_seconds=``.

        Raises:
            AudioError: a sample rate other than 16000.
            OptionError: bad options.
        """
        names = set(StreamOptions.__dataclass_fields__)
        stream_changes = {k: overrides.pop(k) for k in list(overrides) if k in names}
        sopts = dataclasses.replace(stream_options or StreamOptions(), **stream_changes)
        return self.run_stream(sample_rate, _options(options, overrides), sopts)

    def run_animate(self, audio: Any, sample_rate: float | None, opts: AnimateOptions) -> list[Animation]:
        """Animate with validated options."""
        style = self.style_inputs(opts.emotion, opts.intensity, opts.speaker)
        wav = load_audio(audio, sample_rate)
        seed = opts.seed if opts.seed is not None else secrets.randbits(31)
        ear = "words" if opts.listen == "whisper" else opts.listen  # whisper's words join the word ear's marks
        sealable = opts.seal_lips and self.bilabial_net is not None and self.lip_seal() is not None
        listening, ears_joined = None, False
        try:
            text, recognised = opts.text, None
            if text is None and opts.listen == "whisper":
                listening = self.listen_ahead(wav, True) if sealable else None  # the word ear decodes meanwhile
                recognised = self.recognised_text(wav, opts.whisper_model)
                text = recognised or None
            phones, shown, vowels, text_meta = self.transcript(wav, text, "recognised" if recognised is not None else "given")
            if recognised is not None:
                text_meta = {**text_meta, "text_source": "recognised", "recognised_text": recognised}
            elif opts.text is not None:
                text_meta = {**text_meta, "text_source": "given"}
            if recognised and shown is not None and sealable:  # a recognised transcript can mishear a word:
                shown = shown | self.heard_bilabials(wav, shown.size, True)  # what the ears hear is sealed too
                ears_joined = True
            # Audio-only sealing shares the deterministic take's brief closures with sampled takes (see seal).
            shares = sealable and shown is None
            if shares and listening is None:
                listening = self.listen_ahead(wav, ear == "words")  # the seal's second ear decodes while the model runs
            motions, reference = sample_takes_with_reference(
                self.backend, wav, style, num_samples=opts.num_samples,
                temperature=opts.sampling_temperature, top_k=opts.top_k, seed=seed,
                window_seconds=opts.window_seconds, overlap_seconds=opts.overlap_seconds, phones=phones,
                performance=self.performance_vector(opts.performance), variation=self.variation(opts.variation),
                reference=shares,
            )
            motions, sealed, sealed_from, shared, opened = self.seal(motions, wav, shown, opts.seal_lips, reference,
                                                                     ear == "words", vowels)
        finally:
            if listening is not None:
                listening.close()
        meta = {**self.take_meta(opts, style, seed), **text_meta, "seal_lips": opts.seal_lips, "sealed_frames": sealed,
                "sealed_from": sealed_from, "listen": ear if sealed_from == "audio" or ears_joined else None,
                "shared_closure_frames": shared, "opened_vowel_frames": opened,
                "ear_warp": self.ear_warp(wav, motions, sealed_from, ear)}
        if isinstance(audio, str | os.PathLike):
            meta["audio"] = Path(audio).name
            meta["audio_sha256"] = audio_sha256(audio)
        life_seed = None if opts.sampling_temperature is None else seed  # deterministic takes: one life
        return add_life(
            motions, wav, fps=self.fps, seed=life_seed, settings=_settings(opts), emotion=meta["emotion"],
            intensity=style.intensity, head=self.head_net, metas=[{**meta, "take": k} for k in range(len(motions))],
        )

    def seal(self, motions: list[np.ndarray], wav: np.ndarray, aligned: np.ndarray | None,
             enabled: bool, reference: np.ndarray | None = None,
             words: bool = True, vowels: list[Phone] | None = None) -> tuple[list[np.ndarray], int, str | None, int, int]:
        """Close the lips on every p, b and m of each take (see :mod:`probtalk.lipseal`).

        The frames come from the transcript's alignment when there is one (``aligned``: bool [T], the
        shown frames inside an aligned p, b or m), else from the model's bilabial detector
        (:mod:`probtalk.bilabial`) and speech recognition (:meth:`heard_bilabials`); a model
        without a detector, or trained on another rig, leaves audio-only takes as they are. Without a
        transcript, sampled takes also keep the brief closures of their deterministic take
        (``reference``, sealed the same way; :meth:`LipSeal.shared_closures`): where the model is surest
        of a p, b or m, every take closes, and the takes differ elsewhere; not where the words heard
        put an open vowel's centre and the detector hears no p, b or m, nor where they put one on a
        closure that holds or touches a heard p, b or m.

        Then, at the frame nearest the centre of each open vowel of the transcript's alignment
        (``vowels``: its phones) or of the recognised words (``words``; :meth:`heard_phones`) and those
        the model's open-vowel detector hears (:func:`probtalk.vowels.heard_vowels`), and at
        the frame beside it where the midpoint is near and the bilabial detector is silent, unless that
        frame is sealed (:func:`probtalk.lipseal.open_vowel_centres`), the jaw opens until the lips part
        at least :data:`probtalk.lipseal.OPEN_MM` (:meth:`LipSeal.open_frames`). The detector's vowels,
        and without a transcript the frame beside a centre where the detector is not silent, open only
        where a take's lips are not shut and yield no shared closure (:func:`probtalk.lipseal.seal_takes`).

        Returns:
            (the takes, frames sealed fully in each from the transcript or detector, "transcript" /
            "audio" / None for what said where, frames sealed as the deterministic take's closures,
            open-vowel centres held open).
        """
        from probtalk.bilabial import EDGE_MIN_P, unheard_frames
        from probtalk.lipseal import seal_takes

        seal = self.lip_seal() if enabled and motions else None
        if seal is None:
            return motions, 0, None, 0, 0
        detected: list[Phone] = []  # the open-vowel detector's, audio only
        if aligned is not None:
            source, marked = "transcript", aligned
        elif self.bilabial_net is not None:
            source, marked = "audio", self.heard_bilabials(wav, motions[0].shape[0], words)
            vowels = self.heard_phones(wav, motions[0].shape[0]) if words else None
            if self.vowel_net is not None:
                from probtalk.vowels import heard_vowels

                detected = heard_vowels(self.vowel_net, wav, self.fps, motions[0].shape[0])
        else:
            return motions, 0, None, 0, 0
        frames = motions[0].shape[0]
        p = unheard = None
        if source == "audio":
            p = self._heard(wav, frames, words)[3]
            unheard = unheard_frames(p, self.bilabial_net.threshold)
        elif self.bilabial_net is not None:
            p = self.detector_probabilities(wav, frames)
        silent = unheard_frames(p, EDGE_MIN_P) if p is not None else None  # where a vowel's centre may spread
        done = seal_takes(seal, motions, marked, vowels or (), self.fps, silent, unheard, reference, detected,
                          spread_anywhere=source == "audio")
        return done.takes, done.sealed, source, done.shared, done.opened

    def heard_bilabials(self, wav: np.ndarray, frames: int, words: bool = True) -> np.ndarray:
        """bool [frames]: where the audio-only seal closes the lips, heard by the bilabial detector and by
        speech recognition (:func:`probtalk.bilabial.heard_frames`; the recognition :meth:`listen_ahead`
        started, if it was this clip's). The last clip's marks are kept, so animating one clip in several
        emotions listens once (as :meth:`transcript` aligns once). ``words``: the ear recognises words
        (``listen="words"``, the default; False: phones, :mod:`probtalk.corpus.ear`)."""
        return self._heard(wav, frames, words)[1].copy()

    def ear_warp(self, wav: np.ndarray, motions: list[np.ndarray], sealed_from: str | None, listen: str) -> float | None:
        """How much faster the word ear heard the clip (meta ``ear_warp``): 1 as recorded,
        :data:`probtalk.bilabial.WARP` where it heard a low voice again (:func:`probtalk.bilabial.rehear`);
        None where the seal did not recognise words."""
        if sealed_from != "audio" or listen != "words" or not motions:
            return None
        return self._heard(wav, motions[0].shape[0], True)[4]

    def heard_phones(self, wav: np.ndarray, frames: int, words: bool = True) -> list[Phone]:
        """Every phone the ear heard in the clip of :meth:`heard_bilabials` (with ``words``: the phones of
        the words recognised), in seconds from its start."""
        return list(self._heard(wav, frames, words)[2])

    def _heard(self, wav: np.ndarray, frames: int, words: bool) -> tuple[Any, np.ndarray, list[Phone], np.ndarray, float]:
        """(key, the seal's marks, the phones heard, the detector's probabilities, the warp the words were
        heard at: :func:`probtalk.bilabial.rehear`)."""
        from probtalk.bilabial import ear_marks

        key = (frames, words, *_clip_key(wav))
        cached = getattr(self, "_last_heard", None)
        if cached is None or cached[0] != key:
            pending, self._listening = getattr(self, "_listening", None), None
            if pending is not None and pending[0] == key[1:]:
                phones = pending[1].phones()
            else:
                from probtalk.corpus.ear import listen

                phones = listen(wav, words).phones()
            p = self.detector_probabilities(wav, frames)
            marks, phones, warp = ear_marks(self.bilabial_net, wav, self.fps, frames, phones, words, p)
            cached = (key, marks, phones, p, warp)
            self._last_heard = cached
        return cached

    def detector_probabilities(self, wav: np.ndarray, frames: int) -> np.ndarray:
        """float [frames]: the bilabial detector's probabilities on the clip (the seal's and the transcript's
        widening read them; the last clip's are kept, so one clip runs the detector once)."""
        key = (frames, *_clip_key(wav))
        cached = getattr(self, "_last_probabilities", None)
        if cached is None or cached[0] != key:
            cached = (key, self.bilabial_net.probabilities(wav, self.fps, frames))
            self._last_probabilities = cached
        return cached[1]

    def listen_ahead(self, wav: np.ndarray, words: bool = True) -> Listening | None:
        """Start speech recognition of a clip whose seal marks are not kept yet, so that its helper
        process decodes while the takes are sampled (:mod:`probtalk.corpus.ear`); None if they are kept."""
        from probtalk.corpus import ear

        key = (words, *_clip_key(wav))
        cached = getattr(self, "_last_heard", None)
        if cached is not None and cached[0][1:] == key:
            return None
        listening = ear.listen(wav, words)
        self._listening = (key, listening)
        return listening

    def lip_seal(self) -> LipSeal | None:
        """The lip seal of the rig the model was trained on (the bundled head), or None for another rig."""
        from probtalk.lipseal import lip_seal_for

        return lip_seal_for(self.rig_id)

    def recognised_text(self, wav: np.ndarray, whisper_model: str | None) -> str:
        """The clip's words as a local Whisper model hears them (:func:`probtalk.whisper_ear.recognise`;
        ``listen="whisper"``), "" where it hears none. The last clip's are kept, so animating one clip in
        several emotions recognises it once.

        Raises:
            InputError: no usable Whisper folder. MissingExtraError: the ``whisper`` extra is missing.
        """
        from probtalk.whisper_ear import recognise, whisper_folder

        folder = whisper_folder(whisper_model).resolve()
        key = (str(folder), *_clip_key(wav))
        cached = getattr(self, "_last_recognised", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        heard = recognise(wav, folder)
        if not heard:
            logger.warning("Whisper heard no words; the lip seal listens with its own ear")
        self._last_recognised = (key, heard)
        return heard

    def transcript(
        self, wav: np.ndarray, text: str | None, source: str = "given"
    ) -> tuple[np.ndarray | None, np.ndarray | None, list[Phone] | None, dict[str, Any]]:
        """From a transcript: per-frame phone tokens int64 [T] (the model input), the shown frames inside an
        aligned p, b or m bool [T] (the lip seal's, :func:`probtalk.lipseal.shown_bilabials`, and with a
        bilabial detector the frames beside them it hears, :func:`probtalk.lipseal.widen_to_heard`), the
        aligned phones (whose open vowels the seal opens, :meth:`seal`), and what the meta records;
        (None, None, None, meta) for audio only.

        A model without a phone input, or a transcript that does not fit the speech (see
        :func:`probtalk.transcript.align_transcript`), gives None and one warning line (``source``:
        "given", or "recognised" for Whisper's, :meth:`recognised_text`, named so in the warning).
        The last alignment is kept, so animating one clip in several emotions aligns it once
        (and warns once).

        Raises:
            InputError: the transcript has no words.
        """
        if text is None:
            return None, None, None, {"text_used": False}
        key = (text, source, *_clip_key(wav))
        cached = getattr(self, "_last_transcript", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = self._align(wav, text, source)
        self._last_transcript = (key, result)
        return result

    def _align(
        self, wav: np.ndarray, text: str, source: str = "given"
    ) -> tuple[np.ndarray | None, np.ndarray | None, list[Phone] | None, dict[str, Any]]:
        what = "recognised transcript" if source == "recognised" else "transcript"
        if not self.backend.phone_input:
            logger.warning("model %s takes no %s; animating from the audio alone", self.name, what)
            return None, None, None, {"text_used": False, "text_ignored": "the model takes no transcript"}
        from probtalk.bilabial import shown_frames
        from probtalk.lipseal import shown_bilabials, widen_to_heard
        from probtalk.models.phone_tokens import phone_tokens
        from probtalk.transcript import align_transcript

        fit = align_transcript(wav, text, self.bilabial_net, self.fps)
        if not fit.used:
            logger.warning("%s ignored: %s; animating from the audio alone", what, fit.reason)
            return None, None, None, {"text_used": False, "text_ignored": fit.reason}
        frames = frames_for(wav.size, self.fps)
        tokens = phone_tokens(fit.phones or [], self.fps, frames)
        meta = {"text_used": True, "text_fit": round(fit.fit, 3), "text_uncovered": round(fit.uncovered, 3)}
        if not np.isnan(fit.heard):  # a fit below the bar, passed because the detector hears its p, b and m
            meta["text_heard"] = round(fit.heard, 3)
        shown = shown_bilabials(fit.phones or [], self.fps, frames)
        if self.bilabial_net is not None:  # the seal follows a closure heard a frame past the aligned phone
            shown = widen_to_heard(shown, shown_frames(self.detector_probabilities(wav, frames), self.bilabial_net.threshold))
        return tokens, shown, list(fit.phones or []), meta

    def run_stream(self, sample_rate: int, opts: AnimateOptions, stream_options: StreamOptions) -> Stream:
        """A new :class:`Stream` with validated options."""
        if opts.text is not None:
            raise OptionError("text is not used by streams; pass the transcript to animate() instead", option="text")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int | float | np.number) or sample_rate != AUDIO_SAMPLE_RATE:
            raise AudioError(f"streams take {AUDIO_SAMPLE_RATE} Hz audio, got sample_rate={sample_rate!r}; resample to 16 kHz first")
        style = self.style_inputs(opts.emotion, opts.intensity, opts.speaker)
        seed = opts.seed if opts.seed is not None else secrets.randbits(31)
        seal = self.lip_seal() if opts.seal_lips else None
        sealer = (seal, self.bilabial_net) if seal is not None and self.bilabial_net is not None else None
        meta = {**self.take_meta(opts, style, seed), "seal_lips": opts.seal_lips,
                "sealed_from": "audio" if sealer else None, "shared_closure_frames": 0, "stream": {
                    "lookahead_seconds": stream_options.lookahead_seconds, "context_seconds": stream_options.context_seconds,
                }}
        return Stream(
            self.backend, style, num_samples=opts.num_samples,
            temperature=opts.sampling_temperature, top_k=opts.top_k, seed=seed,
            options=stream_options, meta=meta, sealer=sealer, performance=self.performance_vector(opts.performance),
            variation=self.variation(opts.variation),
            life=Life(self.fps, *life_takes(None if opts.sampling_temperature is None else seed, opts.num_samples),
                      _settings(opts), meta["emotion"], style.intensity, self.head_net),
        )

    def performance_vector(self, performance: dict[str, float] | None) -> np.ndarray | None:
        """Held performance channels float64 [take_channels] (NaN = drawn per take), None when nothing is held.

        Raises:
            OptionError: the model has no performance channels, or a habit it does not know.
        """
        if not performance:
            return None
        habits = self.backend.performance_habits
        if not habits:
            raise OptionError(f"performance: model {self.name} has no performance channels; leave --performance "
                              "out, or use a model trained with them (the default model)", option="performance")
        unknown = [h for h in performance if h not in habits]
        if unknown:
            raise OptionError(f"performance: {', '.join(unknown)} is not a habit of model {self.name}; "
                              f"it knows {', '.join(habits)}", option="performance")
        vector = np.full(len(habits), np.nan)
        for name, score in performance.items():
            vector[habits.index(name)] = score
        return vector

    def variation(self, variation: float) -> float:
        """The ``variation`` option, checked against the model.

        Raises:
            OptionError: a variation other than the default for a model without performance channels.
        """
        if variation != DEFAULT_VARIATION and not self.backend.performance_habits:
            raise OptionError(f"variation: model {self.name} has no performance channels to draw more or less widely; "
                              "leave --variation out, or use a model trained with them (the default model)",
                              option="variation")
        return variation

    def take_meta(self, opts: AnimateOptions, style: StyleInputs, seed: int) -> dict[str, Any]:
        """Provenance shared by every take of one call."""
        return {
            "engine": "model",
            "model": self.name,
            "rig": self.rig_id,
            "emotion": {name: round(w, 4) for name, w in zip(self.emotions, style.emotion, strict=True) if w > 0},
            "intensity": style.intensity,
            "speaker": opts.speaker,
            "seed": seed,
            "temperature": opts.sampling_temperature,
            "top_k": opts.top_k,
            "deterministic": opts.sampling_temperature is None,
            "head_motion": opts.head_motion,
            "blinks": opts.blinks,
            "gaze": opts.gaze,
            "head_net": self.head_net is not None and opts.head_motion > 0,
            "performance": opts.performance,
            # how widely the drawn habits were drawn; None where nothing was drawn (no performance
            # channels, or a deterministic take)
            "variation": (opts.variation if self.backend.performance_habits and opts.sampling_temperature is not None
                          else None),
        }



def _settings(opts: AnimateOptions) -> LifeSettings:
    return LifeSettings(head_motion=opts.head_motion, blinks=opts.blinks, gaze=opts.gaze)


def _options(options: AnimateOptions | None, overrides: dict[str, Any]) -> AnimateOptions:
    if options is not None and not isinstance(options, AnimateOptions):
        raise OptionTypeError(f"options must be an AnimateOptions, got {type(options).__name__}", option="options")
    return (options or AnimateOptions()).replace(**overrides)


def _clip_key(wav: np.ndarray) -> tuple[int, str]:
    """What identifies a clip for the per-clip caches (the transcript's alignment, the seal's marks)."""
    return wav.size, hashlib.sha1(np.ascontiguousarray(wav).tobytes()).hexdigest()
