"""ONNX export and the onnxruntime path: parity with torch, the committed default export, the sampling rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from probtalk.api import default_model_path
from probtalk.audio import load_audio
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.checkpoint import load_checkpoint, save_checkpoint
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker
from probtalk.runtime.backend import DEFAULT_ONNX_DIR, META_FILE, OnnxBackend, StyleInputs, file_sha256
from probtalk.runtime.engine import sample_takes
from probtalk.runtime.export import export_onnx
from probtalk.runtime.sampling import select_codes, uniforms
from probtalk.runtime.torch_backend import TorchBackend

HELLO = DEFAULT_ONNX_DIR.parent / "hello.wav"
STYLE = StyleInputs(1, (0.0, 0.7, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0), 1.5)
TOL = 1e-4


def _tiny(quant_factor: int) -> Talker:
    torch.manual_seed(quant_factor)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0,
                                 quant_factor=quant_factor))
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pred = StylePredictor(StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, quant_factor=quant_factor,
                                               num_speakers=2, hidden=32, layers=1, heads=2, ff_dim=64, dropout=0.0))
    mean, std = torch.randn(53) * 0.1, torch.rand(53) * 0.2 + 0.05
    return Talker(enc, pred, vq, Normalizer(mean, std), StyleVocabulary(("M001", "W002"))).eval()


@pytest.fixture(scope="module", params=[0, 2])
def tiny_export(request, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp(f"onnx_q{request.param}")
    path = folder / "tiny.pt"
    save_checkpoint(path, _tiny(request.param), provenance={"fps": 25.0})
    return path, export_onnx(path, folder / "onnx")


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    return (0.2 * np.sin(2 * np.pi * 170 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
            + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.43, 1.0, 2.37])
def test_tiny_export_matches_torch(tiny_export, seconds):
    ckpt, folder = tiny_export
    talker, _ = load_checkpoint(ckpt)
    torch_be, onnx_be = TorchBackend(talker), OnnxBackend(folder)
    wav = _speech(seconds)
    frames = int(round(wav.size / 640))
    lat_t, dist_t = torch_be.encode(wav, frames, STYLE)
    lat_o, dist_o = onnx_be.encode(wav, frames, STYLE)
    assert lat_o.shape == lat_t.shape == (1, -(-frames // onnx_be.frames_per_code), 16)  # one row: no noise input
    np.testing.assert_allclose(lat_o, lat_t, atol=TOL)
    np.testing.assert_allclose(dist_o, dist_t, atol=TOL * np.abs(dist_t).max())
    codes = np.stack([dist_t[0].argmin(-1), np.random.default_rng(1).integers(0, 32, dist_t.shape[1])])
    np.testing.assert_allclose(onnx_be.decode(codes, frames), torch_be.decode(codes, frames), atol=TOL)


def test_committed_default_onnx_is_the_shipped_model():
    """Fails when default_model.pt changed without `python scripts/export_onnx.py`."""
    meta = json.loads((DEFAULT_ONNX_DIR / META_FILE).read_text())
    assert meta["checkpoint_sha256"] == file_sha256(default_model_path()), (
        "probtalk/assets/default_onnx is stale: run python scripts/export_onnx.py"
    )
    talker, info = load_checkpoint(default_model_path())
    assert meta["vocabulary"]["speakers"] == list(info.vocabulary.speakers)
    torch_be, onnx_be = TorchBackend(talker), OnnxBackend(DEFAULT_ONNX_DIR)
    wav = load_audio(HELLO)
    for temperature in (None, 0.2):  # deterministic takes, and seeded sampled takes
        a = sample_takes(torch_be, wav, STYLE, num_samples=2, temperature=temperature, top_k=None, seed=5,
                         window_seconds=3.0, overlap_seconds=0.5)
        b = sample_takes(onnx_be, wav, STYLE, num_samples=2, temperature=temperature, top_k=None, seed=5,
                         window_seconds=3.0, overlap_seconds=0.5)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(y, x, atol=TOL)


def test_export_json_describes_the_graphs():
    meta = json.loads((DEFAULT_ONNX_DIR / META_FILE).read_text())
    assert meta["fps"] == 25.0 and meta["sample_rate"] == 16000
    assert len(meta["normalizer"]["mean"]) == len(meta["normalizer"]["std"]) == 53
    assert "splitmix64" in meta["sampling_rule"]
    from probtalk.runtime.sampling import __doc__ as rule  # the committed export states today's rule

    assert meta["sampling_rule"] == " ".join(rule.split()), "the export's sampling rule is stale: re-export"
    assert meta["defaults"]["variation"] == 1.0 and "variation" in meta["noise"]["rule"]
    assert meta["vocabulary"]["emotions"][0] == "neutral" and meta["frames_per_code"] >= 1
    import onnx

    base = ["audio", "num_frames", "speaker", "emotion", "intensity"]
    encoder_inputs = meta["encoder_inputs"]
    assert encoder_inputs[:5] == base and set(encoder_inputs[5:]) <= {"phones", "noise"}
    assert (meta["noise"] is not None) == ("noise" in encoder_inputs)
    assert (meta["phones"] is not None) == ("phones" in encoder_inputs)
    for name, inputs in (("encoder", encoder_inputs), ("decoder", ["codes", "num_frames"])):
        model = onnx.load(str(DEFAULT_ONNX_DIR / meta[name]))
        onnx.checker.check_model(model)
        assert [i.name for i in model.graph.input] == inputs


def _splitmix_reference(seed: int, take: int, position: int) -> float:
    """The documented rule with Python's unbounded ints (an independent implementation)."""
    m = 2**64
    x = (seed * 0x9E3779B97F4A7C15 + take * 0xD1B54A32D192ED03 + position) % m
    z = (x + 0x9E3779B97F4A7C15) % m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
    z ^= z >> 31
    return (z >> 11) * 2.0**-53


def test_uniforms_follow_the_documented_rule():
    positions = np.array([0, 1, 2, 77, 10**6])
    for seed, take in ((0, 0), (7, 3), (2**63 - 1, 63)):
        got = uniforms(seed, take, positions)
        want = [_splitmix_reference(seed, take, int(p)) for p in positions]
        np.testing.assert_array_equal(got, want)


def test_select_codes_draws_from_the_softmax():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 4, size=(1, 6)) * 8.0
    many = np.repeat(d, 20000, axis=0)
    codes = select_codes(many, latent_dim=8, temperature=0.5, seed=3)
    logits = -d[0] / (0.5 * 8)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    freq = np.bincount(codes, minlength=6) / codes.size
    np.testing.assert_allclose(freq, p, atol=0.015)
    top2 = select_codes(many, latent_dim=8, temperature=0.5, top_k=2, seed=3)
    assert set(np.unique(top2)) <= set(np.argsort(d[0])[:2])
    np.testing.assert_array_equal(select_codes(many[:5], latent_dim=8, temperature=None), np.full(5, d[0].argmin()))


def test_animate_cold_start_path_imports_neither_torch_nor_transformers(tmp_path):
    """`probtalk animate` with the embedded model (npz out) runs on onnxruntime + numpy alone."""
    import subprocess
    import sys

    import soundfile as sf

    wav, sr = sf.read(HELLO, dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, wav[: 2 * sr], sr)
    code = (
        "import sys\n"
        "from probtalk.cli.main import app\n"
        f"argv = ['animate', {str(clip)!r}, '-o', {str(tmp_path / 'out')!r}, '-f', 'npz', '--seed', '0', '-n', '2']\n"
        "try:\n"
        "    app(argv)\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('HEAVY:' + ','.join(sorted(m for m in ('torch', 'transformers', 'scipy') if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"
    takes = sorted((tmp_path / "out").glob("*.npz"))
    assert len(takes) == 2
    from probtalk import Animation
    from probtalk.api import load_model

    # The torch model gives the same takes for the same seed (one sampling rule, one engine).
    again = load_model(device="cpu").animate(clip, seed=0, num_samples=2)
    for path, take in zip(takes, again, strict=True):
        np.testing.assert_allclose(Animation.load(path).motion(), take.motion(), atol=TOL)
