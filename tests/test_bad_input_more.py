"""More bad input, beyond the cases of issue 10 (see ``tests/test_bad_input.py`` for those).

Every command and public function other than ``animate``: broken animation
files through ``render``/``export`` and :meth:`Animation.load`, the
:class:`Animation` constructor and :meth:`Animation.save`, ``exporters.write``
/ ``write_all`` options, :func:`probtalk.render` arguments, rig and checkpoint
files, ``data``/``train``/``evaluate``/``info`` options and the training
config. CLI cases: exit 2, one line on stderr, nothing on stdout, no new file.
API cases: a ``ProbtalkError`` with a one-line message. Odd but valid inputs
(8-bit WAV, 48 kHz stereo FLAC, a 0.3 s clip, unicode names with spaces) must work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from test_bad_input import build_tiny_checkpoint, tone
from typer.testing import CliRunner

import exporters
import probtalk
from probtalk import Animation
from probtalk.cli.main import app
from probtalk.errors import AnimationFileError, ProbtalkError
from probtalk.flame.rig import bundled_rig_path

runner = CliRunner()

E = np.zeros((10, 50), np.float32)
J = np.zeros((10, 3), np.float32)
F = np.float64(25.0)
LONG = 240 * 3600 + 5


def good_anim(frames: int = 10, **kw: Any) -> Animation:
    return Animation(fps=25.0, expression=np.full((frames, 50), 0.1, np.float32), jaw_pose=np.zeros((frames, 3)), **kw)


def _npz(**arrays: Any) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        path = d / "bad.npz"
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path
    return make


def _bytes(data: bytes, name: str = "bad.npz") -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return make


def _npy(d: Path) -> Path:
    with open(d / "bad.npz", "wb") as fh:
        np.save(fh, E)
    return d / "bad.npz"


# ------------------------------------------------------------------ broken animation files
# (id, make(d) -> path, text the error must hold)
BAD_NPZ: list[tuple[str, Callable[[Path], Path], str]] = [
    ("wrong keys", _npz(foo=E), "not a probtalk animation"),
    ("expression 1-D", _npz(fps=F, expression=np.zeros(10, np.float32), jaw_pose=J), "expression"),
    ("expression too wide", _npz(fps=F, expression=np.zeros((10, 200), np.float32), jaw_pose=J), "expression"),
    ("expression text", _npz(fps=F, expression=np.array([["a"] * 50] * 10), jaw_pose=J), "text"),
    ("expression complex", _npz(fps=F, expression=E.astype(np.complex64) + 1j, jaw_pose=J), "complex"),
    ("expression boolean", _npz(fps=F, expression=E.astype(bool), jaw_pose=J), "boolean"),
    ("expression NaN", _npz(fps=F, expression=E + np.nan, jaw_pose=J), "NaN"),
    ("jaw inf", _npz(fps=F, expression=E, jaw_pose=J + np.inf), "NaN or infinite"),
    ("jaw wrong frames", _npz(fps=F, expression=E, jaw_pose=np.zeros((9, 3), np.float32)), "jaw_pose"),
    ("eye wrong width", _npz(fps=F, expression=E, jaw_pose=J, eye_pose=np.zeros((10, 3), np.float32)), "eye_pose"),
    ("shape 2-D", _npz(fps=F, expression=E, jaw_pose=J, shape=np.zeros((3, 3), np.float32)), "shape"),
    ("meta not JSON", _npz(fps=F, expression=E, jaw_pose=J, meta_json=np.array("{not json")), "corrupt"),
    ("meta a list", _npz(fps=F, expression=E, jaw_pose=J, meta_json=np.array("[1, 2]")), "not a JSON object"),
    ("meta a number", _npz(fps=F, expression=E, jaw_pose=J, meta_json=np.array("3")), "not a JSON object"),
    ("meta bytes", _npz(fps=F, expression=E, jaw_pose=J, meta_json=np.frombuffer(b"\xff\xfe", np.uint8)), "meta_json"),
    ("fps 0", _npz(fps=np.float64(0), expression=E, jaw_pose=J), "fps"),
    ("fps negative", _npz(fps=np.float64(-25), expression=E, jaw_pose=J), "fps"),
    ("fps nan", _npz(fps=np.float64(np.nan), expression=E, jaw_pose=J), "fps"),
    ("fps inf", _npz(fps=np.float64(np.inf), expression=E, jaw_pose=J), "fps"),
    ("fps an array", _npz(fps=np.array([25.0, 30.0]), expression=E, jaw_pose=J), "fps"),
    ("fps text", _npz(fps=np.array("fast"), expression=E, jaw_pose=J), "fps"),
    ("object array", _npz(fps=F, expression=np.array([object()] * 3, dtype=object), jaw_pose=J), "corrupt"),
    ("truncated", lambda d: _bytes(good_anim().save(d / "full.npz").read_bytes()[:300])(d), "corrupt"),
    ("empty file", _bytes(b""), "corrupt"),
    ("text file", _bytes(b"hello\n" * 50), "corrupt"),
    ("a .npy named .npz", _npy, "single array"),
]
_IDS = [c[0] for c in BAD_NPZ]


def assert_one_line_error(result: Any, expect: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert expect in err, err
    assert result.stdout == "", repr(result.stdout)


def snapshot(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


@pytest.mark.parametrize("label,make,expect", BAD_NPZ, ids=_IDS)
def test_animation_load_refuses(tmp_path, label, make, expect):
    with pytest.raises(AnimationFileError) as info:
        Animation.load(make(tmp_path))
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)


@pytest.mark.parametrize("command", ["export", "render"])
@pytest.mark.parametrize("label,make,expect", BAD_NPZ, ids=_IDS)
def test_cli_refuses_broken_animation(tmp_path, command, label, make, expect):
    path = make(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    args = ["-f", "npz", "-o", str(out)] if command == "export" else ["--frame", "0", "-o", str(out / "f.png")]
    result = runner.invoke(app, [command, str(path), *args])
    assert_one_line_error(result, expect)
    assert snapshot(out) == set()


def test_meta_written_by_old_versions_with_nan_still_loads(tmp_path):
    """Files whose meta_json holds NaN (written before Animation.save refused it) load, with None in its place."""
    path = _npz(fps=F, expression=E, jaw_pose=J, meta_json=np.array('{"a": NaN, "b": 1}'))(tmp_path)
    assert Animation.load(path).meta == {"a": None, "b": 1}


# ------------------------------------------------------------------ Animation API
ANIMATION_API: list[tuple[str, Callable[[Path], Any], str]] = [
    ("fps text", lambda d: Animation(fps="abc", expression=E, jaw_pose=J), "fps"),
    ("fps None", lambda d: Animation(fps=None, expression=E, jaw_pose=J), "fps"),
    ("fps list", lambda d: Animation(fps=[25], expression=E, jaw_pose=J), "fps"),
    ("fps bool", lambda d: Animation(fps=True, expression=E, jaw_pose=J), "fps"),
    ("fps complex", lambda d: Animation(fps=25 + 1j, expression=E, jaw_pose=J), "fps"),
    ("expression None", lambda d: Animation(fps=25, expression=None, jaw_pose=J), "expression"),
    ("expression text", lambda d: Animation(fps=25, expression=[["a"] * 50] * 10, jaw_pose=J), "text"),
    ("expression ragged", lambda d: Animation(fps=25, expression=[[0.0] * 50, [0.0]], jaw_pose=J[:2]), "regular"),
    ("expression complex", lambda d: Animation(fps=25, expression=E.astype(np.complex64) + 1j, jaw_pose=J), "complex"),
    ("expression objects", lambda d: Animation(fps=25, expression=np.array([object()]), jaw_pose=J), "object"),
    ("expression beyond float32", lambda d: Animation(fps=25, expression=E.astype(np.float64) + 1e39, jaw_pose=J),
     "infinite"),
    ("meta a list", lambda d: Animation(fps=25, expression=E, jaw_pose=J, meta=[1, 2]), "meta"),
    ("meta NaN on save", lambda d: good_anim(meta={"x": math.nan}).save(d / "a.npz"), "NaN"),
    ("meta inf in a list on save", lambda d: good_anim(meta={"x": [math.inf]}).save(d / "a.npz"), "NaN"),
    ("meta numpy NaN on save", lambda d: good_anim(meta={"x": np.float32("nan")}).save(d / "a.npz"), "NaN"),
    ("meta object on save", lambda d: good_anim(meta={"x": object()}).save(d / "a.npz"), "object"),
    ("meta set on save", lambda d: good_anim(meta={"x": {1, 2}}).save(d / "a.npz"), "set"),
    ("meta refers to itself", lambda d: good_anim(meta=(lambda m: (m.update(me=m), m)[1])({})).save(d / "a.npz"),
     "Circular"),
    ("save to empty path", lambda d: good_anim().save(""), "empty"),
    ("save path None", lambda d: good_anim().save(None), "NoneType"),
    ("save path int", lambda d: good_anim().save(3), "int"),
    ("save onto a folder", lambda d: (d / "x.npz").mkdir() or good_anim().save(d / "x.npz"), "folder"),
    ("save into a missing folder", lambda d: good_anim().save(d / "nope" / "a.npz"), "does not exist"),
    ("load None", lambda d: Animation.load(None), "NoneType"),
    ("load int", lambda d: Animation.load(5), "int"),
    ("load bytes", lambda d: Animation.load(b"take.npz"), "bytes"),
    ("load a folder", lambda d: Animation.load(d), "not found"),
    ("resample text", lambda d: good_anim().resample("abc"), "fps"),
    ("resample None", lambda d: good_anim().resample(None), "fps"),
    ("resample 1e12 fps", lambda d: good_anim().resample(1e12), "too many frames"),
    ("from_motion text", lambda d: Animation.from_motion("abc", 25), "motion"),
    ("from_motion 52 wide", lambda d: Animation.from_motion(np.zeros((5, 52)), 25), "motion"),
]


@pytest.mark.parametrize("label,call,expect", ANIMATION_API, ids=[c[0] for c in ANIMATION_API])
def test_animation_api_refuses(tmp_path, label, call, expect):
    before = snapshot(tmp_path)
    with pytest.raises(ProbtalkError) as info:
        call(tmp_path)
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)
    assert {p for p in snapshot(tmp_path) - before if not p.endswith("x.npz")} == set()  # nothing half-written


def test_animation_odd_but_fine(tmp_path):
    path = good_anim(meta={"seed": np.int64(3), "src": Path("a b.wav"), "w": np.float32(0.5)}).save(
        tmp_path / "ünï cødé 音 take.npz")
    back = Animation.load(path)
    assert back.meta == {"seed": 3, "src": "a b.wav", "w": 0.5}
    assert json.loads(str(np.load(path)["meta_json"])) == back.meta  # strict JSON
    assert Animation(fps=np.array(30.0), expression=E.astype(np.int16), jaw_pose=J, meta=None).meta == {}
    assert Animation(fps=np.float32(25), expression=torch.zeros(4, 50), jaw_pose=torch.zeros(4, 3)).num_frames == 4


# ------------------------------------------------------------------ exporters API
A = good_anim()
WRITE_API: list[tuple[str, Callable[[Path], Any], str]] = [
    ("anim None", lambda d: exporters.write(None, d / "a.npz"), "Animation"),
    ("anim an array", lambda d: exporters.write(E, d / "a.npz"), "Animation"),
    ("path empty", lambda d: exporters.write(A, ""), "path"),
    ("path None", lambda d: exporters.write(A, None), "path"),
    ("path int", lambda d: exporters.write(A, 3), "path"),
    ("path without suffix", lambda d: exporters.write(A, d / "noext"), "suffix"),
    ("path .docx", lambda d: exporters.write(A, d / "a.docx"), ".docx"),
    ("format unknown", lambda d: exporters.write(A, d / "a.npz", format="docx"), "docx"),
    ("format an int", lambda d: exporters.write(A, d / "a.npz", format=3), "format"),
    ("format a list", lambda d: exporters.write(A, d / "a.npz", format=["npz"]), "format"),
    ("unknown option", lambda d: exporters.write(A, d / "a.npz", colour="red"), "colour"),
    ("option of another format", lambda d: exporters.write(A, d / "a.npz", arkit=True), "arkit"),
    ("smoothing text", lambda d: exporters.write(A, d / "a.csv", arkit_smoothing="lots"), "arkit_smoothing"),
    ("smoothing None", lambda d: exporters.write(A, d / "a.csv", arkit_smoothing=None), "arkit_smoothing"),
    ("smoothing nan", lambda d: exporters.write(A, d / "a.csv", arkit_smoothing=math.nan), "arkit_smoothing"),
    ("smoothing negative", lambda d: exporters.write(A, d / "a.csv", arkit_smoothing=-1.0), "arkit_smoothing"),
    ("tolerance text", lambda d: exporters.write(A, d / "a.glb", tolerance="x"), "tolerance"),
    ("tolerance nan", lambda d: exporters.write(A, d / "a.glb", tolerance=math.nan), "tolerance"),
    ("bake_vertices text", lambda d: exporters.write(A, d / "a.npz", bake_vertices="yes"), "bake_vertices"),
    ("arkit text", lambda d: exporters.write(A, d / "a.glb", arkit="no"), "arkit"),
    ("nonzero_only int", lambda d: exporters.write(A, d / "a.glb", nonzero_only=5), "nonzero_only"),
    ("fps text", lambda d: exporters.write(A, d / "a.npz", fps="fast"), "fps"),
    ("fps bool", lambda d: exporters.write(A, d / "a.npz", fps=True), "fps"),
    ("fps nan", lambda d: exporters.write(A, d / "a.npz", fps=math.nan), "fps"),
    ("rig a text file", lambda d: exporters.write(A, d / "a.glb", rig=_bytes(b"text", "r.npz")(d)), "corrupt"),
    ("rig an int", lambda d: exporters.write(A, d / "a.glb", rig=42), "rig"),
    ("onto a folder", lambda d: (d / "x.npz").mkdir() or exporters.write(A, d / "x.npz"), "folder"),
    ("character an int", lambda d: exporters.write(A, d / "a.glb", character=5), "character"),
    ("character a text file", lambda d: exporters.write(A, d / "a.glb", character=_bytes(b"t", "c.glb")(d)), "glTF"),
    ("targets an int", lambda d: exporters.write(A, d / "a.csv", targets=5), "targets"),
    ("zero frames", lambda d: exporters.write(good_anim(0), d / "z.npz"), "no frames"),
    ("write_all stem with a folder", lambda d: exporters.write_all(A, d, "../escape", ["npz"]), "stem"),
    ("write_all stem empty", lambda d: exporters.write_all(A, d, "", ["npz"]), "stem"),
    ("write_all formats None", lambda d: exporters.write_all(A, d, "x", None), "formats"),
    ("write_all character with npz only", lambda d: exporters.write_all(A, d, "x", ["npz"], character=d), "character"),
    ("write_all audio a text file", lambda d: exporters.write_all(A, d, "x", ["npz", "csv"],
                                                                    audio=_bytes(b"text " * 50, "t.wav")(d)), "audio"),
]


@pytest.mark.parametrize("label,call,expect", WRITE_API, ids=[c[0] for c in WRITE_API])
def test_exporters_refuse(tmp_path, label, call, expect):
    before = snapshot(tmp_path)
    with pytest.raises(ProbtalkError) as info:
        call(tmp_path)
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)
    new = snapshot(tmp_path) - before
    assert new <= {"x.npz", "r.npz", "c.glb", "t.wav"}, new  # only the call's own inputs: no output was written


def test_format_wins_over_suffix_with_a_warning(tmp_path, caplog):
    with caplog.at_level("WARNING", logger="exporters.base"):
        exporters.write(A, tmp_path / "a.glb", format="npz")
    assert Animation.load(tmp_path / "a.glb").num_frames == A.num_frames
    assert any("a.glb is named like a glb file but is written as npz" in r.getMessage() for r in caplog.records)


def test_exporters_accept_a_rig_path_and_caps(tmp_path):
    assert exporters.write(A, tmp_path / "a.glb", rig=str(bundled_rig_path())).stat().st_size > 0
    assert exporters.write(A, tmp_path / "b.npz", format="NPZ").is_file()
    assert exporters.write(A, tmp_path / "c.curves.csv", format="curves-csv").is_file()


# ------------------------------------------------------------------ probtalk.render arguments (refused before drawing)
RENDER_API: list[tuple[str, Callable[[Path], Any], str]] = [
    ("no animations", lambda d: probtalk.render([], out=d / "v.mp4"), "Animation"),
    ("animations None", lambda d: probtalk.render(None, out=d / "v.mp4"), "Animation"),
    ("zero frames", lambda d: probtalk.render(good_anim(0), out=d / "z.png", frame=0), "no frames"),
    ("size 0", lambda d: probtalk.render(A, out=d / "f.png", frame=0, size=0), "size"),
    ("size text", lambda d: probtalk.render(A, out=d / "f.png", frame=0, size="big"), "size"),
    ("size 64.5", lambda d: probtalk.render(A, out=d / "f.png", frame=0, size=64.5), "whole"),
    ("fps text", lambda d: probtalk.render(A, out=d / "v.mp4", fps="x"), "fps"),
    ("fps 0", lambda d: probtalk.render(A, out=d / "v.mp4", fps=0), "fps"),
    ("animation fps 1e9", lambda d: probtalk.render(Animation(fps=1e9, expression=E, jaw_pose=J), out=d / "v.mp4"),
     "the animation's fps"),
    ("backend None", lambda d: probtalk.render(A, out=d / "v.mp4", backend=None), "backend"),
    ("frame 1.5", lambda d: probtalk.render(A, out=d / "f.png", frame=1.5), "frame"),
    ("frame text", lambda d: probtalk.render(A, out=d / "f.png", frame="0"), "frame"),
    ("frame True", lambda d: probtalk.render(A, out=d / "f.png", frame=True), "frame"),
    ("sheet 2.5", lambda d: probtalk.render(A, out=d / "s.png", sheet=2.5), "sheet"),
    ("sheet text", lambda d: probtalk.render(A, out=d / "s.png", sheet="many"), "sheet"),
    ("captions an int", lambda d: probtalk.render(A, out=d / "f.png", frame=0, captions=5), "captions"),
    ("captions one string", lambda d: probtalk.render(A, out=d / "f.png", frame=0, captions="x"), "captions"),
    ("captions wrong count", lambda d: probtalk.render(A, out=d / "f.png", frame=0, captions=["a", "b"]), "captions"),
    ("samples -3", lambda d: probtalk.render(A, out=d / "f.png", frame=0, samples=-3), "samples"),
    ("samples 1000", lambda d: probtalk.render(A, out=d / "f.png", frame=0, samples=1000), "samples"),
    ("camera text", lambda d: probtalk.render(A, out=d / "f.png", frame=0, camera="front"), "camera"),
    ("out None", lambda d: probtalk.render(A, out=None, frame=0), "out"),
    ("out empty", lambda d: probtalk.render(A, out="", frame=0), "empty"),
    ("progress not callable", lambda d: probtalk.render(A, out=d / "v.mp4", progress=5), "progress"),
    ("rig an int", lambda d: probtalk.render(A, out=d / "f.png", frame=0, rig=5), "rig"),
    ("video over an hour at 240 fps", lambda d: probtalk.render(
        Animation(fps=240, expression=np.zeros((LONG, 1), np.float32), jaw_pose=np.zeros((LONG, 3), np.float32)),
        out=d / "h.mp4"), "frames"),
    ("camera pitch 400", lambda d: probtalk.rendering.Camera(pitch=400), "pitch"),
    ("camera yaw 1e308", lambda d: probtalk.rendering.Camera(yaw=1e308), "yaw"),
    ("camera yaw text", lambda d: probtalk.rendering.Camera(yaw="left"), "yaw"),
]


@pytest.mark.parametrize("label,call,expect", RENDER_API, ids=[c[0] for c in RENDER_API])
def test_render_api_refuses(tmp_path, label, call, expect):
    import probtalk.rendering  # noqa: F401  (Camera for the camera cases)

    with pytest.raises(ProbtalkError) as info:
        call(tmp_path)
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)
    assert snapshot(tmp_path) == set()


# ------------------------------------------------------------------ rig and checkpoint files
def _rig_variant(**changes: Any) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        with np.load(bundled_rig_path()) as data:
            arrays = {k: data[k] for k in data.files}
        for key, value in changes.items():
            if value is None:
                arrays.pop(key)
            else:
                arrays[key] = value(arrays[key]) if callable(value) else value
        np.savez(d / "rig.npz", **arrays)
        return d / "rig.npz"
    return make


def _truncated(source: Callable[[], Path], name: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        data = source().read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])
        return d / name
    return make


RIGS: list[tuple[str, Callable[[Path], Any], str]] = [
    ("text file", _bytes(b"hello", "rig.npz"), "corrupt"),
    ("truncated", _truncated(bundled_rig_path, "rig.npz"), "corrupt"),
    ("wrong keys", _npz(a=E), "not a probtalk rig"),
    ("a .npy named .npz", _npy, "probtalk rig"),
    ("template of 3 vertices", _rig_variant(v_template=np.zeros((3, 3), np.float32)), "shape"),
    ("faces out of range", _rig_variant(faces=lambda f: np.full_like(f, 10**7)), "faces"),
    ("NaN template", _rig_variant(v_template=lambda v: v + np.nan), "NaN"),
    ("no weights", _rig_variant(weights=None), "not a complete"),
    ("no keypoint names", _rig_variant(keypoint_names=None), "corrupt"),
    ("text template", _rig_variant(v_template=np.array(["a"] * 9).reshape(3, 3)), "rig"),
    ("a folder", lambda d: (d / "d.npz").mkdir() or d / "d.npz", "not found"),
    ("an int", lambda d: 5, "int"),
    ("empty string", lambda d: "", "empty"),
    ("text .pkl", _bytes(b"hello", "rig.pkl"), "rig.pkl"),
    ("empty .pkl", _bytes(b"", "rig.pkl"), "rig.pkl"),
    (".obj", _bytes(b"v 0 0 0\n", "rig.obj"), "suffix"),
]


@pytest.mark.parametrize("label,make,expect", RIGS, ids=[c[0] for c in RIGS])
def test_load_rig_refuses(tmp_path, label, make, expect):
    with pytest.raises(ProbtalkError) as info:
        probtalk.load_rig(make(tmp_path))
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


def _saved(obj: Any) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        torch.save(obj, d / "m.pt")
        return d / "m.pt"
    return make


MODELS: list[tuple[str, Callable[[Path], Any], dict[str, Any], str]] = [
    ("a folder", lambda d: d, {}, "folder"),
    ("text file", _bytes(b"text", "m.pt"), {}, "m.pt"),
    ("empty file", _bytes(b"", "m.pt"), {}, "m.pt"),
    ("a dict of tensors", _saved({"a": torch.zeros(3)}), {}, "m.pt"),
    ("a bare tensor", _saved(torch.zeros(3)), {}, "m.pt"),
    ("an animation file", lambda d: good_anim().save(d / "t.npz"), {}, "t.npz"),
    ("an int", lambda d: 5, {}, "int"),
    ("empty string", lambda d: "", {}, "not found"),
    ("bad device", "ckpt", {"device": "tpu"}, "device"),
    ("device a list", "ckpt", {"device": [1]}, "device"),
    ("missing hubert folder", "ckpt", {"hubert": "/nonexistent/hubert"}, "HuBERT"),
]


@pytest.mark.parametrize("label,make,kw,expect", MODELS, ids=[c[0] for c in MODELS])
def test_load_model_refuses(tiny_ckpt, tmp_path, label, make, kw, expect):
    source = tiny_ckpt if make == "ckpt" else make(tmp_path)
    with pytest.raises(ProbtalkError) as info:
        probtalk.load_model(source, **kw)
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)


def test_truncated_checkpoint_is_refused(tiny_ckpt, tmp_path):
    cut = _truncated(lambda: tiny_ckpt, "cut.pt")(tmp_path)
    with pytest.raises(ProbtalkError, match="cut.pt"):
        probtalk.load_model(cut)


# ------------------------------------------------------------------ the training config
CONFIG_BAD = ["lr=nan", "lr=inf", "lr=-1e-4", "steps=-1", "batch_size=0", "betas=[0.9]", 'betas=["a", "b"]',
              'device="tpu"', "vq.hidden=0", "vq.dropout=-0.1", "augment.noise_prob=2.0", "stpes=3", "vq=3",
              'steps="many"', "a.b.c=1", "lr"]


@pytest.mark.parametrize("override", CONFIG_BAD)
def test_train_config_refuses(override):
    from probtalk.train import load_train_config

    with pytest.raises(ProbtalkError) as info:
        load_train_config(None, [override])
    assert "\n" not in str(info.value)


def test_train_config_accepts_the_recipes():
    from probtalk.train import load_train_config

    recipes = Path(probtalk.__file__).parent / "assets" / "recipes"
    for toml in sorted(recipes.glob("*.toml")):
        load_train_config(toml)
    cfg = load_train_config(None, ["val_every=0", "save_every=0", "betas=[0.9, 1]", "audio.conv_dim=[16, 16]"])
    assert cfg.betas == (0.9, 1.0) and cfg.audio.conv_dim == (16, 16)


# ------------------------------------------------------------------ the other commands
def _corpus_with_bad_keyid(d: Path) -> None:
    (d / "corp" / "param").mkdir(parents=True)
    (d / "corp" / "param" / "garbage.npy").write_bytes(b"x")
    (d / "empty_corp" / "param").mkdir(parents=True)


CLI_MORE: list[tuple[str, list[str], str]] = [
    # render
    ("render size 0", ["render", "{take}", "--size", "0", "--frame", "0", "-o", "{out}/f.png"], "size"),
    ("render fps 0", ["render", "{take}", "--fps", "0", "-o", "{out}/v.mp4"], "fps"),
    ("render fps nan", ["render", "{take}", "--fps", "nan", "-o", "{out}/v.mp4"], "fps"),
    ("render backend unknown", ["render", "{take}", "--backend", "vulkan", "-o", "{out}/v.mp4"], "backend"),
    ("render layout unknown", ["render", "{take}", "--layout", "diagonal", "-o", "{out}/v.mp4"], "layout"),
    ("render frame out of range", ["render", "{take}", "--frame", "1000", "-o", "{out}/f.png"], "out of range"),
    ("render sheet frames -3", ["render", "{take}", "--sheet", "--sheet-frames", "-3", "-o", "{out}/s.png"], "1-256"),
    ("render out .txt", ["render", "{take}", "-o", "{out}/v.txt"], ".mp4"),
    ("render out empty", ["render", "{take}", "-o", ""], "-o/--out is empty"),
    ("render rig-sheet empty", ["render", "--rig-sheet", ""], "--rig-sheet is empty"),
    ("render out onto a folder", ["render", "{take}", "-o", "{out}/d.mp4"], "folder"),
    ("render out in a missing folder", ["render", "{take}", "-o", "{out}/nope/v.mp4"], "does not exist"),
    ("render audio missing", ["render", "{take}", "--audio", "{out}/nope.wav", "-o", "{out}/v.mp4"], "not found"),
    ("render audio text", ["render", "{take}", "--audio", "{text}", "-o", "{out}/v.mp4"], "audio"),
    ("render rig text", ["render", "{take}", "--rig", "{text_npz}", "--frame", "0", "-o", "{out}/f.png"], "corrupt"),
    ("render pitch 400", ["render", "{take}", "--pitch", "400", "--frame", "0", "-o", "{out}/f.png"], "pitch"),
    ("render yaw 1e308", ["render", "{take}", "--yaw", "1e308", "--frame", "0", "-o", "{out}/f.png"], "yaw"),
    ("render rig-sheet size 0", ["render", "--rig-sheet", "{out}/r.png", "--size", "0"], "size"),
    # export
    ("export out empty", ["export", "{take}", "-f", "npz", "-o", ""], "-o/--out is empty"),
    ("export out is a file", ["export", "{take}", "-f", "npz", "-o", "{take}"], "output folder"),
    ("export fps bool-ish text", ["export", "{take}", "-f", "npz", "--fps", "fast", "-o", "{out}"], "--fps"),
    ("export character with npz", ["export", "{take}", "-f", "npz", "--character", "{text_glb}", "-o", "{out}"],
     "character"),
    ("export arkit with csv only", ["export", "{take}", "-f", "csv", "--arkit", "-o", "{out}"], "arkit"),
    ("export bake vertices with glb only", ["export", "{take}", "-f", "glb", "--bake-vertices", "-o", "{out}"],
     "bake_vertices"),
    ("export audio text", ["export", "{take}", "-f", "npz", "--audio", "{text}", "-o", "{out}"], "audio"),
    ("export audio empty", ["export", "{take}", "-f", "npz", "--audio", "{empty_wav}", "-o", "{out}"], "empty"),
    ("export npz onto a folder", ["export", "{take}", "-f", "npz", "-o", "{out}/taken"], "folder"),
    # data
    ("synth out empty", ["data", "synth", "-o", "", "--speakers", "1", "--heldout-speakers", "0"], "-o/--out is empty"),
    ("synth out is a file", ["data", "synth", "-o", "{take}"], "output folder"),
    ("synth workers 0", ["data", "synth", "-o", "{out}/c", "--workers", "0"], "--workers"),
    ("synth seed -1", ["data", "synth", "-o", "{out}/c", "--seed", "-1"], "--seed"),
    ("synth speakers 0", ["data", "synth", "-o", "{out}/c", "--speakers", "0"], "--speakers"),
    ("synth heldout = speakers", ["data", "synth", "-o", "{out}/c", "--speakers", "2", "--heldout-speakers", "2"],
     "--heldout-speakers"),
    ("splits missing", ["data", "splits", "{out}/nope"], "param/"),
    ("splits bad keyid", ["data", "splits", "{d}/corp"], "garbage"),
    ("splits no clips", ["data", "splits", "{d}/empty_corp"], "no clips"),
    # train (config errors come before the data is read)
    ("train data missing", ["train", "vq", "--data", "{out}/nope", "--out", "{out}/run"], "nope"),
    ("train config lr nan", ["train", "vq", "--data", "{d}/corp", "--out", "{out}/run", "--set", "lr=nan"], "lr"),
    ("train config steps -5", ["train", "vq", "--data", "{d}/corp", "--out", "{out}/run", "--config", "{neg_toml}"],
     "steps"),
    ("train config not TOML", ["train", "vq", "--data", "{d}/corp", "--out", "{out}/run", "--config", "{text}"],
     "TOML"),
    ("train predictor vq text", ["train", "predictor", "--data", "{d}/corp", "--out", "{out}/run", "--vq", "{text}"],
     ""),
    ("train out empty", ["train", "vq", "--data", "{d}/corp", "--out", ""], "--out is empty"),
    ("train data empty", ["train", "vq", "--data", "", "--out", "{out}/run"], "--data is empty"),
    # evaluate / info
    ("evaluate json a folder", ["evaluate", "--data", "{d}/corp", "--json", "{out}"], "--json"),
    ("evaluate json empty", ["evaluate", "--data", "{d}/corp", "--json", ""], "--json"),
    ("evaluate classifier a folder", ["evaluate", "--data", "{d}/corp", "--classifier", "{d}"], "--classifier"),
    ("evaluate data missing", ["evaluate", "--data", "{out}/nope"], "not found"),
    ("evaluate engine unknown", ["evaluate", "--data", "{d}/corp", "--engine", "magic"], "engine"),
    ("info model missing", ["info", "--model", "{out}/nope.pt"], "not found"),
    ("info model a folder", ["info", "--model", "{d}"], "folder"),
    ("info model text", ["info", "--model", "{text}"], "t.wav"),
    ("info rig text", ["info", "--rig", "{text_npz}"], "corrupt"),
]


@pytest.mark.parametrize("label,args,expect", CLI_MORE, ids=[c[0] for c in CLI_MORE])
def test_other_commands_refuse(tmp_path, monkeypatch, label, args, expect):
    d = tmp_path / "in ünï"
    d.mkdir()
    take = good_anim().save(d / "take.npz")
    _corpus_with_bad_keyid(d)
    subs = {
        "{take}": str(take), "{d}": str(d), "{text}": _bytes(b"text " * 100, "t.wav")(d),
        "{text_npz}": _bytes(b"text", "t.npz")(d), "{text_glb}": _bytes(b"text", "t.glb")(d),
        "{empty_wav}": _bytes(b"", "e.wav")(d), "{neg_toml}": _bytes(b"steps = -5\n", "neg.toml")(d),
    }
    out = tmp_path / "out"
    (out / "d.mp4").mkdir(parents=True)
    (out / "taken" / "take.npz").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # a stray write into the current folder would show in the snapshot
    before = snapshot(tmp_path)
    argv = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, str(v))
        argv.append(a.replace("{out}", str(out)))
    result = runner.invoke(app, argv)
    assert_one_line_error(result, expect)
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ odd but valid audio
def _write(name: str, data: np.ndarray, sr: int, **kw: Any) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        sf.write(d / name, data, sr, **kw)
        return d / name
    return make


GOOD_AUDIO = [
    ("8-bit WAV", _write("u8.wav", tone(1.0), 16000, subtype="PCM_U8")),
    ("48 kHz stereo FLAC", _write("st48.flac", np.stack([tone(1.0, 48000)] * 2, 1), 48000, format="FLAC")),
    ("0.3 s clip", _write("short.wav", tone(0.3), 16000)),
    ("unicode name with spaces, 22.05 kHz", _write("音声 テスト ü.wav", tone(1.0, 22050), 22050)),
    ("24-bit WAV", _write("s24.wav", tone(1.0), 16000, subtype="PCM_24")),
    ("8 kHz", _write("8k.wav", tone(1.0, 8000), 8000)),
]


@pytest.mark.parametrize("label,make", GOOD_AUDIO, ids=[c[0] for c in GOOD_AUDIO])
def test_odd_audio_works(tiny_ckpt, tmp_path, label, make):
    src = tmp_path / "in put"
    src.mkdir()
    path = make(src)
    out = tmp_path / "out dir"
    result = runner.invoke(app, ["animate", str(path), "--model", str(tiny_ckpt), "-o", str(out), "--seed", "1"])
    assert result.exit_code == 0, result.output
    [written] = sorted(out.iterdir())
    anim = Animation.load(written)
    seconds = sf.info(str(path)).duration
    assert abs(anim.duration - seconds) < 0.1, (anim.duration, seconds)
    exported = exporters.write_all(anim, out / "exp ü", written.stem, ["npz", "csv"], audio=path)
    assert [p.suffix for p in exported] == [".npz", ".csv", ".wav"]


# ------------------------------------------------------------------ broken corpus files
def _corpus(d: Path, params: np.ndarray) -> Path:
    root = d / "corpus"
    for sub in ("param", "wav", "splits"):
        (root / sub).mkdir(parents=True)
    np.save(root / "param" / "M003_017_6_1.npy", params)
    sf.write(root / "wav" / "M003_017_6_1.wav", tone(1.0), 16000)
    for split in ("train", "val", "test"):
        (root / "splits" / split).write_text("M003_017_6_1\n")
    return root


CORPUS_BAD = [
    ("NaN motion", np.full((1, 25, 403), np.nan, np.float32), "NaN"),
    ("infinite motion", np.full((1, 25, 403), np.inf, np.float32), "NaN or infinite"),
    ("no frames", np.zeros((1, 0, 403), np.float32), "shape"),
    ("wrong width", np.zeros((25, 53), np.float32), "shape"),
    ("text", np.full((1, 25, 403), "a"), "not numbers"),
]


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("label,params,expect", CORPUS_BAD, ids=[c[0] for c in CORPUS_BAD])
def test_broken_corpus_clip_is_refused(tmp_path, command, label, params, expect):
    """A NaN clip used to train to a NaN checkpoint (exit 0) and to evaluate to NaN figures."""
    root = _corpus(tmp_path, params)
    run = tmp_path / "run"
    args = (["train", "vq", "--data", str(root), "--out", str(run), "--set", "steps=1", "--no-progress"]
            if command == "train" else ["evaluate", "--data", str(root), "--engine", "truth", "--takes", "1"])
    result = runner.invoke(app, args)
    assert_one_line_error(result, expect)
    assert not run.exists() or not any(run.iterdir())


# ------------------------------------------------------------------ smaller public functions
def _render_module() -> Any:
    import probtalk.rendering

    return probtalk.rendering


SMALL_API: list[tuple[str, Callable[[], Any], str]] = [
    ("solve_arkit None", lambda: exporters.solve_arkit(None), "Animation"),
    ("solve_arkit rig an int", lambda: exporters.solve_arkit(A, rig=3), "rig"),
    ("solve_arkit smoothing text", lambda: exporters.solve_arkit(A, smoothing="x"), "smoothing"),
    ("solve_arkit smoothing nan", lambda: exporters.solve_arkit(A, smoothing=math.nan), "smoothing"),
    ("solve_arkit targets an int", lambda: exporters.solve_arkit(A, targets=5), "targets"),
    ("load_blendshape_targets None", lambda: exporters.load_blendshape_targets(None), "targets"),
    ("expand_formats None", lambda: exporters.expand_formats(None), "formats"),
    ("get_writer an int", lambda: exporters.get_writer(5), "format"),
    ("check_fps a list", lambda: exporters.check_fps([30]), "fps"),
    ("render_rig_sheet columns text", lambda: _render_module().render_rig_sheet(None, "x.png", columns="3"), "columns"),
    ("render_rig_sheet out None", lambda: _render_module().render_rig_sheet(None, None), "out"),
    ("resample_motion from 0 fps", lambda: probtalk.animation.resample_motion(np.zeros((5, 2)), 0, 30), "frame rates"),
    ("resample_motion to inf fps", lambda: probtalk.animation.resample_motion(np.zeros((5, 2)), 25, math.inf),
     "frame rates"),
]


@pytest.mark.parametrize("label,call,expect", SMALL_API, ids=[c[0] for c in SMALL_API])
def test_small_public_functions_refuse(label, call, expect):
    with pytest.raises(ProbtalkError) as info:
        call()
    assert "\n" not in str(info.value) and expect in str(info.value), str(info.value)


def test_solve_arkit_takes_a_rig_path():
    curves = exporters.solve_arkit(A, rig=str(bundled_rig_path()), smoothing=0.1)
    assert curves.weights.shape == (A.num_frames, 52)
