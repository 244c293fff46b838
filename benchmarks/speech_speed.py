"""Speed of the speech half of the synthetic corpus, and agreement of pocketsphinx with the synthesisers.

Prints, per engine, seconds of 16 kHz audio made per second of wall time on
one process (one core), and the forced-alignment speed and boundary error
(mean and median over clips of the per-clip mean) against the synthesiser's
own phone timings. Clips cycle through all emotions at random intensities.

    .venv/bin/python benchmarks/speech_speed.py [--sentences 24] [--align 6]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from probtalk.corpus.align import align_phones, compare_alignments
from probtalk.corpus.text import make_sentences
from probtalk.corpus.tts import synthesize
from probtalk.corpus.voices import make_speakers
from probtalk.emotions import EMOTIONS
from probtalk.errors import AudioError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=24, help="utterances per engine voice")
    ap.add_argument("--align", type=int, default=6, help="utterances per engine voice to force-align")
    args = ap.parse_args()
    sentences = make_sentences(args.sentences, seed=0)
    speakers = make_speakers(24, seed=0)
    groups = {
        "espeak": [v for v in speakers if v.engine == "espeak"][:6],
        "festival slt (HTS)": [v for v in speakers if "slt" in v.voice][:2],
        "festival kal/ked (diphone)": [v for v in speakers if "diphone" in v.voice][:2],
    }
    for voices in groups.values():  # warm up: helper processes, scipy import, pocketsphinx models
        u = synthesize(sentences[0], voices[0], "neutral", 1.0, np.random.default_rng(0))
    align_phones(u.audio, u.text)
    print(
        f"{'engine':28s} {'audio s':>8s} {'wall s':>7s} {'x real-time':>11s} {'align x RT':>10s} {'align err ms':>12s} {'median ms':>9s} {'not aligned':>11s}"
    )
    for name, voices in groups.items():
        rng = np.random.default_rng(1)
        audio_s = wall = align_wall = align_audio = 0.0
        errors, failed = [], 0
        for i, text in enumerate(sentences):
            voice = voices[i % len(voices)]
            emotion = EMOTIONS[i % len(EMOTIONS)]
            t0 = time.perf_counter()
            u = synthesize(text, voice, emotion, float(rng.uniform(0, 2)), rng)
            wall += time.perf_counter() - t0
            audio_s += u.duration
            if i < args.align:
                t0 = time.perf_counter()
                try:
                    aligned = align_phones(u.audio, u.text)
                except AudioError:
                    failed += 1
                    continue
                align_wall += time.perf_counter() - t0
                align_audio += u.duration
                errors.append(compare_alignments(u.phones, aligned))
        print(
            f"{name:28s} {audio_s:8.1f} {wall:7.2f} {audio_s / wall:11.1f} "
            f"{align_audio / max(align_wall, 1e-9):10.1f} {1000 * np.mean(errors):12.1f} {1000 * np.median(errors):9.1f} {failed:11d}"
        )


if __name__ == "__main__":
    main()
