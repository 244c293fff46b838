"""Hostile files: every pickle probtalk reads from a user goes through the allow-list unpickler.

Each malicious pickle's payload would create a marker file when unpickled; the tests assert the
marker never appears and a one-line :class:`RigError` names the refused class.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from probtalk.animation import Animation
from probtalk.errors import RigError
from probtalk.flame import bundled_rig_path, load_rig, safe_pickle
from probtalk.flame.safe_pickle import load_npy, load_pickle, unpickle_bytes

FLAME_DIR = bundled_rig_path().parent / "flame"


class _System:
    """Unpickles as ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return os.system, (self.command,)


class _Touch:
    """Unpickles as ``Path(marker).touch()`` (through ``pathlib``, not ``os``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[Path]]:
        return Path.touch, (self.marker,)


class _Exec:
    """Unpickles as ``builtins.exec(code)``."""

    def __init__(self, marker: Path) -> None:
        self.code = f"open({str(marker)!r}, 'w').close()"

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return exec, (self.code,)


PAYLOADS: dict[str, Callable[[Path], object]] = {
    "os.system": lambda m: _System(f"touch {m}"),
    "pathlib": lambda m: _Touch(m),
    "exec": lambda m: _Exec(m),
}
# what the refusal names: protocols < 4 reach Path.touch through builtins.getattr
REFUSED_NAME = {"os.system": ("system",), "pathlib": ("Path", "getattr"), "exec": ("exec",)}


def _evil_model(payload: object) -> dict[str, object]:
    """A FLAME-looking dict whose ``v_template`` is the payload (nested, not at the top)."""
    return {"v_template": payload, "f": np.zeros((1, 3), np.uint32), "shapedirs": np.zeros((3, 3, 400))}


def _assert_refused(exc: pytest.ExceptionInfo[RigError], marker: Path, kind: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert "refusing to unpickle" in msg and any(name in msg for name in REFUSED_NAME[kind]), msg
    assert not marker.exists()


@pytest.fixture(params=sorted(PAYLOADS))
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_top_level_payload_in_rig_pickle(tmp_path, kind):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(PAYLOADS[kind](marker), protocol=2))
    with pytest.raises(RigError) as exc:
        load_rig(evil)
    _assert_refused(exc, marker, kind)


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_payload_nested_in_a_dict_any_protocol(tmp_path, kind, protocol):
    marker = tmp_path / "pwned"
    evil = tmp_path / "generic_model.pkl"
    evil.write_bytes(pickle.dumps(_evil_model(PAYLOADS[kind](marker)), protocol=protocol))
    with pytest.raises(RigError) as exc:
        load_rig(evil)
    _assert_refused(exc, marker, kind)


def test_static_embedding_beside_a_valid_model_is_checked(tmp_path, kind):
    marker = tmp_path / "pwned"
    folder = tmp_path / "flame"
    folder.mkdir()
    shutil.copy(FLAME_DIR / "FLAME_NEUTRAL.pkl", folder / "FLAME_NEUTRAL.pkl")
    evil = {"lmk_face_idx": PAYLOADS[kind](marker), "lmk_b_coords": np.zeros((1, 3))}
    (folder / "flame_static_embedding.pkl").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(RigError) as exc:
        load_rig(folder / "FLAME_NEUTRAL.pkl")  # the embedding beside it is read automatically
    _assert_refused(exc, marker, kind)
    with pytest.raises(RigError) as exc:
        load_rig(None, landmarks=folder / "flame_static_embedding.pkl")
    _assert_refused(exc, marker, kind)


def test_masks_pickle(tmp_path, kind):
    marker = tmp_path / "pwned"
    masks = tmp_path / "FLAME_masks.pkl"
    masks.write_bytes(pickle.dumps({"lips": PAYLOADS[kind](marker)}, protocol=2))
    with pytest.raises(RigError) as exc:
        load_rig(None, masks=masks)
    _assert_refused(exc, marker, kind)


def test_dynamic_embedding_npy(tmp_path, kind):
    marker = tmp_path / "pwned"
    npy = tmp_path / "flame_dynamic_embedding.npy"
    np.save(npy, np.array({"lmk_face_idx": PAYLOADS[kind](marker)}, dtype=object), allow_pickle=True)
    with pytest.raises(RigError) as exc:
        load_npy(npy)
    _assert_refused(exc, marker, kind)


def test_genuine_files_still_load():
    model = load_pickle(FLAME_DIR / "FLAME_NEUTRAL.pkl")
    assert model["J_regressor"].toarray().shape[0] == 5
    assert set(load_pickle(FLAME_DIR / "flame_static_embedding.pkl")) == {"lmk_face_idx", "lmk_b_coords"}
    dyn = load_npy(FLAME_DIR / "flame_dynamic_embedding.npy")[()]
    assert dyn["lmk_face_idx"].shape == (79, 17)
    rig = load_rig(FLAME_DIR / "FLAME_NEUTRAL.pkl", masks=FLAME_DIR.parent / "FLAME_masks.pkl")
    assert rig.lmk_faces_idx.size > 0 and "lips" in rig.regions
    plain = np.arange(6, dtype=np.float32).reshape(2, 3)
    for protocol in (0, 2, 4, 5):  # numpy arrays, scalars, dtypes and containers of every protocol
        value = {"a": plain, "b": [np.float64(1.5), (1, "x")], "c": {1, 2}, "d": np.dtype("<i4")}
        back = unpickle_bytes(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(back["a"], plain)
        assert back["b"] == [1.5, (1, "x")] and back["c"] == {1, 2} and back["d"] == np.dtype("<i4")


def test_a_pickle_cannot_rebind_an_allowed_function():
    # GLOBAL _codecs.encode, then BUILD with slot state {'__defaults__': ('rot13',)}: without the
    # read-only wrapper this would change the allowed function's default codec for the whole process
    data = b"\x80\x02c_codecs\nencode\nN}X\x0c\x00\x00\x00__defaults__X\x05\x00\x00\x00rot13\x85s\x86b."
    before = safe_pickle._latin1_encode.__defaults__
    with pytest.raises(RigError, match="read-only"):
        unpickle_bytes(data)
    assert safe_pickle._latin1_encode.__defaults__ == before
    # nor rebind a shim class's methods
    shim = b"\x80\x02cchumpy.ch\nCh\nN}X\x09\x00\x00\x00__array__N\x85s\x86b."
    with pytest.raises(RigError):
        unpickle_bytes(shim)
    assert callable(safe_pickle.ChumpyShim.__array__)


def test_only_latin1_codec_and_bounded_zlib(monkeypatch):
    rot = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(RigError, match="TypeError"):
        unpickle_bytes(rot)
    from flame_assets.flame_files import packed

    data = pickle.dumps(packed(np.zeros(1000)), protocol=2)
    np.testing.assert_array_equal(unpickle_bytes(data), np.zeros(1000))
    monkeypatch.setattr(safe_pickle, "MAX_DECOMPRESSED_BYTES", 4000)
    with pytest.raises(RigError, match="expands past"):
        unpickle_bytes(data)
    assert zlib.decompress(zlib.compress(b"x")) == b"x"  # the real zlib is untouched


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "probtalk.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def _assert_clean_exit(result: subprocess.CompletedProcess[str], marker: Path) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "refusing to unpickle" in lines[0]
    assert not marker.exists()


def test_cli_refuses_evil_rig_for_animate_export_and_info(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_evil_model(_System(f"touch {marker}")), protocol=2))
    take = tmp_path / "take.npz"
    rng = np.random.default_rng(0)
    Animation(fps=25.0, expression=rng.normal(0, 1, (10, 50)), jaw_pose=np.zeros((10, 3))).save(take)
    sr = 16000
    t = np.arange(sr) / sr
    speech = tmp_path / "hello.wav"
    import soundfile

    soundfile.write(speech, (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32), sr)
    out = tmp_path / "out"
    _assert_clean_exit(_run_cli("export", str(take), "-o", str(out), "-f", "glb", "--rig", str(evil), cwd=tmp_path), marker)
    _assert_clean_exit(_run_cli("info", "--rig", str(evil), cwd=tmp_path), marker)
    result = _run_cli(
        "animate", str(speech), "-o", str(out), "--engine", "rules", "-f", "glb", "--rig", str(evil), cwd=tmp_path
    )
    _assert_clean_exit(result, marker)
    assert not any(out.rglob("*.glb"))


# ------------------------------------------------------------------ checkpoints
def _tiny_talker():
    import torch

    from probtalk.models.audio_encoder import AudioEncoder, AudioEncoderConfig
    from probtalk.models.motion_vq import MotionVQ, MotionVQConfig
    from probtalk.models.style import StyleVocabulary
    from probtalk.models.style_predictor import StylePredictor, StylePredictorConfig
    from probtalk.models.talker import Normalizer, Talker

    torch.manual_seed(0)
    vq = MotionVQ(MotionVQConfig(hidden=32, layers=1, heads=2, ff_dim=64, latent_dim=16, num_codes=32, dropout=0.0))
    enc = AudioEncoder.from_config(AudioEncoderConfig(hidden=32, layers=1, heads=2, intermediate=64, conv_dim=(16,) * 7))
    pred = StylePredictor(StylePredictorConfig(audio_dim=enc.out_dim, latent_dim=16, num_speakers=2, hidden=32, layers=1,
                                               heads=2, ff_dim=64, dropout=0.0))
    return Talker(enc, pred, vq, Normalizer(torch.zeros(53), torch.ones(53)), StyleVocabulary(("A", "B"))).eval()


@pytest.fixture(scope="module")
def talker_files(tmp_path_factory) -> dict[str, Path]:
    from probtalk.models.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("ckpt")
    talker = _tiny_talker()
    return {
        "full": save_checkpoint(folder / "full.pt", talker),
        "slim": save_checkpoint(folder / "slim.pt", talker, inference_only=True),
    }


def _edited(src: Path, dst: Path, edit: Callable[[dict[str, object]], None]) -> Path:
    import torch

    data = torch.load(src, weights_only=True)
    edit(data)
    torch.save(data, dst)
    return dst


def test_complete_and_inference_only_checkpoints_load(talker_files):
    from probtalk.models.checkpoint import load_checkpoint

    _, info = load_checkpoint(talker_files["full"])
    assert info.complete
    _, info = load_checkpoint(talker_files["slim"])
    assert not info.complete


def test_missing_weights_are_refused(talker_files, tmp_path):
    from probtalk.errors import CheckpointError
    from probtalk.models.checkpoint import load_checkpoint

    def drop(prefix: str) -> Callable[[dict[str, object]], None]:
        def edit(data: dict[str, object]) -> None:
            state = data["state_dict"]
            for key in [k for k in state if k.startswith(prefix)]:
                del state[key]
        return edit

    cases = {
        # a predictor weight is never optional
        "pred.pt": (talker_files["full"], drop("predictor.out"), "predictor.out"),
        "slim_pred.pt": (talker_files["slim"], drop("predictor.out"), "predictor.out"),
        # the stage-1 encoder may be left out only by an inference-only checkpoint
        "enc.pt": (talker_files["full"], drop("vq.encoder."), "vq.encoder."),
        "dec.pt": (talker_files["slim"], drop("vq.decoder."), "vq.decoder."),
    }
    for name, (src, edit, key) in cases.items():
        with pytest.raises(CheckpointError, match="lacks") as exc:
            load_checkpoint(_edited(src, tmp_path / name, edit))
        msg = str(exc.value)
        assert key in msg and "\n" not in msg and "re-download or retrain" in msg, msg


def test_unexpected_and_misshaped_weights_are_refused(talker_files, tmp_path):
    import torch

    from probtalk.errors import CheckpointError
    from probtalk.models.checkpoint import load_checkpoint

    extra = _edited(talker_files["full"], tmp_path / "extra.pt",
                    lambda d: d["state_dict"].__setitem__("predictor.bonus.weight", torch.zeros(3)))
    with pytest.raises(CheckpointError, match="does not have .*predictor.bonus.weight"):
        load_checkpoint(extra)

    def reshape(data: dict[str, object]) -> None:
        state = data["state_dict"]
        key = next(k for k in state if k.startswith("predictor.") and state[k].ndim == 2)
        state[key] = torch.zeros(state[key].shape[0] + 1, state[key].shape[1])

    with pytest.raises(CheckpointError, match="does not match its configs"):
        load_checkpoint(_edited(talker_files["full"], tmp_path / "shape.pt", reshape))


def test_foreign_or_malicious_checkpoint_is_one_clean_line(tmp_path, recwarn):
    import warnings

    import torch

    from probtalk.errors import CheckpointError
    from probtalk.models.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"format": "probtalk-checkpoint", "x": _System(f"touch {marker}")}, evil)
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    text = tmp_path / "text.pt"
    text.write_text("hello world\n" * 20)
    warnings.simplefilter("always")
    messages = {}
    for path in (evil, foreign, text):
        with pytest.raises(CheckpointError) as exc:
            load_checkpoint(path)
        messages[path.name] = str(exc.value)
    assert not marker.exists()
    assert "posix.system" in messages["evil.pt"] or "nt.system" in messages["evil.pt"]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]  # torch's protocol warning is swallowed
    for msg in messages.values():
        assert "\n" not in msg and msg.endswith("; re-download or retrain it"), msg
        assert "torch.load fr" not in msg and len(msg) < 300, msg
    # a long torch message is shortened at a word boundary, never mid-word
    from probtalk.models.checkpoint import _load_failure

    reason = _load_failure(RuntimeError("unusual " * 40 + "ending"))
    assert set(reason[reason.index(":") + 1 : reason.rindex(")")].split()) == {"unusual", "..."}, reason


def test_cli_checkpoint_error_has_no_warning_or_traceback(tmp_path):
    foreign = tmp_path / "foreign.pt"
    foreign.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    speech = tmp_path / "hello.wav"
    import soundfile

    soundfile.write(speech, (0.2 * np.sin(np.arange(16000) / 8)).astype(np.float32), 16000)
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    result = subprocess.run(
        [sys.executable, "-m", "probtalk.cli.main", "animate", str(speech), "-o", str(tmp_path / "o"), "--model", str(foreign)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Warning" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "foreign.pt" in lines[0]


def _bad_sparse() -> object:
    import scipy.sparse

    mat = scipy.sparse.csc_matrix(np.eye(3))
    mat.indptr = np.array([0, 99, 1, 2], dtype=mat.indptr.dtype)  # points past its data
    return mat


def test_hostile_but_allowed_objects_give_rig_errors(tmp_path):
    """Only allowed classes, arranged to break the loader: still one RigError, never another exception."""
    ch = safe_pickle.ChumpyShim()
    ch.__dict__["x"] = [ch]  # a chumpy object that contains itself
    cases = {
        "cycle.pkl": {"v_template": ch},
        "sparse.pkl": {"J_regressor": _bad_sparse()},
        "strings.pkl": {"v_template": "abc", "f": [[0, 1, 2]], "shapedirs": np.zeros((3, 3, 400)), "posedirs": 1,
                        "J_regressor": None, "weights": {}, "kintree_table": "x"},
    }
    model_keys = {"v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table"}
    for name, value in cases.items():
        path = tmp_path / name
        full = {k: np.zeros((3, 3)) for k in model_keys} | {"shapedirs": np.zeros((3, 3, 400))} | value
        path.write_bytes(pickle.dumps(full, protocol=2).replace(b"probtalk.flame.safe_pickle\nChumpyShim", b"chumpy.ch\nCh"))
        with pytest.raises(RigError):
            load_rig(path)
    masks = tmp_path / "masks.pkl"
    masks.write_bytes(pickle.dumps({"lips": ["a", "b"]}))
    with pytest.raises(RigError, match="lips"):
        load_rig(None, masks=masks)
    masks.write_bytes(pickle.dumps({"lips": np.array([10**9])}))
    with pytest.raises(RigError, match="outside"):
        load_rig(None, masks=masks)
    lmk = tmp_path / "lmk.pkl"
    lmk.write_bytes(pickle.dumps({"lmk_face_idx": np.array([0, 1])}))
    with pytest.raises(RigError, match="lmk_b_coords"):
        load_rig(None, landmarks=lmk)


def test_load_npy_plain_arrays_and_wrong_files(tmp_path):
    plain = tmp_path / "plain.npy"
    np.save(plain, np.arange(4))
    np.testing.assert_array_equal(load_npy(plain), np.arange(4))
    archive = tmp_path / "archive.npy"
    with open(archive, "wb") as fh:
        np.savez(fh, x=np.arange(3))
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.array({"a": np.zeros(50)}, dtype=object), allow_pickle=True)
    truncated.write_bytes(truncated.read_bytes()[:-40])
    for path in (archive, truncated, tmp_path / "missing.npy"):
        with pytest.raises(RigError):
            load_npy(path)
