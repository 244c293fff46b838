"""The life stage's figures in docs/images: two takes side by side (MP4 with sound) and a plot of blinks,
head and eye angles against the loudness envelope (PNG, drawn with Pillow).

    .venv/bin/python scripts/life_figures.py                       # the embedded model
    .venv/bin/python scripts/life_figures.py --head runs/head/head.npz --audio speech.wav

Writes docs/images/living_face_takes.mp4 and docs/images/living_face_plot.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from probtalk.animation import Animation
from probtalk.audio import load_audio
from probtalk.life import HeadNet, blink_vector
from probtalk.runtime.backend import DEFAULT_ONNX_DIR
from probtalk.runtime.loading import load_fast_model

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
COLOURS = {"pitch": (200, 60, 60), "yaw": (40, 110, 200), "roll": (60, 160, 80)}


def speech(path: str | None, seconds: float) -> np.ndarray:
    """The clip: ``path``, or the bundled sentence twice with a pause between."""
    if path:
        return load_audio(path)[: int(seconds * 16000)]
    hello = load_audio(DEFAULT_ONNX_DIR.parent / "hello.wav")
    return np.concatenate([hello, np.zeros(12000, np.float32), hello])[: int(seconds * 16000)]


def plot(anims: list[Animation], wav: np.ndarray, out: Path, width: int = 1400, panel: int = 170) -> Path:
    """Loudness + blinks, head angles and eye angles of each take over time, one colour per axis."""
    fps = anims[0].fps
    frames = anims[0].num_frames
    pad = np.pad(wav, (0, max(0, frames * 640 - wav.size)))[: frames * 640]
    loud = np.sqrt(np.mean(pad.reshape(frames, 640) ** 2, axis=1))
    left, top, gap = 70, 30, 34
    panels = 1 + 2 * len(anims)
    img = Image.new("RGB", (width, top + panels * (panel + gap) + 20), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    plot_w = width - left - 20
    xs = left + np.arange(frames) * plot_w / max(frames - 1, 1)

    def frame_of(y0: int, title: str, lo: float, hi: float, unit: str) -> callable:
        draw.rectangle([left, y0, left + plot_w, y0 + panel], outline=(120, 120, 120))
        draw.text((left, y0 - 14), title, fill="black", font=font)
        for v in (lo, 0.0, hi) if lo < 0 < hi else (lo, hi):
            y = y0 + panel - (v - lo) / (hi - lo) * panel
            draw.line([left - 4, y, left, y], fill="black")
            draw.text((4, y - 6), f"{v:g}{unit}", fill="black", font=font)
        for s in range(int(frames / fps) + 1):
            x = left + s * fps * plot_w / max(frames - 1, 1)
            draw.line([x, y0 + panel, x, y0 + panel + 4], fill="black")
            draw.text((x - 3, y0 + panel + 5), str(s), fill="black", font=font)
        return lambda v: y0 + panel - (np.clip(v, lo, hi) - lo) / (hi - lo) * panel

    y0 = top
    to_y = frame_of(y0, "loudness (RMS) and blinks (red: take 0, orange: take 1)", 0.0, float(loud.max()) * 1.05, "")
    draw.line(list(zip(xs, to_y(loud), strict=True)), fill=(90, 90, 90), width=1)
    v = blink_vector()
    for k, anim in enumerate(anims[:2]):
        c = anim.expression @ v[: anim.expression.shape[1]] / (v @ v)
        colour = (220, 30, 30) if k == 0 else (240, 150, 20)
        band = y0 + 4 + k * 12
        for i in np.flatnonzero(c > 0.5):
            draw.rectangle([xs[i] - 1, band, xs[i] + 1, band + 9], fill=colour)
    for k, anim in enumerate(anims):
        y0 += panel + gap
        deg = np.degrees(anim.neck_pose)
        lim = max(4.0, float(np.ceil(np.abs(deg).max())))
        to_y = frame_of(y0, f"take {k}: head (neck) angles, degrees - pitch red, yaw blue, roll green", -lim, lim, "")
        for axis, name in enumerate(("pitch", "yaw", "roll")):
            draw.line(list(zip(xs, to_y(deg[:, axis]), strict=True)), fill=COLOURS[name], width=2)
        y0 += panel + gap
        eyes = np.degrees(anim.eye_pose[:, :2])
        lim = max(4.0, float(np.ceil(np.abs(eyes).max())))
        to_y = frame_of(y0, f"take {k}: eye angles, degrees - pitch red (+ down), yaw blue (+ left)", -lim, lim, "")
        for axis, name in enumerate(("pitch", "yaw")):
            draw.line(list(zip(xs, to_y(eyes[:, axis]), strict=True)), fill=COLOURS[name], width=2)
    draw.text((left + plot_w // 2 - 20, img.height - 14), "time (s)", fill="black", font=font)
    img.save(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--head", default=None, help="head net .npz to use instead of the model's own")
    parser.add_argument("--audio", default=None, help="speech file (default: the bundled sentence twice)")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    from probtalk.rendering import render

    model = load_fast_model(args.model)
    if args.head:
        model.head_net = HeadNet.load(args.head)
    wav = speech(args.audio, args.seconds)
    takes = model.animate(wav, 16000, seed=args.seed, num_samples=2, emotion="happy")
    IMAGES.mkdir(parents=True, exist_ok=True)
    print(plot(takes, wav, IMAGES / "living_face_plot.png"))
    print(render(takes, audio=wav, out=IMAGES / "living_face_takes.mp4", size=384, layout="row"))


if __name__ == "__main__":
    main()
