"""Cold start of ``probtalk animate`` against ``python -c "import torch"``, measured side by side in one run.

    .venv/bin/python benchmarks/cold_start.py [--runs 5] [--seconds 2]

Each command runs as a whole fresh process (like /usr/bin/time: wall clock from
spawn to exit, plus the child's user+sys CPU and peak RSS from wait4), the two
commands alternating so machine load hits both alike. Prints the medians and
the ratio animate / import-torch (target <= 1.0), and the same for the torch
path (``--model`` pointing at the .pt, which imports torch and transformers).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, user+sys s, peak RSS MB) of one run of ``cmd`` as a fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length")
    parser.add_argument("--no-torch-path", action="store_true", help="skip the --model .pt (torch) comparison")
    args = parser.parse_args()
    exe = shutil.which("probtalk", path=str(Path(sys.executable).parent))
    cli = [exe] if exe else [sys.executable, "-m", "probtalk"]
    wav, sr = sf.read(ROOT / "probtalk/assets/hello.wav", dtype="float32")
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.wav"
        sf.write(clip, wav[: int(args.seconds * sr)], sr)
        commands = {
            "import torch": [sys.executable, "-c", "import torch"],
            "probtalk animate": [*cli, "animate", str(clip), "-o", f"{tmp}/out", "-f", "npz", "--seed", "0", "--overwrite"],
        }
        if not args.no_torch_path:
            pt = ROOT / "probtalk/assets/default_model.pt"
            commands["probtalk animate --model .pt"] = [*cli, "animate", str(clip), "-o", f"{tmp}/out_pt", "-f", "npz",
                                                        "--seed", "0", "--model", str(pt), "--overwrite"]
        for cmd in commands.values():  # warm the page cache once; not counted
            measure(cmd)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, cmd in commands.items():
                results[name].append(measure(cmd))
    print(f"cold start, {args.runs} runs each, {args.seconds:g} s clip, npz out (medians)")
    base = statistics.median(r[0] for r in results["import torch"])
    for name, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = statistics.median(r[2] for r in runs)
        print(f"  {name:32s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  peak RSS {rss:6.0f} MB  ratio {wall / base:5.2f}")
    ratio = statistics.median(r[0] for r in results["probtalk animate"]) / base
    print(f"ratio animate / import torch = {ratio:.2f} (target <= 1.0); load average {os.getloadavg()[0]:.1f}")
    print(f"  all wall times: { {k: [round(r[0], 2) for r in v] for k, v in results.items()} }")


if __name__ == "__main__":
    main()
