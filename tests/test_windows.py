"""Long audio: window planning covers the clip and joins are seamless."""

from __future__ import annotations

import numpy as np
import pytest

from probtalk.windows import plan_windows, stitch


def test_plan_covers_clip_with_overlap():
    wins = plan_windows(num_samples=640 * 1234, num_frames=1234, samples_per_frame=640, window=500, overlap=25)
    assert wins[0].start == 0 and wins[-1].stop == 1234
    for a, b in zip(wins, wins[1:], strict=False):
        assert a.stop - b.start == 25  # neighbours overlap by exactly 25 frames
        assert b.sample_start == b.start * 640
    assert all(w.num_frames <= 500 for w in wins)


def test_short_clip_is_one_window():
    wins = plan_windows(num_samples=16000, num_frames=25, samples_per_frame=640, window=500, overlap=25)
    assert len(wins) == 1 and wins[0].stop == 25


def test_stitch_reproduces_a_consistent_signal_exactly():
    t = np.arange(1000, dtype=np.float32)
    signal = np.stack([np.sin(t / 20), np.cos(t / 33)], axis=1).astype(np.float32)
    wins = plan_windows(1000 * 640, 1000, 640, 300, 40)
    parts = [signal[w.start : w.stop] for w in wins]
    np.testing.assert_allclose(stitch(wins, parts, 1000), signal, atol=1e-6)


def test_stitch_has_no_jump_where_windows_disagree():
    # Two windows predicting different constant levels: the join must ramp, not step.
    wins = plan_windows(400 * 640, 400, 640, 250, 50)
    parts = [np.full((w.num_frames, 1), float(i), np.float32) for i, w in enumerate(wins)]
    out = stitch(wins, parts, 400)[:, 0]
    steps = np.abs(np.diff(out))
    assert steps.max() < 0.05  # a unit level change spread over 50 frames
    assert out[0] == 0.0 and out[-1] == float(len(wins) - 1)


def test_window_must_exceed_overlap():
    with pytest.raises(ValueError):
        plan_windows(1000, 10, 100.0, window=5, overlap=5)
