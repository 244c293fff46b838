"""The style vector (speaker, emotion mix, intensity) and its learned embedding.

The paper conditions on one-hot speaker, emotion and intensity. Here the
conditioning is continuous, with the one-hots as a special case: emotion
weights (summing to 1) multiply a learned emotion table, and a fractional
intensity in [0, 2] interpolates between learned low/medium/high
embeddings. A blend such as ``{"happy": 0.7, "surprised": 0.3}`` or an
intensity of 1.5 therefore lands between the trained styles. Speaker index
-1 (unknown or None) selects a learned "average speaker" embedding, trained
by dropping the speaker at random during training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from probtalk.emotions import NUM_EMOTIONS
from probtalk.options import DEFAULT_EMOTION, DEFAULT_INTENSITY
from probtalk.vocabulary import UNKNOWN_SPEAKER, StyleNames

__all__ = ["UNKNOWN_SPEAKER", "Style", "StyleEmbedding", "StyleVocabulary"]


@dataclass
class Style:
    """Conditioning for a batch.

    Attributes:
        speaker: [B] int64 speaker index, -1 = average speaker.
        emotion: [B, 8] float emotion weights, each row summing to 1 (order of ``probtalk.emotions.EMOTIONS``).
        intensity: [B] float in [0, 2] (0 low, 1 medium, 2 high).
    """

    speaker: torch.Tensor
    emotion: torch.Tensor
    intensity: torch.Tensor

    def __len__(self) -> int:
        return int(self.speaker.shape[0])

    def to(self, device: torch.device | str) -> Style:
        """The same style on ``device``."""
        return Style(self.speaker.to(device), self.emotion.to(device), self.intensity.to(device))

    def repeat_interleave(self, n: int) -> Style:
        """Each row repeated ``n`` times in place ([B] -> [B*n]), matching ``Tensor.repeat_interleave``."""
        return Style(
            self.speaker.repeat_interleave(n, 0),
            self.emotion.repeat_interleave(n, 0),
            self.intensity.repeat_interleave(n, 0),
        )

    @staticmethod
    def from_indices(
        speaker: torch.Tensor, emotion: torch.Tensor, intensity: torch.Tensor, num_emotions: int = NUM_EMOTIONS
    ) -> Style:
        """Style from dataset labels: speaker [B], emotion index [B], intensity index or value [B]."""
        return Style(
            speaker.long(),
            nn.functional.one_hot(emotion.long(), num_emotions).float(),
            intensity.float(),
        )


@dataclass(frozen=True)
class StyleVocabulary(StyleNames):
    """Names the model was trained with (speakers, emotions) and the :class:`Style` they make."""

    def make(
        self,
        emotion: str | Mapping[str, float] = DEFAULT_EMOTION,
        intensity: float | str = DEFAULT_INTENSITY,
        speaker: str | None = None,
    ) -> Style:
        """A batch-of-one :class:`Style` from names, e.g. ``make({"happy": 0.7, "surprised": 0.3}, 1.5)``."""
        return Style(
            torch.tensor([self.speaker_index(speaker)], dtype=torch.long),
            torch.tensor([self.emotion_weights(emotion)], dtype=torch.float32),
            torch.tensor([self.intensity_value(intensity)], dtype=torch.float32),
        )


class StyleEmbedding(nn.Module):
    """Style -> [B, dim] conditioning vector (sum of speaker, emotion-mix and intensity embeddings)."""

    def __init__(self, num_speakers: int, dim: int, num_emotions: int = NUM_EMOTIONS, levels: int = 3) -> None:
        super().__init__()
        self.num_speakers = num_speakers
        # Row num_speakers is the learned average speaker used for index -1.
        self.speaker = nn.Embedding(num_speakers + 1, dim)
        self.emotion = nn.Parameter(torch.randn(num_emotions, dim) * 0.02)
        self.levels = nn.Parameter(torch.randn(levels, dim) * 0.02)
        nn.init.normal_(self.speaker.weight, std=0.02)

    def forward(self, style: Style) -> torch.Tensor:
        """Style with batch B -> [B, dim]."""
        spk = style.speaker.long()
        spk = torch.where((spk < 0) | (spk >= self.num_speakers), torch.full_like(spk, self.num_speakers), spk)
        emo = style.emotion.to(self.emotion.dtype) @ self.emotion
        x = style.intensity.to(self.levels.dtype).clamp(0, self.levels.shape[0] - 1)
        lo = x.floor().long().clamp(max=self.levels.shape[0] - 2)
        w = (x - lo.to(x.dtype))[:, None]
        inten = self.levels[lo] * (1 - w) + self.levels[lo + 1] * w
        return self.speaker(spk) + emo + inten
