"""Emotion and intensity vocabulary shared by data, models, API and CLI.

Indices follow 3DMEAD as processed by the paper's scripts.
"""

from __future__ import annotations

EMOTIONS = ("neutral", "happy", "sad", "surprised", "fear", "disgusted", "angry", "contempt")
NUM_EMOTIONS = len(EMOTIONS)
EMOTION_INDEX = {name: i for i, name in enumerate(EMOTIONS)}

INTENSITIES = ("low", "medium", "high")
INTENSITY_INDEX = {name: i for i, name in enumerate(INTENSITIES)}
MAX_INTENSITY = 2.0  # intensity is continuous in [0, 2]; 0 low, 1 medium, 2 high
