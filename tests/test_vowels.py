"""The open-vowel detector: its heard vowels, its files, its training, and the opening it adds to the
audio-only seal."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_bilabial import _gaps_mm, _HeardByStandIn
from test_default_model import BILABIAL_LINE, speak_bilabial_line

from probtalk.bilabial import BilabialNet
from probtalk.corpus.phones import OPEN_VOWELS
from probtalk.errors import CheckpointError
from probtalk.eval.lipsync import phone_midpoints
from probtalk.framenet import FrameNetConfig
from probtalk.lipseal import OPEN_MM
from probtalk.train.frameconv import FrameConv
from probtalk.vowels import HEARD_VOWEL, VowelNet, heard_vowels


class _Hears(VowelNet):
    """A detector whose probabilities are given (the net's own weights unused)."""

    given: np.ndarray = np.zeros(0)

    def probabilities(self, wav: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
        return np.resize(self.given, num_frames).astype(np.float32) if num_frames else np.zeros(0, np.float32)


def _small(threshold: float = 0.5, seed: int = 2) -> VowelNet:
    torch.manual_seed(seed)
    conv = FrameConv(FrameNetConfig(inputs=12, hidden=8, layers=((5, 1, 2), (3, 2, 2)), outputs=1))
    return conv.eval().to_numpy(VowelNet, {"threshold": threshold})


def _hears(given: np.ndarray, threshold: float = 0.5) -> _Hears:
    net = _small(threshold)
    stand_in = _Hears(net.config, net.weights, net.provenance)
    stand_in.given = np.asarray(given, np.float32)
    return stand_in


@pytest.fixture(scope="module")
def bilabial_speech():
    return speak_bilabial_line()


def test_heard_vowels_are_the_stretches_above_the_threshold():
    net = _hears([0.1, 0.6, 0.7, 0.2, 0.5, 0.9, 0.9, 0.9, 0.3, 0.8], threshold=0.5)
    heard = heard_vowels(net, np.zeros(16000, np.float32), 25.0, 10)
    # frames 1-2, 5-7 and 9 (0.5 is not above the bar); frame k spans [k / 25, (k + 1) / 25)
    assert [(round(p.start * 25), round(p.end * 25), p.phone) for p in heard] == [
        (1, 3, HEARD_VOWEL), (5, 8, HEARD_VOWEL), (9, 10, HEARD_VOWEL)]
    assert HEARD_VOWEL in OPEN_VOWELS  # the seal opens what it hears
    assert heard_vowels(_hears(np.full(10, 0.4)), np.zeros(16000, np.float32), 25.0, 10) == []
    assert heard_vowels(net, np.zeros(0, np.float32), 25.0, 0) == []


def test_vowel_detector_files_and_checkpoint_part(tmp_path, model):
    from probtalk.models.checkpoint import load_checkpoint, save_checkpoint

    net = _small(0.45)
    net.save(tmp_path / "vowel.npz")
    back = VowelNet.load(tmp_path / "vowel.npz")
    x = np.random.default_rng(0).standard_normal((30, 12)).astype(np.float32)
    np.testing.assert_array_equal(back.run(x), net.run(x))
    assert back.threshold == 0.45
    with pytest.raises(CheckpointError, match="not a probtalk bilabial detector"):
        BilabialNet.load(tmp_path / "vowel.npz")  # the two detectors are not interchangeable
    model.bilabial_net.save(tmp_path / "bilabial.npz")
    with pytest.raises(CheckpointError, match="not a probtalk open-vowel detector"):
        VowelNet.load(tmp_path / "bilabial.npz")
    path = save_checkpoint(tmp_path / "m.pt", model.talker, rig_id=model.rig_id, bilabial=model.bilabial_net,
                           vowel=net, inference_only=True, half=True)
    _, info = load_checkpoint(path)
    assert isinstance(info.vowel, VowelNet) and info.vowel.threshold == 0.45
    np.testing.assert_array_equal(info.vowel.run(x), net.run(x))
    _, info = load_checkpoint(save_checkpoint(tmp_path / "plain.pt", model.talker, inference_only=True))
    assert info.vowel is None


def test_onnx_export_carries_the_vowel_detector(tmp_path, model):
    from test_onnx import _tiny

    from probtalk.models.checkpoint import save_checkpoint
    from probtalk.runtime.export import export_onnx
    from probtalk.runtime.loading import load_onnx_model

    net = _small(0.45)
    save_checkpoint(tmp_path / "with.pt", _tiny(0), provenance={"fps": 25.0}, vowel=net)
    folder = export_onnx(tmp_path / "with.pt", tmp_path / "onnx")
    x = np.random.default_rng(1).standard_normal((20, 12)).astype(np.float32)
    np.testing.assert_array_equal(load_onnx_model(folder).vowel_net.run(x), net.run(x))
    save_checkpoint(tmp_path / "without.pt", _tiny(0), provenance={"fps": 25.0})
    export_onnx(tmp_path / "without.pt", folder)  # re-export into the folder: the old detector goes
    assert not (folder / "vowel.npz").exists() and load_onnx_model(folder).vowel_net is None


def test_training_a_vowel_detector_targets_the_open_vowels(tmp_path, tiny_corpus):
    from probtalk.train.bilabial import hear_split, train_bilabial

    vowels = hear_split(tiny_corpus, "train", 1, seed=0, max_clips=2, target="vowel")
    bilabials = hear_split(tiny_corpus, "train", 1, seed=0, max_clips=2, target="bilabial")
    for v, b in zip(vowels, bilabials, strict=True):
        assert v.target.any() and not (v.target & b.target).any()  # open-vowel frames, never a p, b or m
        # the frames whose centre lies inside an open vowel (one shorter than a frame may hold no centre)
        assert v.opened and np.mean([v.target[max(0, k - 1) : k + 2].any() for k in v.opened]) >= 0.8
    path, metrics = train_bilabial(tiny_corpus, tmp_path / "run", steps=3, batch_size=4, variants=1, max_clips=2,
                                   target="vowel", threshold=0.4)
    assert path.name == "vowel.npz"
    net = VowelNet.load(path)
    assert net.threshold == 0.4 and net.provenance["target"] == "vowel" and metrics["threshold"] == 0.4


def test_the_cli_trains_a_vowel_detector(tmp_path, tiny_corpus):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    res = CliRunner().invoke(app, ["train", "vowel", "--data", str(tiny_corpus), "--out", str(tmp_path / "v"),
                                   "--set", "steps=2", "--set", "batch_size=2", "--set", "max_clips=2",
                                   "--set", "variants=1"])
    assert res.exit_code == 0, res.output
    assert VowelNet.load(tmp_path / "v" / "vowel.npz").provenance["steps"] == 2
    res = CliRunner().invoke(app, ["train", "vowel", "--data", str(tiny_corpus), "--out", str(tmp_path / "w"),
                                   "--set", "velocity_weight=1"])
    assert res.exit_code == 2 and "train vowel takes" in res.output and not (tmp_path / "w").exists()


def test_the_seal_opens_a_vowel_only_the_detector_hears(model, bilabial_speech, monkeypatch):
    import probtalk.corpus.ear as ear

    audio, _ = bilabial_speech
    monkeypatch.setattr(ear, "listen", lambda wav, words=False: _HeardByStandIn([]))  # no words heard
    monkeypatch.setattr(model, "vowel_net", None)
    model._last_heard = None
    plain = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert plain.meta["opened_vowel_frames"] == 0
    gaps = _gaps_mm(plain)
    near = np.convolve(model.heard_bilabials(audio, plain.num_frames), np.ones(3), mode="same") > 0
    shut = [k for k in range(3, plain.num_frames - 3) if 2.0 < gaps[k] < 5.0 and not near[k]]
    assert shut, "a frame the take leaves less open than a vowel, away from the seals"
    k = shut[len(shut) // 2]
    given = np.zeros(plain.num_frames)
    given[k - 1 : k + 1] = 0.9  # the detector hears an open vowel centred on frame k (the net's frame j is
    # centred at (j + 0.5) / fps: centres k - 1 and k inside it put its midpoint at k / fps, where frame k shows)
    hears_k = _hears(given)
    monkeypatch.setattr(model, "vowel_net", hears_k)
    for listen in ("words", "phones"):  # with either ear
        model._last_heard = None
        opened = model.animate(audio, 16000, deterministic=True, blinks=False, listen=listen)[0]
        assert opened.meta["opened_vowel_frames"] == 1 and _gaps_mm(opened)[k] > OPEN_MM - 1.0
        far = np.abs(np.arange(plain.num_frames) - k) > 1
        np.testing.assert_array_equal(opened.jaw_pose[far], plain.jaw_pose[far])  # the rest as it was
    # A detector can mishear a p, b or m the ears missed: where the take's lips are shut it is not heard.
    lips = model.lip_seal().lip_vector(np.concatenate([plain.expression[:, :50], plain.jaw_pose], 1))
    shut = [j for j in range(3, plain.num_frames - 3) if np.linalg.norm(lips[j]) < 1.5 and abs(j - k) > 3 and not near[j]]
    assert shut, "a frame the take keeps shut, away from the seals"
    j = shut[len(shut) // 2]
    at_j = np.zeros(plain.num_frames)
    at_j[j - 1 : j + 1] = 0.9
    monkeypatch.setattr(model, "vowel_net", _hears(at_j))
    model._last_heard = None
    kept = model.animate(audio, 16000, deterministic=True, blinks=False)[0]
    assert kept.meta["opened_vowel_frames"] == 0
    np.testing.assert_array_equal(kept.jaw_pose, plain.jaw_pose)
    monkeypatch.setattr(model, "vowel_net", hears_k)
    # A transcript's aligned vowels are the truth there: the detector is not asked.
    told = model.animate(audio, 16000, deterministic=True, blinks=False, text=BILABIAL_LINE)[0]
    monkeypatch.setattr(model, "vowel_net", None)
    assert told.meta["text_used"] and told.meta["opened_vowel_frames"] > 0
    np.testing.assert_array_equal(
        told.jaw_pose, model.animate(audio, 16000, deterministic=True, blinks=False, text=BILABIAL_LINE)[0].jaw_pose)


def test_shipped_vowel_detector_hears_the_open_vowels_of_an_unheard_voice(model, bilabial_speech):
    audio, phones = bilabial_speech
    net = model.vowel_net
    assert isinstance(net, VowelNet) and 0.0 < net.threshold < 1.0
    frames = int(round(len(audio) / 16000 * 25))
    heard = np.zeros(frames, bool)
    for v in heard_vowels(net, audio, 25.0, frames):
        heard[int(round(v.start * 25)) : int(round(v.end * 25))] = True
    closed, opened = phone_midpoints(phones, 25.0, frames)
    found = np.mean([heard[max(0, k - 1) : k + 2].any() for k in opened])
    on_bilabials = np.mean(heard[closed])
    assert len(opened) >= 8 and found >= 0.5, (found, len(opened))
    assert on_bilabials <= 0.2, on_bilabials
