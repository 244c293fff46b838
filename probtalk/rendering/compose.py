"""Tiles into frames: layouts (grid, row, column), captions from animation meta, PNG writing."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from probtalk.errors import InputError, MissingExtraError
from probtalk.io import atomic_path
from probtalk.rendering.shading import background_uint8

LAYOUTS = ("grid", "row", "column")
CAPTION_ALPHA = 0.6


def grid_shape(count: int, layout: str) -> tuple[int, int]:
    """(rows, columns) for ``count`` tiles in a layout ("grid" is as square as possible, wider than tall)."""
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    if layout == "row":
        return 1, count
    if layout == "column":
        return count, 1
    cols = math.ceil(math.sqrt(count))
    return math.ceil(count / cols), cols


def caption_for(meta: Mapping[str, Any], index: int) -> str:
    """A short caption from an animation's meta: emotion (mix), intensity, take.

    Example:
        >>> caption_for({"emotion": {"happy": 1.0}, "intensity": 0.5, "take": 2}, 0)
        'happy · int 0.5 · take 2'
    """
    parts = []
    emotion = meta.get("emotion", meta.get("emotion_mix"))
    if isinstance(emotion, Mapping) and emotion:
        weights = ((w, k) for k, w in emotion.items() if isinstance(w, int | float) and not isinstance(w, bool))
        mix = sorted(((float(w), str(k)) for w, k in weights if math.isfinite(w) and w > 0), reverse=True)
        if len(mix) == 1 or (mix and mix[0][0] >= 0.999):
            parts.append(mix[0][1])
        else:
            parts.append(" + ".join(f"{k} {w:.0%}" for w, k in mix[:2]))
    elif isinstance(emotion, str) and emotion:
        parts.append(emotion)
    intensity = meta.get("intensity")
    if isinstance(intensity, int | float) and not isinstance(intensity, bool):
        parts.append(f"int {float(intensity):.2g}")
    elif isinstance(intensity, str) and intensity:
        parts.append(intensity)
    take = meta.get("take", meta.get("take_index"))
    if take is not None:
        parts.append(f"take {str(take)[:20]}")
    return " · ".join(parts) if parts else f"take {index}"


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def caption_overlay(text: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Render a caption band (dark translucent box, light text) for a tile.

    Args:
        text: the caption.
        width: tile width in pixels.
        height: tile height in pixels (sets the font size).

    Returns:
        (rgb float32 [h, width, 3] premultiplied by alpha, alpha float32 [h, width, 1]).
    """
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise MissingExtraError("captions", "render") from None
    size = max(9, min(height, width) // 24)
    font = _font(size)
    pad = max(2, size // 3)
    band_h = size + 2 * pad
    img = Image.new("RGBA", (width, band_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    text_w = draw.textlength(text, font=font)
    while text_w > width - 2 * pad and len(text) > 4:
        text = text[:-2].rstrip() + "…"
        text_w = draw.textlength(text, font=font)
    draw.rectangle([0, 0, min(width, int(text_w) + 2 * pad), band_h], fill=(0, 0, 0, int(255 * CAPTION_ALPHA)))
    draw.text((pad, pad), text, font=font, fill=(240, 240, 240, 255))
    arr = np.asarray(img, np.float32) / 255.0
    alpha = arr[:, :, 3:4]
    return arr[:, :, :3] * alpha * 255.0, alpha


class Compositor:
    """Place N tiles of one size on a grid and draw their captions.

    Attributes:
        rows: grid rows.
        cols: grid columns.
        width: frame width in pixels (cols * tile width).
        height: frame height in pixels (rows * tile height).
    """

    def __init__(
        self,
        count: int,
        tile_width: int,
        tile_height: int,
        layout: str = "grid",
        captions: Sequence[str | None] | None = None,
        shape: tuple[int, int] | None = None,
    ) -> None:
        self.count = count
        self.tw, self.th = tile_width, tile_height
        self.rows, self.cols = shape if shape is not None else grid_shape(count, layout)
        if self.rows * self.cols < count:
            raise ValueError(f"a {self.rows}x{self.cols} grid cannot hold {count} tiles")
        self.width, self.height = self.cols * tile_width, self.rows * tile_height
        self._bg = background_uint8()
        self._captions = [
            caption_overlay(c, tile_width, tile_height) if c else None for c in (captions or [None] * count)
        ]

    def origin(self, i: int) -> tuple[int, int]:
        """(top, left) pixel of tile ``i``."""
        return (i // self.cols) * self.th, (i % self.cols) * self.tw

    def compose(self, tiles: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Assemble tiles into one frame.

        Args:
            tiles: uint8 [N, H, W, 3].
            out: optional uint8 [height, width, 3] buffer to fill (reused between frames).

        Returns:
            uint8 [height, width, 3].
        """
        if out is None:
            out = np.empty((self.height, self.width, 3), np.uint8)
        if self.rows * self.cols > len(tiles):
            out[:] = self._bg
        for i, tile in enumerate(tiles):
            top, left = self.origin(i)
            out[top : top + self.th, left : left + self.tw] = tile
            cap = self._captions[i] if i < len(self._captions) else None
            if cap is not None:
                rgb, alpha = cap
                region = out[top : top + rgb.shape[0], left : left + self.tw]
                region[:] = (region * (1.0 - alpha) + rgb).astype(np.uint8)
        return out


def write_image(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write uint8 [H, W, 3] to a PNG/JPEG file atomically and return the path."""
    try:
        from PIL import Image
    except ImportError:
        raise MissingExtraError("writing images", "render") from None
    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"cannot write an image to {path.name}; use a .png or .jpg file name")
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(image)).save(tmp, format=fmt)
    return path
