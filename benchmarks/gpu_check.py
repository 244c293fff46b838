"""GPU checks: pytorch3d vs CPU rendering, inference RTF, bf16 training steps, a 1-GPU torchrun NCCL run.

    .venv/bin/python benchmarks/gpu_check.py            # on a CUDA machine; skips cleanly elsewhere

Prints, on a CUDA machine:
  * one frame of a take rendered with the pytorch3d backend and with the CPU (moderngl)
    backend: mean absolute pixel difference (0-255) and the share of pixels differing by > 16;
  * inference real-time factor (GPU seconds per second of audio, 10 s clip) for 1, 5 and 32 takes;
  * seconds per bf16-autocast training step at batch 64 (4 s clips) for stage 1 (motion VQ)
    and stage 2 (Talker) with the default model's sizes;
  * a 1-process ``torchrun`` run on the NCCL backend: an all-reduce and two DDP steps.
Exits 0 with "skipped" when CUDA (or a needed package) is missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _sync() -> None:
    import torch

    torch.cuda.synchronize()


def check_render() -> None:
    import probtalk
    from probtalk.rendering.backends import available_backends

    if "pytorch3d" not in available_backends():
        print("render: skipped (pytorch3d is not installed: pip install 'probtalk[render-gpu]')")
        return
    if "moderngl" not in available_backends():
        print("render: skipped (moderngl, the CPU backend, is not installed)")
        return
    from PIL import Image

    take = probtalk.load_model().animate(ROOT / "probtalk/assets/hello.wav", seed=0, deterministic=True)[0]
    frame = take.num_frames // 2
    with tempfile.TemporaryDirectory() as tmp:
        images = {}
        for backend in ("pytorch3d", "moderngl"):
            out = Path(tmp) / f"{backend}.png"
            t0 = time.perf_counter()
            probtalk.render(take, out=out, frame=frame, backend=backend, size=512, captions=False)
            images[backend] = (np.asarray(Image.open(out).convert("RGB"), dtype=np.float32), time.perf_counter() - t0)
    a, b = images["pytorch3d"][0], images["moderngl"][0]
    diff = np.abs(a - b)
    print(
        f"render frame {frame}: mean |pytorch3d - moderngl| = {diff.mean():.2f} / 255, "
        f"pixels off by > 16: {100 * (diff.max(axis=-1) > 16).mean():.2f}% "
        f"(pytorch3d {images['pytorch3d'][1]:.2f} s, moderngl {images['moderngl'][1]:.2f} s incl. setup)"
    )


def check_inference() -> None:
    import probtalk
    from probtalk.audio import load_audio

    model = probtalk.load_model(device="cuda")
    wav = load_audio(ROOT / "probtalk/assets/hello.wav")
    wav = np.tile(wav, int(np.ceil(10 * 16000 / wav.size)))[: 10 * 16000]
    model.animate(wav, 16000, num_samples=2, seed=0)  # warm-up: kernels, allocator
    for takes in (1, 5, 32):
        _sync()
        t0 = time.perf_counter()
        model.animate(wav, 16000, num_samples=takes, seed=0)
        _sync()
        dt = time.perf_counter() - t0
        print(f"inference: {takes:2d} takes of a 10 s clip in {dt:.3f} s, RTF {dt / 10:.4f}")


def _batch(batch: int, seconds: float = 4.0):  # noqa: ANN202 - benchmark helper
    import torch

    from probtalk.models.style import Style

    n, t = int(seconds * 16000), int(seconds * 25)
    dev = torch.device("cuda")
    audio = torch.randn(batch, n, device=dev) * 0.1
    lens = torch.full((batch,), n, device=dev)
    motion = torch.randn(batch, t, 53, device=dev) * 0.1
    mask = torch.ones(batch, t, dtype=torch.bool, device=dev)
    style = Style.from_indices(torch.zeros(batch, dtype=torch.long), torch.ones(batch, dtype=torch.long), torch.ones(batch)).to(dev)
    return audio, lens, motion, mask, style


def check_training(batch: int = 64, steps: int = 3) -> None:
    import torch

    from probtalk.api import default_model_path
    from probtalk.models.checkpoint import load_checkpoint

    talker, _ = load_checkpoint(default_model_path())
    talker = talker.cuda()
    audio, lens, motion, mask, style = _batch(batch)
    stages = {
        "stage 1 (motion VQ)": (talker.vq, lambda: talker.vq.loss(motion, mask)[0]),
        "stage 2 (talker)": (talker, lambda: talker.loss(audio, lens, motion, mask, style)[0]),
    }
    for name, (module, loss_fn) in stages.items():
        module.train()
        params = [p for p in module.parameters()]
        for p in params:
            p.requires_grad_(True)
        if module is talker:
            for p in talker.vq.parameters():
                p.requires_grad_(False)
        opt = torch.optim.AdamW([p for p in params if p.requires_grad], lr=1e-4)
        times, losses = [], []
        for _ in range(steps + 1):
            _sync()
            t0 = time.perf_counter()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = loss_fn()
            opt.zero_grad()
            loss.backward()
            opt.step()
            _sync()
            times.append(time.perf_counter() - t0)
            losses.append(float(loss))
        finite = all(np.isfinite(losses))
        print(f"train {name}: batch {batch} bf16, {np.median(times[1:]):.3f} s/step, losses {losses[0]:.3f} -> {losses[-1]:.3f}, finite={finite}")


def ddp_worker() -> None:
    """Run under torchrun: NCCL all-reduce plus two DDP steps of the motion VQ."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from probtalk.models.motion_vq import MotionVQ, MotionVQConfig

    dist.init_process_group(backend="nccl")
    rank = dist.get_rank()
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    x = torch.ones(4, device="cuda") * (rank + 1)
    dist.all_reduce(x)
    model = DistributedDataParallel(MotionVQ(MotionVQConfig(hidden=128, layers=2, ff_dim=256, latent_dim=64)).cuda())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    motion = torch.randn(8, 100, 53, device="cuda")
    mask = torch.ones(8, 100, dtype=torch.bool, device="cuda")
    for _ in range(2):
        out = model(motion, mask)  # through DDP's forward, so gradients are all-reduced over NCCL
        loss = (out.motion - motion).abs().mean() + out.quantized.loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"torchrun rank {rank}/{dist.get_world_size()}: backend {dist.get_backend()}, all_reduce {x.tolist()}, DDP loss {float(loss):.4f}")
    dist.destroy_process_group()


def check_torchrun() -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1", __file__, "--ddp-worker"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("torchrun rank")]
    status = "ok" if proc.returncode == 0 and lines else f"FAILED (exit {proc.returncode}): {proc.stderr.strip()[-400:]}"
    print(f"torchrun 1 GPU NCCL: {status} in {time.perf_counter() - t0:.1f} s; {' | '.join(lines)}")


def main() -> int:
    if "--ddp-worker" in sys.argv:
        ddp_worker()
        return 0
    try:
        import torch
    except ImportError:
        print("skipped: torch is not installed")
        return 0
    if not torch.cuda.is_available():
        print("skipped: no CUDA device on this machine (torch.cuda.is_available() is False)")
        return 0
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for check in (check_render, check_inference, check_training, check_torchrun):
        try:
            check()
        except Exception as exc:  # report every check, even when one fails
            print(f"{check.__name__}: FAILED: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
