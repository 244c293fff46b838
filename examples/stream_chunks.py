"""Stream a recording in small chunks, as a live source would deliver it, and save the frames.

    python examples/stream_chunks.py [speech.wav] --chunk-ms 100 --out out/streamed.npz

Prints when each block of frames became available, then saves the whole
streamed take and how far it is from the offline take of the same seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import probtalk
from probtalk.audio import load_audio

SAMPLE = Path(__file__).resolve().parent.parent / "probtalk" / "assets" / "hello.wav"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="?", default=str(SAMPLE))
    parser.add_argument("--chunk-ms", type=float, default=100.0)
    parser.add_argument("--out", default="out/streamed.npz")
    args = parser.parse_args()

    model = probtalk.load_onnx_model()  # onnxruntime; probtalk.load_model() streams the same way through torch
    wav = load_audio(args.audio)
    stream = model.stream(16000, emotion="happy", seed=7)
    step = int(args.chunk_ms * 16)
    blocks = []
    for i in range(0, wav.size, step):
        new = stream.feed(wav[i : i + step])[0]
        if new.num_frames:
            print(f"audio {min(wav.size, i + step) / 16000:5.2f} s -> frames {new.meta['start_frame']}"
                  f"..{new.meta['start_frame'] + new.num_frames - 1}")
            blocks.append(new.motion())
    blocks.append(stream.flush()[0].motion())
    motion = np.concatenate(blocks)
    take = probtalk.Animation.from_motion(motion, fps=model.fps, meta={"streamed": True, "seed": 7})
    path = take.save(args.out)
    (offline,) = model.animate(wav, 16000, emotion="happy", seed=7)
    diff = np.abs(offline.motion() - motion).mean()
    print(f"saved {path}: {take.num_frames} frames; mean |streamed - offline| = {diff:.4f}")


if __name__ == "__main__":
    main()
