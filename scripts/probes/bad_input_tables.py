"""Replay the bad-input tables of tests/test_bad_input.py against whichever probtalk is importable.

Usage: cd /tmp && <repo>/.venv/bin/python <repo>/scripts/probes/bad_input_tables.py <repo>/tests/test_bad_input.py
(run against an older checkout by putting it first on PYTHONPATH, to compare before and after)
Prints per-case outcome and totals: clean / traceback / new-or-partial files / silent (exit 0 or no error) / unclean (other).
"""
import importlib.util
import math
import sys
import tempfile
from pathlib import Path

spec = importlib.util.spec_from_file_location("tbi", sys.argv[1])
tbi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tbi)
from probtalk.errors import ProbtalkError  # noqa: E402

root = Path(tempfile.mkdtemp(prefix="h2probe-"))
ckpt = tbi.build_tiny_checkpoint(root / "tiny.pt")
model = tbi.load_model(ckpt, device="cpu")
tally: dict[str, list[str]] = {}


def record(kind: str, label: str) -> None:
    tally.setdefault(kind, []).append(label)


for i, (label, inputs, extra, _expect) in enumerate(tbi.CLI_CASES):
    d = root / f"cli{i}" / "in ünï"
    d.mkdir(parents=True)
    tbi.a_file(d)
    (d / "ro").mkdir()
    (d / "taken" / "a_neutral_take0.npz").mkdir(parents=True)
    out = root / f"cli{i}" / "out"
    out.mkdir()
    try:
        paths = inputs(d)
    except Exception:
        record("setup failed", label)
        continue
    args = [a.replace("{d}", str(d)) for a in extra]
    if "-o" not in args:
        args += ["-o", str(out)]
    before = tbi.folder_snapshot(out) | tbi.folder_snapshot(d)
    r = tbi.runner.invoke(tbi.app, ["animate", *paths, "--model", str(ckpt), *args])
    new = (tbi.folder_snapshot(out) | tbi.folder_snapshot(d)) - before
    err = (r.stderr or "").strip()
    if r.exception is not None and not isinstance(r.exception, SystemExit) or "Traceback" in r.output:
        kind = "traceback"
    elif r.exit_code == 0:
        kind = "silent (exit 0)"
    elif new:
        kind = "new/partial files"
    elif r.exit_code == 2 and len(err.splitlines()) == 1:
        kind = "clean"
    else:
        kind = f"unclean (exit {r.exit_code}, {len(err.splitlines())} stderr lines)"
    record(kind, "cli: " + label)
    print(f"cli  {label:40s} {kind:30s} {err.splitlines()[-1][:110] if err else repr(r.exception)[:110]}")

for i, (label, call, _kinds, _expect) in enumerate(tbi.API_CASES):
    d = root / f"api{i}"
    d.mkdir()
    speech = Path(tbi.wav(d, "speech.wav"))
    try:
        call(model, speech, d)
        kind, msg = "silent (no error)", ""
    except ProbtalkError as exc:
        kind = "clean" if "\n" not in str(exc) else "unclean (multi-line)"
        msg = f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        kind, msg = "traceback", f"{type(exc).__name__}: {exc}"
    record(kind, "api: " + label)
    print(f"api  {label:40s} {kind:30s} {msg[:110]}")

# silent wrong results and inputs that should be accepted
s = tbi.wav(root, "s.wav")
checks = {}
try:
    checks["huge blend -> 50/50"] = model.animate(s, emotion={"happy": 1e308, "sad": 1e308}, seed=1)[0].meta["emotion"] == {"happy": 0.5, "sad": 0.5}
except Exception as exc:
    checks["huge blend -> 50/50"] = f"raised {type(exc).__name__}"
try:
    m = model.animate(s, emotion={"happy": math.inf}, deterministic=True)[0].meta["emotion"]
    checks["inf weight deterministic refused"] = f"returned {m}"
except ProbtalkError:
    checks["inf weight deterministic refused"] = True
except Exception as exc:
    checks["inf weight deterministic refused"] = f"raised {type(exc).__name__}"
try:
    a = model.animate(s, seed=1.5)[0]
    checks["seed=1.5 refused"] = f"ran, recorded seed {a.meta['seed']}"
except ProbtalkError:
    checks["seed=1.5 refused"] = True
except Exception as exc:
    checks["seed=1.5 refused"] = f"raised {type(exc).__name__}"
import torch  # noqa: E402

for name, value in {"1-D torch tensor": torch.from_numpy(tbi.tone()), "list": tbi.tone().tolist()}.items():
    try:
        model.animate(value, sample_rate=16000)
        checks[f"{name} accepted"] = True
    except Exception as exc:
        checks[f"{name} accepted"] = f"raised {type(exc).__name__}"
for k, v in checks.items():
    print(f"chk  {k:40s} {'ok' if v is True else 'WRONG: ' + str(v)}")
    if v is not True:
        record("silent wrong / refused good input", k)

print("\nTOTAL cases:", len(tbi.CLI_CASES) + len(tbi.API_CASES) + len(checks))
for kind, labels in sorted(tally.items()):
    print(f"  {kind}: {len(labels)}")
