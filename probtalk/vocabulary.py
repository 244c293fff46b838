"""Style names -> numbers (speaker index, emotion weights, intensity), without torch."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from probtalk.emotions import EMOTIONS
from probtalk.errors import StyleError
from probtalk.options import emotion_weights, intensity_value

UNKNOWN_SPEAKER = -1


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(choices)}"


@dataclass(frozen=True)
class StyleNames:
    """Names the model was trained with: speakers and emotions (stored in the checkpoint).

    Torch-free, so the onnxruntime path resolves styles without importing torch;
    :class:`probtalk.models.style.StyleVocabulary` adds ``make`` (the tensors).
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
        """Emotion weights (summing to 1, in vocabulary order) from a name or a {name: weight} blend.

        Raises:
            StyleError: unknown names, negative or non-finite weights or an all-zero blend.
        """
        return emotion_weights(emotion, self.emotions)

    @staticmethod
    def intensity_value(intensity: float | str) -> float:
        """Intensity in [0, 2] from a number or one of 'low', 'medium', 'high'.

        Raises:
            StyleError: unknown name or a number outside [0, 2].
        """
        return intensity_value(intensity)
