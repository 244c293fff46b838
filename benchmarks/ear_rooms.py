"""What the audio-only lip seal hears in a room (probtalk.corpus.ear, probtalk.dereverb).

Recordings made away from the microphone carry the room: reverberation smears each sound into the
next, and pocketsphinx's acoustic model learnt from close-talking speech. This takes a folder of
speech with transcripts (``scripts/sphinx_speech_set.py``, ``scripts/piper_speech_set.py``),
force-aligns each clip once as recorded (``--align-cache``), puts it through a room and scores the
ear at the aligned p/b/m midpoints (a room, noise or a codec changes no timing; a speaking rate scales
it), in each of the conditions of ``conditions.py`` (rooms of two makes, white, pink and four voices'
noise, MP3 and Opus, the moved voice's room, a voice 4 semitones up or down, speech 1.25x faster or
0.8x as fast). Columns, the share of p/b/m midpoints marked:

* the detector alone (``probtalk.bilabial``);
* the default ear (detector plus the p, b and m of recognised words, ``listen="words"``, a low voice
  heard again faster as ``animate()`` hears it: ``probtalk.bilabial.ear_marks``), the words
  recognised in the speech with its late reverberation taken out (``probtalk.dereverb``);
* the same ear hearing the speech as it is (the ear before dereverberation).

and, for the default ear, the share of open-vowel midpoints it marks (lower is better) and
dereverberation's cost per second of speech.

Usage::

    python benchmarks/ear_rooms.py --folder datasets/speech_sphinx --align-cache out/align_sphinx.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from conditions import CONDITIONS, retimed  # benchmarks/, beside this script
from lipsync_speech import aligned_entry, speech_files
from threadpoolctl import threadpool_limits

import probtalk
from probtalk.audio import load_audio
from probtalk.bilabial import ear_marks, shown_frames
from probtalk.corpus import ear
from probtalk.dereverb import dereverberate
from probtalk.eval.lipsync import phone_midpoints
from probtalk.layout import AUDIO_SAMPLE_RATE

FPS = 25.0


def clips(folder: Path, cache_path: Path, limit: int) -> list[tuple[str, np.ndarray, list]]:
    """(name, speech, aligned phones) of the clips aligned phone by phone, the alignments kept in
    ``cache_path`` (the same JSON as ``lipsync_speech.py --align-cache``)."""
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    out = []
    for path, text in speech_files(folder):
        audio = load_audio(str(path))
        if path.name not in cache:
            cache[path.name] = aligned_entry(audio, text)
        entry = cache[path.name]
        if entry["used"] and entry.get("phone_level", True):
            out.append((path.name, audio, entry["phones"]))
        if limit and len(out) >= limit:
            break
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_text(json.dumps(cache))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", required=True, help="speech files, each with its transcript in a .txt beside it")
    ap.add_argument("--align-cache", required=True, help="JSON file keeping the forced alignments between runs")
    ap.add_argument("--limit", type=int, default=0, help="first N aligned clips only (0: all)")
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    threadpool_limits(1)  # as inside animate() (probtalk.runtime.threads): dereverberation's cost on one core
    net = probtalk.load_model(args.model, device="cpu").bilabial_net
    if net is None:
        sys.exit("error: the model has no bilabial detector; pass one that has (the embedded default does)")
    data = clips(Path(args.folder), Path(args.align_cache), args.limit)
    if not data:
        sys.exit(f"error: no clip of {args.folder} aligned phone by phone; check the folder and its .txt files")
    seconds = sum(a.size for _, a, _ in data) / AUDIO_SAMPLE_RATE
    print(f"{args.folder}: {len(data)} clips, {seconds:.0f} s; share of p/b/m midpoints marked")
    print("| condition | detector alone | default ear (dereverberated words) | ear, words as recorded "
          "| open vowels marked, default | dereverberation, s per s |")
    print("|---|---|---|---|---|---|")
    for name, make in CONDITIONS.items():
        hits = np.zeros(3)
        total = opened_marked = opened_total = 0
        cost = 0.0
        others = [audio for _, audio, _ in data]
        for n, (_, audio, phones) in enumerate(data):
            x = np.asarray(make(audio, n, others), np.float32)
            frames = int(round(x.size / AUDIO_SAMPLE_RATE * FPS))
            closed, opened = phone_midpoints(retimed([tuple(p) for p in phones], name), FPS, frames)
            probabilities = net.probabilities(x, FPS, frames)
            detector = shown_frames(probabilities, net.threshold)
            t0 = time.perf_counter()
            dereverberate(x)
            cost += time.perf_counter() - t0
            marks = []
            for dry in (ear.DEREVERBERATE, False):
                saved, ear.DEREVERBERATE = ear.DEREVERBERATE, dry
                try:
                    # as animate() hears: a low voice heard again faster, the words' p, b and m with no bar
                    marks.append(ear_marks(net, x, FPS, frames, ear.listen(x, words=True).phones(), True, probabilities)[0])
                finally:
                    ear.DEREVERBERATE = saved
            for i, m in enumerate((detector, *marks)):
                hits[i] += sum(bool(m[k]) for k in closed)
            total += len(closed)
            opened_marked += sum(bool(marks[0][k]) for k in opened)
            opened_total += len(opened)
        rates = " | ".join(f"{100 * h / max(total, 1):.1f} %" for h in hits)
        print(f"| {name} | {rates} | {100 * opened_marked / max(opened_total, 1):.1f} % | {cost / seconds:.3f} |",
              flush=True)
    print(f"p/b/m midpoints per condition: {total}")


if __name__ == "__main__":
    main()
