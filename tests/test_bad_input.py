"""Bad input, as a hostile or careless user gives it, through the CLI and the Python API.

Every case in :data:`CLI_CASES` must end with exit status 2, exactly one line on
stderr, no traceback and no new file in the output folder; every case in
:data:`API_CASES` must raise a ``ProbtalkError`` (also a ``ValueError`` or a
``TypeError`` as listed) with a one-line message. :data:`CLI_GOOD` and
:data:`API_GOOD` hold inputs that look odd but are fine (and must give the
right result, not a silently wrong one). Then the many-file behaviour: name
collisions, a run that goes on past bad files, a full disk on every writer,
SIGTERM, stale temporary files and two concurrent runs into one folder.

The tables use only names that exist in every version of the package, so
``/work/notes/h2_probe.py``-style scripts can replay them against old code.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from probtalk.api import load_model
from probtalk.cli.main import app
from probtalk.errors import ProbtalkError
from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
from probtalk.models.checkpoint import save_checkpoint
from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
from probtalk.models.style import StyleVocabulary
from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
from probtalk.models.talker import Normalizer, Talker

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ------------------------------------------------------------------ fixtures
def build_tiny_checkpoint(path: Path) -> Path:
    """A tiny untrained talker (fast to load) with speakers M001 and W002."""
    torch.manual_seed(0)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0))
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pred = StylePredictor(
        StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, num_speakers=2, hidden=32, layers=1, heads=2,
                             ff_dim=64, dropout=0.0)
    )
    talker = Talker(enc, pred, vq, Normalizer(torch.zeros(53), torch.ones(53) * 0.1), StyleVocabulary(("M001", "W002")))
    save_checkpoint(path, talker.eval(), provenance={"fps": 25.0, "steps": 0})
    return path


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def model(tiny_ckpt):
    return load_model(tiny_ckpt, device="cpu")


def tone(seconds: float = 1.0, sr: int = 16000, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * 200 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def wav(d: Path, name: str, seconds: float = 1.0, amp: float = 0.2, **kw: Any) -> str:
    path = d / name
    path.parent.mkdir(parents=True, exist_ok=True)
    x = tone(seconds, amp=1.0) * amp if amp > 1 else tone(seconds, amp=amp)
    sf.write(path, x, 16000, **kw)
    return str(path)


def raw(d: Path, name: str, data: bytes) -> str:
    (d / name).write_bytes(data)
    return str(d / name)


def truncated(d: Path, name: str) -> str:
    full = Path(wav(d, "full_" + name, seconds=1.0))
    data = full.read_bytes()
    full.unlink()
    return raw(d, name, data[: len(data) // 2])


def symlink_loop(d: Path) -> str:
    os.symlink(d / "loop_b.wav", d / "loop_a.wav")
    os.symlink(d / "loop_a.wav", d / "loop_b.wav")
    return str(d / "loop_a.wav")


def fifo(d: Path) -> str:
    os.mkfifo(d / "pipe.wav")
    return str(d / "pipe.wav")


def dir_named_wav(d: Path) -> str:
    (d / "notafile.wav").mkdir()
    return str(d / "notafile.wav")


def unreadable(d: Path) -> list[str]:
    path = wav(d, "locked.wav")
    os.chmod(path, 0)
    return [path]


def a_file(d: Path) -> str:
    return raw(d, "plain.txt", b"not a folder")


# ------------------------------------------------------------------ CLI table
# (id, inputs(d) -> [paths], extra args, text the one error line must hold)
Inputs = Callable[[Path], list[str]]
A: Inputs = lambda d: [wav(d, "a.wav")]  # noqa: E731

CLI_CASES: list[tuple[str, Inputs, list[str], str]] = [
    # issue 10 item 5
    ("emotion weight inf", A, ["-e", "happy:inf+sad:1"], "finite"),
    ("emotion weight nan", A, ["-e", "happy:nan"], "finite"),
    ("seed too big", A, ["--seed", "99999999999999999999999"], "--seed"),
    ("seed negative", A, ["--seed", "-1"], "--seed"),
    ("seed not whole", A, ["--seed", "1.5"], "--seed"),
    ("float wav at 1e38", lambda d: [wav(d, "loud.wav", amp=1e38, subtype="FLOAT")], [], "amplitude"),
    ("float wav at 1e38, deterministic", lambda d: [wav(d, "loud.wav", amp=1e38, subtype="FLOAT")],
     ["--deterministic"], "amplitude"),
    # item 7
    ("takes not a number", A, ["-n", "abc"], "-n"),
    ("no inputs", lambda d: [], [], "Missing argument"),
    ("takes zero", A, ["-n", "0"], "-n/--takes"),
    ("takes huge", A, ["-n", "100000"], "-n/--takes"),
    ("takes negative", A, ["-n", "-3"], "-n/--takes"),
    ("temperature inf", A, ["--temperature", "inf"], "--temperature"),
    ("temperature nan", A, ["--temperature", "nan"], "--temperature"),
    ("temperature negative", A, ["--temperature", "-0.5"], "--temperature"),
    ("temperature above the range", A, ["--temperature", "2.5"], "--temperature"),
    ("temperature not a number", A, ["--temperature", "warm"], "--temperature"),
    ("intensity inf", A, ["-i", "inf"], "intensity"),
    ("intensity nan", A, ["-i", "nan"], "intensity"),
    ("intensity negative", A, ["-i", "-1"], "intensity"),
    ("intensity empty", A, ["-i", ""], "intensity"),
    ("intensity unknown", A, ["-i", "extreme"], "intensity"),
    ("symlink loop", lambda d: [symlink_loop(d)], [], "link loop"),
    ("fifo", lambda d: [fifo(d)], [], "FIFO"),
    ("output folder empty string", A, ["-o", ""], "-o/--out is empty"),
    ("output folder is a file", lambda d: [wav(d, "a.wav")], ["-o", "{d}/plain.txt"], "output folder"),
    ("output folder under a file", lambda d: [wav(d, "a.wav")], ["-o", "{d}/plain.txt/sub"], "output folder"),
    ("output folder not creatable", A, ["-o", "/proc/probtalk-out"], "output folder"),
    # emotions
    ("emotion empty", A, ["-e", ""], "emotion"),
    ("emotion only commas", A, ["-e", ", ,"], "emotion"),
    ("emotion weight negative", A, ["-e", "happy:-1"], ">= 0"),
    ("emotion weights all zero", A, ["-e", "happy:0+sad:0"], "sum to 0"),
    ("emotion name missing", A, ["-e", ":0.5"], "emotion"),
    ("emotion weight text", A, ["-e", "happy:lots"], "blend"),
    ("emotion unknown in blend", A, ["-e", "happy:1+bored:1"], "unknown emotion"),
    ("emotion given twice", A, ["-e", "happy,happy"], "would both write"),
    ("speaker unknown", A, ["--speaker", "nobody"], "speaker"),
    # files
    ("input empty string", lambda d: [""], [], "empty"),
    ("input missing", lambda d: [str(d / "nope.wav")], [], "not found"),
    ("input is a folder named .wav", dir_named_wav, [], "no audio files"),
    ("input text file", lambda d: [raw(d, "t.wav", b"hello, this is text\n" * 100)], [], "not a readable audio"),
    ("input zero bytes", lambda d: [raw(d, "z.wav", b"")], [], "empty"),
    ("input header only", lambda d: [raw(d, "h.wav", b"RIFF$\x00\x00\x00WAVEfmt ")], [], "not a readable audio"),
    ("input silent", lambda d: [wav(d, "s.wav", amp=0.0)], [], "silent"),
    ("input too short", lambda d: [wav(d, "short.wav", seconds=0.05)], [], "at least"),
    # item 8: collisions, refused before any work
    ("same name in two folders", lambda d: [wav(d, "a/x.wav"), wav(d, "b/x.wav")], [], "would both write"),
    ("same stem, two formats", lambda d: [wav(d, "hello.wav"), wav(d, "hello.flac", format="FLAC")], [],
     "would both write"),
    ("same file twice", lambda d: [wav(d, "a.wav"), str(d / "a.wav")], [], "given twice"),
    ("output name taken by a folder", A, ["-o", "{d}/taken"], "is a folder"),
    # formats and engine
    ("format empty", A, ["--format", ""], "no output format"),
    ("format unknown", A, ["--format", "npz,docx"], "unknown output format"),
    ("engine unknown", A, ["--engine", "magic"], "unknown engine"),
    ("option unknown", A, ["--tkaes", "3"], "No such option"),
    # performance
    ("performance without a score", A, ["--performance", "articulation"], "is not habit=score"),
    ("performance out of range", A, ["--performance", "articulation=5"], "[-3, 3]"),
    ("performance on a model without channels", A, ["--performance", "articulation=1"], "no performance channels"),
    ("performance with the rules engine", A, ["--engine", "rules", "--performance", "articulation=1"], "rules engine"),
    ("variation out of range", A, ["--variation", "3"], "variation must be <= 2"),
    ("variation negative", A, ["--variation", "-0.5"], "variation must be >= 0"),
    ("variation on a model without channels", A, ["--variation", "2"], "no performance channels to draw"),
    ("variation with the rules engine", A, ["--engine", "rules", "--variation", "0"], "rules engine"),
]

if IS_ROOT:  # root reads and writes through permission bits: those cases cannot be made here
    CLI_ROOT_ONLY_SKIPPED = ["unreadable file", "read-only output folder"]
else:
    CLI_CASES += [
        ("unreadable file", unreadable, [], "not readable"),
        ("read-only output folder", A, ["-o", "{d}/ro"], "not writable"),
    ]


def run_cli(args: list[str]) -> Any:
    return runner.invoke(app, args)


def folder_snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")} if d.exists() else set()


def assert_one_line_error(result: Any, expect: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    err = result.stderr.strip()
    assert "Traceback" not in result.output
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    assert expect in err, err


@pytest.mark.parametrize("label,inputs,extra,expect", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(tiny_ckpt, tmp_path, label, inputs, extra, expect):
    d = tmp_path / "in ünï"  # a non-ASCII folder name on purpose
    d.mkdir()
    a_file(d)
    (d / "ro").mkdir()
    os.chmod(d / "ro", 0o555)
    (d / "taken" / "a_neutral_take0.npz").mkdir(parents=True)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an older file")
    paths = inputs(d)
    extra = [a.replace("{d}", str(d)) for a in extra]
    if "-o" not in extra:
        extra = [*extra, "-o", str(out)]
    before = folder_snapshot(out), folder_snapshot(d)
    result = run_cli(["animate", *paths, "--model", str(tiny_ckpt), *extra])
    assert_one_line_error(result, expect)
    assert (folder_snapshot(out), folder_snapshot(d)) == before  # no new (or half-written) file anywhere
    assert (out / "keep.txt").read_text() == "an older file"


CLI_GOOD: list[tuple[str, Inputs, list[str], list[str]]] = [
    # (id, inputs, extra args, files expected in the output folder)
    ("huge blend weights", A, ["-e", "happy:1e308+sad:1e308"], ["a_happy50-sad50_take0.npz"]),
    ("unicode file name", lambda d: [wav(d, "sprache ünïcødé 音声.wav")], [], ["sprache ünïcødé 音声_neutral_take0.npz"]),
    ("emotion case and spaces", A, ["-e", " Happy , sad "], ["a_Happy_take0.npz", "a_sad_take0.npz"]),
    ("empty speaker is the average speaker", A, ["--speaker", ""], ["a_neutral_take0.npz"]),
    ("intensity name in capitals", A, ["-i", "HIGH"], ["a_neutral_take0.npz"]),
    ("two takes", A, ["-n", "2", "--seed", "0"], ["a_neutral_take0.npz", "a_neutral_take1.npz"]),
    ("int16 wav", lambda d: [wav(d, "a.wav", subtype="PCM_16")], [], ["a_neutral_take0.npz"]),
]


@pytest.mark.parametrize("label,inputs,extra,files", CLI_GOOD, ids=[c[0] for c in CLI_GOOD])
def test_cli_odd_but_fine(tiny_ckpt, tmp_path, label, inputs, extra, files):
    out = tmp_path / "out"
    result = run_cli(["animate", *inputs(tmp_path), "--model", str(tiny_ckpt), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(files)


def test_cli_huge_blend_is_half_and_half(tiny_ckpt, tmp_path):
    """``happy:1e308+sad:1e308`` overflowed the sum and became {} (a silent wrong result)."""
    out = tmp_path / "out"
    assert run_cli(["animate", wav(tmp_path, "a.wav"), "--model", str(tiny_ckpt), "-o", str(out),
                    "-e", "happy:1e308+sad:1e308", "--seed", "1"]).exit_code == 0
    meta = json.loads(str(np.load(out / "a_happy50-sad50_take0.npz")["meta_json"]))
    assert meta["emotion"] == {"happy": 0.5, "sad": 0.5}
    assert meta["seed"] == 1


def test_truncated_wav_warns(tmp_path, caplog):
    from probtalk.audio import load_audio

    path = truncated(tmp_path, "cut.wav")
    with caplog.at_level("WARNING", logger="probtalk.audio"):
        audio = load_audio(path)
    assert audio.size == pytest.approx(8000, abs=50)
    assert any("truncated" in r.getMessage() and "cut.wav" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="probtalk.audio"):
        load_audio(wav(tmp_path, "whole.wav"))
    assert not caplog.records


def test_export_collision_is_refused(tmp_path):
    from probtalk import Animation

    anim = Animation(fps=25.0, expression=np.zeros((10, 50), np.float32), jaw_pose=np.zeros((10, 3), np.float32))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    anim.save(tmp_path / "a" / "take.npz")
    anim.save(tmp_path / "b" / "take.npz")
    out = tmp_path / "out"
    result = run_cli(["export", str(tmp_path / "a" / "take.npz"), str(tmp_path / "b" / "take.npz"), "-f", "npz",
                      "-o", str(out)])
    assert_one_line_error(result, "would write files of the same name")
    assert folder_snapshot(out) == set()



def test_export_keeps_existing_files_without_overwrite(tmp_path):
    from probtalk import Animation

    anim = Animation(fps=25.0, expression=np.zeros((10, 50), np.float32), jaw_pose=np.zeros((10, 3), np.float32))
    anim.save(tmp_path / "take.npz")
    out = tmp_path / "out"
    assert run_cli(["export", str(tmp_path / "take.npz"), "-f", "csv,npz", "-o", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert_one_line_error(run_cli(["export", str(tmp_path / "take.npz"), "-f", "csv,npz", "-o", str(out)]),
                          "--overwrite")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    # its own input is one of those files: refused too, then replaced on request
    assert_one_line_error(run_cli(["export", str(tmp_path / "take.npz"), "-f", "npz", "-o", str(tmp_path)]),
                          "take.npz already exists")
    assert run_cli(["export", str(tmp_path / "take.npz"), "-f", "csv", "-o", str(out), "--overwrite"]).exit_code == 0


def test_render_keeps_an_existing_output_without_overwrite(tmp_path):
    pytest.importorskip("moderngl", reason="moderngl (render extra) is not installed")
    from probtalk import Animation

    anim = Animation(fps=25.0, expression=np.zeros((10, 50), np.float32), jaw_pose=np.zeros((10, 3), np.float32))
    anim.save(tmp_path / "take.npz")
    still = tmp_path / "take.png"  # the default name for --frame
    first = run_cli(["render", str(tmp_path / "take.npz"), "--frame", "0", "--size", "64"])
    assert first.exit_code == 0, first.output
    before = still.read_bytes()
    assert_one_line_error(run_cli(["render", str(tmp_path / "take.npz"), "--frame", "0", "--size", "32"]),
                          "take.png already exists")
    assert still.read_bytes() == before
    again = run_cli(["render", str(tmp_path / "take.npz"), "--frame", "0", "--size", "32", "--overwrite"])
    assert again.exit_code == 0, again.output
    assert still.read_bytes() != before

OTHER_COMMANDS: list[tuple[str, list[str], str]] = [
    ("render yaw nan", ["render", "{take}", "--yaw", "nan", "-o", "{out}/v.mp4"], "yaw"),
    ("render pitch inf", ["render", "{take}", "--pitch", "inf", "-o", "{out}/v.mp4"], "pitch"),
    ("render fps inf", ["render", "{take}", "--fps", "inf", "-o", "{out}/v.mp4"], "fps"),
    ("render missing file", ["render", "{out}/nope.npz", "-o", "{out}/v.mp4"], "not found"),
    ("export smoothing inf", ["export", "{take}", "-f", "csv", "--smoothing", "inf", "-o", "{out}"], "smoothing"),
    ("export unknown format", ["export", "{take}", "-f", "docx", "-o", "{out}"], "docx"),
    ("export same file twice", ["export", "{take}", "{take}", "-f", "csv", "-o", "{out}"], "take.npz"),
    ("unknown command", ["animat", "x.wav"], "No such command"),
    ("data synth unknown emotion", ["data", "synth", "--emotions", "happy,bored", "--out", "{out}/c"], "bored"),
]


@pytest.mark.parametrize("label,args,expect", OTHER_COMMANDS, ids=[c[0] for c in OTHER_COMMANDS])
def test_other_commands_bad_input(tmp_path, label, args, expect):
    from probtalk import Animation

    take = tmp_path / "take.npz"
    Animation(fps=25.0, expression=np.zeros((5, 50), np.float32), jaw_pose=np.zeros((5, 3), np.float32)).save(take)
    out = tmp_path / "out"
    out.mkdir()
    result = run_cli([a.replace("{take}", str(take)).replace("{out}", str(out)) for a in args])
    assert_one_line_error(result, expect)
    assert folder_snapshot(out) == set()


# ------------------------------------------------------------------ API table
# (id, call(model, speech_path, d), exception classes beside ProbtalkError, text in the message)
API_CASES: list[tuple[str, Callable[..., Any], tuple[type[BaseException], ...], str]] = [
    # issue 10 item 6
    ("emotion weight inf", lambda m, s, d: m.animate(s, emotion={"happy": math.inf}), (ValueError,), "finite"),
    ("emotion weight inf, deterministic", lambda m, s, d: m.animate(s, emotion={"happy": math.inf}, deterministic=True),
     (ValueError,), "finite"),
    ("emotion weight nan", lambda m, s, d: m.animate(s, emotion={"happy": math.nan}), (ValueError,), "finite"),
    ("emotion None", lambda m, s, d: m.animate(s, emotion=None), (TypeError,), "emotion"),
    ("emotion list", lambda m, s, d: m.animate(s, emotion=["happy", "sad"]), (TypeError,), "emotion"),
    ("emotion weight None", lambda m, s, d: m.animate(s, emotion={"happy": None}), (TypeError,), "happy"),
    ("emotion weight text", lambda m, s, d: m.animate(s, emotion={"happy": "0.5"}), (TypeError,), "happy"),
    ("emotion weight bool", lambda m, s, d: m.animate(s, emotion={"happy": True}), (TypeError,), "happy"),
    ("emotion name not text", lambda m, s, d: m.animate(s, emotion={1: 0.5}), (TypeError,), "emotion"),
    ("emotion empty string", lambda m, s, d: m.animate(s, emotion=""), (ValueError,), "emotion"),
    ("emotion weights negative", lambda m, s, d: m.animate(s, emotion={"happy": -0.5}), (ValueError,), ">= 0"),
    ("intensity None", lambda m, s, d: m.animate(s, intensity=None), (TypeError,), "intensity"),
    ("intensity nan", lambda m, s, d: m.animate(s, intensity=math.nan), (ValueError,), "intensity"),
    ("intensity inf", lambda m, s, d: m.animate(s, intensity=math.inf), (ValueError,), "intensity"),
    ("intensity bool", lambda m, s, d: m.animate(s, intensity=True), (TypeError,), "intensity"),
    ("num_samples True", lambda m, s, d: m.animate(s, num_samples=True), (TypeError,), "num_samples"),
    ("num_samples float", lambda m, s, d: m.animate(s, num_samples=2.0), (TypeError,), "num_samples"),
    ("num_samples text", lambda m, s, d: m.animate(s, num_samples="3"), (TypeError,), "num_samples"),
    ("num_samples huge", lambda m, s, d: m.animate(s, num_samples=10**9), (ValueError,), "num_samples"),
    ("num_samples negative", lambda m, s, d: m.animate(s, num_samples=-1), (ValueError,), "num_samples"),
    ("seed 2**64", lambda m, s, d: m.animate(s, seed=2**64), (ValueError,), "seed"),
    ("seed text", lambda m, s, d: m.animate(s, seed="abc"), (TypeError,), "seed"),
    ("seed 1.5", lambda m, s, d: m.animate(s, seed=1.5), (TypeError,), "seed"),
    ("seed negative", lambda m, s, d: m.animate(s, seed=-5), (ValueError,), "seed"),
    ("seed bool", lambda m, s, d: m.animate(s, seed=True), (TypeError,), "seed"),
    ("temperature inf", lambda m, s, d: m.animate(s, temperature=math.inf), (ValueError,), "temperature"),
    ("temperature nan", lambda m, s, d: m.animate(s, temperature=math.nan), (ValueError,), "temperature"),
    ("temperature None", lambda m, s, d: m.animate(s, temperature=None), (TypeError,), "temperature"),
    ("top_k zero", lambda m, s, d: m.animate(s, top_k=0), (ValueError,), "top_k"),
    ("top_k float", lambda m, s, d: m.animate(s, top_k=2.5), (TypeError,), "top_k"),
    ("deterministic text", lambda m, s, d: m.animate(s, deterministic="yes"), (TypeError,), "deterministic"),
    ("speaker number", lambda m, s, d: m.animate(s, speaker=3), (TypeError,), "speaker"),
    ("speaker unknown", lambda m, s, d: m.animate(s, speaker="nobody"), (ValueError,), "speaker"),
    ("window 0.01 s", lambda m, s, d: m.animate(s, window_seconds=0.01), (ValueError,), "window_seconds"),
    ("window inf", lambda m, s, d: m.animate(s, window_seconds=math.inf), (ValueError,), "window_seconds"),
    ("window nan", lambda m, s, d: m.animate(s, window_seconds=math.nan), (ValueError,), "window_seconds"),
    ("overlap negative", lambda m, s, d: m.animate(s, overlap_seconds=-1.0), (ValueError,), "overlap_seconds"),
    ("overlap too long", lambda m, s, d: m.animate(s, window_seconds=2.0, overlap_seconds=1.0), (ValueError,), "overlap"),
    ("unknown option", lambda m, s, d: m.animate(s, temprature=0.5), (TypeError,), "temprature"),
    ("options not options", lambda m, s, d: m.animate(s, options={"seed": 1}), (TypeError,), "options"),
    ("performance a list", lambda m, s, d: m.animate(s, performance=[1.0]), (TypeError,), "performance"),
    ("variation text", lambda m, s, d: m.animate(s, variation="wide"), (TypeError,), "variation"),
    ("variation NaN", lambda m, s, d: m.animate(s, variation=math.nan), (ValueError,), "variation"),
    ("variation 5", lambda m, s, d: m.animate(s, variation=5.0), (ValueError,), "variation must be <= 2"),
    ("variation on a model without channels", lambda m, s, d: m.animate(s, variation=0.5), (ValueError,),
     "no performance channels to draw"),
    ("performance NaN", lambda m, s, d: m.animate(s, performance={"articulation": math.nan}), (ValueError,), "[-3, 3]"),
    ("performance on a model without channels", lambda m, s, d: m.animate(s, performance={"jaw_range": 1.0}),
     (ValueError,), "no performance channels"),
    ("options as sample_rate", lambda m, s, d: m.animate(s, {"seed": 1}), (TypeError,), "sample_rate"),
    # audio given as the wrong thing
    ("audio bytes", lambda m, s, d: m.animate(str(s).encode()), (TypeError,), "bytes"),
    ("audio int", lambda m, s, d: m.animate(3), (TypeError,), "int"),
    ("audio None", lambda m, s, d: m.animate(None), (TypeError,), "NoneType"),
    ("audio empty path", lambda m, s, d: m.animate(""), (ValueError,), "empty"),
    ("audio ragged list", lambda m, s, d: m.animate([[0.1, 0.2], [0.3]], sample_rate=16000), (TypeError,), "regular"),
    ("audio list of text", lambda m, s, d: m.animate(["a", "b"], sample_rate=16000), (TypeError,), "numbers"),
    ("audio complex", lambda m, s, d: m.animate(tone().astype(np.complex64), sample_rate=16000), (TypeError,), "complex"),
    ("audio bool", lambda m, s, d: m.animate(tone() > 0, sample_rate=16000), (TypeError,), "boolean"),
    ("audio at 1e38", lambda m, s, d: m.animate(tone(amp=1.0) * np.float32(1e38), sample_rate=16000), (ValueError,),
     "amplitude"),
    ("audio at 1e38, deterministic", lambda m, s, d: m.animate(tone(amp=1.0) * np.float32(1e38), sample_rate=16000,
                                                               deterministic=True), (ValueError,), "amplitude"),
    ("audio channels-first [16, N]", lambda m, s, d: m.animate(np.stack([tone()] * 16), sample_rate=16000),
     (ValueError,), "channels-first"),
    ("audio 3-D", lambda m, s, d: m.animate(tone().reshape(1, -1, 1), sample_rate=16000), (ValueError,), "shape"),
    ("audio empty array", lambda m, s, d: m.animate(np.zeros(0, np.float32), sample_rate=16000), (ValueError,), "empty"),
    ("audio with NaN", lambda m, s, d: m.animate(np.full(16000, np.nan, np.float32), sample_rate=16000),
     (ValueError,), "NaN"),
    ("sample_rate missing", lambda m, s, d: m.animate(tone()), (ValueError,), "sample_rate"),
    ("sample_rate nan", lambda m, s, d: m.animate(tone(), sample_rate=math.nan), (ValueError,), "sample_rate"),
    ("sample_rate 16000.7", lambda m, s, d: m.animate(tone(), sample_rate=16000.7), (ValueError,), "whole"),
    ("sample_rate text", lambda m, s, d: m.animate(tone(), sample_rate="16000"), (TypeError,), "sample_rate"),
    ("sample_rate zero", lambda m, s, d: m.animate(tone(), sample_rate=0), (ValueError,), "sample rate"),
    ("sample_rate bool", lambda m, s, d: m.animate(tone(), sample_rate=True), (TypeError,), "sample_rate"),
    ("path is a folder", lambda m, s, d: m.animate(d), (ValueError,), "folder"),
    ("path symlink loop", lambda m, s, d: m.animate(symlink_loop(d)), (ValueError,), "link loop"),
    ("path fifo", lambda m, s, d: m.animate(fifo(d)), (ValueError,), "FIFO"),
    ("path missing", lambda m, s, d: m.animate(d / "nope.flac"), (ValueError,), "not found"),
]


@pytest.mark.parametrize("label,call,kinds,expect", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(model, tmp_path, label, call, kinds, expect):
    speech = Path(wav(tmp_path, "speech.wav"))
    with pytest.raises(ProbtalkError) as info:
        call(model, speech, tmp_path)
    assert isinstance(info.value, kinds), type(info.value).__mro__
    message = str(info.value)
    assert "\n" not in message and expect in message, message


def test_api_accepts_tensor_list_and_array_alike(model):
    x = tone(1.2)
    ref = model.animate(x, sample_rate=16000, deterministic=True)[0].expression
    for other in (torch.from_numpy(x), x.tolist(), torch.from_numpy(x)[:, None], x.astype(np.float64)):
        got = model.animate(other, sample_rate=16000, deterministic=True)[0].expression
        np.testing.assert_allclose(got, ref, atol=1e-6)
    np.testing.assert_allclose(model.animate(x, sample_rate=16000.0, deterministic=True)[0].expression, ref, atol=1e-6)


def test_api_no_silent_wrong_results(model, tmp_path):
    speech = wav(tmp_path, "s.wav")
    huge = model.animate(speech, emotion={"happy": 1e308, "sad": 1e308}, seed=3)[0]
    assert huge.meta["emotion"] == {"happy": 0.5, "sad": 0.5}
    assert huge.meta["seed"] == 3
    half = model.animate(speech, emotion={"happy": 1.0, "sad": 1.0}, seed=3)[0]
    np.testing.assert_array_equal(huge.expression, half.expression)
    seeded = model.animate(speech, seed=np.int64(9))[0]
    assert seeded.meta["seed"] == 9 and type(seeded.meta["seed"]) is int
    assert model.animate(speech, intensity="medium", seed=1)[0].meta["intensity"] == 1.0
    assert model.animate(speech, seed=2**63 - 1)[0].meta["seed"] == 2**63 - 1


def test_options_are_one_dataclass(model, tmp_path):
    from probtalk import AnimateOptions

    speech = wav(tmp_path, "s.wav")
    opts = AnimateOptions(emotion="sad", intensity="high", seed=4)
    assert opts.intensity == 2.0
    with pytest.raises(Exception, match="frozen|cannot assign"):
        opts.seed = 5  # type: ignore[misc]
    a = model.animate(speech, opts)[0]
    b = model.animate(speech, emotion="sad", intensity=2.0, seed=4)[0]
    np.testing.assert_array_equal(a.expression, b.expression)
    two = model.animate(speech, opts, num_samples=2)
    assert len(two) == 2 and two[0].meta["emotion"] == {"sad": 1.0}


# ------------------------------------------------------------------ many files
def test_folder_run_goes_on_past_bad_files(tiny_ckpt, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    wav(src, "a_good.flac", format="FLAC")
    raw(src, "b_empty.wav", b"")
    raw(src, "c_text.wav", b"this is not audio at all\n" * 40)
    wav(src, "d_good.wav")
    out = tmp_path / "out"
    result = run_cli(["animate", str(src), "--model", str(tiny_ckpt), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines), lines
    assert "b_empty.wav" in lines[0] and "c_text.wav" in lines[1] and "2 of 4 inputs failed" in lines[2]
    assert sorted(p.name for p in out.iterdir()) == ["a_good_neutral_take0.npz", "d_good_neutral_take0.npz"]
    assert "a_good" in result.stdout and "d_good" in result.stdout  # the summary table lists the good ones


@pytest.mark.parametrize("fmt", ["npz", "csv", "json", "glb", "mp4"])
def test_disk_full_names_file_and_space(tiny_ckpt, tmp_path, monkeypatch, fmt):
    """Every writer goes through atomic_path: its temporary file is made to point at /dev/full (ENOSPC)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    import probtalk.io as pio

    def full_temp(folder: Path, stem: str, suffix: str) -> Path:
        tmp = folder / f".{stem}.abcdefgh.tmp{suffix}"
        os.symlink("/dev/full", tmp)
        return tmp

    monkeypatch.setattr(pio, "_make_temp", full_temp)
    out = tmp_path / "out"
    result = run_cli(["animate", wav(tmp_path, "a.wav"), "--model", str(tiny_ckpt), "-o", str(out), "-f", fmt])
    assert_one_line_error(result, "no space left on device writing")
    assert f"a_neutral_take0.{fmt}" in result.stderr and "free in" in result.stderr
    if fmt in ("npz", "csv", "json", "glb"):  # writers that know the size say how much was needed
        assert "it needs " in result.stderr
    assert folder_snapshot(out) == set()


def test_stale_temp_files_are_removed_by_the_next_run(tiny_ckpt, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".a_neutral_take0.k3j_x9q2.tmp.npz"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = out / ".other.ab12cd34.tmp.mp4"  # could be another program's write in progress: kept
    fresh.write_bytes(b"live")
    unrelated = out / ".hidden.tmp"
    unrelated.write_bytes(b"not ours")
    os.utime(unrelated, (time.time() - 3600, time.time() - 3600))
    assert run_cli(["animate", wav(tmp_path, "a.wav"), "--model", str(tiny_ckpt), "-o", str(out)]).exit_code == 0
    assert not stale.exists() and fresh.exists() and unrelated.exists()


# Runs the CLI in a subprocess with hooks that make the timing of writes predictable.
HOOKED_CLI = r"""
import os, sys, time
from pathlib import Path
import numpy as np
import probtalk.pipeline as pipeline

mode, ready, other = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
args = sys.argv[4:]
if mode == "slow-save":  # the npz write blocks halfway, so a signal lands mid-write
    real_savez = np.savez
    def slow_savez(fh, **arrays):
        fh.write(b"PK partial")
        fh.flush()
        ready.write_text("writing")
        time.sleep(60)
    np.savez = slow_savez
else:  # "race": both runs reach the folder lock together, then write slowly
    import exporters
    real_lock, real_writer_class = pipeline.output_lock, exporters.writer_class
    def lock(folder, **kw):
        ready.write_text("ready")
        t0 = time.time()
        while not other.exists() and time.time() - t0 < 120:
            time.sleep(0.05)
        return real_lock(folder, **kw)
    # a: npz at once, json late; b: npz late, json at once -> unlocked, take 0 would mix
    delays = {"race-a": {".npz": 0.1, ".json": 2.0}, "race-b": {".npz": 1.0, ".json": 0.1}}[mode]
    def writer_class(name):
        cls = real_writer_class(name)
        class Slow(cls):
            def __call__(self, anim, path, *a, **kw):
                time.sleep(delays.get(Path(path).suffix, 0.0))
                return super().__call__(anim, path, *a, **kw)
        return Slow
    pipeline.output_lock, exporters.writer_class = lock, writer_class
from probtalk.cli.main import app
sys.argv = ["probtalk", *args]
app()
"""


def _hooked(tmp_path: Path, mode: str, ready: Path, other: Path, args: list[str]) -> subprocess.Popen:
    script = tmp_path / "hooked_cli.py"
    script.write_text(HOOKED_CLI)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A suite run in the background inherits an ignored SIGINT (shells ignore it for background
    # jobs), and Python then installs no Ctrl-C handler: start the CLI as a foreground run would.
    return subprocess.Popen([sys.executable, str(script), mode, str(ready), str(other), *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    t0 = time.time()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the subprocess")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_write_leaves_no_temp_file(tiny_ckpt, tmp_path, sig):
    out = tmp_path / "out"
    ready = tmp_path / "ready"
    proc = _hooked(tmp_path, "slow-save", ready, tmp_path / "unused",
                   ["animate", wav(tmp_path, "a.wav"), "--model", str(tiny_ckpt), "-o", str(out)])
    _wait_for(ready, proc)
    assert any(".tmp" in p.name for p in out.iterdir())  # the write is in progress
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("terminated" if sig == signal.SIGTERM else "interrupted")
    assert list(out.iterdir()) == []


def test_concurrent_runs_never_mix_a_take(tiny_ckpt, tmp_path):
    """Two runs with --overwrite, same folder and names, different seeds: each take's npz and json come
    from one run. (Without --overwrite the second is refused: test_an_earlier_runs_files_are_not_replaced.)"""
    import exporters
    from probtalk import Animation

    out = tmp_path / "out"
    out.mkdir()
    speech = wav(tmp_path, "a.wav")
    ready_a, ready_b = tmp_path / "ready_a", tmp_path / "ready_b"
    common = ["animate", speech, "--model", str(tiny_ckpt), "-o", str(out), "-f", "npz,json", "-n", "2", "--overwrite"]
    procs = [
        _hooked(tmp_path, "race-a", ready_a, ready_b, [*common, "--seed", "1"]),
        _hooked(tmp_path, "race-b", ready_b, ready_a, [*common, "--seed", "2", "--temperature", "1"]),
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    for k in range(2):
        anim = Animation.load(out / f"a_neutral_take{k}.npz")
        again = exporters.write(anim, tmp_path / f"again{k}.json")
        assert Path(again).read_text() == (out / f"a_neutral_take{k}.json").read_text(), f"take {k} mixes two runs"
    seeds = {Animation.load(out / f"a_neutral_take{k}.npz").meta["seed"] for k in range(2)}
    assert len(seeds) == 1
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_an_earlier_runs_files_are_not_replaced(tiny_ckpt, tmp_path):
    """A second run into the same names is refused before any work, naming the file and --overwrite, and leaves
    the first run's files as they were; with --overwrite it replaces them."""
    from probtalk import Animation

    out = tmp_path / "out"
    speech = wav(tmp_path, "a.wav")
    common = ["animate", speech, "--model", str(tiny_ckpt), "-o", str(out), "-f", "npz,json"]
    first = CliRunner().invoke(app, [*common, "--seed", "1"])
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = CliRunner().invoke(app, [*common, "--seed", "2"])
    assert again.exit_code == 2
    line = again.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "a_neutral_take0" in line and "already exists" in line and "--overwrite" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    replaced = CliRunner().invoke(app, [*common, "--seed", "2", "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert Animation.load(out / "a_neutral_take0.npz").meta["seed"] == 2
    other = CliRunner().invoke(app, [*common, "-e", "happy"])  # other names in the same folder: fine
    assert other.exit_code == 0, other.output
