"""Fixtures shared by the detector tests (test_bilabial.py, test_vowels.py); a module's own fixture of the
same name wins."""

from __future__ import annotations

import pytest

import probtalk


@pytest.fixture(scope="module")
def model():
    """The embedded default model."""
    return probtalk.load_model(device="cpu")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """Two speakers, two sentences, with exact phone timings."""
    from probtalk.corpus.synth import SynthConfig, synthesize_corpus

    root = tmp_path_factory.mktemp("synth") / "tiny"
    config = SynthConfig(speakers=2, sentences=2, emotions=("happy",), emotions_per_sentence=1, emotional_fraction=1.0,
                         heldout_speakers=0, seed=1, performances=1, heldout_engine_speakers=0)
    synthesize_corpus(root, config, workers=1)
    return root
