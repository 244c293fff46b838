"""``probtalk render``: animations to an MP4 with sound, a still or a contact sheet; ``--rig-sheet`` previews a rig."""

from __future__ import annotations

from pathlib import Path

import typer

from probtalk.cli.app import app, progress_bar, run_cli

VIDEO_SIZE = 512
RIG_SHEET_SIZE = 256


@app.command()
@run_cli
def render(
    animations: list[Path] = typer.Argument(None, help="Animation .npz files; several render side by side."),
    audio: Path = typer.Option(None, "--audio", "-a", help="Speech to put under the video (trimmed/padded)."),
    out: str = typer.Option(None, "--out", "-o", help="Output .mp4 (or .png with --frame/--sheet)."),
    rig: str = typer.Option(None, "--rig", help="A FLAME .pkl or probtalk .npz rig (default: bundled head)."),
    size: int = typer.Option(None, "--size", help="Tile size in pixels (default 512; 256 for --rig-sheet)."),
    fps: float = typer.Option(None, "--fps", help="Video frame rate (default: the animation's)."),
    backend: str = typer.Option("auto", "--backend", help="auto, moderngl (CPU/GL) or pytorch3d (CUDA)."),
    layout: str = typer.Option("grid", "--layout", help="How takes are placed: grid, row or column."),
    frame: int = typer.Option(None, "--frame", help="Render only this frame (0-based) to a PNG."),
    sheet: bool = typer.Option(False, "--sheet", help="Render a contact sheet of frames to a PNG."),
    sheet_frames: int = typer.Option(8, "--sheet-frames", help="Frames per take on the contact sheet."),
    yaw: float = typer.Option(0.0, "--yaw", help="Camera yaw in degrees (positive shows the head's left)."),
    pitch: float = typer.Option(5.0, "--pitch", help="Camera pitch in degrees (positive looks down)."),
    captions: bool = typer.Option(True, "--captions/--no-captions", help="Caption each take from its meta."),
    rig_sheet: str = typer.Option(None, "--rig-sheet", help="Write a rig preview (neutral + expressions) PNG."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output file if it exists (refused without it)."),
) -> None:
    """Render animations to an MP4 with sound, a still (--frame), a contact sheet (--sheet), or a rig preview."""
    from probtalk.errors import InputError, OutputError
    from probtalk.io import refuse_existing

    for flag, value, example in (("-o/--out", out, "-o take.mp4"), ("--rig-sheet", rig_sheet, "--rig-sheet rig.png")):
        if value is not None and not value.strip():
            raise OutputError(f"{flag} is empty; name the output file (e.g. {example})")
    def keep_existing(path: str) -> None:
        if not overwrite:
            refuse_existing([path], otherwise="name another output file")

    if rig_sheet is not None:
        from probtalk.rendering import render_rig_sheet

        keep_existing(rig_sheet)
        if animations:
            raise InputError("--rig-sheet previews the rig alone; drop the animation files or --rig-sheet")
        path = render_rig_sheet(rig, rig_sheet, size=RIG_SHEET_SIZE if size is None else size, backend=backend)
        typer.echo(f"wrote {path}")
        return
    if not animations:
        raise InputError("give one or more animation .npz files (or --rig-sheet OUT.png)")

    from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

    from probtalk.animation import Animation
    from probtalk.rendering import Camera
    from probtalk.rendering import render as render_api

    anims = [Animation.load(p) for p in animations]
    if out is None:
        stem = animations[0].with_suffix("")
        out = f"{stem}_sheet.png" if sheet else str(stem.with_suffix(".png" if frame is not None else ".mp4"))
    keep_existing(out)
    camera = Camera(yaw=yaw, pitch=pitch)
    options = dict(
        rig=rig, audio=audio, out=out, size=VIDEO_SIZE if size is None else size, fps=fps, backend=backend,
        camera=camera, layout=layout, frame=frame, sheet=sheet_frames if sheet else False, captions=captions,
    )
    if frame is not None or sheet:
        path = render_api(anims, **options)
    else:
        with progress_bar(
            TextColumn("rendering"), BarColumn(), TextColumn("{task.completed}/{task.total} frames"),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task("render", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            path = render_api(anims, progress=progress, **options)
    typer.echo(f"wrote {path}")
