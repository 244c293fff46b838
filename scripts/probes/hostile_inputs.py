"""Hostile-user probe: run ~400 bad or odd inputs through the CLI and the API, classify each outcome.

Usage (from the repository root): .venv/bin/python scripts/probes/hostile_inputs.py [filter]
Writes the per-case results to $PROBE_OUT/hostile_inputs_$PROBE_TAG.json (default: the current folder).
Classes: CLEAN (ProbtalkError / exit 2 one line), TRACEBACK (other exception / exit 1),
MULTILINE, ACCEPTED (bad input taken silently), PARTIAL (new file left after an error),
STDOUT (error but junk on stdout), OK (good input worked), FAIL-GOOD (good input failed).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import traceback
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path.cwd() / "tests"))
from test_bad_input import build_tiny_checkpoint, tone  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

import exporters  # noqa: E402
import probtalk  # noqa: E402
from probtalk import Animation  # noqa: E402
from probtalk.cli.main import app  # noqa: E402
from probtalk.errors import ProbtalkError  # noqa: E402

runner = CliRunner()
FILTER = sys.argv[1] if len(sys.argv) > 1 else ""
ROOT = Path(tempfile.mkdtemp(prefix="h7probe ")) if __name__ == "__main__" else Path(".")
results: list[tuple[str, str, str]] = []


def snap(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")} if d.exists() else set()


def good_anim(t: int = 10, **kw) -> Animation:
    return Animation(fps=25.0, expression=np.zeros((t, 50), np.float32) + 0.1, jaw_pose=np.zeros((t, 3), np.float32), **kw)


def npz(name: str, **arrays) -> str:
    p = ROOT / "npz" / name
    p.parent.mkdir(exist_ok=True)
    with open(p, "wb") as fh:
        np.savez(fh, **arrays)
    return str(p)


def raw(name: str, data: bytes) -> str:
    p = ROOT / "raw" / name
    p.parent.mkdir(exist_ok=True)
    p.write_bytes(data)
    return str(p)


if __name__ == "__main__":
    os.chdir(ROOT)
    E = np.zeros((10, 50), np.float32)
    J = np.zeros((10, 3), np.float32)
    F = np.float64(25.0)
    TAKE = str(good_anim().save(ROOT / "take.npz"))
    CKPT = str(build_tiny_checkpoint(ROOT / "tiny.pt"))
    trunc_take = raw("trunc.npz", Path(TAKE).read_bytes()[:300])
    npy_as_npz = ROOT / "raw" / "array.npz"
    np.save(open(npy_as_npz, "wb"), E)
    BAD_NPZ = {
        "wrong keys": npz("wrongkeys.npz", foo=E),
        "expr 1-D": npz("e1d.npz", fps=F, expression=np.zeros(10, np.float32), jaw_pose=J),
        "expr too wide": npz("ewide.npz", fps=F, expression=np.zeros((10, 200), np.float32), jaw_pose=J),
        "expr strings": npz("estr.npz", fps=F, expression=np.array([["a"] * 50] * 10), jaw_pose=J),
        "expr complex": npz("ecplx.npz", fps=F, expression=E.astype(np.complex64) + 1j, jaw_pose=J),
        "expr bool": npz("ebool.npz", fps=F, expression=E.astype(bool), jaw_pose=J),
        "expr NaN": npz("enan.npz", fps=F, expression=E + np.nan, jaw_pose=J),
        "jaw inf": npz("jinf.npz", fps=F, expression=E, jaw_pose=J + np.inf),
        "jaw wrong shape": npz("jshape.npz", fps=F, expression=E, jaw_pose=np.zeros((9, 3), np.float32)),
        "eye wrong shape": npz("eye.npz", fps=F, expression=E, jaw_pose=J, eye_pose=np.zeros((10, 3), np.float32)),
        "shape 2-D": npz("shape2d.npz", fps=F, expression=E, jaw_pose=J, shape=np.zeros((3, 3), np.float32)),
        "shape NaN": npz("shapenan.npz", fps=F, expression=E, jaw_pose=J, shape=np.full(300, np.nan, np.float32)),
        "zero frames": npz("zero.npz", fps=F, expression=np.zeros((0, 50), np.float32), jaw_pose=np.zeros((0, 3), np.float32)),
        "huge T": npz("huge.npz", fps=F, expression=np.zeros((240 * 3600 + 5, 1), np.float32),
                      jaw_pose=np.zeros((240 * 3600 + 5, 3), np.float32)),
        "meta not JSON": npz("metabad.npz", fps=F, expression=E, jaw_pose=J, meta_json=np.array("{not json")),
        "meta a list": npz("metalist.npz", fps=F, expression=E, jaw_pose=J, meta_json=np.array("[1, 2]")),
        "meta a number": npz("metanum.npz", fps=F, expression=E, jaw_pose=J, meta_json=np.array("3")),
        "meta NaN": npz("metanan.npz", fps=F, expression=E, jaw_pose=J, meta_json=np.array('{"a": NaN}')),
        "meta bytes array": npz("metabytes.npz", fps=F, expression=E, jaw_pose=J, meta_json=np.frombuffer(b"\xff\xfe", np.uint8)),
        "fps 0": npz("fps0.npz", fps=np.float64(0), expression=E, jaw_pose=J),
        "fps negative": npz("fpsneg.npz", fps=np.float64(-25), expression=E, jaw_pose=J),
        "fps nan": npz("fpsnan.npz", fps=np.float64(np.nan), expression=E, jaw_pose=J),
        "fps inf": npz("fpsinf.npz", fps=np.float64(np.inf), expression=E, jaw_pose=J),
        "fps array": npz("fpsarr.npz", fps=np.array([25.0, 30.0]), expression=E, jaw_pose=J),
        "fps text": npz("fpstxt.npz", fps=np.array("fast"), expression=E, jaw_pose=J),
        "fps 1e9": npz("fpsbig.npz", fps=np.float64(1e9), expression=E, jaw_pose=J),
        "truncated": trunc_take,
        "empty file": raw("empty.npz", b""),
        "text file": raw("text.npz", b"hello\n" * 50),
        "npy named npz": str(npy_as_npz),
        "pickle npz": npz("obj.npz", fps=F, expression=np.array([object()] * 3, dtype=object), jaw_pose=J),
    }


    def record(label: str, verdict: str, detail: str) -> None:
        results.append((label, verdict, detail.replace("\n", " | ")[:220]))
        print(f"{verdict:10s} {label}: {detail.splitlines()[0][:160] if detail else ''}", flush=True)


    def cli(label: str, args: list[str], out: Path | None = None, good: bool = False) -> None:
        if FILTER and FILTER not in label:
            return
        out = out or ROOT / "cliout"
        out.mkdir(exist_ok=True, parents=True)
        before = snap(out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = runner.invoke(app, [a.replace("{out}", str(out)) for a in args])
        err = r.stderr.strip()
        new = snap(out) - before
        if good:
            verdict = "OK" if r.exit_code == 0 else "FAIL-GOOD"
            record(label, verdict, err or r.stdout.strip()[-200:] or repr(r.exception))
            return
        tb = r.exception is not None and not isinstance(r.exception, SystemExit)
        if tb or "Traceback" in r.output:
            record(label, "TRACEBACK", "".join(traceback.format_exception(r.exception)[-2:]) if r.exception else err)
        elif r.exit_code == 0:
            record(label, "ACCEPTED", r.stdout.strip()[-200:])
        elif len(err.splitlines()) != 1 or r.exit_code != 2:
            record(label, "MULTILINE", f"exit {r.exit_code}: {err}")
        elif new:
            record(label, "PARTIAL", f"{sorted(new)} {err}")
        elif r.stdout.strip() or r.stdout.startswith("\n"):
            record(label, "STDOUT", f"stdout={r.stdout!r} {err}")
        else:
            record(label, "CLEAN", err)
        import shutil
        for name in snap(out) - before:
            p = out / name
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.exists():
                p.unlink()


    def api(label: str, fn: Callable[[], object], good: bool = False, out: Path | None = None) -> None:
        if FILTER and FILTER not in label:
            return
        before = snap(out) if out else set()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a stray warning counts as untidy
                value = fn()
        except ProbtalkError as exc:
            msg = str(exc)
            if good:
                record(label, "FAIL-GOOD", msg)
            elif "\n" in msg:
                record(label, "MULTILINE", msg)
            elif out and snap(out) - before:
                record(label, "PARTIAL", msg)
            else:
                record(label, "CLEAN", f"{type(exc).__name__}: {msg}")
            return
        except Exception as exc:  # noqa: BLE001
            record(label, "FAIL-GOOD" if good else "TRACEBACK", f"{type(exc).__name__}: {exc}")
            return
        record(label, "OK" if good else "ACCEPTED", repr(value)[:150])


    # ============================================================== render CLI
    for name, path in BAD_NPZ.items():
        cli(f"render npz {name}", ["render", path, "--frame", "0", "-o", "{out}/f.png", "--size", "64"])
    for name in ("wrong keys", "meta a list", "fps array", "npy named npz", "zero frames", "huge T", "fps 1e9", "expr complex"):
        cli(f"export npz {name}", ["export", BAD_NPZ[name], "-f", "npz", "-o", "{out}"])
    R = ["render", TAKE]
    cli("render size 0", [*R, "--size", "0", "--frame", "0", "-o", "{out}/f.png"])
    cli("render size -5", [*R, "--size", "-5", "--frame", "0", "-o", "{out}/f.png"])
    cli("render size huge", [*R, "--size", "100000", "--frame", "0", "-o", "{out}/f.png"])
    cli("render fps 0", [*R, "--fps", "0", "-o", "{out}/v.mp4"])
    cli("render fps negative", [*R, "--fps", "-30", "-o", "{out}/v.mp4"])
    cli("render fps nan", [*R, "--fps", "nan", "-o", "{out}/v.mp4"])
    cli("render backend bogus", [*R, "--backend", "vulkan", "-o", "{out}/v.mp4"])
    cli("render layout bogus", [*R, "--layout", "diagonal", "-o", "{out}/v.mp4", "--size", "64"])
    cli("render layout bogus frame", [*R, "--layout", "diagonal", "--frame", "0", "-o", "{out}/f.png", "--size", "64"])
    cli("render frame out of range", [*R, "--frame", "1000", "-o", "{out}/f.png", "--size", "64"])
    cli("render frame -1000", [*R, "--frame", "-1000", "-o", "{out}/f.png", "--size", "64"])
    cli("render frame and sheet", [*R, "--frame", "0", "--sheet", "-o", "{out}/f.png"])
    cli("render sheet frames 0", [*R, "--sheet", "--sheet-frames", "0", "-o", "{out}/s.png", "--size", "64"])
    cli("render sheet frames -3", [*R, "--sheet", "--sheet-frames", "-3", "-o", "{out}/s.png", "--size", "64"])
    cli("render sheet frames 100000", [*R, "--sheet", "--sheet-frames", "100000", "-o", "{out}/s.png", "--size", "64"])
    cli("render out .txt", [*R, "-o", "{out}/v.txt"])
    cli("render out png without frame", [*R, "-o", "{out}/v.png"])
    cli("render out empty", [*R, "-o", ""])
    cli("render out is a folder", [*R, "-o", "{out}"])
    cli("render out is folder.mp4", [*R, "-o", "{out}/d.mp4", "--size", "64"], out=ROOT / "o2")
    (ROOT / "o2" / "d.mp4").mkdir(parents=True, exist_ok=True)
    cli("render out is folder.mp4 (exists)", [*R, "-o", str(ROOT / "o2" / "d.mp4"), "--size", "64"], out=ROOT / "o3")
    cli("render out in missing folder", [*R, "-o", "{out}/nope/v.mp4"])
    cli("render audio missing", [*R, "--audio", "{out}/nope.wav", "-o", "{out}/v.mp4", "--size", "64"])
    cli("render audio text", [*R, "--audio", raw("t.wav", b"text " * 100), "-o", "{out}/v.mp4", "--size", "64"])
    cli("render audio empty", [*R, "--audio", raw("e.wav", b""), "-o", "{out}/v.mp4", "--size", "64"])
    cli("render rig text", [*R, "--rig", raw("rig.npz", b"text"), "--frame", "0", "-o", "{out}/f.png", "--size", "64"])
    cli("render rig missing", [*R, "--rig", "{out}/nope.pkl", "--frame", "0", "-o", "{out}/f.png"])
    cli("render rig .obj", [*R, "--rig", raw("rig.obj", b"v 0 0 0\n"), "--frame", "0", "-o", "{out}/f.png"])
    cli("render yaw 1e308", [*R, "--yaw", "1e308", "--frame", "0", "-o", "{out}/f.png", "--size", "64"])
    cli("render pitch 400", [*R, "--pitch", "400", "--frame", "0", "-o", "{out}/f.png", "--size", "64"])
    cli("render rig-sheet with anims", [*R, "--rig-sheet", "{out}/r.png"])
    cli("render rig-sheet .mp4", ["render", "--rig-sheet", "{out}/r.mp4", "--size", "64"])
    cli("render rig-sheet size 0", ["render", "--rig-sheet", "{out}/r.png", "--size", "0"])
    cli("render no args", ["render"])
    cli("render same file twice", [*R, TAKE, "--frame", "0", "-o", "{out}/f.png", "--size", "64"], good=True)
    cli("render npz dir", ["render", str(ROOT), "--frame", "0", "-o", "{out}/f.png"])
    cli("render wav as npz", ["render", raw("x.wav", b"RIFF"), "--frame", "0", "-o", "{out}/f.png"])
    cli("render frame 0 ok", [*R, "--frame", "0", "-o", "{out}/f.png", "--size", "64"], good=True)

    # ============================================================== export CLI
    X = ["export", TAKE]
    cli("export fps 0", [*X, "-f", "npz", "--fps", "0", "-o", "{out}"])
    cli("export fps nan", [*X, "-f", "npz", "--fps", "nan", "-o", "{out}"])
    cli("export fps -24", [*X, "-f", "npz", "--fps", "-24", "-o", "{out}"])
    cli("export fps 1e6", [*X, "-f", "npz", "--fps", "1e6", "-o", "{out}"])
    cli("export fps 29.97 ok", [*X, "-f", "npz", "--fps", "29.97", "-o", "{out}/ok"], good=True)
    cli("export out is a file", [*X, "-f", "npz", "-o", TAKE])
    cli("export out empty", [*X, "-f", "npz", "-o", ""])
    cli("export tolerance nan", [*X, "-f", "glb", "--tolerance", "nan", "-o", "{out}"])
    cli("export tolerance negative", [*X, "-f", "glb", "--tolerance", "-1", "-o", "{out}"])
    cli("export tolerance inf", [*X, "-f", "glb", "--tolerance", "inf", "-o", "{out}"])
    cli("export smoothing nan", [*X, "-f", "csv", "--smoothing", "nan", "-o", "{out}"])
    cli("export smoothing 1e9", [*X, "-f", "csv", "--smoothing", "1e9", "-o", "{out}"])
    cli("export format empty", [*X, "-f", "", "-o", "{out}"])
    cli("export format commas", [*X, "-f", ",,", "-o", "{out}"])
    cli("export format ALL caps", [*X, "-f", "NPZ", "-o", "{out}/caps"], good=True)
    cli("export character text .glb", [*X, "-f", "glb", "--character", raw("c.glb", b"text"), "-o", "{out}"])
    cli("export character empty dir", [*X, "-f", "glb", "--character", str(ROOT / "emptydir"), "-o", "{out}"])
    (ROOT / "emptydir").mkdir(exist_ok=True)
    cli("export character empty dir (exists)", [*X, "-f", "glb", "--character", str(ROOT / "emptydir"), "-o", "{out}"])
    cli("export character missing", [*X, "-f", "glb", "--character", "{out}/nope.glb", "-o", "{out}"])
    cli("export character with npz", [*X, "-f", "npz", "--character", raw("c2.glb", b"text"), "-o", "{out}"])
    cli("export targets text", [*X, "-f", "csv", "--targets", raw("t.glb", b"text"), "-o", "{out}"])
    cli("export targets missing", [*X, "-f", "csv", "--targets", "{out}/nope", "-o", "{out}"])
    cli("export targets without arkit glb", [*X, "-f", "glb", "--targets", str(ROOT / "emptydir"), "-o", "{out}"])
    cli("export rig text", [*X, "-f", "glb", "--rig", raw("r.npz", b"text"), "-o", "{out}"])
    cli("export rig truncated", [*X, "-f", "glb", "--rig", raw("rt.npz", Path(TAKE).read_bytes()[:200]), "-o", "{out}"])
    cli("export audio missing", [*X, "-f", "npz", "--audio", "{out}/nope.wav", "-o", "{out}"])
    cli("export audio text", [*X, "-f", "npz", "--audio", raw("tt.wav", b"text " * 100), "-o", "{out}"])
    cli("export audio empty", [*X, "-f", "npz", "--audio", raw("ee.wav", b""), "-o", "{out}"])
    cli("export missing file", ["export", "{out}/nope.npz", "-f", "npz", "-o", "{out}"])
    cli("export no files", ["export", "-f", "npz", "-o", "{out}"])
    cli("export bake vertices to csv", [*X, "-f", "csv", "--bake-vertices", "-o", "{out}/bv"])

    # ============================================================== data
    cli("data synth out is a file", ["data", "synth", "-o", TAKE, "--speakers", "1", "--sentences", "1", "--heldout-speakers", "0"])
    cli("data synth out under a file", ["data", "synth", "-o", TAKE + "/x", "--speakers", "1", "--sentences", "1", "--heldout-speakers", "0"])
    cli("data synth out empty", ["data", "synth", "-o", "", "--speakers", "1", "--sentences", "1", "--heldout-speakers", "0"])
    cli("data synth speakers 0", ["data", "synth", "-o", "{out}/c", "--speakers", "0"])
    cli("data synth speakers -3", ["data", "synth", "-o", "{out}/c", "--speakers", "-3"])
    api("SynthConfig speakers huge", lambda: __import__("probtalk.corpus.synth", fromlist=["x"]).SynthConfig(speakers=99999999))
    cli("data synth speakers text", ["data", "synth", "-o", "{out}/c", "--speakers", "many"])
    cli("data synth sentences 0", ["data", "synth", "-o", "{out}/c", "--sentences", "0"])
    api("SynthConfig sentences huge", lambda: __import__("probtalk.corpus.synth", fromlist=["x"]).SynthConfig(sentences=99999999))
    cli("data synth intensities 9", ["data", "synth", "-o", "{out}/c", "--intensities", "9"])
    cli("data synth emotions empty", ["data", "synth", "-o", "{out}/c", "--emotions", ""])
    cli("data synth emotions per sentence 0", ["data", "synth", "-o", "{out}/c", "--emotions-per-sentence", "0"])
    cli("data synth emotions per sentence 99", ["data", "synth", "-o", "{out}/c", "--emotions-per-sentence", "99", "--speakers", "1", "--heldout-speakers", "0", "--sentences", "1", "--emotions", "neutral,happy"])
    cli("data synth workers 0", ["data", "synth", "-o", "{out}/c", "--workers", "0", "--speakers", "0"])
    cli("data synth workers -4", ["data", "synth", "-o", "{out}/c", "--workers", "-4", "--speakers", "1", "--heldout-speakers", "0", "--sentences", "1", "--emotions", "neutral"])
    cli("data synth seed -1", ["data", "synth", "-o", "{out}/c", "--seed", "-1", "--speakers", "1", "--heldout-speakers", "0", "--sentences", "1", "--emotions", "neutral"])
    cli("data synth heldout = speakers", ["data", "synth", "-o", "{out}/c", "--speakers", "2", "--heldout-speakers", "2"])
    cli("data splits missing", ["data", "splits", "{out}/nope"])
    cli("data splits a file", ["data", "splits", TAKE])
    (ROOT / "corp" / "param").mkdir(parents=True, exist_ok=True)
    (ROOT / "corp" / "param" / "garbage.npy").write_bytes(b"x")
    cli("data splits bad keyid", ["data", "splits", str(ROOT / "corp")])
    (ROOT / "corp2" / "param").mkdir(parents=True, exist_ok=True)
    cli("data splits empty param", ["data", "splits", str(ROOT / "corp2")])

    # ============================================================== train
    (ROOT / "empty").mkdir(exist_ok=True)
    T = ["train", "vq", "--data", str(ROOT / "empty"), "--out", "{out}/run"]


    def toml(name: str, text: str) -> str:
        return raw(name, text.encode())


    cli("train data missing", ["train", "vq", "--data", "{out}/nope", "--out", "{out}/run"])
    cli("train data empty", T)
    cli("train data is a file", ["train", "vq", "--data", TAKE, "--out", "{out}/run"])
    cli("train config missing", [*T, "--config", "{out}/nope.toml"])
    cli("train config dir", [*T, "--config", str(ROOT)])
    cli("train config not toml", [*T, "--config", toml("bad.toml", "steps = = 3\n[[[")])
    cli("train config binary", [*T, "--config", raw("bin.toml", b"\xff\xfe\x00")])
    cli("train config wrong type", [*T, "--config", toml("wt.toml", 'steps = "many"\n')])
    cli("train config unknown key", [*T, "--config", toml("uk.toml", "stpes = 3\n")])
    cli("train config unknown table", [*T, "--config", toml("ut.toml", "[vqq]\nhidden = 3\n")])
    cli("train config unknown nested", [*T, "--config", toml("un.toml", "[vq]\nhiden = 3\n")])
    cli("train config negative steps", [*T, "--config", toml("ns.toml", "steps = -5\n")])
    cli("train config lr nan", [*T, "--config", toml("lrn.toml", "lr = nan\n")])
    cli("train config lr inf", [*T, "--config", toml("lri.toml", "lr = inf\n")])
    cli("train config lr negative", [*T, "--config", toml("lrneg.toml", "lr = -1e-4\n")])
    cli("train config batch 0", [*T, "--config", toml("b0.toml", "batch_size = 0\n")])
    cli("train config betas wrong len", [*T, "--config", toml("bt.toml", "betas = [0.9]\n")])
    cli("train config betas text", [*T, "--config", toml("bts.toml", 'betas = ["a", "b"]\n')])
    cli("train config device bogus", [*T, "--config", toml("dev.toml", 'device = "tpu"\n')])
    cli("train config vq hidden 0", [*T, "--config", toml("vh.toml", "[vq]\nhidden = 0\n")])
    cli("train config vq is a value", [*T, "--config", toml("vv.toml", "vq = 3\n")])
    cli("train config fps 0", [*T, "--config", toml("fps.toml", "fps = 0.0\n")])
    cli("train config aug prob 2", [*T, "--config", toml("ap.toml", "[augment]\nnoise_prob = 2.0\n")])
    cli("train set garbage", [*T, "--set", "lr"])
    cli("train set nan", [*T, "--set", "lr=nan"])
    cli("train set steps -1", [*T, "--set", "steps=-1"])
    cli("train set deep key", [*T, "--set", "a.b.c=1"])
    cli("train predictor no vq", ["train", "predictor", "--data", str(ROOT / "empty"), "--out", "{out}/run"])
    cli("train predictor vq missing", ["train", "predictor", "--data", str(ROOT / "empty"), "--out", "{out}/run", "--vq", "{out}/nope.pt"])
    cli("train predictor vq text", ["train", "predictor", "--data", str(ROOT / "empty"), "--out", "{out}/run", "--vq", raw("v.pt", b"text")])
    cli("train stage bogus", ["train", "gan", "--data", str(ROOT / "empty"), "--out", "{out}/run"])
    cli("train out is a file", ["train", "vq", "--data", str(ROOT / "empty"), "--out", TAKE])

    from probtalk.train.config import load_train_config
    for o in ["lr=nan", "lr=inf", "steps=-1", "batch_size=0", "betas=[0.9]", 'device="tpu"', "vq.hidden=0",
              "augment.noise_prob=2.0", "vq.dropout=-0.1", 'betas=["a", "b"]']:
        api(f"load_train_config {o}", lambda o=o: load_train_config(None, [o]))
    api("load_train_config test recipe ok", lambda: load_train_config(None, ["val_every=0", "save_every=0", "amp=false"]), good=True)

    # ============================================================== evaluate / info
    V = ["evaluate", "--data", str(ROOT / "empty"), "--model", CKPT]
    cli("evaluate model missing", ["evaluate", "--model", "{out}/nope.pt", "--data", str(ROOT / "empty")])
    cli("evaluate model dir", ["evaluate", "--model", str(ROOT), "--data", str(ROOT / "empty")])
    cli("evaluate model text", ["evaluate", "--model", raw("m.pt", b"text"), "--data", str(ROOT / "empty")])
    cli("evaluate data missing", ["evaluate", "--model", CKPT, "--data", "{out}/nope"])
    cli("evaluate data empty", V)
    cli("evaluate data a file", ["evaluate", "--model", CKPT, "--data", TAKE])
    cli("evaluate split bogus", [*V, "--split", "nope"])
    cli("evaluate split empty", [*V, "--split", ""])
    cli("evaluate split path", [*V, "--split", "../../etc/passwd"])
    cli("evaluate engine bogus", [*V, "--engine", "magic"])
    cli("evaluate takes 0", [*V, "--takes", "0"])
    cli("evaluate json to dir", [*V, "--json", str(ROOT)])
    cli("evaluate json missing folder", [*V, "--json", "{out}/nope/x.json"])
    cli("evaluate classifier text", [*V, "--classifier", raw("cls.pt", b"text")])
    cli("evaluate seed -1", [*V, "--seed", "-1"])
    cli("info model missing", ["info", "--model", "{out}/nope.pt"])
    cli("info model dir", ["info", "--model", str(ROOT)])
    cli("info model text", ["info", "--model", raw("i.pt", b"text")])
    cli("info model truncated", ["info", "--model", raw("tr.pt", Path(CKPT).read_bytes()[:1000])])
    cli("info model npz", ["info", "--model", TAKE])
    cli("info rig text", ["info", "--rig", raw("ir.npz", b"text")])
    cli("info ok", ["info", "--model", CKPT], good=True)

    # ============================================================== Python API: Animation
    OUTDIR = ROOT / "apiout"
    OUTDIR.mkdir(exist_ok=True)
    api("Animation fps text", lambda: Animation(fps="abc", expression=E, jaw_pose=J))
    api("Animation fps None", lambda: Animation(fps=None, expression=E, jaw_pose=J))
    api("Animation fps list", lambda: Animation(fps=[25], expression=E, jaw_pose=J))
    api("Animation fps bool", lambda: Animation(fps=True, expression=E, jaw_pose=J))
    api("Animation fps complex", lambda: Animation(fps=25 + 1j, expression=E, jaw_pose=J))
    api("Animation expr None", lambda: Animation(fps=25, expression=None, jaw_pose=J))
    api("Animation expr strings", lambda: Animation(fps=25, expression=[["a"] * 50] * 10, jaw_pose=J))
    api("Animation expr ragged", lambda: Animation(fps=25, expression=[[0.0] * 50, [0.0]], jaw_pose=J[:2]))
    api("Animation expr complex", lambda: Animation(fps=25, expression=E.astype(np.complex64) + 1j, jaw_pose=J))
    api("Animation expr bool", lambda: Animation(fps=25, expression=E.astype(bool), jaw_pose=J))
    api("Animation expr object", lambda: Animation(fps=25, expression=np.array([object()]), jaw_pose=J))
    api("Animation expr 1e39 (overflows float32)", lambda: Animation(fps=25, expression=E.astype(np.float64) + 1e39, jaw_pose=J))
    api("Animation jaw None", lambda: Animation(fps=25, expression=E, jaw_pose=None))
    api("Animation meta None", lambda: Animation(fps=25, expression=E, jaw_pose=J, meta=None))
    api("Animation meta list", lambda: Animation(fps=25, expression=E, jaw_pose=J, meta=[1, 2]))
    api("Animation meta NaN save", lambda: good_anim(meta={"x": math.nan}).save(OUTDIR / "mn.npz"), out=OUTDIR)
    api("Animation meta inf save", lambda: good_anim(meta={"x": [math.inf]}).save(OUTDIR / "mi.npz"), out=OUTDIR)
    api("Animation meta object save", lambda: good_anim(meta={"x": object()}).save(OUTDIR / "mo.npz"), out=OUTDIR)
    api("Animation meta set save", lambda: good_anim(meta={"x": {1, 2}}).save(OUTDIR / "ms.npz"), out=OUTDIR)
    api("Animation meta circular save", lambda: good_anim(meta=(lambda d: (d.__setitem__("me", d), d)[1])({})).save(OUTDIR / "mc.npz"), out=OUTDIR)
    api("Animation meta np nan save", lambda: good_anim(meta={"x": np.float32("nan")}).save(OUTDIR / "mnp.npz"), out=OUTDIR)
    api("Animation save to missing folder", lambda: good_anim().save(OUTDIR / "nope" / "x.npz"), out=OUTDIR)
    api("Animation save to empty path", lambda: good_anim().save(""), out=OUTDIR)
    api("Animation save to a folder", lambda: good_anim().save(OUTDIR), out=OUTDIR)
    (OUTDIR / "d.npz").mkdir(exist_ok=True)
    api("Animation save onto folder.npz", lambda: good_anim().save(OUTDIR / "d.npz"), out=OUTDIR)
    api("Animation save path None", lambda: good_anim().save(None), out=OUTDIR)
    api("Animation save path int", lambda: good_anim().save(3), out=OUTDIR)
    api("Animation load None", lambda: Animation.load(None))
    api("Animation load int", lambda: Animation.load(5))
    api("Animation load bytes", lambda: Animation.load(TAKE.encode()))
    for name, path in BAD_NPZ.items():
        if name in ("huge T",):
            continue
        api(f"Animation.load {name}", lambda p=path: Animation.load(p))
    api("Animation resample text", lambda: good_anim().resample("abc"))
    api("Animation resample None", lambda: good_anim().resample(None))
    api("Animation resample 1e-300", lambda: good_anim().resample(1e-300))
    api("Animation resample 1e12", lambda: good_anim().resample(1e12))
    api("Animation from_motion wrong", lambda: Animation.from_motion(np.zeros((5, 52)), 25))
    api("Animation from_motion text", lambda: Animation.from_motion("abc", 25))
    api("Animation unicode path with spaces", lambda: Animation.load(good_anim().save(ROOT / "ünï cødé 音 take.npz")), good=True)
    api("Animation roundtrip meta numpy", lambda: Animation.load(good_anim(meta={"s": np.int64(3), "p": Path("x")}).save(OUTDIR / "rt.npz")).meta, good=True)

    # ============================================================== exporters.write
    anim = good_anim()
    api("write anim None", lambda: exporters.write(None, OUTDIR / "a.npz"), out=OUTDIR)
    api("write anim ndarray", lambda: exporters.write(E, OUTDIR / "a.npz"), out=OUTDIR)
    api("write path empty", lambda: exporters.write(anim, ""), out=OUTDIR)
    api("write path None", lambda: exporters.write(anim, None), out=OUTDIR)
    api("write path int", lambda: exporters.write(anim, 3), out=OUTDIR)
    api("write path no suffix", lambda: exporters.write(anim, OUTDIR / "noext"), out=OUTDIR)
    api("write path .docx", lambda: exporters.write(anim, OUTDIR / "a.docx"), out=OUTDIR)
    api("write format bogus", lambda: exporters.write(anim, OUTDIR / "a.npz", format="docx"), out=OUTDIR)
    api("write format None suffix csv", lambda: exporters.write(anim, OUTDIR / "good.csv"), good=True)
    api("write format int", lambda: exporters.write(anim, OUTDIR / "a.npz", format=3), out=OUTDIR)
    api("write format list", lambda: exporters.write(anim, OUTDIR / "a.npz", format=["npz"]), out=OUTDIR)
    api("write format mismatch suffix", lambda: exporters.write(anim, OUTDIR / "a.glb", format="npz"), out=OUTDIR)
    api("write unknown option", lambda: exporters.write(anim, OUTDIR / "a.npz", colour="red"), out=OUTDIR)
    api("write option for another format", lambda: exporters.write(anim, OUTDIR / "a.npz", arkit=True), out=OUTDIR)
    api("write smoothing text", lambda: exporters.write(anim, OUTDIR / "a.csv", arkit_smoothing="lots"), out=OUTDIR)
    api("write smoothing nan", lambda: exporters.write(anim, OUTDIR / "a.csv", arkit_smoothing=math.nan), out=OUTDIR)
    api("write smoothing -1", lambda: exporters.write(anim, OUTDIR / "a.csv", arkit_smoothing=-1.0), out=OUTDIR)
    api("write smoothing None", lambda: exporters.write(anim, OUTDIR / "a.csv", arkit_smoothing=None), out=OUTDIR)
    api("write tolerance nan", lambda: exporters.write(anim, OUTDIR / "a.glb", tolerance=math.nan), out=OUTDIR)
    api("write tolerance -1", lambda: exporters.write(anim, OUTDIR / "a.glb", tolerance=-1.0), out=OUTDIR)
    api("write tolerance text", lambda: exporters.write(anim, OUTDIR / "a.glb", tolerance="x"), out=OUTDIR)
    api("write bake_vertices text", lambda: exporters.write(anim, OUTDIR / "a.npz", bake_vertices="yes"), out=OUTDIR)
    api("write arkit text", lambda: exporters.write(anim, OUTDIR / "a.glb", arkit="no"), out=OUTDIR)
    api("write nonzero_only 5", lambda: exporters.write(anim, OUTDIR / "a.glb", nonzero_only=5), out=OUTDIR)
    api("write fps text", lambda: exporters.write(anim, OUTDIR / "a.npz", fps="fast"), out=OUTDIR)
    api("write fps nan", lambda: exporters.write(anim, OUTDIR / "a.npz", fps=math.nan), out=OUTDIR)
    api("write fps bool", lambda: exporters.write(anim, OUTDIR / "a.npz", fps=True), out=OUTDIR)
    api("write rig text path", lambda: exporters.write(anim, OUTDIR / "a.glb", rig=raw("wr.npz", b"text")), out=OUTDIR)
    api("write rig wrong type", lambda: exporters.write(anim, OUTDIR / "a.glb", rig=42), out=OUTDIR)
    api("write rig path str ok", lambda: exporters.write(anim, OUTDIR / "rigpath.glb", rig=None), good=True)
    api("write to missing folder", lambda: exporters.write(anim, OUTDIR / "nope" / "a.npz"), out=OUTDIR)
    api("write onto a folder", lambda: exporters.write(anim, OUTDIR / "d.npz"), out=OUTDIR)
    api("write character text", lambda: exporters.write(anim, OUTDIR / "a.glb", character=raw("ch.glb", b"text")), out=OUTDIR)
    api("write character missing", lambda: exporters.write(anim, OUTDIR / "a.glb", character=OUTDIR / "nope.glb"), out=OUTDIR)
    api("write character int", lambda: exporters.write(anim, OUTDIR / "a.glb", character=5), out=OUTDIR)
    api("write targets int", lambda: exporters.write(anim, OUTDIR / "a.csv", targets=5), out=OUTDIR)
    api("write zero-frame anim", lambda: exporters.write(Animation(fps=25, expression=np.zeros((0, 50)), jaw_pose=np.zeros((0, 3))), OUTDIR / "z.npz"), out=OUTDIR)
    api("write_all stem with slash", lambda: exporters.write_all(anim, OUTDIR, "../escape", ["npz"]), out=OUTDIR)
    api("write_all stem empty", lambda: exporters.write_all(anim, OUTDIR, "", ["npz"]), out=OUTDIR)
    api("write_all formats None", lambda: exporters.write_all(anim, OUTDIR, "x", None), out=OUTDIR)
    api("write_all out is a file", lambda: exporters.write_all(anim, TAKE, "x", ["npz"]), out=OUTDIR)
    api("write_all audio text", lambda: exporters.write_all(anim, OUTDIR, "x", ["npz"], audio=raw("wa.wav", b"text " * 50)), out=OUTDIR)

    # ============================================================== probtalk.render
    api("render no anims", lambda: probtalk.render([], out=OUTDIR / "v.mp4"), out=OUTDIR)
    api("render anim None", lambda: probtalk.render(None, out=OUTDIR / "v.mp4"), out=OUTDIR)
    api("render size 0", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, size=0), out=OUTDIR)
    api("render size text", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, size="big"), out=OUTDIR)
    api("render size nan", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, size=math.nan), out=OUTDIR)
    api("render size 64.5", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, size=64.5), out=OUTDIR)
    api("render fps text", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", fps="x"), out=OUTDIR)
    api("render fps 0", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", fps=0), out=OUTDIR)
    api("render backend None", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", backend=None), out=OUTDIR)
    api("render layout int", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, layout=3, size=64), out=OUTDIR)
    api("render frame 1.5", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=1.5, size=64), out=OUTDIR)
    api("render frame text", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame="0", size=64), out=OUTDIR)
    api("render frame True", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=True, size=64), out=OUTDIR)
    api("render sheet -1", lambda: probtalk.render(anim, out=OUTDIR / "s.png", sheet=-1, size=64), out=OUTDIR)
    api("render sheet 2.5", lambda: probtalk.render(anim, out=OUTDIR / "s.png", sheet=2.5, size=64), out=OUTDIR)
    api("render sheet text", lambda: probtalk.render(anim, out=OUTDIR / "s.png", sheet="many", size=64), out=OUTDIR)
    api("render captions int", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, captions=5, size=64), out=OUTDIR)
    api("render captions wrong count", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, captions=["a", "b"], size=64), out=OUTDIR)
    api("render samples -3", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, samples=-3, size=64), out=OUTDIR)
    api("render samples 1000", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, samples=1000, size=64), out=OUTDIR)
    api("render camera text", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, camera="front", size=64), out=OUTDIR)
    api("render audio text file", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", audio=raw("ra.wav", b"t" * 100), size=64), out=OUTDIR)
    api("render audio 2-D array", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", audio=np.zeros((2, 2, 2)), size=64), out=OUTDIR)
    api("render audio nan array", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", audio=np.full(8000, np.nan, np.float32), size=64), out=OUTDIR)
    api("render out None", lambda: probtalk.render(anim, out=None, frame=0), out=OUTDIR)
    api("render out empty", lambda: probtalk.render(anim, out="", frame=0), out=OUTDIR)
    api("render progress not callable", lambda: probtalk.render(anim, out=OUTDIR / "v.mp4", progress=5, size=64), out=OUTDIR)
    api("render rig int", lambda: probtalk.render(anim, out=OUTDIR / "f.png", frame=0, rig=5, size=64), out=OUTDIR)
    api("render zero frames", lambda: probtalk.render(Animation(fps=25, expression=np.zeros((0, 50)), jaw_pose=np.zeros((0, 3))), out=OUTDIR / "z.png", frame=0, size=64), out=OUTDIR)
    api("render zero frames video", lambda: probtalk.render(Animation(fps=25, expression=np.zeros((0, 50)), jaw_pose=np.zeros((0, 3))), out=OUTDIR / "z.mp4", size=64), out=OUTDIR)
    api("render huge T video", lambda: probtalk.render(Animation(fps=240, expression=np.zeros((240 * 3600 + 5, 1)), jaw_pose=np.zeros((240 * 3600 + 5, 3))), out=OUTDIR / "h.mp4", size=64, fps=1e-3), out=OUTDIR)

    # ============================================================== load_rig / load_model
    rigs = ROOT / "rigs"
    rigs.mkdir()
    from probtalk.flame.rig import bundled_rig_path  # noqa: E402

    bundled = bundled_rig_path().read_bytes()
    (rigs / "text.npz").write_text("hello")
    (rigs / "trunc.npz").write_bytes(bundled[: len(bundled) // 2])
    np.savez(rigs / "wrongkeys.npz", a=E)
    with np.load(bundled_rig_path()) as d:
        arrs = {k: d[k] for k in d.files}
    np.savez(rigs / "badshape.npz", **dict(arrs, v_template=np.zeros((3, 3), np.float32)))
    np.savez(rigs / "badfaces.npz", **dict(arrs, faces=np.full_like(arrs["faces"], 10**7)))
    np.savez(rigs / "nanverts.npz", **dict(arrs, v_template=arrs["v_template"] + np.nan))
    np.savez(rigs / "nokeypoints.npz", **{k: v for k, v in arrs.items() if k != "keypoint_names"})
    np.savez(rigs / "noweights.npz", **{k: v for k, v in arrs.items() if k != "weights"})
    np.savez(rigs / "strverts.npz", **dict(arrs, v_template=np.array(["a"] * 9).reshape(3, 3)))
    (rigs / "text.pkl").write_text("hello")
    (rigs / "empty.pkl").write_bytes(b"")
    (rigs / "d.npz").mkdir()
    for p in sorted(rigs.iterdir()):
        api(f"load_rig {p.name}", lambda p=p: probtalk.load_rig(p))
    api("load_rig int", lambda: probtalk.load_rig(5))
    api("load_rig empty string", lambda: probtalk.load_rig(""))
    api("load_rig .obj", lambda: probtalk.load_rig(raw("x.obj", b"v 0 0 0")))
    api("load_rig masks text", lambda: probtalk.load_rig(None, masks=raw("m.pkl", b"t")))
    api("load_rig landmarks missing", lambda: probtalk.load_rig(None, landmarks=OUTDIR / "nope.pkl"))
    api("load_rig bundled in unicode path", lambda: probtalk.load_rig(Path(raw("ünï rig.npz", bundled))), good=True)
    import torch  # noqa: E402

    torch.save({"a": torch.zeros(3)}, ROOT / "dict.pt")
    torch.save(torch.zeros(3), ROOT / "tensor.pt")
    api("load_model dir", lambda: probtalk.load_model(ROOT))
    api("load_model text", lambda: probtalk.load_model(raw("lm.pt", b"text")))
    api("load_model truncated", lambda: probtalk.load_model(raw("lmt.pt", Path(CKPT).read_bytes()[:5000])))
    api("load_model empty", lambda: probtalk.load_model(raw("lme.pt", b"")))
    api("load_model dict pt", lambda: probtalk.load_model(ROOT / "dict.pt"))
    api("load_model tensor pt", lambda: probtalk.load_model(ROOT / "tensor.pt"))
    api("load_model npz", lambda: probtalk.load_model(TAKE))
    api("load_model int", lambda: probtalk.load_model(5))
    api("load_model empty string", lambda: probtalk.load_model(""))
    api("load_model device bogus", lambda: probtalk.load_model(CKPT, device="tpu"))
    api("load_model device int", lambda: probtalk.load_model(CKPT, device=[1]))
    api("load_model hubert missing", lambda: probtalk.load_model(CKPT, hubert=OUTDIR / "nope"))

    # ============================================================== odd but valid audio (animate)
    M = probtalk.load_model(CKPT, device="cpu")
    aud = ROOT / "audio dir ü"
    aud.mkdir()
    x = tone(1.0)
    sf.write(aud / "u8.wav", x, 16000, subtype="PCM_U8")
    sf.write(aud / "st48.flac", np.stack([tone(1.0, 48000), tone(1.0, 48000)], 1), 48000, format="FLAC")
    sf.write(aud / "short.wav", tone(0.3), 16000)
    sf.write(aud / "音声 テスト.wav", x, 22050)
    sf.write(aud / "s24.wav", x, 16000, subtype="PCM_24")
    sf.write(aud / "ogg.ogg", x, 16000, format="OGG")
    sf.write(aud / "8k.wav", tone(1.0, 8000), 8000)
    for p in sorted(aud.iterdir()):
        api(f"animate good {p.name}", lambda p=p: M.animate(p, deterministic=True)[0].num_frames, good=True)
        cli(f"cli animate good {p.name}", ["animate", str(p), "--model", CKPT, "-o", "{out}/good"], good=True)

    # ============================================================== round 2: corpus files, train/evaluate outputs, small API
    def corpus(name: str, params: object) -> Path:
        root = ROOT / name
        for sub in ("param", "wav", "splits"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        np.save(root / "param" / "M003_017_6_1.npy", params)
        sf.write(root / "wav" / "M003_017_6_1.wav", tone(1.0), 16000)
        for split in ("train", "val", "test"):
            (root / "splits" / split).write_text("M003_017_6_1\n")
        return str(root)
    for nm, arr in (("nan", np.full((1, 25, 403), np.nan, np.float32)), ("inf", np.full((1, 25, 403), np.inf, np.float32)),
                    ("text", np.full((1, 25, 403), "a"))):
        c = corpus("corp_" + nm, arr)
        cli(f"train corpus clip {nm}", ["train", "vq", "--data", c, "--out", "{out}/run", "--set", "steps=1", "--no-progress"])
        cli(f"evaluate corpus clip {nm}", ["evaluate", "--data", c, "--engine", "truth", "--takes", "1"])
    good = corpus("corp_good", np.zeros((1, 25, 403), np.float32))
    (ROOT / "jdir").mkdir(exist_ok=True)
    cli("train out empty", ["train", "vq", "--data", good, "--out", "", "--set", "steps=1", "--no-progress",
                            "--set", "vq.hidden=32", "--set", "vq.layers=1", "--set", "vq.heads=2"], out=ROOT)
    cli("evaluate json a folder", ["evaluate", "--data", good, "--engine", "truth", "--takes", "1", "--json", str(ROOT / "jdir")])
    cli("evaluate classifier a folder", ["evaluate", "--data", good, "--engine", "truth", "--takes", "1", "--classifier", str(ROOT / "jdir")])
    import probtalk.rendering as _R
    from probtalk.animation import resample_motion
    A2 = good_anim()
    api("solve_arkit None", lambda: exporters.solve_arkit(None))
    api("solve_arkit rig int", lambda: exporters.solve_arkit(A2, rig=3))
    api("solve_arkit smoothing text", lambda: exporters.solve_arkit(A2, smoothing="x"))
    api("solve_arkit targets int", lambda: exporters.solve_arkit(A2, targets=5))
    api("load_blendshape_targets None", lambda: exporters.load_blendshape_targets(None))
    api("expand_formats None", lambda: exporters.expand_formats(None))
    api("render_rig_sheet columns text", lambda: _R.render_rig_sheet(None, OUTDIR / "x.png", columns="3"), out=OUTDIR)
    api("resample_motion 0 fps", lambda: resample_motion(np.zeros((5, 2)), 0, 30))
    api("resample_motion inf fps", lambda: resample_motion(np.zeros((5, 2)), 25, math.inf))
    api("solve_arkit rig path ok", lambda: exporters.solve_arkit(A2, rig=str(bundled_rig_path())).weights.shape, good=True)

    # ============================================================== summary
    counts: dict[str, int] = {}
    for _, v, _ in results:
        counts[v] = counts.get(v, 0) + 1
    print("\n== SUMMARY", json.dumps(counts), "cases", len(results))
    (Path(os.environ.get("PROBE_OUT", ".")) / f"hostile_inputs_{os.environ.get('PROBE_TAG', 'run')}.json").write_text(json.dumps(results, indent=1))
    for label, v, d in results:
        if v not in ("CLEAN", "OK"):
            print(f"  {v:10s} {label}: {d}")
    _ = zipfile
