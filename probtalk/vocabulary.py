"""Style names -> numbers: speaker index, emotion weights, intensity (no torch here)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from probtalk.emotions import EMOTIONS, INTENSITIES, INTENSITY_INDEX, MAX_INTENSITY
from probtalk.errors import StyleError

UNKNOWN_SPEAKER = -1


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(choices)}"


@dataclass(frozen=True)
class StyleNames:
    """Names the model was trained with: speakers and emotions (stored in the checkpoint).

    Torch-free, so the onnxruntime path can resolve styles without importing torch;
    :class:`probtalk.models.style.StyleVocabulary` adds the tensor-making ``make``.
    """

    speakers: tuple[str, ...] = ()
    emotions: tuple[str, ...] = EMOTIONS

    def speaker_index(self, speaker: str | None) -> int:
        """Index of a speaker name; None gives -1 (average speaker).

        Raises:
            StyleError: the name is not a trained speaker.
        """
        if speaker is None or speaker == "":
            return UNKNOWN_SPEAKER
        if speaker not in self.speakers:
            raise StyleError(f"unknown speaker '{speaker}': {_suggest(speaker, self.speakers)} (or omit it)")
        return self.speakers.index(speaker)

    def emotion_weights(self, emotion: str | Mapping[str, float]) -> list[float]:
        """Emotion weights (summing to 1) from a name or a {name: weight} blend.

        Raises:
            StyleError: unknown names, negative weights or an all-zero blend.
        """
        blend = {emotion: 1.0} if isinstance(emotion, str) else dict(emotion)
        if not blend:
            raise StyleError("empty emotion blend; give at least one emotion, e.g. {'happy': 1.0}")
        weights = [0.0] * len(self.emotions)
        for name, w in blend.items():
            key = str(name).strip().lower()
            if key not in self.emotions:
                raise StyleError(f"unknown emotion '{name}': {_suggest(key, self.emotions)}")
            if not float(w) >= 0.0:
                raise StyleError(f"emotion weight for '{name}' is {w}; weights must be >= 0")
            weights[self.emotions.index(key)] += float(w)
        total = sum(weights)
        if total <= 0:
            raise StyleError("emotion blend weights sum to 0; give at least one positive weight")
        return [w / total for w in weights]

    @staticmethod
    def intensity_value(intensity: float | str) -> float:
        """Intensity in [0, 2] from a number or one of 'low', 'medium', 'high'.

        Raises:
            StyleError: unknown name or a number outside [0, 2].
        """
        if isinstance(intensity, str):
            key = intensity.strip().lower()
            if key in INTENSITY_INDEX:
                return float(INTENSITY_INDEX[key])
            try:
                intensity = float(key)
            except ValueError:
                raise StyleError(f"unknown intensity '{intensity}': {_suggest(key, INTENSITIES)} or a number in [0, 2]") from None
        value = float(intensity)
        if not 0.0 <= value <= MAX_INTENSITY:
            raise StyleError(f"intensity {value} is out of range; use a value in [0, {MAX_INTENSITY:g}]")
        return value

    def resolve(
        self, emotion: str | Mapping[str, float] = "neutral", intensity: float | str = 1.0, speaker: str | None = None
    ) -> tuple[int, list[float], float]:
        """(speaker index, emotion weights, intensity) from names; raises StyleError like :meth:`speaker_index` & co."""
        return self.speaker_index(speaker), self.emotion_weights(emotion), self.intensity_value(intensity)
