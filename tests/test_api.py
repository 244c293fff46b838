"""The product API and CLI mechanics on a tiny untrained model: takes, seeds, windows, bad input.

Behaviour that needs a trained model (emotion direction, blends) is tested on
the embedded default in tests/test_default_model.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from probtalk import Animation
from probtalk.api import load_model
from probtalk.cli.main import app
from probtalk.errors import CheckpointError, InputError, StyleError
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.checkpoint import save_checkpoint
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0))
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pred = StylePredictor(
        StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, num_speakers=2, hidden=32, layers=1, heads=2,
                             ff_dim=64, dropout=0.0)
    )
    talker = Talker(enc, pred, vq, Normalizer(torch.zeros(53), torch.ones(53) * 0.1), StyleVocabulary(("M001", "W002")))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, talker.eval(), provenance={"fps": 25.0, "steps": 0})
    return path


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    t = np.arange(int(16000 * 1.6)) / 16000
    x = 0.2 * np.sin(2 * np.pi * 180 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, x, 16000)
    return path


def test_takes_are_batched_distinct_and_reproducible(tiny_ckpt, speech):
    model = load_model(tiny_ckpt, device="cpu")
    takes = model.animate(speech, num_samples=3, temperature=1.0, seed=7)
    assert len(takes) == 3 and all(isinstance(t, Animation) for t in takes)
    assert takes[0].num_frames == 40 and takes[0].fps == 25.0  # 1.6 s at 25 fps
    assert not np.allclose(takes[0].motion(), takes[1].motion())
    again = model.animate(speech, num_samples=3, temperature=1.0, seed=7)
    for a, b in zip(takes, again, strict=True):
        np.testing.assert_array_equal(a.motion(), b.motion())
    det1 = model.animate(speech, deterministic=True, num_samples=2)
    det2 = model.animate(speech, deterministic=True, seed=99)
    np.testing.assert_array_equal(det1[0].motion(), det1[1].motion())
    np.testing.assert_array_equal(det1[0].motion(), det2[0].motion())
    zero = model.animate(speech, temperature=0, num_samples=2, seed=5)  # the bottom of the range
    for take in zero:
        np.testing.assert_array_equal(take.motion(), det1[0].motion())
    assert zero[0].meta["deterministic"] is True and zero[0].meta["temperature"] is None
    meta = takes[2].meta
    assert meta["take"] == 2 and meta["seed"] == 7 and meta["emotion"] == {"neutral": 1.0}
    assert meta["audio"] == "speech.wav" and len(meta["audio_sha256"]) == 64


def test_array_input_and_blend_meta(tiny_ckpt):
    model = load_model(tiny_ckpt, device="cpu")
    x = (0.1 * np.random.default_rng(0).standard_normal(24000)).astype(np.float32)
    (anim,) = model.animate(x, 48000, emotion={"happy": 0.7, "surprised": 0.3}, intensity="high", seed=1)
    assert anim.num_frames == 12  # 0.5 s
    assert anim.meta["emotion"] == {"happy": 0.7, "surprised": 0.3} and anim.meta["intensity"] == 2.0


def test_long_audio_windows_cover_the_clip_continuously(tiny_ckpt):
    # Deterministic decoding: windowed output has the single pass's length and no jump at
    # the joins. (This untrained model's output depends on its whole input, so windows are
    # compared with the single pass on the trained default model, in test_default_model.py.)
    model = load_model(tiny_ckpt, device="cpu")
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal(16000 * 9)).astype(np.float32)
    whole = model.animate(x, 16000, deterministic=True, window_seconds=30.0)[0].motion()
    windowed = model.animate(x, 16000, deterministic=True, window_seconds=4.0, overlap_seconds=1.0)[0].motion()
    assert whole.shape == windowed.shape == (225, 53)
    assert np.all(np.isfinite(windowed))
    jump = np.abs(np.diff(windowed, axis=0)).max()
    typical = np.abs(np.diff(whole, axis=0)).max()
    assert jump <= 1.5 * typical + 1e-6


BAD_CALLS = [
    ("unknown emotion", dict(emotion="hapy"), StyleError, "happy"),
    ("unknown speaker", dict(speaker="M01"), StyleError, "M001"),
    ("intensity too high", dict(intensity=3.5), StyleError, "out of range"),
    ("intensity name", dict(intensity="extreme"), StyleError, "intensity"),
    ("temperature above the range", dict(temperature=2.5), InputError, "temperature"),
    ("temperature negative", dict(temperature=-1.0), InputError, "temperature"),
    ("no takes", dict(num_samples=0), InputError, "num_samples"),
    ("empty blend", dict(emotion={}), StyleError, "blend"),
]


@pytest.mark.parametrize("label,kwargs,error,hint", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_options_raise_one_line_errors(tiny_ckpt, speech, label, kwargs, error, hint):
    model = load_model(tiny_ckpt, device="cpu")
    with pytest.raises(error, match=hint) as info:
        model.animate(speech, **kwargs)
    assert "\n" not in str(info.value)


def _write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def _tone_file(tmp: Path, name: str, seconds: float, sr: int = 16000, amp: float = 0.2, **kw) -> Path:
    t = np.arange(int(sr * seconds)) / sr
    sf.write(tmp / name, amp * np.sin(2 * np.pi * 200 * t), sr, **kw)
    return tmp / name


CLI_BAD = [
    ("missing file", lambda d: [str(d / "nope.wav")], [], "not found"),
    ("empty file", lambda d: [str(_write(d, "e.wav", b""))], [], "empty"),
    ("corrupt file", lambda d: [str(_write(d, "c.wav", b"RIFF\x10\x00\x00\x00WAVEjunk"))], [], "not a readable audio"),
    ("not audio", lambda d: [str(_write(d, "n.mp3", b"<html>not audio</html>" * 50))], [], "not a readable audio"),
    ("silent", lambda d: [str(_tone_file(d, "s.wav", 1.0, amp=0.0))], [], "silent"),
    ("too short", lambda d: [str(_tone_file(d, "short.wav", 0.1))], [], "at least 0.2 s"),
    ("unknown emotion", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["-e", "angy"], "angry"),
    ("bad blend weight", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["-e", "happy:x"], "blend"),
    ("unknown speaker", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["--speaker", "W02"], "W002"),
    ("intensity out of range", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["-i", "7"], "out of range"),
    ("temperature above 1", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["--temperature", "2.5"], "temperature"),
    ("unknown format", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["--format", "obj"], "unknown output format"),
    ("unknown engine", lambda d: [str(_tone_file(d, "a.wav", 1.0))], ["--engine", "magic"], "unknown engine"),
    ("empty folder", lambda d: [str(d / "emptydir")], [], "no audio files"),
]


@pytest.mark.parametrize("label,make_inputs,extra,message", CLI_BAD, ids=[c[0] for c in CLI_BAD])
def test_cli_bad_input_table(tiny_ckpt, tmp_path, label, make_inputs, extra, message):
    (tmp_path / "emptydir").mkdir()
    out = tmp_path / "out"
    args = ["animate", *make_inputs(tmp_path), "-o", str(out), "--model", str(tiny_ckpt), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    leftovers = list(out.glob("*")) if out.exists() else []
    assert leftovers == []  # nothing half-written


def test_cli_bad_checkpoints(tmp_path, speech, tiny_ckpt):
    corrupt = _write(tmp_path, "corrupt.pt", tiny_ckpt.read_bytes()[:5000])
    wrong = tmp_path / "wrong.pt"
    torch.save({"hello": torch.zeros(2)}, wrong)
    text = _write(tmp_path, "text.pt", b"not a checkpoint")
    for ckpt, message in [(corrupt, "corrupt"), (wrong, "not a probtalk"), (text, "corrupt"),
                          (tmp_path / "missing.pt", "not found")]:
        result = runner.invoke(app, ["animate", str(speech), "-o", str(tmp_path / "o"), "--model", str(ckpt)])
        assert result.exit_code == 2, (ckpt, result.output)
        assert message in result.output.lower() and "Traceback" not in result.output
    with pytest.raises(CheckpointError):
        load_model(corrupt)


def test_cli_unwritable_output_folder(tmp_path, speech, tiny_ckpt):
    blocker = _write(tmp_path, "file", b"x")  # a file where a folder is wanted
    result = runner.invoke(app, ["animate", str(speech), "-o", str(blocker / "sub"), "--model", str(tiny_ckpt)])
    assert result.exit_code == 2 and "output folder" in result.output


def test_cli_writes_predictable_names_for_files_and_folders(tiny_ckpt, tmp_path, speech):
    folder = tmp_path / "in"
    folder.mkdir()
    _tone_file(folder, "one.wav", 1.0)
    _tone_file(folder, "two.flac", 1.2, sr=44100, format="FLAC")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["animate", str(folder), str(speech), "-o", str(out), "-e", "neutral,happy:0.5+sad:0.5", "-n", "2",
         "--seed", "3", "--model", str(tiny_ckpt)],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    expected = sorted(
        f"{stem}_{emo}_take{k}.npz"
        for stem in ("one", "two", "speech") for emo in ("neutral", "happy50-sad50") for k in (0, 1)
    )
    assert names == expected
    anim = Animation.load(out / "two_happy50-sad50_take1.npz")
    assert anim.meta["emotion"] == {"happy": 0.5, "sad": 0.5} and anim.meta["take"] == 1
    assert anim.num_frames == 30
    json.dumps(anim.meta)
