"""Streaming figures: per-frame latency, look-ahead, streamed vs offline, memory of a long stream.

    .venv/bin/python benchmarks/streaming.py [--threads 2] [--minutes 60] [--torch]

Prints:
  * per-frame latency (audio in -> frame out, excluding the look-ahead): 10 s of speech fed
    in 100 ms chunks at real-time pace; p50/p95/max over every frame (target p95 <= 50 ms on
    2 threads at 25 fps), and the same for 10 ms chunks;
  * the look-ahead (algorithmic latency; target <= 300 ms by default);
  * 10 s streamed in 100 ms chunks vs offline (deterministic takes): mean |diff| in normaliser
    std units at the default and at a 3 s look-ahead, next to the model's own take-to-take
    spread (offline sampled takes at temperature 0.2 vs the deterministic take);
  * a long stream (``--minutes``, default 60 = one hour of audio, fed in 2 s chunks as fast as
    it computes): resident memory every 10 simulated minutes, and the peak.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

import probtalk
from probtalk.audio import load_audio
from probtalk.layout import MOTION_JAW
from probtalk.runtime.stream import Stream, StreamOptions

ROOT = Path(__file__).resolve().parents[1]
JAW_X = MOTION_JAW.start


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def new_stream(model, options: StreamOptions | None = None) -> Stream:
    return model.stream(16000, deterministic=True, seed=0, stream_options=options)


def offline(model, wav: np.ndarray, **opts) -> list[np.ndarray]:
    return [t.motion() for t in model.animate(wav, 16000, **opts)]


def latency(model, wav: np.ndarray, chunk_s: float) -> np.ndarray:
    """Per-frame latency (s) with chunks arriving at real-time pace."""
    stream = new_stream(model)
    n = int(chunk_s * 16000)
    start = time.perf_counter()
    out = []
    for k, i in enumerate(range(0, wav.size, n)):
        arrival = start + (k + 1) * chunk_s  # the chunk's last sample exists at this moment
        now = time.perf_counter()
        if now < arrival:
            time.sleep(arrival - now)
        take = stream.feed(wav[i : i + n])[0]
        done = time.perf_counter()
        # Frames sent now became ready when this chunk arrived (else an earlier feed had sent them).
        out += [done - arrival] * take.num_frames
    return np.array(out)


def streamed(model, wav: np.ndarray, options: StreamOptions, chunk_s: float = 0.1) -> np.ndarray:
    stream = new_stream(model, options)
    n = int(chunk_s * 16000)
    parts = [stream.feed(wav[i : i + n])[0].motion() for i in range(0, wav.size, n)]
    parts.append(stream.flush()[0].motion())
    return np.concatenate(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the simulated long stream")
    parser.add_argument("--torch", action="store_true", help="run the torch backend instead of onnxruntime")
    args = parser.parse_args()
    if args.torch:
        import torch

        torch.set_num_threads(args.threads)
        model = probtalk.load_model(device="cpu")
        std = model.talker.normalizer.std.numpy()
    else:
        model = probtalk.load_onnx_model(threads=args.threads)
        std = np.asarray(model.backend.meta["normalizer"]["std"], dtype=np.float32)
    hello = load_audio(ROOT / "probtalk/assets/hello.wav")
    wav = np.concatenate([hello, hello[::-1] * 0.7])[: 10 * 16000]
    print(f"backend {'torch' if args.torch else 'onnxruntime'}, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.1f}, {model.fps:g} fps")
    print(f"look-ahead (default): {new_stream(model).lookahead_seconds * 1000:.0f} ms")
    for chunk in (0.1, 0.01):
        lat = latency(model, wav, chunk) * 1000
        print(f"per-frame latency, {chunk * 1000:.0f} ms chunks at real-time pace: p50 {np.percentile(lat, 50):.1f} ms, "
              f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms over {lat.size} frames")
    det = offline(model, wav, deterministic=True)[0]
    takes = offline(model, wav, num_samples=4, temperature=0.2, seed=1)
    spread = np.mean([np.abs((t - det) / std).mean() for t in takes])
    for opts in (StreamOptions(), StreamOptions(lookahead_seconds=3.0, context_seconds=10.0)):
        s = streamed(model, wav, opts)
        d = np.abs((s - det) / std)
        jaw = np.corrcoef(s[:, JAW_X], det[:, JAW_X])[0, 1]  # jaw rotation about x: the mouth opening
        print(f"10 s streamed in 100 ms chunks vs offline, look-ahead {opts.lookahead_seconds:g} s, context "
              f"{opts.context_seconds:g} s: mean |diff| {d.mean():.4f} std units (p99 {np.percentile(d, 99):.3f}), "
              f"jaw correlation {jaw:.3f}")
    jaw_takes = np.mean([np.corrcoef(t[:, JAW_X], det[:, JAW_X])[0, 1] for t in takes])
    print(f"  reference: offline sampled takes (T=0.2) vs the deterministic take: mean |diff| {spread:.4f} std units, "
          f"jaw correlation {jaw_takes:.3f}; "
          f"mean |frame-to-frame step| {np.abs(np.diff(det / std, axis=0)).mean():.4f}")
    # A long stream: speech-like audio, 2 s chunks, as fast as it computes.
    stream = new_stream(model)
    rng = np.random.default_rng(0)
    chunk = 2 * 16000
    total = int(args.minutes * 60 * 16000)
    t0, frames, marks = time.perf_counter(), 0, []
    peak_start = rss_mb()
    for i in range(0, total, chunk):
        piece = hello[(i // chunk * 7919) % (hello.size - chunk) :][:chunk] * rng.uniform(0.5, 1.5)
        frames += stream.feed(piece.astype(np.float32))[0].num_frames
        minute = (i + chunk) / 16000 / 60
        if not marks or minute - marks[-1][0] >= 10 or i + chunk >= total:
            marks.append((minute, rss_mb()))
    kept_kb = stream._audio.nbytes / 1024
    frames += stream.flush()[0].num_frames
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"long stream: {args.minutes:g} min of audio ({frames} frames) in {elapsed:.0f} s; "
          f"RSS at start {peak_start:.0f} MB; " + ", ".join(f"{m:.0f} min {r:.0f} MB" for m, r in marks))
    print(f"  peak RSS of this process {peak:.0f} MB (target <= 1024 MB); stream state: "
          f"{kept_kb:.0f} KB of audio kept")


if __name__ == "__main__":
    main()
