"""On a CUDA machine: training with bf16 autocast, a GPU checkpoint loading on CPU, and the default model's
takes on the GPU (seeded takes repeat, the deterministic take agrees with the CPU's). Skipped without CUDA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_train import make_corpus, read_metrics, tiny

import probtalk

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

SAMPLE = Path(probtalk.__file__).parent / "assets" / "hello.wav"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def test_training_on_cuda_with_bf16_autocast(corpus, tmp_path):
    from probtalk.models.checkpoint import load_checkpoint
    from probtalk.train import train_predictor, train_vq

    cfg = tiny("steps=40", "device=cuda", "amp=true")
    train_vq(corpus, tmp_path / "vq", cfg, progress=False)
    rows = [r for r in read_metrics(tmp_path / "vq" / "metrics.csv") if r["split"] == "train"]
    losses = [float(r["loss"]) for r in rows]
    assert all(np.isfinite(losses)) and np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses
    train_predictor(corpus, tmp_path / "pred", tmp_path / "vq" / "last.pt",
                    tiny("steps=6", "device=cuda", "amp=true", "predictor.noise_dim=4", "predictor.hypotheses=2"),
                    progress=False)
    rows = read_metrics(tmp_path / "pred" / "metrics.csv")
    assert all(np.isfinite(float(r["loss"])) for r in rows if r.get("loss"))

    # A GPU run's checkpoint loads on a machine without one, and animates there.
    talker, info = load_checkpoint(tmp_path / "pred" / "last.pt")
    assert info.kind == "talker" and all(p.device.type == "cpu" for p in talker.parameters())
    model = probtalk.load_model(tmp_path / "pred" / "last.pt", device="cpu")
    take = model.animate(SAMPLE, num_samples=1, seed=0)[0]
    assert np.isfinite(take.expression).all() and take.expression.shape[0] > 0


@pytest.fixture(scope="module")
def models():
    return probtalk.load_model(device="cpu"), probtalk.load_model(device="cuda")


def test_default_model_on_cuda(models):
    cpu, gpu = models
    assert gpu.device.type == "cuda"
    a = gpu.animate(SAMPLE, num_samples=3, seed=5)
    b = gpu.animate(SAMPLE, num_samples=3, seed=5)
    for x, y in zip(a, b, strict=True):  # seeded takes repeat on the GPU
        np.testing.assert_allclose(x.expression, y.expression, atol=1e-5)
        np.testing.assert_allclose(x.jaw_pose, y.jaw_pose, atol=1e-5)
    assert np.abs(a[0].jaw_pose - a[1].jaw_pose).max() > 1e-3  # and differ from each other

    # The deterministic take agrees with the CPU's: the same code at nearly every frame (a code chosen by
    # a near tie may flip with the GPU's arithmetic), so the jaw matches closely on most frames.
    det_gpu = gpu.animate(SAMPLE, deterministic=True)[0]
    det_cpu = cpu.animate(SAMPLE, deterministic=True)[0]
    assert det_gpu.jaw_pose.shape == det_cpu.jaw_pose.shape
    close = np.abs(det_gpu.jaw_pose[:, 0] - det_cpu.jaw_pose[:, 0]) < 2e-3
    assert close.mean() > 0.9, close.mean()


def test_stream_on_cuda(models):
    _, gpu = models
    import soundfile as sf

    audio, sr = sf.read(SAMPLE, dtype="float32")
    stream = gpu.stream(sr, seed=1)
    frames = []
    for i in range(0, audio.size, 1600):
        frames += stream.feed(audio[i : i + 1600])
    frames += stream.flush()
    n = sum(f.expression.shape[0] for f in frames)
    assert abs(n - audio.size / sr * 25) <= 2 and all(np.isfinite(f.jaw_pose).all() for f in frames)
