"""Animate options and the pure functions that parse and validate them.

One place for every animate option and its default (:class:`AnimateOptions`)
and for turning user text into values: the emotion list of ``-e``, a blend
``happy:0.7+surprised:0.3``, an intensity name or number. The API, the
``probtalk animate`` pipeline, the CLI, the style vocabulary, the procedural
animator and the corpus generator all use these functions, so a rule (a limit,
a default, an accepted spelling) is written once.

Every check raises an :class:`~probtalk.errors.OptionError` (a ``ValueError``)
or :class:`~probtalk.errors.OptionTypeError` (a ``TypeError``) whose message
starts with the option's name, so the CLI can name its flag instead.

Adding an option is one line in :class:`AnimateOptions`: a field with its
default and, if it needs one, a check (``_opt(default, check)``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from probtalk.emotions import EMOTIONS, INTENSITIES, INTENSITY_INDEX, MAX_INTENSITY
from probtalk.errors import OptionError, OptionTypeError, StyleError

EmotionSpec = str | Mapping[str, float]

DEFAULT_EMOTION = "neutral"
DEFAULT_INTENSITY = 1.0  # the number for "medium"; the CLI's default "medium" is the same value
DEFAULT_TEMPERATURE = 0.2
MAX_TAKES = 64
#: The top of the temperature range: above it the lips stop closing and the motion gets too fast
#: (measured in docs/default_model_metrics.md).
MAX_TEMPERATURE = 1.0
MAX_SEED = 2**63 - 1  # seeds are stored as int64 in meta and fed to torch.Generator.manual_seed
MIN_WINDOW_SECONDS = 1.0
MAX_HEAD_MOTION = 2.0
MAX_PERFORMANCE_SCORE = 3.0  # performance habits in standard-normal units: -3 .. 3 covers the corpus's takes
#: How widely each take's performance habits are drawn, as a multiple of the corpus's retakes (1).
DEFAULT_VARIATION = 1.0
#: The top of the variation range. Drawn habits are clipped to +-MAX_PERFORMANCE_SCORE (the ends of the
#: corpus's ranges), which at 2 clips 13 % of them (|z| > 1.5); the takes then differ 1.3 times as much
#: as at 1 and move no faster (docs/default_model_metrics.md, "Variation").
MAX_VARIATION = 2.0


# ------------------------------------------------------------------ scalars
def _is_real(value: Any) -> bool:
    """A real number that is not a bool (True/False are ints in Python, never meant as numbers here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def _is_whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def check_finite(name: str, value: Any, *, low: float | None = None, high: float | None = None, strict_low: bool = False) -> float:
    """``value`` as a finite float within [low, high] (or (low, high] with ``strict_low``).

    Raises:
        OptionTypeError: not a number.
        OptionError: NaN, infinite or out of range.
    """
    if not _is_real(value):
        raise OptionTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}", option=name)
    x = float(value)
    if not math.isfinite(x):
        raise OptionError(f"{name} must be a finite number, got {value!r}", option=name)
    if low is not None and (x <= low if strict_low else x < low):
        raise OptionError(f"{name} must be {'>' if strict_low else '>='} {low:g}, got {value!r}", option=name)
    if high is not None and x > high:
        raise OptionError(f"{name} must be <= {high:g}, got {value!r}", option=name)
    return x


def check_whole(name: str, value: Any, *, low: int, high: int) -> int:
    """``value`` as an int in [low, high] (ints and numpy integers; not bools or floats).

    Raises:
        OptionTypeError: not a whole number.
        OptionError: out of range.
    """
    if not _is_whole(value):
        raise OptionTypeError(f"{name} must be a whole number, got {type(value).__name__} {value!r}", option=name)
    n = int(value)
    if not low <= n <= high:
        raise OptionError(f"{name} must be in [{low}, {high}], got {n}", option=name)
    return n


def check_seed(value: Any) -> int | None:
    """A seed: None (draw one) or a whole number in [0, 2**63 - 1]."""
    return None if value is None else check_whole("seed", value, low=0, high=MAX_SEED)


def check_num_samples(value: Any) -> int:
    """Number of takes: a whole number in [1, 64]."""
    return check_whole("num_samples", value, low=1, high=MAX_TAKES)


def check_temperature(value: Any) -> float:
    """Sampling temperature: a number in [0, 1]; 0 gives the deterministic take."""
    return check_finite("temperature", value, low=0.0, high=MAX_TEMPERATURE)


def check_variation(value: Any) -> float:
    """Performance variation: a number in [0, 2]; 1 draws the takes' habits as widely as the model says (its widths)."""
    return check_finite("variation", value, low=0.0, high=MAX_VARIATION)


def check_top_k(value: Any) -> int | None:
    """None (all codes) or a whole number >= 1."""
    return None if value is None else check_whole("top_k", value, low=1, high=2**31 - 1)


def check_bool(name: str) -> Callable[[Any], bool]:
    """A check that accepts True/False (and numpy bools) only."""

    def check(value: Any) -> bool:
        if not (isinstance(value, bool) or type(value).__name__ == "bool_"):
            raise OptionTypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}", option=name)
        return bool(value)

    return check


def check_text(value: Any) -> str | None:
    """None (audio only) or a transcript with some non-blank text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise OptionTypeError(f"text must be the transcript (str) or None, got {type(value).__name__}", option="text")
    if not value.strip():
        raise OptionError("text is empty; pass the sentence spoken, or leave the transcript out", option="text")
    return value


#: How the audio-only lip seal listens for p, b and m beside its detector (:mod:`probtalk.corpus.ear`):
#: "words" (the default) word recognition with pocketsphinx's en-us language model and the p, b and m of
#: the words' pronunciations; "phones" free phone recognition, about three times faster, but on real
#: human speech it hears far fewer of them (docs/default_model_metrics.md); "whisper" a transcript
#: recognised by a local Whisper model (:mod:`probtalk.whisper_ear`), used as a given transcript is.
LISTEN_MODES = ("phones", "whisper", "words")


def check_listen(value: Any) -> str:
    if value not in LISTEN_MODES:
        raise OptionError(f"listen must be one of {', '.join(LISTEN_MODES)}, got {value!r}", option="listen")
    return str(value)


def check_whisper_model(value: Any) -> str | None:
    """None (the folder of ``PROBTALK_WHISPER_MODEL`` or ``make whisper``'s) or a folder path (checked when used)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str | os.PathLike):
        raise OptionTypeError(f"whisper_model must be a folder path or None, got {type(value).__name__}",
                              option="whisper_model")
    return os.fspath(value)


def check_speaker(value: Any) -> str | None:
    """None or "" (the average speaker) or a speaker name (checked against the model later)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise OptionTypeError(f"speaker must be a name (str) or None, got {type(value).__name__}", option="speaker")
    return value


def parse_performance(text: str) -> dict[str, float]:
    """``"articulation=1.5,rest_open=-1"`` -> ``{"articulation": 1.5, "rest_open": -1.0}`` (checked by :func:`check_performance`)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        name, eq, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not eq or not name.strip() or not math.isfinite(number):
            raise OptionError(f"performance item {part!r} is not habit=score; e.g. articulation=1.5,rest_open=-1",
                              option="performance")
        out[name.strip()] = number
    return check_performance(out) or {}


def check_performance(value: Any) -> dict[str, float] | None:
    """None (every take draws its own performance) or {habit: score}, scores in [-3, 3].

    A score is in standard-normal units of the corpus's takes: 0 the median take, +1 wider
    (more articulation, a wider jaw, lips more parted in pauses, more brow use, ...) than 84 %
    of them. The habit names are checked against the model later.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return parse_performance(value) or None
    if not isinstance(value, Mapping):
        raise OptionTypeError(f"performance must be a mapping {{habit: score}} or None, got {type(value).__name__}",
                              option="performance")
    out = {}
    for name, score in value.items():
        if not isinstance(name, str) or not name:
            raise OptionTypeError(f"performance habit names must be strings, got {name!r}", option="performance")
        if not _is_real(score):
            raise OptionTypeError(f"performance {name} must be a number, got {type(score).__name__} {score!r}",
                                  option="performance")
        if not (math.isfinite(float(score)) and abs(float(score)) <= MAX_PERFORMANCE_SCORE):
            raise OptionError(f"performance {name} must be a score in [-{MAX_PERFORMANCE_SCORE:g}, "
                              f"{MAX_PERFORMANCE_SCORE:g}] (0 = the median take), got {score!r}", option="performance")
        out[name] = float(score)
    return out or None


# ------------------------------------------------------------------ intensity
def intensity_value(intensity: Any) -> float:
    """Intensity in [0, 2] from a number or one of 'low', 'medium', 'high' (also given as text).

    Raises:
        StyleError: an unknown name, a non-finite number or a number outside [0, 2].
        OptionTypeError: neither a number nor text (e.g. None).
    """
    if isinstance(intensity, str):
        key = intensity.strip().lower()
        if key in INTENSITY_INDEX:
            return float(INTENSITY_INDEX[key])
        try:
            value = float(key)
        except ValueError:
            raise StyleError(
                f"unknown intensity '{intensity}': {_suggest(key, INTENSITIES)} or a number in [0, {MAX_INTENSITY:g}]",
                option="intensity",
            ) from None
    elif _is_real(intensity):
        value = float(intensity)
    else:
        raise OptionTypeError(
            f"intensity must be low, medium, high or a number in [0, {MAX_INTENSITY:g}], got {type(intensity).__name__}",
            option="intensity",
        )
    if not 0.0 <= value <= MAX_INTENSITY:  # also refuses NaN
        raise StyleError(f"intensity {value} is out of range; use a value in [0, {MAX_INTENSITY:g}]", option="intensity")
    return value


# ------------------------------------------------------------------ emotions
def _suggest(name: str, choices: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(choices)}"


def emotion_blend(emotion: Any, names: tuple[str, ...] | None = EMOTIONS) -> dict[str, float]:
    """Validate an emotion name or ``{name: weight}`` blend; return raw weights by lower-case name.

    Keys keep the caller's order (repeated names add up); weights are not normalised.

    Args:
        emotion: a name or a mapping of names to weights.
        names: allowed names (a model's vocabulary), or None to check only the weights.

    Raises:
        OptionTypeError: not a str or a mapping, a non-text name or a non-number weight.
        StyleError: unknown names, negative or non-finite weights, an empty blend or all-zero weights.
    """
    if isinstance(emotion, str):
        items: list[tuple[Any, Any]] = [(emotion, 1.0)]
    elif isinstance(emotion, Mapping):
        items = list(emotion.items())
    else:
        raise OptionTypeError(
            f"emotion must be a name or a {{name: weight}} dict, got {type(emotion).__name__}", option="emotion"
        )
    if not items:
        raise StyleError("emotion blend is empty; give at least one emotion, e.g. {'happy': 1.0}", option="emotion")
    out: dict[str, float] = {}
    for name, weight in items:
        if not isinstance(name, str):
            raise OptionTypeError(f"emotion names must be text, got {type(name).__name__} {name!r}", option="emotion")
        key = name.strip().lower()
        if names is not None and key not in names:
            raise StyleError(f"unknown emotion '{name}': {_suggest(key, names)}", option="emotion")
        if not _is_real(weight):
            raise OptionTypeError(
                f"emotion weight for '{name}' must be a number, got {type(weight).__name__} {weight!r}", option="emotion"
            )
        if not (math.isfinite(float(weight)) and float(weight) >= 0.0):
            raise StyleError(f"emotion weight for '{name}' is {weight}; weights must be finite and >= 0", option="emotion")
        out[key] = out.get(key, 0.0) + float(weight)
    if not any(w > 0 for w in out.values()):
        raise StyleError("emotion blend weights sum to 0; give at least one positive weight", option="emotion")
    return out


def _normalised(weights: list[float]) -> list[float]:
    total = sum(weights)
    if not math.isfinite(total):  # huge weights overflow the sum: scale by the largest first
        top = max(weights)
        weights = [w / top for w in weights]
        total = sum(weights)
    return [w / total for w in weights]


def emotion_mix(emotion: Any, names: tuple[str, ...] | None = EMOTIONS) -> dict[str, float]:
    """An emotion name or blend as ``{name: weight}`` with weights summing to 1 (the caller's order).

    Raises:
        StyleError, OptionTypeError: see :func:`emotion_blend`.
    """
    blend = emotion_blend(emotion, names)
    return dict(zip(blend, _normalised(list(blend.values())), strict=True))


def emotion_weights(emotion: Any, names: tuple[str, ...] = EMOTIONS) -> list[float]:
    """Emotion weights in the order of ``names``, summing to 1.

    Raises:
        StyleError, OptionTypeError: see :func:`emotion_blend`.
    """
    weights = [0.0] * len(names)
    for key, w in emotion_blend(emotion, names).items():
        weights[names.index(key)] += w
    return _normalised(weights)


def emotion_label(emotion: EmotionSpec) -> str:
    """A file-name-safe label: ``happy`` or ``happy70-surprised30``."""
    if isinstance(emotion, str):
        return emotion
    total = sum(emotion.values()) or 1.0
    if not math.isfinite(total):
        return "-".join(f"{k}{round(100 * v)}" for k, v in emotion_mix(emotion, None).items())
    return "-".join(f"{k}{round(100 * v / total)}" for k, v in emotion.items())


def parse_emotion_list(text: str) -> list[EmotionSpec]:
    """Parse ``-e``: comma-separated emotions, each a name or a blend ``happy:0.7+surprised:0.3``.

    Names are checked against a model's vocabulary later; the weights are checked here.

    Raises:
        StyleError: a bad weight or no emotion at all.
    """
    out: list[EmotionSpec] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "+" in item or ":" in item:
            blend: dict[str, float] = {}
            for term in item.split("+"):
                name, _, weight = term.partition(":")
                if not name.strip():
                    raise StyleError(f"emotion missing in {item!r}; write a blend as happy:0.7+surprised:0.3", option="emotion")
                try:
                    blend[name.strip()] = float(weight) if weight.strip() else 1.0
                except ValueError:
                    raise StyleError(
                        f"emotion weight in {term!r} is not a number; write a blend as happy:0.7+surprised:0.3",
                        option="emotion",
                    ) from None
            emotion_blend(blend, None)
            out.append(blend)
        else:
            out.append(item)
    if not out:
        raise StyleError("emotion is empty; use e.g. -e neutral or -e happy,sad", option="emotion")
    return out


def parse_emotion_names(text: str, allowed: tuple[str, ...] = EMOTIONS) -> tuple[str, ...]:
    """``"all"`` or a comma list of emotion names -> a tuple in the order of ``allowed``.

    Raises:
        StyleError: unknown names or an empty list.
    """
    if text.strip().lower() == "all":
        return allowed
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise StyleError(
            f"unknown emotions {bad or text!r}; use 'all' or a comma list of {', '.join(allowed)}", option="emotions"
        )
    return tuple(e for e in allowed if e in names)


def check_emotion(value: Any) -> EmotionSpec:
    """An emotion name (text) or a blend with valid weights; names are checked against the model later."""
    emotion_blend(value, None)
    return value if isinstance(value, str) else dict(value)


# ------------------------------------------------------------------ options
def _opt(default: Any, check: Callable[[Any], Any] | None = None) -> Any:
    return field(default=default, metadata={"check": check})


@dataclass(frozen=True)
class AnimateOptions:
    """Every option of :meth:`probtalk.Model.animate` with its default; validated on construction.

    Attributes:
        emotion: an emotion name or a blend {name: weight} (weights >= 0, normalised to sum 1).
        intensity: 0..2, or "low" | "medium" | "high" (stored as the number: 0, 1, 2).
        speaker: a training speaker id, or None for the average speaker.
        num_samples: number of takes (1..64), sampled in one batch.
        temperature: how much takes differ, 0..1: 0 is the deterministic take (as ``deterministic``),
            the default 0.2 gives visibly different takes, 1 the most varied; ignored when deterministic.
        top_k: sample only among the k nearest codes (None: all).
        seed: seed of the take sampler (0..2**63-1); None draws one (recorded in meta).
        deterministic: argmax codes (the same take every time).
        window_seconds: longest stretch of audio encoded at once (>= 1 s).
        overlap_seconds: overlap between windows, cross-faded.
        text: transcript of the speech: force-aligned phones become an extra model input
            (models trained with ``phone_input``); one that does not fit the audio is ignored
            with a warning. None: audio only. Streams take no transcript.
        seal_lips: close the lips on every p, b and m in every take (:mod:`probtalk.lipseal`): where
            the transcript's alignment puts them, or without a transcript where the model's bilabial
            detector hears them (:mod:`probtalk.bilabial`; models that ship none leave audio-only
            takes alone), and then also, in sampled takes, where the deterministic take closes
            briefly between open lips (meta ``shared_closure_frames``). Meta ``sealed_from`` says
            which ("transcript", "audio" or None). It also opens the jaw at the centre of each
            open vowel of the transcript or of the recognised words (``listen="words"``) until
            the lips part at least 7 mm (meta ``opened_vowel_frames``).
        listen: how the audio-only seal hears p, b and m beside its detector (:data:`LISTEN_MODES`):
            "words" (the default) recognises the words and seals the p, b and m of their
            pronunciations; "phones" recognises phones: faster (RTF about 0.03 against 0.08 for a
            10 s clip on two cores), but on real human speech it hears far fewer of them. The
            word recogniser knows English only: for speech in another language "phones" seals
            fewer frames away from any p, b or m. Where the words heard miss most of the p, b and m
            the detector is sure of (a low voice, which the recogniser hears badly), "words" hears
            the speech again played 1.26 times faster and keeps the hearing that agrees better
            (:func:`probtalk.bilabial.rehear`; meta ``ear_warp``: 1 or 1.26, None without words).
            "whisper" recognises a transcript with a local Whisper model (``whisper_model``;
            :mod:`probtalk.whisper_ear`) and animates as with a given ``text``, the seal also closing
            where "words" hears a p, b or m (a recogniser can mishear a word): far more of them held in
            noise, rooms, other voices and low voices, at 2.5–3 times the cost; where the fit check
            refuses it (or no words are heard) the seal falls back to "words" with a warning (meta
            ``text_source`` "recognised", ``recognised_text``).
            Unused with a transcript and in streams. Meta ``listen``.
        whisper_model: the CTranslate2 Whisper folder ``listen="whisper"`` uses; None: the folder
            named by ``PROBTALK_WHISPER_MODEL``, else the one ``make whisper`` writes (models/whisper-base).
        head_motion: scale of the head motion, 0..2 (1 = as learned; 0 = the neck stays exactly still).
        blinks: add seeded blinks (10-25 a minute, following pauses and phrase ends).
        gaze: move the eyes (fixations, small saccades, aversion in pauses, counter-rotating the head);
            False leaves them still.
        performance: hold some of the take's habits, {habit: score} in standard-normal units of the
            corpus's takes (-3..3; 0 the median take), e.g. ``{"articulation": 1.5, "rest_open": -1}``
            for wide articulation with the lips shut in pauses; habits not named are drawn per take.
            Only for models with performance channels (``probtalk info`` lists their habits).
        variation: how widely each sampled take's performance is drawn, 0..2, as a multiple of the
            model's own widths (1, the default: as widely as the corpus's retakes of a line differ, or
            the width the model gives a habit; ``probtalk info`` shows those other than 1): 0 gives every
            take the median performance (takes then differ in the timing the noise draws and the finer
            motion the temperature samples), 2 draws habits twice as widely, clipped to the ends of the
            corpus's ranges (-3..3): takes that differ more in articulation, brows and smiles without
            moving faster. Held habits
            (``performance``) and deterministic takes are not affected. Only for models with
            performance channels (others refuse a variation other than 1); meta ``variation``.

    Example:
        >>> opts = AnimateOptions(emotion={"happy": 0.7, "surprised": 0.3}, seed=7)
        >>> opts.replace(num_samples=3).num_samples
        3
    """

    emotion: EmotionSpec = _opt(DEFAULT_EMOTION, check_emotion)
    intensity: float = _opt(DEFAULT_INTENSITY, intensity_value)
    speaker: str | None = _opt(None, check_speaker)
    num_samples: int = _opt(1, check_num_samples)
    temperature: float = _opt(DEFAULT_TEMPERATURE, check_temperature)
    top_k: int | None = _opt(None, check_top_k)
    seed: int | None = _opt(None, check_seed)
    deterministic: bool = _opt(False, check_bool("deterministic"))
    window_seconds: float = _opt(20.0, lambda v: check_finite("window_seconds", v, low=MIN_WINDOW_SECONDS))
    overlap_seconds: float = _opt(1.0, lambda v: check_finite("overlap_seconds", v, low=0.0))
    text: str | None = _opt(None, check_text)
    seal_lips: bool = _opt(True, check_bool("seal_lips"))
    listen: str = _opt("words", check_listen)
    whisper_model: str | None = _opt(None, check_whisper_model)
    head_motion: float = _opt(1.0, lambda v: check_finite("head_motion", v, low=0.0, high=MAX_HEAD_MOTION))
    blinks: bool = _opt(True, check_bool("blinks"))
    gaze: bool = _opt(True, check_bool("gaze"))
    performance: dict[str, float] | None = _opt(None, check_performance)
    variation: float = _opt(DEFAULT_VARIATION, check_variation)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata.get("check")
            if check is not None:
                object.__setattr__(self, f.name, check(getattr(self, f.name)))
        if not self.window_seconds > 2 * self.overlap_seconds:
            raise OptionError(
                f"window_seconds ({self.window_seconds:g}) must exceed twice overlap_seconds ({self.overlap_seconds:g})",
                option="window_seconds",
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @property
    def sampling_temperature(self) -> float | None:
        """The sampler's temperature: None (nearest codes, zero noise) for a deterministic take or temperature 0."""
        return None if self.deterministic or self.temperature == 0 else float(self.temperature)

    def replace(self, **changes: Any) -> AnimateOptions:
        """A copy with some options changed (validated).

        Raises:
            OptionTypeError: an unknown option name.
        """
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise OptionTypeError(
                f"unknown animate option(s) {', '.join(unknown)}; choose from {', '.join(self.names())}",
                option=unknown[0],
            )
        return dataclasses.replace(self, **changes) if changes else self
