"""The transcript and noise inputs in the runtime: torch vs ONNX parity, the noise rule, streams, no torch with text."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from probtalk.errors import CheckpointError, OptionError
from probtalk.models.checkpoint import load_checkpoint, save_checkpoint
from probtalk.runtime.backend import OnnxBackend, StyleInputs
from probtalk.runtime.engine import encoder_inputs, sample_takes
from probtalk.runtime.export import export_onnx
from probtalk.runtime.sampling import NOISE_POSITION, noise_knots, noise_scale, take_noise
from probtalk.runtime.stream import Stream, StreamOptions
from probtalk.runtime.torch_backend import TorchBackend

STYLE = StyleInputs(1, (0.0, 0.7, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0), 1.5)
TOL = 1e-4


@pytest.fixture(scope="module", params=[(True, 4, 0, 0, 0.0), (False, 3, 0, 0, 0.0), (True, 0, 0, 0, 0.0),
                                        (True, 4, 1, 0, 0.0), (True, 4, 0, 2, 0.0), (True, 4, 0, 2, 0.88)],
                ids=["phones+noise", "noise", "phones", "phones+late-noise", "phones+performance",
                     "phones+performance+memory"])
def tiny(request, tmp_path_factory) -> tuple[Path, Path]:
    from test_lipsync import tiny_talker

    phone_input, noise_dim, noise_after, habits, memory = request.param
    folder = tmp_path_factory.mktemp("lipsync_onnx")
    path = folder / "tiny.pt"
    talker = tiny_talker(phone_input=phone_input, noise_dim=noise_dim, noise_after=noise_after,
                         habits=("articulation", "rest_open")[:habits], noise_memory=memory,
                         habit_spread=(1.0, 2.0) if memory else ())
    save_checkpoint(path, talker, provenance={"fps": 25.0})
    return path, export_onnx(path, folder / "onnx")


def _speech(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.2 * np.sin(2 * np.pi * 170 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def test_export_has_the_models_inputs_and_encodes_like_torch(tiny):
    ckpt, folder = tiny
    talker, _ = load_checkpoint(ckpt)
    torch_be, onnx_be = TorchBackend(talker), OnnxBackend(folder)
    assert (onnx_be.phone_input, onnx_be.noise_dim) == (torch_be.phone_input, torch_be.noise_dim)
    assert onnx_be.noise_rate == torch_be.noise_rate
    assert onnx_be.noise_memory == torch_be.noise_memory == talker.predictor.config.noise_memory
    assert onnx_be.habit_spread == torch_be.habit_spread == talker.predictor.habit_spread
    assert onnx_be.take_channels == torch_be.take_channels == len(talker.predictor.config.performance_habits)
    meta = json.loads((folder / "probtalk_onnx.json").read_text())
    if onnx_be.noise_memory:  # an engine that predates knot memory must refuse the export
        assert meta["version"] == 4 and meta["noise"]["memory"] == 0.88 and meta["noise"]["take"] == 2
        assert meta["noise"]["spread"] == [1.0, 2.0]
    elif onnx_be.take_channels:  # an engine that predates performance channels must refuse the export
        assert meta["version"] == 3 and meta["noise"]["take"] == 2 and meta["noise"]["performance"] == ["articulation",
                                                                                                      "rest_open"]
    else:
        assert meta["version"] == (2 if onnx_be.noise_dim or onnx_be.phone_input else 1)
    wav = _speech(2.37)
    frames = int(round(wav.size / 640))
    rng = np.random.default_rng(1)
    extra = {"phones": rng.integers(0, 40, (1, frames)),
             "noise": rng.standard_normal((3, frames, max(1, torch_be.noise_dim))).astype(np.float32)}
    lat_t, dist_t = torch_be.encode(wav, frames, STYLE, extra)
    lat_o, dist_o = onnx_be.encode(wav, frames, STYLE, extra)
    rows = 3 if torch_be.noise_dim else 1
    assert lat_t.shape == lat_o.shape == (rows, -(-frames // torch_be.frames_per_code), 16)
    np.testing.assert_allclose(lat_o, lat_t, atol=TOL)
    np.testing.assert_allclose(dist_o, dist_t, atol=TOL * np.abs(dist_t).max())
    plain, _ = torch_be.encode(wav, frames, STYLE)
    assert np.abs(lat_t[0] - plain[0]).max() > 1e-4  # the inputs reach the model


@pytest.mark.parametrize("temperature", [None, 0.2])
def test_windowed_takes_agree_with_and_without_phones(tiny, temperature):
    ckpt, folder = tiny
    talker, _ = load_checkpoint(ckpt)
    torch_be, onnx_be = TorchBackend(talker), OnnxBackend(folder)
    wav = _speech(4.3)
    phones = np.random.default_rng(2).integers(0, 40, 200)
    runs = {}
    for name, ph in (("audio", None), ("text", phones)):
        a, b = (sample_takes(be, wav, STYLE, num_samples=3, temperature=temperature, top_k=None, seed=5,
                             window_seconds=2.0, overlap_seconds=0.5, phones=ph) for be in (torch_be, onnx_be))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(y, x, atol=TOL)
        runs[name] = a
    if torch_be.phone_input:
        assert np.abs(runs["text"][0] - runs["audio"][0]).max() > 1e-4
    if temperature is None:  # zero noise and nearest codes: every take the same
        np.testing.assert_array_equal(runs["audio"][0], runs["audio"][2])
    elif torch_be.noise_dim:
        assert np.abs(runs["audio"][0] - runs["audio"][1]).max() > 1e-3


def _reference_knot(seed: int, take: int, knot: int, channel: int, dim: int) -> float:
    """The documented noise rule with Python ints and math (an independent implementation)."""
    from test_onnx import _splitmix_reference

    n = NOISE_POSITION + 2 * (knot * dim + channel)
    u1, u2 = _splitmix_reference(seed, take, n), _splitmix_reference(seed, take, n + 1)
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def test_noise_follows_the_documented_rule():
    knots = noise_knots(7, 2, np.array([0, 1, 5]), 3)
    for row, j in enumerate((0, 1, 5)):
        for c in range(3):
            assert knots[row, c] == pytest.approx(_reference_knot(7, 2, j, c, 3), abs=1e-12)
    many = noise_knots(3, 0, np.arange(4000), 4)
    assert abs(many.mean()) < 0.03 and abs(many.std() - 1.0) < 0.03
    # Frame f sits at x = f * rate / fps between knots floor(x) and floor(x) + 1.
    frames = take_noise(7, 2, 0, 30, fps=25.0, rate=2.0, dim=3, scale=0.5)
    np.testing.assert_allclose(frames[0], 0.5 * knots[0], rtol=1e-6)
    np.testing.assert_allclose(frames[25], 0.5 * noise_knots(7, 2, np.array([2]), 3)[0], rtol=1e-6)  # x = 2
    assert frames.dtype == np.float32
    w = 6 * 2.0 / 25.0
    np.testing.assert_allclose(frames[6], 0.5 * ((1 - w) * knots[0] + w * knots[1]), rtol=1e-6)
    # Windows see the same noise as the whole clip, and deterministic takes none.
    whole = take_noise(4, 1, 0, 300, fps=25.0, rate=2.0, dim=4, scale=1.0)
    np.testing.assert_array_equal(take_noise(4, 1, 137, 90, fps=25.0, rate=2.0, dim=4, scale=1.0), whole[137:227])
    assert noise_scale(None) == 0.0 and noise_scale(0.1) == 0.5 and noise_scale(0.8) == 1.0
    assert not take_noise(4, 1, 0, 10, fps=25.0, rate=2.0, dim=4, scale=noise_scale(None)).any()


def test_performance_channels_hold_knot_zero_for_the_whole_take():
    held = noise_knots(7, 2, np.array([0, 1, 5]), 3, take_channels=2)
    for row, j in enumerate((0, 1, 5)):
        for c in range(3):
            assert held[row, c] == pytest.approx(_reference_knot(7, 2, 0 if c < 2 else j, c, 3), abs=1e-12)
    frames = take_noise(7, 2, 40, 200, fps=25.0, rate=2.0, dim=3, scale=0.5, take_channels=2)
    np.testing.assert_allclose(frames[:, :2], np.broadcast_to(0.5 * held[0, :2], (200, 2)), rtol=1e-6)
    np.testing.assert_array_equal(frames[:, 2], take_noise(7, 2, 40, 200, fps=25.0, rate=2.0, dim=3, scale=0.5)[:, 2])
    other = take_noise(7, 3, 40, 200, fps=25.0, rate=2.0, dim=3, scale=0.5, take_channels=2)
    assert np.abs(other[0, :2] - frames[0, :2]).min() > 1e-6  # each take its own performance


def test_variation_scales_the_drawn_performance_and_clips_it_to_the_habits_range():
    base = noise_knots(7, 2, np.arange(3), 4, take_channels=2)
    wide = noise_knots(7, 2, np.arange(3), 4, take_channels=2, variation=2.0)
    np.testing.assert_array_equal(wide[:, 2:], base[:, 2:])  # the free channels are the temperature's
    np.testing.assert_allclose(wide[:, :2], np.clip(2.0 * base[:, :2], -3.0, 3.0), rtol=1e-12)
    assert not noise_knots(7, 2, np.arange(3), 4, take_channels=2, variation=0.0)[:, :2].any()
    # Over many takes: the spread doubles, and no habit leaves -3..3 (the corpus's range).
    habits = np.stack([noise_knots(5, k, np.arange(1), 3, take_channels=3, variation=2.0)[0] for k in range(3000)])
    assert np.abs(habits).max() == 3.0 and 0.10 < float((np.abs(habits) == 3.0).mean()) < 0.17
    assert 1.7 < float(habits.std()) < 1.95  # 2 before the clip
    frames = take_noise(7, 2, 10, 50, fps=25.0, rate=2.0, dim=4, scale=0.5, take_channels=2, variation=2.0)
    np.testing.assert_allclose(frames[:, :2], np.broadcast_to(0.5 * wide[0, :2], (50, 2)), rtol=1e-6)
    # A habit's spread widens that habit alone, on top of the variation.
    spread = noise_knots(7, 2, np.arange(3), 4, take_channels=2, variation=2.0, spread=(1.0, 0.5))
    np.testing.assert_array_equal(spread[:, 0], wide[:, 0])
    np.testing.assert_allclose(spread[:, 1], np.clip(base[:, 1], -3.0, 3.0), rtol=1e-12)  # 2 x 0.5
    np.testing.assert_array_equal(spread[:, 2:], base[:, 2:])
    np.testing.assert_array_equal(noise_knots(7, 2, np.arange(3), 4, take_channels=2, spread=(1.0, 1.0)), base)


def test_an_export_whose_habit_widths_do_not_match_its_habits_is_refused(tiny, tmp_path):
    import shutil

    from probtalk.runtime.loading import load_onnx_model

    _, folder = tiny
    if not OnnxBackend(folder).noise_memory:
        pytest.skip("checked on the export with knot memory and habit widths")
    described = load_onnx_model(folder).input_names()[-1]  # what 'probtalk info' shows
    assert "rest_open x2" in described and "knot memory 0.88" in described
    copy = shutil.copytree(folder, tmp_path / "onnx")
    meta = json.loads((copy / "probtalk_onnx.json").read_text())
    meta["noise"]["spread"] = [2.0]
    (copy / "probtalk_onnx.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="2 habits and 1 widths for 2 performance channels; re-export"):
        OnnxBackend(copy)


def test_knot_memory_follows_the_documented_rule():
    m, dim, taps = 0.88, 3, 32
    a = [m**lag / math.sqrt(sum(m ** (2 * i) for i in range(taps))) for lag in range(taps)]
    knots = noise_knots(7, 2, np.array([0, 1, 40]), dim, take_channels=1, memory=m)
    for row, j in enumerate((0, 1, 40)):
        assert knots[row, 0] == pytest.approx(_reference_knot(7, 2, 0, 0, dim), abs=1e-12)  # the performance: no memory
        for c in (1, 2):
            expected = sum(a[lag] * _reference_knot(7, 2, j - lag, c, dim) for lag in range(taps))
            assert knots[row, c] == pytest.approx(expected, abs=1e-12)
    # Still standard normal, now correlated about m with the neighbouring knot, a little at ten knots.
    many = noise_knots(3, 0, np.arange(20000), 2, memory=m)
    assert abs(many.mean()) < 0.1 and abs(many.std() - 1.0) < 0.05
    lag = lambda k: float(np.mean([np.corrcoef(many[:-k, c], many[k:, c])[0, 1] for c in (0, 1)]))  # noqa: E731
    assert abs(lag(1) - m) < 0.02 and abs(lag(10) - m**10) < 0.08
    plain = noise_knots(3, 0, np.arange(20000), 2)
    assert abs(float(np.corrcoef(plain[:-1, 0], plain[1:, 0])[0, 1])) < 0.03
    # Windows see the same noise as the whole clip, the performance channels are memory's own, 0 is no memory.
    whole = take_noise(4, 1, 0, 300, fps=25.0, rate=2.0, dim=4, scale=1.0, take_channels=1, memory=m)
    np.testing.assert_array_equal(take_noise(4, 1, 137, 90, fps=25.0, rate=2.0, dim=4, scale=1.0, take_channels=1,
                                             memory=m), whole[137:227])
    flat = take_noise(4, 1, 0, 300, fps=25.0, rate=2.0, dim=4, scale=1.0, take_channels=1)
    np.testing.assert_array_equal(whole[:, 0], flat[:, 0])
    assert np.abs(whole[:, 1:] - flat[:, 1:]).max() > 0.5
    np.testing.assert_array_equal(take_noise(4, 1, 0, 300, fps=25.0, rate=2.0, dim=4, scale=1.0, memory=0.0),
                                  take_noise(4, 1, 0, 300, fps=25.0, rate=2.0, dim=4, scale=1.0))
    with pytest.raises(ValueError, match="noise memory"):
        noise_knots(3, 0, np.arange(4), 2, memory=1.0)


def test_torch_takes_draw_with_the_knot_memory_and_training_without():
    from test_lipsync import tiny_talker

    with pytest.raises(ValueError, match="noise memory"):
        tiny_talker(noise_memory=-0.1)
    predictor = tiny_talker(noise_dim=4, habits=("articulation",), noise_memory=0.88).predictor
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    sampled = predictor.draw_noise(300, 500, 25.0, gen(), variation=1.0).numpy()
    training = predictor.draw_noise(300, 500, 25.0, gen()).numpy()
    corr = lambda x: float(np.corrcoef(x[:, :-1].ravel(), x[:, 1:].ravel())[0, 1])  # noqa: E731
    assert abs(corr(sampled[:, :, 1:]) - 0.88) < 0.02 and abs(float(sampled[:, :, 1:].std()) - 1.0) < 0.03
    assert abs(corr(training[:, :, 1:])) < 0.03
    assert (sampled[:, 1:, 0] == sampled[:, :1, 0]).all()  # the performance channel: one value a take
    wide = tiny_talker(noise_dim=4, habits=("articulation",), noise_memory=0.88, habit_spread=(2.0,)).predictor
    np.testing.assert_allclose(wide.draw_noise(300, 500, 25.0, gen(), variation=0.5).numpy()[:, :, 0],
                               np.clip(sampled[:, :, 0], -3.0, 3.0), rtol=1e-6)  # 0.5 x 2: the same as 1 x 1
    with pytest.raises(ValueError, match="habit_spread"):
        tiny_talker(noise_dim=4, habits=("articulation",), habit_spread=(1.0, 2.0))


def test_torch_takes_draw_the_performance_by_the_same_rule(tiny):
    ckpt, _ = tiny
    from probtalk.models.checkpoint import load_checkpoint

    predictor = load_checkpoint(ckpt)[0].predictor
    p = predictor.take_channels
    if not p:
        pytest.skip("this model has no performance channels")
    draw = lambda v: predictor.draw_noise(400, 50, 25.0, torch.Generator().manual_seed(3), variation=v)  # noqa: E731
    plain, wide, none = draw(None), draw(2.0), draw(0.0)
    np.testing.assert_array_equal(wide[:, :, p:].numpy(), draw(1.0)[:, :, p:].numpy())  # the temperature's channels
    width = 2.0 * np.asarray(predictor.habit_spread)
    np.testing.assert_allclose(wide[:, :, :p].numpy(), np.clip(width * plain[:, :, :p].numpy(), -3, 3), rtol=1e-6)
    assert not none[:, :, :p].any() and (wide[:, 1:, :p] == wide[:, :1, :p]).all()


class _Recorder:
    """A backend that records the noise each encode call gets."""

    def __init__(self, inner: OnnxBackend) -> None:
        self.inner = inner
        self.calls: list[tuple[int, np.ndarray]] = []
        for name in ("fps", "frames_per_code", "num_codes", "latent_dim", "phone_input", "noise_dim", "noise_rate",
                     "noise_memory", "take_channels", "performance_habits", "habit_spread"):
            setattr(self, name, getattr(inner, name))

    def encode(self, audio, num_frames, style, extra=None):
        self.calls.append((num_frames, extra["noise"]))
        return self.inner.encode(audio, num_frames, style, extra)

    def decode(self, codes, num_frames):
        return self.inner.decode(codes, num_frames)


def test_stream_noise_is_the_offline_noise_at_every_step(tiny):
    _, folder = tiny
    backend = OnnxBackend(folder)
    if not backend.noise_dim:
        pytest.skip("this model has no noise input")
    wav = _speech(3.0)
    rec = _Recorder(backend)
    stream = Stream(rec, STYLE, num_samples=2, temperature=0.2, top_k=None, seed=9,
                    options=StreamOptions(lookahead_seconds=0.24, context_seconds=1.0), meta={})
    for i in range(0, wav.size, 1600):
        stream.feed(wav[i : i + 1600])
    stream.flush()
    whole = [take_noise(9, k, 0, 75, fps=25.0, rate=backend.noise_rate, dim=backend.noise_dim, scale=1.0,
                        take_channels=backend.take_channels, memory=backend.noise_memory, spread=backend.habit_spread)
             for k in (0, 1)]
    starts = set()
    for _num_frames, noise in rec.calls:
        assert noise.shape[0] == 2
        # Find the window's first frame from take 0's noise, then every take must match the offline noise there.
        start = next(s for s in range(75) if np.array_equal(noise[0, 0], whole[0][s]))
        starts.add(start)
        for k in (0, 1):
            np.testing.assert_array_equal(noise[k], whole[k][start : start + noise.shape[1]])
    assert len(starts) > 1  # several windows, each cut from the same noise
    # A look-ahead longer than the clip gives the offline sampled takes.
    whole_stream = Stream(backend, STYLE, num_samples=2, temperature=0.2, top_k=None, seed=9,
                          options=StreamOptions(lookahead_seconds=10.0, context_seconds=10.0), meta={})
    parts = [whole_stream.feed(wav[i : i + 1600])[1].motion() for i in range(0, wav.size, 1600)]
    streamed = np.concatenate([*parts, whole_stream.flush()[1].motion()])
    offline = sample_takes(backend, wav, STYLE, num_samples=2, temperature=0.2, top_k=None, seed=9,
                           window_seconds=20.0, overlap_seconds=1.0)[1]
    np.testing.assert_allclose(streamed, offline, atol=1e-5)


def test_deterministic_takes_feed_one_zero_noise_row(tiny):
    _, folder = tiny
    backend = OnnxBackend(folder)
    extra = encoder_inputs(backend, 10, 20, num_samples=4, temperature=None, seed=1, phones=np.ones(25, np.int64))
    if backend.noise_dim:
        assert extra["noise"].shape == (1, 20, backend.noise_dim) and not extra["noise"].any()
    else:
        assert "noise" not in extra
    if backend.phone_input:
        assert extra["phones"].tolist() == [[1] * 15 + [0] * 5]


def test_models_refuse_text_for_streams(tiny):
    from probtalk.runtime.loading import load_onnx_model

    _, folder = tiny
    with pytest.raises(OptionError, match="text"):
        load_onnx_model(folder).stream(16000, text="Bob made a big map.")


def test_text_with_the_onnx_model_runs_without_torch(tiny, tmp_path):
    """`probtalk animate --model <onnx folder> --text ...`: alignment and the graphs, no torch; same takes as torch."""
    from test_transcript import LINE

    ckpt, folder = tiny
    from probtalk.runtime.onnx_model import OnnxModel

    if not OnnxModel(folder).backend.phone_input:
        pytest.skip("this model takes no transcript")
    from probtalk.corpus.tts import synthesize
    from probtalk.corpus.voices import Voice

    utt = synthesize(LINE, Voice("M001", "espeak", "en-us+m3"), "neutral", 0.0, np.random.default_rng(0))
    clip = tmp_path / "line.wav"
    sf.write(clip, utt.audio, 16000)
    code = (
        "import sys\n"
        "from probtalk.cli.main import app\n"
        f"argv = ['animate', {str(clip)!r}, '--model', {str(folder)!r}, '-o', {str(tmp_path / 'out')!r}, '-n', '2',\n"
        f"        '--seed', '3', '--text', {LINE!r}]\n"
        "try:\n"
        "    app(argv)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('HEAVY:' + ','.join(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
    import probtalk
    from probtalk import Animation

    takes = [Animation.load(p) for p in sorted((tmp_path / "out").glob("*.npz"))]
    assert len(takes) == 2 and all(t.meta["text_used"] for t in takes)
    again = probtalk.load_model(ckpt, device="cpu").animate(clip, num_samples=2, seed=3, text=LINE)
    for onnx_take, torch_take in zip(takes, again, strict=True):
        assert torch_take.meta["text_used"] and torch_take.meta["text_fit"] == onnx_take.meta["text_fit"]
        np.testing.assert_allclose(onnx_take.motion(), torch_take.motion(), atol=TOL)
        assert onnx_take.meta["seal_lips"] and onnx_take.meta["sealed_frames"] > 0  # the line's b and m sealed
    (unsealed,) = probtalk.load_model(ckpt, device="cpu").animate(clip, seed=3, text=LINE, seal_lips=False)
    assert unsealed.meta["sealed_frames"] == 0 and unsealed.meta["text_used"]
    assert np.abs(unsealed.motion() - again[0].motion()).max() > 1e-4


def test_one_clip_in_several_emotions_is_aligned_and_warned_about_once(tiny, caplog):
    import logging

    from probtalk.runtime.loading import load_onnx_model

    _, folder = tiny
    model = load_onnx_model(folder)
    if model.backend.phone_input:
        pytest.skip("checked with a model that takes no transcript (no alignment needed)")
    wav = _speech(1.0)
    with caplog.at_level(logging.WARNING):
        metas = [model.animate(wav, 16000, emotion=e, text="Bob made a map.", deterministic=True)[0].meta
                 for e in ("happy", "sad")]
    assert all(m["text_used"] is False and m["text_ignored"] for m in metas)
    assert len([r for r in caplog.records if "takes no transcript" in r.getMessage()]) == 1


def _with_habits(folder: Path) -> OnnxBackend:
    """The export's backend; the test is skipped for a model without performance channels."""
    backend = OnnxBackend(folder)
    if not backend.take_channels:
        pytest.skip("this model has no performance channels")
    return backend


def test_held_performance_channels_are_the_same_in_every_take(tiny):
    backend = _with_habits(tiny[1])
    held = np.array([1.5, np.nan])
    extra = encoder_inputs(backend, 20, 30, num_samples=3, temperature=0.2, seed=1, performance=held)["noise"]
    assert (extra[:, :, 0] == 1.5).all()  # held, and not scaled by the temperature
    drawn = extra[:, :, 1]
    assert (drawn == drawn[:, :1]).all() and np.ptp(drawn[:, 0]) > 1e-3  # one value per take, each take its own
    free = encoder_inputs(backend, 20, 30, num_samples=3, temperature=0.2, seed=1)["noise"]
    np.testing.assert_array_equal(extra[:, :, 1:], free[:, :, 1:])
    det = encoder_inputs(backend, 20, 30, num_samples=3, temperature=None, seed=1, performance=held)["noise"]
    assert det.shape[0] == 1 and (det[0, :, 0] == 1.5).all() and not det[0, :, 1:].any()


def test_variation_reaches_the_takes_and_their_meta(tiny):
    from probtalk.runtime.loading import load_fast_model

    ckpt, folder = tiny
    backend = _with_habits(folder)
    held = np.array([1.5, np.nan])
    wide = encoder_inputs(backend, 20, 30, num_samples=3, temperature=0.2, seed=1, performance=held, variation=2.0)["noise"]
    plain = encoder_inputs(backend, 20, 30, num_samples=3, temperature=0.2, seed=1, performance=held)["noise"]
    assert (wide[:, :, 0] == 1.5).all()  # held habits are as asked, whatever the variation
    np.testing.assert_allclose(wide[:, :, 1], np.clip(2.0 * plain[:, :, 1], -3.0, 3.0), rtol=1e-6)
    np.testing.assert_array_equal(wide[:, :, 2:], plain[:, :, 2:])
    det = encoder_inputs(backend, 20, 30, num_samples=3, temperature=None, seed=1, variation=2.0)["noise"]
    assert det.shape[0] == 1 and not det.any()  # deterministic takes draw nothing
    wav = _speech(2.0)
    for model in (load_fast_model(ckpt), load_fast_model(folder)):  # torch and onnxruntime
        takes = {v: model.animate(wav, sample_rate=16000, num_samples=2, seed=3, variation=v, blinks=False)
                 for v in (0.0, 1.0, 2.0)}
        assert [takes[v][0].meta["variation"] for v in (0.0, 1.0, 2.0)] == [0.0, 1.0, 2.0]
        assert np.abs(takes[2.0][0].motion() - takes[1.0][0].motion()).max() > 1e-4
        once = model.animate(wav, sample_rate=16000, num_samples=2, seed=3, variation=2.0, blinks=False)
        np.testing.assert_array_equal(once[1].motion(), takes[2.0][1].motion())  # seeded takes repeat
        (det,) = model.animate(wav, sample_rate=16000, deterministic=True, variation=2.0, blinks=False)
        (plain_det,) = model.animate(wav, sample_rate=16000, deterministic=True, blinks=False)
        assert det.meta["variation"] is None
        np.testing.assert_array_equal(det.motion(), plain_det.motion())
        stream = model.stream(num_samples=2, seed=3, variation=2.0, blinks=False, lookahead_seconds=10.0,
                              context_seconds=10.0)
        parts = [stream.feed(wav[i : i + 1600])[0].motion() for i in range(0, wav.size, 1600)]
        streamed = np.concatenate([*parts, stream.flush()[0].motion()])
        assert stream.meta["variation"] == 2.0
        np.testing.assert_allclose(streamed, takes[2.0][0].motion(), atol=1e-4)


def test_animate_and_stream_hold_the_asked_performance(tiny):
    from probtalk.runtime.loading import load_fast_model

    ckpt, folder = tiny
    _with_habits(folder)
    for model in (load_fast_model(ckpt), load_fast_model(folder)):  # torch and onnxruntime
        wav = _speech(2.0)
        asked = {"articulation": 2.5}
        held = model.animate(wav, sample_rate=16000, num_samples=2, seed=3, performance=asked, blinks=False)
        free = model.animate(wav, sample_rate=16000, num_samples=2, seed=3, blinks=False)
        assert held[0].meta["performance"] == asked and free[0].meta["performance"] is None
        assert np.abs(held[0].motion() - free[0].motion()).max() > 1e-4
        assert "articulation" in model.input_names()[-1]
        with pytest.raises(OptionError, match="brow_use is not a habit of model .* it knows articulation, rest_open"):
            model.animate(wav, sample_rate=16000, performance={"brow_use": 1.0})
        det = [model.animate(wav, sample_rate=16000, deterministic=True, performance=asked, blinks=False)[0]
               for _ in range(2)]
        np.testing.assert_array_equal(det[0].motion(), det[1].motion())
        stream = model.stream(num_samples=2, seed=3, performance=asked, blinks=False, lookahead_seconds=10.0,
                              context_seconds=10.0)
        parts = [stream.feed(wav[i : i + 1600])[0].motion() for i in range(0, wav.size, 1600)]
        streamed = np.concatenate([*parts, stream.flush()[0].motion()])
        assert stream.meta["performance"] == asked
        np.testing.assert_allclose(streamed, held[0].motion(), atol=1e-4)
