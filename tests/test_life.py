"""The life stage: blinks, gaze and head motion; controls, seeds, streams, the head net and its files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from probtalk.audio import load_audio
from probtalk.errors import CheckpointError, OptionError, OptionTypeError
from probtalk.life import HeadNet, Life, LifeSettings, add_life, blink_vector
from probtalk.life.blinks import BlinkProcess, blink_shape
from probtalk.life.head import HeadNetConfig, style_channels
from probtalk.life.prosody import NUM_PROSODY, PROSODY_NAMES, prosody_features
from probtalk.life.train import HeadConv
from probtalk.options import AnimateOptions
from probtalk.runtime.backend import DEFAULT_ONNX_DIR

HELLO = DEFAULT_ONNX_DIR.parent / "hello.wav"
FPS = 25.0


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """60 s of speech: the bundled sentence repeated with pauses of several lengths between."""
    wav = load_audio(HELLO)
    parts, n = [], 0
    for k in range(40):
        parts += [wav, np.zeros(int(16000 * (0.2 + 0.4 * (k % 4))), np.float32)]
        n += wav.size + parts[-1].size
        if n > 60 * 16000:
            break
    return np.concatenate(parts)[: 60 * 16000]


@pytest.fixture(scope="module")
def head_net() -> HeadNet:
    torch.manual_seed(0)
    return HeadConv(HeadNetConfig()).to_numpy({"test": True})


def _life(wav, seed=1, takes=2, settings=LifeSettings(), head=None, emotion=None):
    total = int(round(wav.size * FPS / 16000))
    motions = [np.zeros((total, 53), np.float32)] * takes
    return add_life(motions, wav, fps=FPS, seed=seed, settings=settings, emotion=emotion or {"neutral": 1.0},
                    intensity=1.0, head=head, metas=[{} for _ in range(takes)])


def _closure(anim) -> np.ndarray:
    v = blink_vector()[: anim.expression.shape[1]]
    return anim.expression @ v / (v @ v)


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("value", [-0.1, 2.5, float("nan"), float("inf")])
def test_head_motion_out_of_range_is_refused(value):
    with pytest.raises(OptionError, match="^head_motion"):
        AnimateOptions(head_motion=value)


@pytest.mark.parametrize(("name", "value"), [("head_motion", "1"), ("head_motion", True), ("blinks", "no"), ("gaze", 1)])
def test_life_options_of_the_wrong_type_are_refused(name, value):
    with pytest.raises(OptionTypeError, match=f"^{name}"):
        AnimateOptions(**{name: value})


def test_cli_names_the_flag_and_exits_2(tmp_path):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    res = CliRunner().invoke(app, ["animate", str(HELLO), "-o", str(tmp_path / "o"), "--head-motion", "3"])
    assert res.exit_code == 2
    assert "--head-motion must be <= 2" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


# ------------------------------------------------------------------ blinks, gaze, head
def test_prosody_marks_pauses_and_voicing(speech):
    feats = prosody_features(speech, FPS, int(round(speech.size / 640)))
    assert feats.shape[1] == NUM_PROSODY
    pause, voiced = feats[:, PROSODY_NAMES.index("pause")], feats[:, PROSODY_NAMES.index("voiced")]
    quiet = np.abs(speech[: feats.shape[0] * 640].reshape(-1, 640)).max(1) == 0
    silent = quiet & np.concatenate([[True], quiet[:-1]])  # a frame's 64 ms window reaches into the frame before
    assert silent.sum() > 100 and pause[silent].min() == 1.0
    assert voiced[~quiet].mean() > 0.3 and voiced[silent].max() == 0


def test_blink_shape_closes_fully_within_100_to_300_ms():
    for d in (0.12, 0.2, 0.3):
        shape = blink_shape(d, FPS)
        assert shape.max() == 1.0 and shape[0] < 1.0 and shape[-1] < 0.5
        assert 0.1 <= shape.size / FPS <= 0.32


def test_blinks_rate_and_full_closure(speech):
    anim = _life(speech, takes=1)[0]
    c = _closure(anim)
    onsets = np.flatnonzero((c[1:] > 0.5) & (c[:-1] <= 0.5))
    per_minute = onsets.size * 60.0 / anim.duration
    assert 10 <= per_minute <= 25
    peaks = [c[o : o + 8].max() for o in onsets]
    assert min(peaks) > 0.999


def test_blinks_come_more_often_in_pauses(speech):
    feats = prosody_features(speech, FPS, int(round(speech.size / 640)))
    pause = feats[:, PROSODY_NAMES.index("pause")] > 0.5
    in_pause = total = 0
    for seed in range(6):
        proc = BlinkProcess(FPS, seed, 0)
        c = proc.run(feats, 0)
        onsets = np.flatnonzero((c[1:] > 0) & (c[:-1] == 0)) + 1
        in_pause += pause[onsets].sum()
        total += onsets.size
    assert in_pause / total > pause.mean() * 1.3  # blinks are denser in pauses than the pauses' share of time


def test_same_seed_same_life_other_take_or_seed_differs(speech, head_net):
    a = _life(speech[:160000], seed=5, head=head_net)
    b = _life(speech[:160000], seed=5, head=head_net)
    c = _life(speech[:160000], seed=6, head=head_net)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.neck_pose, y.neck_pose)
        np.testing.assert_array_equal(x.eye_pose, y.eye_pose)
        np.testing.assert_array_equal(x.expression, y.expression)
    assert np.abs(a[0].neck_pose - a[1].neck_pose).max() > np.radians(0.5)  # takes differ
    assert np.abs(a[0].eye_pose - a[1].eye_pose).max() > np.radians(0.5)
    assert not np.array_equal(_closure(a[0]) > 0.5, _closure(a[1]) > 0.5)
    assert np.abs(a[0].neck_pose - c[0].neck_pose).max() > np.radians(0.5)  # seeds differ


def test_controls_switch_each_part_off(speech, head_net):
    wav = speech[:160000]
    still = _life(wav, settings=LifeSettings(head_motion=0.0), head=head_net)[0]
    assert still.neck_pose is not None and not np.any(still.neck_pose)  # exactly zero
    assert np.any(still.eye_pose) and _closure(still).max() > 0.99  # the eyes still live
    closed = _life(wav, settings=LifeSettings(blinks=False, gaze=False), head=head_net)[0]
    assert not np.any(closed.expression) and not np.any(closed.eye_pose)  # no blink, eyes still
    assert np.abs(closed.neck_pose).max() > np.radians(0.5)
    half = _life(wav, settings=LifeSettings(head_motion=0.5), head=head_net)[0]
    full = _life(wav, head=head_net)[0]
    np.testing.assert_allclose(half.neck_pose * 2, full.neck_pose, atol=1e-6)  # a plain scale


def test_head_motion_is_smooth_and_moves_in_degrees(speech, head_net):
    anim = _life(speech, takes=1, head=head_net)[0]
    deg = np.degrees(anim.neck_pose)
    assert (deg.std(0) > 0.5).sum() >= 2
    assert np.abs(np.diff(deg, axis=0)).max() < 1.5


def test_eyes_counter_rotate_the_head(speech):
    anim = _life(speech[:160000], takes=1, settings=LifeSettings(), head=None)[0]
    yaw_eye, yaw_head = anim.eye_pose[:, 1], anim.neck_pose[:, 1]
    assert np.corrcoef(yaw_eye, yaw_head)[0, 1] < -0.3  # eyes turn against the head, keeping contact
    np.testing.assert_array_equal(anim.eye_pose[:, :3], anim.eye_pose[:, 3:])  # both eyes together


# ------------------------------------------------------------------ the head net
def test_numpy_head_net_matches_torch(head_net):
    torch.manual_seed(1)
    net = HeadConv(HeadNetConfig())
    x = torch.randn(2, 57, HeadNetConfig().inputs)
    mask = torch.ones(2, 57, dtype=torch.bool)
    mask[1, 40:] = False
    x[1, 40:] = 0
    with torch.no_grad():
        want = net(x, mask).numpy()
    numpy_net = net.to_numpy()
    np.testing.assert_allclose(numpy_net.run(x[0].numpy()), want[0], atol=1e-5)
    np.testing.assert_allclose(numpy_net.run(x[1, :40].numpy()), want[1, :40], atol=1e-5)


def test_head_net_file_round_trip_and_refusals(tmp_path, head_net):
    path = tmp_path / "head.npz"
    head_net.save(path)
    back = HeadNet.load(path)
    x = np.random.default_rng(0).standard_normal((30, head_net.config.inputs)).astype(np.float32)
    np.testing.assert_array_equal(back.run(x), head_net.run(x))
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a probtalk head net"):
        HeadNet.load(tmp_path / "other.npz")
    arrays = head_net.to_arrays()
    arrays["w0"] = arrays["w0"][:, :5]
    with pytest.raises(CheckpointError, match="w0"):
        HeadNet.from_arrays(arrays)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="unreadable"):
        HeadNet.load(tmp_path / "bad.npz")


def test_style_channels_follow_the_emotion_names():
    ch = style_channels({"happy": 0.7, "surprised": 0.3}, 1.5)
    assert ch.shape == (9,) and ch[1] == pytest.approx(0.7) and ch[3] == pytest.approx(0.3) and ch[-1] == 1.5


# ------------------------------------------------------------------ streams
@pytest.mark.parametrize("chunk", [331, 2000, 9001])
def test_life_step_by_step_equals_offline(speech, head_net, chunk):
    wav = speech[: 16000 * 8]
    total = int(round(wav.size / 640))
    settings = LifeSettings(head_motion=1.3)
    offline = Life(FPS, 3, [0, 1], settings, {"happy": 1.0}, 1.0, head_net).step(wav, 0, total, total)
    life = Life(FPS, 3, [0, 1], settings, {"happy": 1.0}, 1.0, head_net)
    parts, received = [], 0
    while received < wav.size:
        received = min(wav.size, received + chunk)
        ready = int(received // 640) - life.lookahead
        if ready > life.done:
            start = max(0, life.done - life.context - 2) * 640 - 1024
            start = max(0, start)
            parts.append(life.step(wav[start:received], start, ready, None))
    parts.append(life.step(wav, 0, total, total))
    for k in range(2):
        neck = np.concatenate([p[k].neck for p in parts])
        eyes = np.concatenate([p[k].eyes for p in parts])
        blink = np.concatenate([p[k].blink for p in parts])
        np.testing.assert_allclose(neck, offline[k].neck, atol=1e-6)
        np.testing.assert_allclose(eyes, offline[k].eyes, atol=1e-6)
        np.testing.assert_array_equal(blink, offline[k].blink)


def test_model_stream_matches_animate_and_meta_records_controls():
    from probtalk.runtime.loading import load_onnx_model

    model = load_onnx_model()
    opts = AnimateOptions(seed=11, num_samples=2, head_motion=1.5, gaze=False)
    takes = model.animate(HELLO, options=opts)
    assert takes[0].meta["head_motion"] == 1.5 and takes[0].meta["gaze"] is False and takes[0].meta["blinks"] is True
    wav = load_audio(HELLO)
    stream = model.stream(options=opts)
    outs = [stream.feed(wav[i : i + 3000]) for i in range(0, wav.size, 3000)] + [stream.flush()]
    for k in range(2):
        neck = np.concatenate([o[k].neck_pose for o in outs])
        np.testing.assert_allclose(neck, takes[k].neck_pose, atol=1e-5)
        assert not np.any(np.concatenate([o[k].eye_pose for o in outs]))
        closure = np.concatenate([_closure(o[k]) for o in outs])
        np.testing.assert_allclose(closure, _closure(takes[k]), atol=0.05)  # blinks at the same frames


def test_deterministic_takes_are_one_take_whatever_the_seed():
    from probtalk.runtime.loading import load_onnx_model

    model = load_onnx_model()
    a, b = model.animate(HELLO, deterministic=True, num_samples=2)
    c = model.animate(HELLO, deterministic=True, seed=99)[0]
    for other in (b, c):
        np.testing.assert_array_equal(a.neck_pose, other.neck_pose)
        np.testing.assert_array_equal(a.eye_pose, other.eye_pose)
        np.testing.assert_array_equal(a.expression, other.expression)
    assert np.any(a.neck_pose) and _closure(a).max() > 0.99  # still alive


# ------------------------------------------------------------------ checkpoints
def test_checkpoint_carries_the_head_net(tmp_path, head_net):
    from test_onnx import _tiny

    from probtalk.api import load_model
    from probtalk.models.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(tmp_path / "with.pt", _tiny(0), provenance={"fps": 25.0}, head=head_net, half=True)
    save_checkpoint(tmp_path / "without.pt", _tiny(0), provenance={"fps": 25.0})
    _, info = load_checkpoint(tmp_path / "with.pt")
    x = np.random.default_rng(0).standard_normal((30, head_net.config.inputs)).astype(np.float32)
    np.testing.assert_array_equal(info.head.run(x), head_net.run(x))  # float32 even in a half checkpoint
    assert load_checkpoint(tmp_path / "without.pt")[1].head is None
    wav = load_audio(HELLO)
    learned = load_model(tmp_path / "with.pt", device="cpu").animate(wav, 16000, seed=2)[0]
    plain = load_model(tmp_path / "without.pt", device="cpu").animate(wav, 16000, seed=2)[0]
    assert learned.meta["head_net"] is True and plain.meta["head_net"] is False
    assert np.any(plain.neck_pose) and not np.allclose(learned.neck_pose, plain.neck_pose)


def test_onnx_export_carries_the_head_net(tmp_path, head_net):
    from test_onnx import _tiny

    from probtalk.api import load_model
    from probtalk.models.checkpoint import save_checkpoint
    from probtalk.runtime.export import export_onnx
    from probtalk.runtime.loading import load_onnx_model

    save_checkpoint(tmp_path / "with.pt", _tiny(0), provenance={"fps": 25.0}, head=head_net)
    folder = export_onnx(tmp_path / "with.pt", tmp_path / "onnx")
    assert (folder / "head.npz").is_file()
    wav = load_audio(HELLO)
    fast = load_onnx_model(folder).animate(wav, 16000, seed=4, num_samples=2)
    slow = load_model(tmp_path / "with.pt", device="cpu").animate(wav, 16000, seed=4, num_samples=2)
    for a, b in zip(fast, slow, strict=True):
        assert a.meta["head_net"] is True
        np.testing.assert_allclose(a.neck_pose, b.neck_pose, atol=1e-5)
        np.testing.assert_allclose(a.eye_pose, b.eye_pose, atol=1e-5)
    save_checkpoint(tmp_path / "without.pt", _tiny(0), provenance={"fps": 25.0})
    export_onnx(tmp_path / "without.pt", folder)  # re-export into the folder: the old head goes
    assert not (folder / "head.npz").exists() and load_onnx_model(folder).head_net is None


def test_arkit_solve_closes_the_eyes_at_blink_peaks():
    from exporters.arkit import solve_arkit
    from probtalk.arkit import ARKIT_NAMES
    from probtalk.runtime.loading import load_onnx_model

    take = load_onnx_model().animate(HELLO, seed=1, emotion="happy")[0]
    peaks = np.flatnonzero(_closure(take) > 0.999)
    assert peaks.size > 0
    curves = solve_arkit(take)
    for name in ("eyeBlinkLeft", "eyeBlinkRight"):
        assert curves.weights[peaks, ARKIT_NAMES.index(name)].min() >= 0.8
