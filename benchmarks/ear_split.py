"""What cutting a long clip in two costs the lip seal's second ear (probtalk.corpus.ear).

A clip of ``SPLIT_SECONDS`` or more is decoded in two parts (one in a helper process). This joins
the clips of each set in fours (0.15 s of silence between), long enough to be cut, and compares
the seal's marks (:func:`probtalk.bilabial.heard_frames`, detector and recogniser) with the
recogniser searching the whole clip at once and cut in two:

* p/b/m midpoints marked (higher is better), open-vowel midpoints marked (lower is better),
  at the sets' phone timings: the corpus's own for the synthetic splits, pocketsphinx's forced
  alignment for a folder of speech with transcripts (as ``benchmarks/lipsync_speech.py``,
  whose alignment cache it reads).

Usage::

    python benchmarks/ear_split.py --data datasets/synth6 --speech datasets/speech_joe \\
        --align-cache out/align_joe.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import probtalk
from probtalk.audio import load_audio
from probtalk.bilabial import heard_frames
from probtalk.corpus import ear
from probtalk.corpus.align import ALIGN_DITHER, pcm16
from probtalk.data.dataset import MotionDataset
from probtalk.eval.lipsync import phone_midpoints
from probtalk.layout import AUDIO_SAMPLE_RATE

FPS = 25.0
GAP_SECONDS = 0.15


def one_search(wav: np.ndarray) -> list:
    """The recogniser's p, b and m with one search over the whole clip (the rule before the cut): the
    ear's own decoding of one part, lost-path check included."""
    return [p for p in ear._decode(pcm16(wav, ALIGN_DITHER)) if p.phone in ear.BILABIALS]


def corpus_clips(data: Path, split: str, limit: int) -> Iterator[tuple[np.ndarray, list]]:
    dataset = MotionDataset(data, split)
    for i in range(min(limit, len(dataset))):
        sample = dataset[i]
        yield sample.audio, [list(p) for p in sample.phones or ()]


def speech_clips(folder: Path, cache: Path, limit: int) -> Iterator[tuple[np.ndarray, list]]:
    aligned = json.loads(cache.read_text())
    n = 0
    for path in sorted(folder.iterdir()):
        entry = aligned.get(path.name)
        if entry and entry["used"] and entry.get("phone_level", True) and n < limit:
            n += 1
            yield load_audio(str(path)), entry["phones"]


def compare(name: str, clips: list[tuple[np.ndarray, list]], net, join: int) -> None:
    counts = {"one search": np.zeros(4), "cut in two": np.zeros(4)}
    seconds, made = [], 0
    for i in range(0, len(clips) - join + 1, join):
        parts, phones, offset = [], [], 0.0
        for wav, ph in clips[i : i + join]:
            gap = np.zeros(int(GAP_SECONDS * AUDIO_SAMPLE_RATE), np.float32)
            parts += [wav, gap]
            phones += [[a + offset, b + offset, c] for a, b, c in ph]
            offset += (wav.size + gap.size) / AUDIO_SAMPLE_RATE
        wav = np.concatenate(parts)
        frames = int(round(wav.size / AUDIO_SAMPLE_RATE * FPS))
        closed, opened = phone_midpoints(phones, FPS, frames)
        for rule, heard in (("one search", one_search(wav)), ("cut in two", ear.recognise_bilabials(wav))):
            marked = heard_frames(net, wav, FPS, frames, heard)
            counts[rule] += [sum(marked[k] for k in closed), len(closed), sum(marked[k] for k in opened), len(opened)]
        seconds.append(wav.size / AUDIO_SAMPLE_RATE)
        made += 1
    if not made:
        print(f"{name}: fewer than {join} clips")
        return
    (a, b) = counts["one search"], counts["cut in two"]
    print(f"| {name} ({made} clips of {min(seconds):.1f}-{max(seconds):.1f} s, {int(a[1])} p/b/m) "
          f"| {100 * a[0] / a[1]:.1f} / {100 * b[0] / b[1]:.1f} % | {100 * a[2] / a[3]:.1f} / {100 * b[2] / b[3]:.1f} % |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="a corpus folder (datasets/synth6)")
    parser.add_argument("--splits", default="test,test_unseen_speakers,test_unseen_engine")
    parser.add_argument("--speech", default=None, help="a folder of speech with transcripts (datasets/speech_joe)")
    parser.add_argument("--align-cache", default=None, help="benchmarks/lipsync_speech.py's alignment cache")
    parser.add_argument("--join", type=int, default=4, help="clips joined into one long clip")
    parser.add_argument("--limit", type=int, default=160, help="clips per set before joining")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    if args.speech and not args.align_cache:
        parser.error("--speech needs --align-cache (run benchmarks/lipsync_speech.py with --align-cache first)")
    net = probtalk.load_model(args.model, device="cpu").bilabial_net
    print("| clips joined | p/b/m midpoints marked, one search / cut in two | open-vowel midpoints marked, one / two |")
    print("|---|---|---|")
    if args.speech:
        clips = list(speech_clips(Path(args.speech), Path(args.align_cache), args.limit))
        compare(Path(args.speech).name, clips, net, args.join)
    if args.data:
        for split in args.splits.split(","):
            compare(split, list(corpus_clips(Path(args.data), split, args.limit)), net, args.join)


if __name__ == "__main__":
    main()
