"""Late reverberation taken out before the lip seal's ear recognises words (probtalk.dereverb)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import probtalk
from probtalk.corpus import ear
from probtalk.corpus.align import ALIGN_DITHER, pcm16
from probtalk.dereverb import _istft, _stft, dereverberate
from probtalk.train.augment import far_room

SR = 16000


def _bursts(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """4 s of 0.25 s noise bursts every 0.4 s, and where the gaps between them lie (30 ms after each end on)."""
    rng = np.random.default_rng(seed)
    dry = np.zeros(4 * SR, np.float32)
    gaps = np.zeros(dry.size, bool)
    for s in range(0, dry.size - 4000, 6400):
        dry[s : s + 4000] = rng.standard_normal(4000) * np.hanning(4000) * rng.uniform(0.3, 1.0)
        gaps[s + 4480 : s + 6400] = True
    return dry, gaps


def _gap_db(x: np.ndarray, gaps: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x[gaps] ** 2) / np.mean(x[~gaps] ** 2)))


def test_the_transform_inverts_exactly():
    x = np.random.default_rng(2).standard_normal(SR + 123).astype(np.float32)
    assert np.abs(_istft(_stft(x, 512, 128), 512, 128, x.size) - x).max() < 1e-5


def test_late_reverberation_falls_and_dry_speech_passes():
    dry, gaps = _bursts()
    wet = far_room(dry, 0.0, seed=1)  # a 0.4 s tail as loud as the direct sound
    out = dereverberate(wet)
    assert out.shape == wet.shape and out.dtype == np.float32
    # the reverberation left in the gaps between the bursts falls (by about 3 dB) ...
    assert _gap_db(out, gaps) < _gap_db(wet, gaps) - 2.0
    # ... and the output is nearer the dry signal than the reverberant input was
    assert np.linalg.norm(out - dry) < 0.95 * np.linalg.norm(wet - dry)
    # dry sound has no reverberation to predict: it passes almost unchanged
    assert np.linalg.norm(dereverberate(dry) - dry) < 0.06 * np.linalg.norm(dry)


@pytest.mark.parametrize("audio", [np.zeros(SR, np.float32), np.ones(100, np.float32),
                                   np.full(SR, np.nan, np.float32)])
def test_silent_short_or_broken_audio_comes_back_as_it_was(audio):
    out = dereverberate(audio)
    assert out is not audio and np.array_equal(out, audio, equal_nan=True)


def test_the_word_ear_hears_dereverberated_speech_and_the_phone_ear_does_not(monkeypatch):
    monkeypatch.setattr(ear, "HELPER", False)
    seen = []

    def spy(audio):
        seen.append(audio.size)
        return audio[::-1].copy()  # a change the decoded PCM must show

    monkeypatch.setattr(ear, "dereverberate", spy)
    speech = np.random.default_rng(3).standard_normal(2 * SR).astype(np.float32) * 0.1
    words = ear.listen(speech, words=True)
    assert seen == [speech.size]
    assert words._pcm == pcm16(speech[::-1].copy(), ALIGN_DITHER)
    phones = ear.listen(speech, words=False)
    assert seen == [speech.size] and phones._pcm == pcm16(speech, ALIGN_DITHER)
    monkeypatch.setattr(ear, "DEREVERBERATE", False)
    assert ear.listen(speech, words=True)._pcm == pcm16(speech, ALIGN_DITHER) and len(seen) == 1


def test_the_output_does_not_depend_on_the_callers_blas_threads():
    """numpy's batched products round differently on more BLAS threads (measured 5e-7 on hello.wav, 1e-5
    on a real recording), and the word ear turned that into other words: dereverberation holds the BLAS at
    one thread, as inside ``animate()``."""
    from threadpoolctl import threadpool_limits

    x, _ = sf.read(Path(probtalk.__file__).parent / "assets" / "hello.wav", dtype="float32")
    with threadpool_limits(limits=2):
        several = dereverberate(x)
    with threadpool_limits(limits=1):
        one = dereverberate(x)
    np.testing.assert_array_equal(several, one)
