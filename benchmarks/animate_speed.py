"""Speed and memory of the main job with the embedded default model (CPU).

    python benchmarks/animate_speed.py [--model PATH] [--repeats 3] [--pairs 20]

Prints:
  * real-time factor (RTF = compute time / audio duration) of ``model.animate`` on a
    10 s clip for 1 take and for 5 takes, and their ratio (goals, issue 12: RTF <= 0.03,
    5 takes <= 1.3x one take: the median ratio of interleaved pairs, since single runs on a
    shared 2-core machine swing by +-25 %), measured side by side in one process, after a
    warm-up on a 10 s clip that starts the lip seal's ear helper (probtalk.corpus.ear), as in
    any process that animates more than one long clip; the first call of a fresh process
    (helper still loading) is printed apart;
  * the same 1-take RTF with the word ear hearing dereverberated speech (``probtalk.dereverb``, the
    default) and the speech as it is;
  * the same 1-take RTF with the ear's helper process and without it (this process decodes
    both parts: ``probtalk.corpus.ear.HELPER = False``), interleaved, with their ratio, and
    with the default ``listen="words"`` beside ``listen="phones"`` (phone recognition instead
    of word recognition) and, where Whisper is installed (``make whisper``), ``listen="whisper"``;
  * the same with numpy's BLAS left on its own threads instead of held at one inside
    ``animate`` (probtalk.runtime.threads), interleaved;
  * cold start of the ``probtalk animate`` command on a 2 s clip (fresh process,
    imports + model load + animate + write; goal <= 3 s);
  * peak resident memory of a fresh process animating 60 s of audio (goal <= 2 GB), and of
    the ear's helper process beside it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "probtalk" / "assets" / "hello.wav"


def speech(seconds: float) -> np.ndarray:
    """The bundled sample looped to ``seconds`` (real speech, not a tone)."""
    x, sr = sf.read(SAMPLE, dtype="float32")
    reps = int(np.ceil(seconds * sr / x.size))
    return np.tile(x, reps)[: int(seconds * sr)]


_ROTATION = itertools.count(1)


def fresh(audio: np.ndarray) -> np.ndarray:
    """The clip rotated by one more sample on each call: the runtime keeps the last clip's lip-seal marks
    (another emotion of one clip listens once), and each timed call must pay for listening, as a new clip."""
    return np.roll(audio, next(_ROTATION))


def rtf(model, audio: np.ndarray, takes: int, repeats: int) -> float:
    times = []
    for r in range(repeats):
        clip = fresh(audio)
        t0 = time.perf_counter()
        model.animate(clip, 16000, num_samples=takes, seed=r)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / (audio.size / 16000)


def switched_pairs(model, clip: np.ndarray, pairs: int, module, flag: str) -> tuple[list[float], list[float]]:
    """1-take RTFs with ``module.flag`` on and off, interleaved pair by pair (the flag is left on)."""
    on, off = [], []
    for _ in range(pairs):
        on.append(rtf(model, clip, 1, 1))
        setattr(module, flag, False)
        try:
            off.append(rtf(model, clip, 1, 1))
        finally:
            setattr(module, flag, True)
    return on, off


def blas_child(mode: str, backend: str, model_path: str | None, runs: int) -> None:
    """Print the median RTF of 1 and of 5 takes, numpy's BLAS held at one thread inside animate ("one",
    the runtime's default: probtalk.runtime.threads) or left as numpy sets it ("own"); torch, or
    onnxruntime as ``probtalk animate`` runs the embedded model."""
    import probtalk
    from probtalk.runtime import threads
    from probtalk.runtime.loading import load_onnx_model

    if mode == "own":
        threads._numpy_blas = lambda: None
    model = load_onnx_model() if backend == "onnx" else probtalk.load_model(model_path, device="cpu")
    clip = speech(10.0)
    model.animate(clip[:16000], 16000)
    print(rtf(model, clip, 1, runs), rtf(model, clip, 5, runs))


def blas_one_thread(model_path: str | None, rounds: int = 3, runs: int = 8) -> None:
    """The two BLAS modes in fresh processes, alternated ``rounds`` times (OpenBLAS's threads spin on past
    a call, into the next one: the modes cannot share a process)."""
    backends = ("torch",) if model_path else ("torch", "onnx")  # onnx: the embedded model's export
    rows: dict[tuple[str, str], list[list[float]]] = {}
    for _ in range(rounds):
        for backend in backends:
            for mode in ("one", "own"):
                cmd = [sys.executable, __file__, "--_blas", mode, "--_backend", backend, "--_runs", str(runs)]
                cmd += ["--model", model_path] if model_path else []
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
                rows.setdefault((backend, mode), []).append([float(out[-2]), float(out[-1])])
    for backend in backends:
        one, own = np.median(rows[(backend, "one")], axis=0), np.median(rows[(backend, "own")], axis=0)
        for i, takes in enumerate((1, 5)):
            print(f"{backend}: RTF {takes} take(s), numpy's BLAS on one thread {one[i]:.4f}, as numpy sets it "
                  f"{own[i]:.4f} ({own[i] / one[i]:.2f}x; fresh processes, median of {rounds})")


def peak_memory_child(model: str | None, seconds: float) -> None:
    import probtalk
    from probtalk.corpus import ear

    m = probtalk.load_model(model, device="cpu")
    clip = speech(seconds)
    m.animate(clip, 16000, num_samples=1, seed=0)
    for _ in range(100):  # the helper starts on the first long clip: let it load and take its part
        helper = ear._helper(False)
        if helper is not None and helper.ready.is_set():
            break
        time.sleep(0.05)
    m.animate(fresh(clip), 16000, num_samples=1, seed=0)
    helper = ear.EarHelper._instances.get(os.getpid())
    status = Path(f"/proc/{helper.proc.pid}/status") if helper is not None else None
    lines = status.read_text().splitlines() if status is not None and status.is_file() else []
    hwm = [float(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:")]
    # MiB (Linux reports KiB); the helper's peak, or nan where it did not run or /proc is missing
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, hwm[0] if hwm else float("nan"))


def whisper_pairs(model, clip: np.ndarray, pairs: int = 5) -> None:
    """listen='whisper' beside the default ear, interleaved, and Whisper's recognition alone; skipped (one
    line) where Whisper is not installed (`make whisper`)."""
    from probtalk import whisper_ear
    from probtalk.errors import ProbtalkError

    try:
        whisper_ear.check_ready()
    except ProbtalkError as exc:
        print(f"listen='whisper' not timed: {exc}")
        return
    model.animate(fresh(clip), 16000, listen="whisper")  # loads Whisper
    words, whisper, alone = [], [], []
    for r in range(pairs):
        words.append(rtf(model, clip, 1, 1))
        c = fresh(clip)
        t0 = time.perf_counter()
        model.animate(c, 16000, num_samples=1, seed=r, listen="whisper")
        whisper.append((time.perf_counter() - t0) / 10.0)
        c = fresh(clip)
        t0 = time.perf_counter()
        whisper_ear.recognise(c)
        alone.append((time.perf_counter() - t0) / 10.0)
    print(f"RTF 10 s clip, 1 take, the default listen='words' {np.median(words):.4f}, listen='whisper' "
          f"{np.median(whisper):.4f} (Whisper's recognition alone {np.median(alone):.4f}; the rest the transcript's "
          f"alignment and fit check and the word ear), median of {pairs} interleaved pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3, help="runs of the cold-start command")
    parser.add_argument("--pairs", type=int, default=20, help="interleaved 1-take / 5-take runs for the RTF ratio")
    parser.add_argument("--_peak", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_blas", choices=("one", "own"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_runs", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--_backend", choices=("torch", "onnx"), default="torch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._blas is not None:
        blas_child(args._blas, args._backend, args.model, args._runs)
        return
    if args._peak is not None:
        peak_memory_child(args.model, args._peak)
        return

    import torch

    import probtalk

    print(f"torch threads: {torch.get_num_threads()}  cores: {os.cpu_count()}")
    from probtalk.corpus import ear

    model = probtalk.load_model(args.model, device="cpu")
    clip = speech(10.0)
    model.animate(clip[:16000], 16000)  # warm-up (a short clip: the ear's helper does not start)
    first = rtf(model, clip, 1, 1)  # the first long clip starts the helper, which takes its part once loaded
    time.sleep(1.0)
    one, five = [], []
    for _ in range(args.pairs):  # interleaved pairs, so the load of a shared machine hits both alike
        one.append(rtf(model, clip, 1, 1))
        five.append(rtf(model, clip, 5, 1))
    r1, r5 = float(np.median(one)), float(np.median(five))
    ratio = float(np.median(np.array(five) / np.array(one)))
    print(f"RTF 10 s clip, 1 take : {r1:.4f}  (issue 12's goal <= 0.03); first long clip of the process: {first:.4f}")
    print(f"RTF 10 s clip, 5 takes: {r5:.4f}  ratio 5/1 = {ratio:.2f}x, median of {args.pairs} pairs  (goal <= 1.3x)")
    shared, alone = switched_pairs(model, clip, args.pairs // 2, ear, "HELPER")
    print(f"RTF 10 s clip, 1 take, the seal's ear on two cores (helper) {np.median(shared):.4f}, on one "
          f"{np.median(alone):.4f} ({float(np.median(np.array(shared) / np.array(alone))):.2f}x, median of "
          f"{len(shared)} interleaved pairs)")
    dry, wet = switched_pairs(model, clip, args.pairs // 2, ear, "DEREVERBERATE")
    print(f"RTF 10 s clip, 1 take, the word ear hearing dereverberated speech (the default) {np.median(dry):.4f}, "
          f"the speech as it is {np.median(wet):.4f} (median of {len(dry)} interleaved pairs)")
    model.animate(fresh(clip), 16000, listen="phones")  # the helper builds the phone recogniser
    words, phones = [], []
    for r in range(5):
        words.append(rtf(model, clip, 1, 1))
        c = fresh(clip)
        t0 = time.perf_counter()
        model.animate(c, 16000, num_samples=1, seed=r, listen="phones")
        phones.append((time.perf_counter() - t0) / 10.0)
    print(f"RTF 10 s clip, 1 take, the default listen='words' {np.median(words):.4f}, listen='phones' (phone "
          f"recognition) {np.median(phones):.4f}, median of 5 interleaved pairs")
    blas_one_thread(args.model)

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "two_seconds.wav"
        sf.write(wav, speech(2.0), 16000)
        cmd = [str(Path(sys.executable).parent / "probtalk"), "animate", str(wav), "-o", tmp, "--seed", "0", "--overwrite"]
        if args.model:
            cmd += ["--model", args.model]
        starts = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            starts.append(time.perf_counter() - t0)
        print(f"cold start 'probtalk animate' (2 s clip, whole process): median {np.median(starts):.2f} s  (goal <= 3 s)")

    child = [sys.executable, __file__, "--_peak", "60"] + (["--model", args.model] if args.model else [])
    out = subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1].split()
    print(f"peak memory, 60 s of audio (fresh process): {float(out[0]):.0f} MiB  (goal <= 2048 MiB); "
          f"the ear's helper process beside it: {float(out[1]):.0f} MiB")
    # last: a child forked after Whisper loaded here would count this process's size in its peak (Linux keeps
    # ru_maxrss across exec)
    whisper_pairs(model, clip)


if __name__ == "__main__":
    main()
