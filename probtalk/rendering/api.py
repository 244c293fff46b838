"""``probtalk.render``: animations to an MP4 with sound, a still, or a contact sheet; and the rig preview sheet."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from probtalk.animation import Animation
from probtalk.errors import InputError, RigError
from probtalk.flame.layer import FlameLayer
from probtalk.flame.rig import Rig, load_rig
from probtalk.geometry import vertex_normals
from probtalk.io import atomic_path, ensure_writable_dir
from probtalk.layout import AUDIO_SAMPLE_RATE, NUM_EXPRESSION
from probtalk.rendering.backends import BACKEND_CHOICES, Backend, create_backend
from probtalk.rendering.camera import Camera, CameraSetup
from probtalk.rendering.compose import Compositor, caption_for, grid_shape, write_image
from probtalk.rendering.scene import PosedTake, output_frames, posed_batches
from probtalk.rendering.shading import vertex_colours

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEFAULT_SHEET_FRAMES = 8
IMAGE_SAMPLES = 4
AUTO_SAMPLES = -1  # backends read a negative count as "anti-alias when cheap"
MIN_SIZE, MAX_SIZE = 32, 4096
MAX_SAMPLES = 16
#: The longest video rendered: one hour at 240 fps (as for the exporters).
MAX_FRAMES = 240 * 3600
#: Three-quarter view of the rig preview, degrees of yaw.
THREE_QUARTER_YAW = 35.0
#: Expression sheet of the rig preview: caption -> semantic shapes applied together at weight 1.
RIG_SHEET_SHAPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("jawOpen", ("jawOpen",)),
    ("mouthSmile L+R", ("mouthSmileLeft", "mouthSmileRight")),
    ("mouthPucker", ("mouthPucker",)),
    ("mouthFunnel", ("mouthFunnel",)),
    ("eyeBlink L+R", ("eyeBlinkLeft", "eyeBlinkRight")),
    ("browInnerUp", ("browInnerUp",)),
    ("browDown L+R", ("browDownLeft", "browDownRight")),
    ("mouthFrown L+R", ("mouthFrownLeft", "mouthFrownRight")),
    ("cheekPuff", ("cheekPuff",)),
    ("jawOpen+mouthClose", ("jawOpen", "mouthClose")),
    ("jawLeft", ("jawLeft",)),
    ("eyeWide L+R", ("eyeWideLeft", "eyeWideRight")),
    ("noseSneer L+R", ("noseSneerLeft", "noseSneerRight")),
    ("mouthStretch L+R", ("mouthStretchLeft", "mouthStretchRight")),
    ("mouthRollLower", ("mouthRollLower",)),
    ("eyeLookUp L+R", ("eyeLookUpLeft", "eyeLookUpRight")),
)
RIG_SHEET_COLUMNS = 6

ProgressFn = Callable[[int, int], None]


def render(
    animations: Animation | Sequence[Animation],
    rig: Rig | str | os.PathLike[str] | None = None,
    audio: str | os.PathLike[str] | np.ndarray | None = None,
    out: str | os.PathLike[str] = "x.mp4",
    size: int = 512,
    fps: float | None = None,
    backend: str = "auto",
    camera: Camera | None = None,
    layout: str = "grid",
    *,
    frame: int | None = None,
    sheet: bool | int = False,
    captions: Sequence[str] | bool = True,
    samples: int | None = None,
    progress: ProgressFn | None = None,
) -> Path:
    """Render one or several takes side by side to an MP4 with sound, a still, or a contact sheet.

    Args:
        animations: one Animation or several (takes, emotions), drawn as tiles.
        rig: a Rig, a rig file path, or None for the bundled head.
        audio: speech file (or float32 [N] array at 16 kHz) muxed into the MP4,
            trimmed or padded to the video length. Ignored for images.
        out: ``.mp4`` for a video; ``.png``/``.jpg`` with ``frame`` or ``sheet``.
        size: tile size in pixels (square tiles; rounded up to even for H.264).
        fps: video frame rate; default the first animation's. Takes at other
            rates are resampled (linear interpolation of parameters).
        backend: "auto", "moderngl" (CPU/GL, headless) or "pytorch3d" (CUDA).
        camera: camera angles and framing; default a front view of the face.
        layout: "grid", "row" or "column" placement of several takes.
        frame: render only this frame (0-based, at ``fps``) to an image.
        sheet: render a contact sheet image: True for 8 frames per take, or a count.
        captions: True for captions from each animation's meta (emotion,
            intensity, take), False for none, or one string per animation.
        samples: anti-aliasing samples per pixel; default 4 for images and, for
            video, 4 on a GPU but none on a software rasteriser (where it would
            triple the render time).
        progress: called as ``progress(done, total)`` after each video frame.

    Returns:
        The written path (written atomically: a failure leaves nothing behind).

    Raises:
        InputError: bad option or argument (unknown backend/layout, frame out of range, ...).
        AudioError: the audio cannot be read or is unusable.
        RigError: the rig cannot be loaded.
        MissingExtraError, RenderError: no usable render backend here.
    """
    anims = [animations] if isinstance(animations, Animation) else list(animations or [])
    if not anims or not all(isinstance(a, Animation) for a in anims):
        raise InputError("render needs one or more probtalk.Animation objects")
    for i, a in enumerate(anims):
        if a.num_frames < 1:
            raise InputError(f"animation {i} has no frames; nothing to render")
    out = _out_path(out)
    _check_render_args(frame, sheet, captions, samples, camera, progress)
    suffix = out.suffix.lower()
    still = frame is not None or bool(sheet)
    if frame is not None and sheet:
        raise InputError("give either frame=N or sheet, not both")
    if still and suffix not in IMAGE_SUFFIXES:
        raise InputError(f"a still or contact sheet is an image: name the output .png, not {out.name}")
    if not still and suffix not in VIDEO_SUFFIXES:
        hint = "; for an image pass frame=N or sheet=True" if suffix in IMAGE_SUFFIXES else ""
        raise InputError(f"cannot write video to {out.name}: use an .mp4 file name{hint}")
    if str(backend).lower() not in BACKEND_CHOICES:
        raise InputError(f"unknown render backend {backend!r}; choose one of: {', '.join(BACKEND_CHOICES)}")
    tile = _tile_size(size)
    video_fps = _video_fps(anims[0].fps if fps is None else fps, from_animation=fps is None)
    ensure_writable_dir(out.parent if str(out.parent) else ".", create=False)
    num_frames = output_frames(anims, video_fps)
    if num_frames > MAX_FRAMES:
        raise InputError(f"the video would have {num_frames} frames (over {MAX_FRAMES}, one hour at 240 fps); "
                         "render a shorter animation")
    labels = _captions(anims, captions)
    the_rig = _as_rig(rig)
    camera = camera or Camera()

    if frame is not None:
        if not -num_frames <= frame < num_frames:
            raise InputError(f"frame {frame} is out of range; the animation has {num_frames} frames at {video_fps:g} fps")
        frames = [frame % num_frames]
        comp = Compositor(len(anims), tile, tile, layout, labels)
    elif sheet:
        count = DEFAULT_SHEET_FRAMES if sheet is True else int(sheet)
        if not 1 <= count <= 256:
            raise InputError(f"a contact sheet holds 1-256 frames per take, got {count}")
        frames = sorted(set(np.linspace(0, num_frames - 1, min(count, num_frames)).round().astype(int).tolist()))
        grid_shape(1, layout)  # validates the layout name
        sheet_labels = []
        for lab in labels:
            for j, f in enumerate(frames):
                time = f"{f / video_fps:.2f} s"
                sheet_labels.append(f"{lab} · {time}" if lab and j == 0 else time)
        comp = Compositor(len(anims) * len(frames), tile, tile, captions=sheet_labels, shape=(len(anims), len(frames)))
    else:
        frames = None
        comp = Compositor(len(anims), tile, tile, layout, labels)
    audio_arr = _load_audio(audio) if (audio is not None and not still) else None

    if samples is None:
        samples = IMAGE_SAMPLES if still else AUTO_SAMPLES
    be = _backend(the_rig, tile, backend, samples)
    with be:
        layer = FlameLayer(the_rig).to(be.device)
        takes = [PosedTake(layer, a, video_fps, num_frames) for a in anims]
        cams = [camera.setup(the_rig, tile, tile, vertices=t.neutral()) for t in takes]
        faces = layer.faces.to(be.device)
        if still:
            tiles = []
            for _idx, verts, nrms in posed_batches(takes, faces, frames):
                for b in range(verts.shape[0]):
                    tiles.append(be.draw(verts[b], nrms[b], cams))
            # tiles[j] holds all takes at frames[j]; the sheet wants take-major order.
            ordered = np.stack(tiles, axis=1).reshape(-1, tile, tile, 3)
            return write_image(comp.compose(ordered), out)
        return _write_video(be, takes, cams, faces, comp, out, video_fps, num_frames, audio_arr, progress)


def _write_video(
    be: Backend,
    takes: list[PosedTake],
    cams: list[CameraSetup],
    faces: torch.Tensor,
    comp: Compositor,
    out: Path,
    fps: float,
    num_frames: int,
    audio: np.ndarray | None,
    progress: ProgressFn | None,
) -> Path:
    from probtalk.rendering.video import VideoWriter

    buf = np.empty((comp.height, comp.width, 3), np.uint8)
    with atomic_path(out) as tmp:
        with VideoWriter(tmp, comp.width, comp.height, fps, audio=audio, num_frames=num_frames) as writer:
            done = 0
            for _idx, verts, nrms in posed_batches(takes, faces):
                for b in range(verts.shape[0]):
                    writer.write(comp.compose(be.draw(verts[b], nrms[b], cams), buf))
                    done += 1
                    if progress is not None:
                        progress(done, num_frames)
    log.info("rendered %d frames (%dx%d) to %s", num_frames, comp.width, comp.height, out)
    return out


def render_rig_sheet(
    rig: Rig | str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] = "rig_sheet.png",
    size: int = 256,
    backend: str = "auto",
    columns: int = RIG_SHEET_COLUMNS,
) -> Path:
    """Preview a rig: neutral head (front and 3/4 view) and its semantic expressions, captioned, to PNG.

    Each expression tile applies the rig's semantic shapes at weight 1 through
    ``rig.semantic_expression`` / ``semantic_jaw`` / ``semantic_eye`` and the
    FLAME layer, so the sheet shows what an animation can actually drive.
    Shapes the rig lacks are skipped (logged).

    Args:
        rig: a Rig, a rig file path, or None for the bundled head.
        out: the PNG/JPEG path.
        size: tile size in pixels.
        backend: render backend name (see :func:`render`).
        columns: tiles per row.

    Returns:
        The written path.
    """
    out = _out_path(out)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"the rig sheet is an image: name the output .png, not {out.name}")
    if not _is_int(columns) or columns < 1:
        raise InputError(f"columns must be a whole number >= 1, got {columns!r}")
    ensure_writable_dir(out.parent if str(out.parent) else ".", create=False)
    tile = _tile_size(size)
    the_rig = _as_rig(rig)
    labels = ["neutral (front)", "neutral (3/4)"]
    expr = [np.zeros(NUM_EXPRESSION, np.float32)] * 2
    jaw = [np.zeros(3, np.float32)] * 2
    eye = [np.zeros(6, np.float32)] * 2
    if the_rig.has_semantic_shapes and the_rig.semantic_expression is not None:
        for caption, names in RIG_SHEET_SHAPES:
            missing = [n for n in names if n not in the_rig.semantic_names]
            if missing:
                log.info("rig %s lacks %s; skipped in the sheet", the_rig.name, ", ".join(missing))
                continue
            ks = [the_rig.semantic_index(n) for n in names]
            expr.append(the_rig.semantic_expression[ks].sum(axis=0))
            jaw.append(the_rig.semantic_jaw[ks].sum(axis=0) if the_rig.semantic_jaw is not None else np.zeros(3))
            eye.append(the_rig.semantic_eye[ks].sum(axis=0) if the_rig.semantic_eye is not None else np.zeros(6))
            labels.append(caption)
    else:
        log.warning("rig %s has no semantic shapes; the sheet shows the neutral head only", the_rig.name)
    cols = min(columns, len(labels))
    rows = -(-len(labels) // cols)
    comp = Compositor(len(labels), tile, tile, captions=labels, shape=(rows, cols))
    front = Camera()
    three_quarter = Camera(yaw=THREE_QUARTER_YAW)
    with _backend(the_rig, tile, backend) as be:
        layer = FlameLayer(the_rig).to(be.device)
        with torch.no_grad():
            verts = layer(
                expression=torch.from_numpy(np.stack(expr)).float().to(be.device),
                jaw_pose=torch.from_numpy(np.stack(jaw)).float().to(be.device),
                eye_pose=torch.from_numpy(np.stack(eye)).float().to(be.device),
            )
            nrms = vertex_normals(verts, layer.faces.to(be.device))
        cam_front = front.setup(the_rig, tile, tile)
        cams = [cam_front, three_quarter.setup(the_rig, tile, tile)] + [cam_front] * (len(labels) - 2)
        tiles = np.concatenate(
            [be.draw(verts[i : i + 8], nrms[i : i + 8], cams[i : i + 8]) for i in range(0, len(labels), 8)]
        )
    return write_image(comp.compose(tiles), out)


# ------------------------------------------------------------------ helpers
def _out_path(out: str | os.PathLike[str]) -> Path:
    if not isinstance(out, (str, os.PathLike)) or isinstance(out, bytes):
        raise InputError(f"out must be a file path (str or Path), got {type(out).__name__}")
    if not str(out).strip():
        raise InputError("the output path is empty; name the file, e.g. out='take.mp4'")
    return Path(out)


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def _check_render_args(
    frame: object, sheet: object, captions: object, samples: object, camera: object, progress: object
) -> None:
    """Type checks of :func:`render`'s keyword arguments (ranges are checked where they are used)."""
    if frame is not None and not _is_int(frame):
        raise InputError(f"frame must be a whole frame number (int), got {type(frame).__name__} {frame!r}")
    if not (isinstance(sheet, bool) or _is_int(sheet)):
        raise InputError(f"sheet must be True/False or a number of frames, got {type(sheet).__name__} {sheet!r}")
    if not isinstance(captions, bool) and (
        isinstance(captions, str | bytes) or not isinstance(captions, Sequence)
    ):
        raise InputError(f"captions must be True, False or one string per animation, got {type(captions).__name__}")
    if samples is not None and (not _is_int(samples) or not (samples == AUTO_SAMPLES or 0 <= samples <= MAX_SAMPLES)):
        raise InputError(f"samples must be a whole number from 0 to {MAX_SAMPLES}, got {samples!r}")
    if camera is not None and not isinstance(camera, Camera):
        raise InputError(f"camera must be a probtalk.rendering.Camera, got {type(camera).__name__}")
    if progress is not None and not callable(progress):
        raise InputError(f"progress must be a function progress(done, total), got {type(progress).__name__}")


def _video_fps(value: object, from_animation: bool) -> float:
    where = "the animation's fps" if from_animation else "fps"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{where} must be a number of frames per second, got {type(value).__name__} {value!r}")
    fps = float(value)
    if not np.isfinite(fps) or not 1.0 <= fps <= 240.0:
        hint = "; pass fps= to render it at another rate" if from_animation else ""
        raise InputError(f"{where} {fps:g} is out of range; give 1-240{hint}")
    return fps


def _tile_size(size: int) -> int:
    if isinstance(size, bool) or (isinstance(size, float | np.floating) and not float(size).is_integer()):
        raise InputError(f"size must be a whole number of pixels, got {size!r}")
    try:
        size = int(size)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"size must be an integer number of pixels, got {size!r}") from None
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"size {size} is out of range; give {MIN_SIZE}-{MAX_SIZE} pixels")
    return size + (size % 2)  # H.264 with 4:2:0 chroma needs even sizes


def _as_rig(rig: Rig | str | os.PathLike[str] | None) -> Rig:
    if isinstance(rig, Rig):
        return rig
    try:
        return load_rig(rig)
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise RigError(f"the rig cannot be loaded ({exc}); pass rig=PATH to a FLAME .pkl or probtalk .npz") from None


def _backend(rig: Rig, tile: int, name: str, samples: int = IMAGE_SAMPLES) -> Backend:
    return create_backend(name, rig.faces, vertex_colours(rig), tile, tile, samples)


def _load_audio(audio: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    from probtalk.audio import load_audio

    if isinstance(audio, np.ndarray):
        return load_audio(audio, sample_rate=AUDIO_SAMPLE_RATE)
    return load_audio(audio)


def _captions(anims: list[Animation], captions: Sequence[str] | bool) -> list[str | None]:
    if captions is False:
        return [None] * len(anims)
    if captions is True:
        return [caption_for(a.meta, i) for i, a in enumerate(anims)]
    labels = [str(c) for c in captions]
    if len(labels) != len(anims):
        raise InputError(f"got {len(labels)} captions for {len(anims)} animations; give one each")
    return labels
