"""Rendering: MP4 streams, grids, stills, contact sheets, rig sheets and one-line errors.

Runs on a tiny test head (an icosphere rig with a skinned jaw) so it does not
depend on the bundled rig; sizes are 64-128 px so each render takes well under
a second on llvmpipe.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from probtalk import Animation
from probtalk.animation import resample_motion
from probtalk.errors import InputError, MissingExtraError
from probtalk.flame.rig import Rig
from probtalk.geometry import vertex_normals
from probtalk.layout import KINTREE_TABLE
from probtalk.rendering.camera import Camera
from probtalk.rendering.compose import caption_for
from probtalk.rendering.shading import background_uint8

av = pytest.importorskip("av", reason="PyAV (render extra) is not installed")
pytest.importorskip("moderngl", reason="moderngl (render extra) is not installed")

FPS = 25.0
SIZE = 96


def _make_rig() -> Rig:
    import trimesh

    ico = trimesh.creation.icosphere(subdivisions=3, radius=0.1)
    v = np.asarray(ico.vertices, np.float32) * np.array([0.85, 1.2, 1.0], np.float32)
    n = len(v)
    rng = np.random.default_rng(0)
    # Lower front half follows the jaw joint; the rest the root.
    w_jaw = np.clip((-0.01 - v[:, 1]) / 0.03, 0, 1) * (v[:, 2] > -0.03)
    weights = np.zeros((n, 5), np.float32)
    weights[:, 2], weights[:, 0] = w_jaw, 1 - w_jaw
    lips = np.where(np.linalg.norm(v - np.array([0, -0.01, 0.1]), axis=1) < 0.035)[0]
    names = ("jawOpen", "mouthSmileLeft", "mouthSmileRight")
    sem_expr = np.zeros((3, 100), np.float32)
    sem_expr[1:, :10] = rng.normal(0, 1, (2, 10))
    sem_jaw = np.zeros((3, 3), np.float32)
    sem_jaw[0, 0] = 0.35
    return Rig(
        name="test-sphere", v_template=v, faces=np.asarray(ico.faces),
        shapedirs=rng.normal(0, 1e-3, (n, 3, 10)), exprdirs=rng.normal(0, 2e-3, (n, 3, 10)),
        posedirs=np.zeros((n, 3, 36)), j_regressor=np.full((5, n), 1.0 / n),
        weights=weights, kintree_table=np.array(KINTREE_TABLE),
        regions={"face": np.where(v[:, 2] > 0)[0], "lips": lips},
        keypoints={"nose_tip": int(np.argmax(v[:, 2]))},
        semantic_names=names, semantic_offsets=np.zeros((3, n, 3)), semantic_expression=sem_expr,
        semantic_jaw=sem_jaw, semantic_eye=np.zeros((3, 6)),
    )


@pytest.fixture(scope="module")
def rig() -> Rig:
    return _make_rig()


@pytest.fixture(scope="module")
def files(tmp_path_factory, rig):
    """A saved rig, a 2-second speech-like wav and two 2-second takes on disk."""
    root = tmp_path_factory.mktemp("render_inputs")
    rig_path = rig.save(root / "rig.npz")
    sr = 16000
    t = np.arange(2 * sr) / sr
    speech = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    sf.write(root / "speech.wav", speech, sr)
    takes = [_take(2.0, k) for k in range(2)]
    paths = [a.save(root / f"take{k}.npz") for k, a in enumerate(takes)]
    return {"root": root, "rig": rig_path, "wav": root / "speech.wav", "takes": paths}


def _take(seconds: float, k: int = 0, jaw: float | None = None) -> Animation:
    n = int(round(seconds * FPS))
    jaw_pose = np.zeros((n, 3), np.float32)
    if jaw is None:
        jaw_pose[:, 0] = 0.3 * (0.5 - 0.5 * np.cos(np.linspace(0, 6 * np.pi, n) + k))
    else:
        jaw_pose[:, 0] = jaw
    return Animation(fps=FPS, expression=np.zeros((n, 10)), jaw_pose=jaw_pose,
                     meta={"emotion": {"happy": 1.0}, "intensity": 0.5, "take": k})


def _streams(path):
    """(video frames, width, height, video seconds, audio seconds) read back with PyAV.

    Audio seconds are the stream's duration (what players show); the decoded
    samples must cover it, with at most one AAC frame (1024 samples) of
    encoder padding after it.
    """
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        w, h = v.codec_context.width, v.codec_context.height
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        seconds = float(a.duration * a.time_base)
        rate = a.codec_context.sample_rate
        samples = sum(f.samples for f in c.decode(audio=0))
    assert 0 <= samples - round(seconds * rate) < 1024, (samples, seconds, rate)
    return frames, w, h, frames / FPS, seconds


def _audio(path):
    """Decoded mono audio [N] and its sample rate."""
    with av.open(str(path)) as c:
        rate = c.streams.audio[0].codec_context.sample_rate
        return np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)]), rate


def _leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --------------------------------------------------------------------- video
def test_video_has_right_streams(rig, files, tmp_path):
    from probtalk.rendering import render

    out = render(Animation.load(files["takes"][0]), rig=rig, audio=files["wav"], out=tmp_path / "a.mp4", size=SIZE)
    frames, w, h, v_sec, a_sec = _streams(out)
    assert abs(frames - 50) <= 1
    assert (w, h) == (SIZE, SIZE)
    assert abs(a_sec - 2.0) <= 1.0 / FPS
    assert _leftovers(tmp_path, {"a.mp4"}) == []


def test_audio_is_trimmed_and_padded_to_video(rig, files, tmp_path):
    from probtalk.rendering import render

    short = render(_take(1.0), rig=rig, audio=files["wav"], out=tmp_path / "s.mp4", size=64)
    long = render(_take(3.0), rig=rig, audio=files["wav"], out=tmp_path / "l.mp4", size=64)
    for path, seconds in ((short, 1.0), (long, 3.0)):
        frames, _, _, v_sec, a_sec = _streams(path)
        assert abs(frames - seconds * FPS) <= 1
        assert abs(a_sec - seconds) <= 1.0 / FPS
    # The speech is there, and the padding after its 2 s is silence.
    pcm, rate = _audio(long)
    assert np.sqrt(np.mean(pcm[: rate] ** 2)) > 0.05
    assert np.sqrt(np.mean(pcm[int(2.2 * rate) : int(2.9 * rate)] ** 2)) < 0.005
    # At another frame rate the take is resampled: same duration, twice the frames.
    fast = render(_take(1.0), rig=rig, audio=files["wav"], out=tmp_path / "f.mp4", size=64, fps=2 * FPS)
    with av.open(str(fast)) as c:
        assert abs(sum(1 for _ in c.decode(video=0)) - 2 * FPS) <= 1
        assert abs(float(c.streams.video[0].average_rate) - 2 * FPS) < 1e-6


def test_two_takes_in_a_grid_are_wider(rig, tmp_path):
    from probtalk.rendering import render

    out = render([_take(0.2, 0), _take(0.2, 1)], rig=rig, out=tmp_path / "g.mp4", size=64)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (128, 64)
        assert len(c.streams.audio) == 0
    col = render([_take(0.2, 0), _take(0.2, 1)], rig=rig, out=tmp_path / "c.mp4", size=64, layout="column")
    with av.open(str(col)) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (64, 128)


def test_failure_mid_render_leaves_no_file(rig, files, tmp_path):
    from probtalk.rendering import render

    def boom(done, total):
        if done == 3:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        render(_take(1.0), rig=rig, audio=files["wav"], out=tmp_path / "x.mp4", size=64, progress=boom)
    assert _leftovers(tmp_path, set()) == []


# -------------------------------------------------------------------- stills
def _foreground(img):
    return np.any(np.abs(img.astype(int) - background_uint8().astype(int)) > 6, axis=-1)


def test_still_is_not_blank_and_jaw_opens_the_mouth(rig, tmp_path):
    from PIL import Image

    from probtalk.rendering import render

    anim = Animation(fps=FPS, expression=np.zeros((2, 10)), jaw_pose=[[0, 0, 0], rig.semantic_jaw[0]])
    closed = np.asarray(Image.open(render(anim, rig=rig, out=tmp_path / "c.png", size=128, frame=0, captions=False)))
    opened = np.asarray(Image.open(render(anim, rig=rig, out=tmp_path / "o.png", size=128, frame=1, captions=False)))
    assert closed.shape == (128, 128, 3)
    fg = _foreground(closed).mean()
    assert 0.15 < fg < 0.95, fg
    # Mouth box: where the lips project with the default camera; the forehead box as control.
    cam = Camera().setup(rig, 128, 128)
    lips = cam.project(rig.v_template[rig.regions["lips"]], 128, 128)
    (c0, r0), (c1, r1) = lips.min(axis=0).astype(int), lips.max(axis=0).astype(int) + 1
    diff = np.abs(opened.astype(int) - closed.astype(int)).mean(axis=-1)
    mouth = diff[r0:r1, c0:c1].mean()
    forehead = diff[: max(1, r0 - 30), c0:c1].mean()
    assert mouth > 3.0, mouth
    assert mouth > 4 * forehead, (mouth, forehead)


def test_contact_sheet_and_grid_still(rig, tmp_path):
    from PIL import Image

    from probtalk.rendering import render

    takes = [_take(1.0, 0), _take(1.0, 1)]
    sheet = Image.open(render(takes, rig=rig, out=tmp_path / "s.png", size=48, sheet=5))
    assert sheet.size == (5 * 48, 2 * 48)
    still = Image.open(render(takes, rig=rig, out=tmp_path / "f.png", size=48, frame=-1))
    assert still.size == (2 * 48, 48)
    tiles = np.asarray(sheet).reshape(2, 48, 5, 48, 3)
    assert np.abs(tiles[0, :, 0].astype(int) - tiles[0, :, 2].astype(int)).max() > 0  # frames differ


def test_rig_sheet_via_cli(files, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    out = tmp_path / "rig.png"
    result = CliRunner().invoke(app, ["render", "--rig-sheet", str(out), "--rig", str(files["rig"]), "--size", "48"])
    assert result.exit_code == 0, result.output
    img = np.asarray(Image.open(out))
    # neutral front, neutral 3/4, jawOpen, smile L+R (the test rig's shapes) in one row.
    assert img.shape == (48, 4 * 48, 3)
    tiles = img.reshape(48, 4, 48, 3).transpose(1, 0, 2, 3)
    assert all(0.1 < _foreground(t[16:]).mean() < 0.95 for t in tiles)
    assert np.abs(tiles[0].astype(int) - tiles[2].astype(int)).max() > 20  # jawOpen differs from neutral


def test_cli_renders_video_with_audio(files, tmp_path):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    out = tmp_path / "v.mp4"
    args = ["render", *map(str, files["takes"]), "--audio", str(files["wav"]), "-o", str(out),
            "--rig", str(files["rig"]), "--size", "64", "--backend", "moderngl"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frames, w, h, _, a_sec = _streams(out)
    assert (w, h) == (128, 64) and abs(frames - 50) <= 1 and abs(a_sec - 2.0) <= 1 / FPS


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "case, expect",
    [
        ("missing_audio", "not found"),
        ("unknown_backend", "unknown render backend"),
        ("bad_animation", "corrupt"),
        ("png_without_frame", ".mp4"),
    ],
)
def test_cli_errors_are_one_line(files, tmp_path, case, expect):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    take = str(files["takes"][0])
    out = tmp_path / "out.mp4"
    args = ["render", take, "--rig", str(files["rig"]), "--size", "64", "-o", str(out)]
    if case == "missing_audio":
        args += ["--audio", str(tmp_path / "nope.wav")]
    elif case == "unknown_backend":
        args += ["--backend", "vulkan"]
    elif case == "bad_animation":
        bad = tmp_path / "bad.npz"
        bad.write_bytes(b"PK\x03\x04 not really a zip")
        args[1] = str(bad)
    elif case == "png_without_frame":
        args[-1] = str(tmp_path / "out.png")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert "Traceback" not in text and len(text.splitlines()) == 1, text
    assert text.startswith("error:") and expect in text, text
    assert _leftovers(tmp_path, {"bad.npz"}) == []


def test_pytorch3d_backend_without_pytorch3d_is_explained(rig, tmp_path):
    import importlib.util

    import torch

    from probtalk.rendering import RenderError, render

    if importlib.util.find_spec("pytorch3d") is not None and torch.cuda.is_available():
        pytest.skip("pytorch3d and CUDA are available here; the message is for machines without them")
    with pytest.raises((MissingExtraError, RenderError)) as err:
        render(_take(0.2), rig=rig, out=tmp_path / "p.mp4", size=64, backend="pytorch3d")
    msg = str(err.value)
    assert "pytorch3d" in msg and ("render-gpu" in msg or "CUDA" in msg), msg
    assert _leftovers(tmp_path, set()) == []


def test_unknown_backend_and_layout_raise_input_error(rig, tmp_path):
    from probtalk.rendering import render

    with pytest.raises(InputError, match="unknown render backend"):
        render(_take(0.2), rig=rig, out=tmp_path / "a.mp4", backend="directx")
    with pytest.raises(InputError, match="unknown layout"):
        render([_take(0.2)] * 2, rig=rig, out=tmp_path / "a.mp4", size=64, layout="diagonal")
    with pytest.raises(InputError, match="out of range"):
        render(_take(0.2), rig=rig, out=tmp_path / "a.png", size=64, frame=99)


# ------------------------------------------------------------------- helpers
def test_vertex_normals_of_a_sphere_point_outwards():
    import torch
    import trimesh

    ico = trimesh.creation.icosphere(subdivisions=2)
    v = torch.tensor(np.asarray(ico.vertices), dtype=torch.float32)[None]
    n = vertex_normals(v, torch.tensor(np.asarray(ico.faces), dtype=torch.int64))
    assert torch.allclose(n.norm(dim=-1), torch.ones(1, v.shape[1]), atol=1e-5)
    assert (n * torch.nn.functional.normalize(v, dim=-1)).sum(-1).min() > 0.98


def test_resample_and_captions():
    x = np.arange(10, dtype=np.float32)[:, None]
    np.testing.assert_allclose(resample_motion(x, 25.0, 50.0, 20)[:, 0], np.minimum(np.arange(20) / 2, 9))
    np.testing.assert_allclose(resample_motion(x, 25.0, 25.0, 12)[:, 0], [*range(10), 9, 9])
    assert caption_for({"emotion": {"happy": 0.7, "sad": 0.3}, "intensity": 1, "take": 2}, 0) == (
        "happy 70% + sad 30% · int 1 · take 2"
    )
    assert caption_for({}, 3) == "take 3"


def test_posed_take_matches_flame_layer(rig):
    """The renderer's fast posing equals FlameLayer (identity, neck, eyes, expression; resampled too)."""
    import torch

    from probtalk.flame import FlameLayer
    from probtalk.rendering.scene import PosedTake

    rng = np.random.default_rng(3)
    n = 6
    anim = Animation(
        fps=FPS, expression=rng.normal(0, 1, (n, 7)), jaw_pose=rng.normal(0, 0.1, (n, 3)),
        neck_pose=rng.normal(0, 0.1, (n, 3)), eye_pose=rng.normal(0, 0.1, (n, 6)), shape=rng.normal(0, 1, 10),
    )
    layer = FlameLayer(rig)
    with torch.no_grad():
        want = layer.from_animation(anim, with_shape=True)
    got = PosedTake(layer, anim, FPS, n).pose(0, n)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    # At twice the rate, even frames are the original frames.
    doubled = PosedTake(layer, anim, 2 * FPS, 2 * n).pose(0, 2 * n)
    torch.testing.assert_close(doubled[::2], want, atol=1e-6, rtol=1e-5)


def test_torch_shading_matches_the_gl_shader(tmp_path):
    """pytorch3d's torch shading and the GL shader agree on a flat quad (front and back side)."""
    import torch

    from probtalk.rendering.backends import create_backend
    from probtalk.rendering.shading import light_uniforms, shade_torch, srgb_to_linear

    quad = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], np.float32)
    colours = np.tile(srgb_to_linear((0.8, 0.6, 0.5)), (4, 1))
    verts = torch.from_numpy(quad)[None]
    normals = torch.tensor([[0.0, 0.0, 1.0]]).expand(1, 4, 3)
    for faces, front in (([[0, 1, 2], [0, 2, 3]], True), ([[0, 2, 1], [0, 3, 2]], False)):
        quad_rig = Rig(
            name="quad", v_template=quad, faces=faces, shapedirs=np.zeros((4, 3, 1)),
            exprdirs=np.zeros((4, 3, 1)), posedirs=np.zeros((4, 3, 36)), j_regressor=np.full((5, 4), 0.25),
            weights=np.tile([1.0, 0, 0, 0, 0], (4, 1)), kintree_table=np.array(KINTREE_TABLE),
        )
        cam = Camera(pitch=0.0, margin=3.0).setup(quad_rig, 32, 32)
        with create_backend("moderngl", np.asarray(faces), colours, 32, 32, samples=0) as be:
            gl = be.draw(verts, normals, [cam])[0, 15:17, 15:17].reshape(-1, 3).mean(axis=0)
        dirs, cols = light_uniforms(cam.rotation)
        ref = shade_torch(
            torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]), torch.from_numpy(colours[0]), torch.tensor(front),
            torch.from_numpy(cam.eye), torch.from_numpy(dirs), torch.from_numpy(cols),
        ).numpy() * 255
        np.testing.assert_allclose(gl, ref, atol=2.5, err_msg=f"front={front}")


def test_bundled_rig_sheet(tmp_path):
    """The rig preview of the bundled head: every tile shows a head, expressions change it."""
    from PIL import Image

    from probtalk.flame import bundled_rig_path
    from probtalk.rendering import render_rig_sheet
    from probtalk.rendering.api import RIG_SHEET_COLUMNS, RIG_SHEET_SHAPES

    if not bundled_rig_path().is_file():
        pytest.fail("the bundled rig flame_assets/probtalk_head.npz is missing; rebuild it")
    img = np.asarray(Image.open(render_rig_sheet(None, tmp_path / "rig.png", size=48)))
    count = 2 + len(RIG_SHEET_SHAPES)  # the bundled rig has every shape the sheet asks for
    rows = -(-count // RIG_SHEET_COLUMNS)
    assert img.shape == (rows * 48, RIG_SHEET_COLUMNS * 48, 3)
    tiles = img.reshape(rows, 48, RIG_SHEET_COLUMNS, 48, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 48, 48, 3)[:count]
    assert all(0.2 < _foreground(t[16:]).mean() < 0.98 for t in tiles)
    changed = [np.abs(t.astype(int) - tiles[0].astype(int)).max() > 30 for t in tiles[2:]]
    assert sum(changed) >= len(changed) - 2, changed  # subtle shapes may not show at 48 px


def test_probtalk_render_is_callable_after_the_package_is_imported(rig, tmp_path):
    import probtalk
    import probtalk.rendering.api  # noqa: F401  (importing the package leaves probtalk.render the function)

    out = probtalk.render(_take(0.2), rig=rig, out=tmp_path / "r.png", size=32, frame=0)
    assert out.is_file()


def test_missing_egl_is_one_clear_line(files, tmp_path, monkeypatch):
    import moderngl
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    def no_egl(*args, **kwargs):
        raise Exception("eglGetDisplay failed")  # what moderngl/glcontext raise without libEGL

    monkeypatch.setattr(moderngl, "create_context", no_egl)
    out = tmp_path / "v.mp4"
    result = CliRunner().invoke(app, ["render", str(files["takes"][0]), "--rig", str(files["rig"]), "-o", str(out)])
    assert result.exit_code == 2, result.output
    text = result.output.strip()
    assert len(text.splitlines()) == 1 and "libegl1" in text and "EGL" in text, text
    assert _leftovers(tmp_path, set()) == []


def test_rig_without_semantic_shapes_or_face_region(rig, tmp_path):
    """A bare FLAME-like rig (no semantic shapes, no regions) still previews and frames the whole mesh."""
    from dataclasses import replace

    from PIL import Image

    from probtalk.rendering import render_rig_sheet

    bare = replace(rig, regions={}, keypoints={}, semantic_names=(), semantic_offsets=None,
                   semantic_expression=None, semantic_jaw=None, semantic_eye=None)
    img = np.asarray(Image.open(render_rig_sheet(bare, tmp_path / "bare.png", size=48)))
    assert img.shape == (48, 2 * 48, 3)  # neutral front + 3/4 only
    cam = Camera(pitch=0.0).setup(bare, 48, 48)
    px = cam.project(bare.v_template, 48, 48)
    assert px.min() >= 0 and px.max() <= 48  # every vertex inside the frame
    assert px[:, 1].max() - px[:, 1].min() > 0.6 * 48  # and the head fills it
