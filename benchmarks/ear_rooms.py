"""What the audio-only lip seal hears in a room (probtalk.corpus.ear, probtalk.dereverb).

Recordings made away from the microphone carry the room: reverberation smears each sound into the
next, and pocketsphinx's acoustic model learnt from close-talking speech. This takes a folder of
speech with transcripts (``scripts/sphinx_speech_set.py``, ``scripts/piper_speech_set.py``),
force-aligns each clip once as recorded (``--align-cache``), puts it through a room and scores the
ear at the aligned p/b/m midpoints (a room, noise or a codec changes no timing). Conditions:

* rooms heard from a distance (``probtalk.train.augment.far_room``: the direct sound, then an
  exponentially decaying noise tail from 1 ms on, 60 dB down after 0.4 s) at a direct-to-reverberant
  ratio of 5 dB and of 0 dB: the same family as the detector's training rooms
  (``probtalk.train.bilabial.DETECTOR_AUGMENT``);
* a room of another make (:func:`reflecting_room`: six discrete early reflections, then a 0.7 s tail
  as loud as the direct sound), which no training augmentation draws;
* white noise at 20 dB SNR and pink noise at 10 dB (noise of both colours is in the detector's
  training); four other clips of the set talking over the speech at 10 dB (:func:`babble`, not in
  training);
* MP3 at 24 kbit/s and Opus at 8 kbit/s (``probtalk.train.augment.codec``; both codecs are in the
  detector's training);
* the benchmarks' moved voice's room (``probtalk.train.augment.moved_voice``: a 0.3 s tail with no
  separate direct sound, then 20 dB of noise).

Columns, the share of p/b/m midpoints marked:

* the detector alone (``probtalk.bilabial``);
* the default ear (detector plus the p, b and m of recognised words, ``listen="words"``), the words
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
from lipsync_speech import aligned_entry, speech_files  # benchmarks/, beside this script
from threadpoolctl import threadpool_limits

import probtalk
from probtalk.audio import load_audio
from probtalk.bilabial import heard_frames, shown_frames
from probtalk.corpus import ear
from probtalk.dereverb import dereverberate
from probtalk.eval.lipsync import phone_midpoints
from probtalk.layout import AUDIO_SAMPLE_RATE
from probtalk.train.augment import add_noise, codec, far_room, moved_voice, room_response

FPS = 25.0


def reflecting_room(audio: np.ndarray, seed: int) -> np.ndarray:
    """A room unlike the training augmentation's (:func:`probtalk.train.augment.room`, whose tail starts
    as noise): the direct sound, six discrete early reflections 2-25 ms after it at 0.3-0.7 of its
    amplitude, then a tail decaying 60 dB in 0.7 s whose energy equals the direct sound's; level kept."""
    rng = np.random.default_rng(seed)
    rt60 = 0.7
    ir = room_response(rt60, 0.0, rng.standard_normal(int(rt60 * AUDIO_SAMPLE_RATE)))
    ir[:400] = 0.0  # the diffuse tail from 25 ms on, as loud as the direct sound
    ir /= np.linalg.norm(ir)
    ir[0] = 1.0
    for delay, gain in zip(rng.integers(32, 400, 6), rng.uniform(0.3, 0.7, 6) * rng.choice([-1, 1], 6), strict=True):
        ir[delay] += gain
    x = np.asarray(audio, np.float64)
    n = x.size + ir.size - 1
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(ir, n), n)[: x.size]
    return (y * np.linalg.norm(x) / max(float(np.linalg.norm(y)), 1e-8)).astype(np.float32)


def babble(audio: np.ndarray, others: list[np.ndarray], seed: int, snr_db: float) -> np.ndarray:
    """Speech with four other clips of the set talking over it (each at the same level, looped to length),
    together ``snr_db`` below it."""
    crowd = np.zeros(audio.size)
    for k in range(4):
        other = others[(seed + 1 + 7 * k) % len(others)]
        other = np.tile(other, -(-audio.size // other.size))[: audio.size].astype(np.float64)
        crowd += other / max(float(other.std()), 1e-9)
    scale = np.sqrt(np.mean(np.square(audio, dtype=np.float64)) / max(np.mean(crowd**2), 1e-12) / 10 ** (snr_db / 10))
    return (audio + crowd * scale).astype(np.float32)


def _noise(a: np.ndarray, n: int, snr_db: float, color: float = 0.0) -> np.ndarray:
    return add_noise(torch.from_numpy(a), snr_db, torch.Generator().manual_seed(n), color).numpy()


#: Conditions: (name, speech, clip number, the set's other clips) -> the speech as heard.
CONDITIONS = {
    "as recorded": lambda a, n, o: a,
    "room, DRR 5 dB": lambda a, n, o: far_room(a, 5.0, n),
    "room, DRR 0 dB": lambda a, n, o: far_room(a, 0.0, n),
    "reflecting room, DRR 0 dB, 0.7 s": lambda a, n, o: reflecting_room(a, n),
    "white noise, 20 dB SNR": lambda a, n, o: _noise(a, n, 20.0),
    "pink noise, 10 dB SNR": lambda a, n, o: _noise(a, n, 10.0, 1.0),
    "babble of four voices, 10 dB SNR": lambda a, n, o: babble(a, o, n, 10.0),
    "MP3, 24 kbit/s": lambda a, n, o: codec(a, "mp3", 24),
    "Opus, 8 kbit/s": lambda a, n, o: codec(a, "opus", 8),
    "moved voice's room": lambda a, n, o: moved_voice(a, 0.0, True, n),
}


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
            closed, opened = phone_midpoints([tuple(p) for p in phones], FPS, frames)
            detector = shown_frames(net.probabilities(x, FPS, frames), net.threshold)
            t0 = time.perf_counter()
            dereverberate(x)
            cost += time.perf_counter() - t0
            marks = []
            for dry in (ear.DEREVERBERATE, False):
                saved, ear.DEREVERBERATE = ear.DEREVERBERATE, dry
                try:
                    words = [p for p in ear.listen(x, words=True).phones() if p.phone in ear.BILABIALS]
                finally:
                    ear.DEREVERBERATE = saved
                marks.append(heard_frames(net, x, FPS, frames, words, 0.0))
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
