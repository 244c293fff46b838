"""Model speed on CPU: batched training throughput and inference real-time factor.

    .venv/bin/python benchmarks/model_speed.py [--threads 2] [--quick]

Prints:
  * training samples/s of the stage-2 Talker at batch 1, 16 and 32 (4 s clips), and the ratio;
  * inference RTF (seconds of compute per second of audio) for a 10 s clip with the small
    default encoder and with a hubert-base-size encoder (768 wide, 12 layers), 1 and 5 takes.
"""

from __future__ import annotations

import argparse
import time

import torch

from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import Style, StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

BASE = AudioEncoderConfig(hidden=768, layers=12, heads=12, intermediate=3072, conv_dim=(512,) * 7)


def build(audio_cfg: AudioEncoderConfig) -> Talker:
    torch.manual_seed(0)
    enc = AudioEncoder.from_config(audio_cfg)
    vq = MotionVQ(MotionVQConfig())
    pred = StylePredictor(StylePredictorConfig(audio_dim=enc.out_dim, num_speakers=8))
    return Talker(enc, pred, vq, Normalizer(), StyleVocabulary(tuple(f"s{i}" for i in range(8))))


def train_throughput(talker: Talker, batch: int, steps: int, seconds: float = 4.0) -> float:
    n = int(seconds * 16000)
    t = int(seconds * 25)
    params = [p for p in talker.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    talker.train()
    audio = torch.randn(batch, n) * 0.1
    lens = torch.full((batch,), n)
    motion = torch.randn(batch, t, 53) * 0.1
    mask = torch.ones(batch, t, dtype=torch.bool)
    style = Style.from_indices(torch.zeros(batch, dtype=torch.long), torch.ones(batch, dtype=torch.long),
                               torch.ones(batch))

    def step() -> None:
        loss, _ = talker.loss(audio, lens, motion, mask, style)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def rtf(talker: Talker, takes: int, seconds: float = 10.0, repeats: int = 2) -> float:
    talker.eval()
    n = int(seconds * 16000)
    audio, lens = torch.randn(1, n) * 0.1, torch.tensor([n])
    style = talker.vocabulary.make("happy", 1.0, None)
    talker.sample(audio, lens, style, num_samples=takes)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        talker.sample(audio, lens, style, num_samples=takes, generator=torch.Generator().manual_seed(0))
        best = min(best, time.perf_counter() - t0)
    return best / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier figures)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads")

    small = build(AudioEncoderConfig())
    n_small = sum(p.numel() for p in small.parameters()) / 1e6
    print(f"small Talker: {n_small:.1f}M parameters")
    steps1, steps_b = (4, 1) if args.quick else (8, 2)
    sps1 = train_throughput(small, 1, steps1)
    print(f"train batch  1: {sps1:7.2f} samples/s")
    for b in (16, 32):
        sps = train_throughput(small, b, steps_b)
        print(f"train batch {b:2d}: {sps:7.2f} samples/s  ({sps / sps1:.1f}x batch 1)")

    for name, model in (("small encoder", small), ("hubert-base-size encoder", build(BASE))):
        for takes in (1, 5):
            print(f"inference RTF, 10 s clip, {name}, {takes} take(s): {rtf(model, takes):.3f}")


if __name__ == "__main__":
    main()
