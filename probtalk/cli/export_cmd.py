"""``probtalk export``: write animation files for game engines and DCC tools (a thin shell over exporters.write_all)."""

from __future__ import annotations

from pathlib import Path

import typer

from probtalk.cli.app import app, run_cli
from probtalk.io import check_unique_stems, refuse_existing


@app.command("export")
@run_cli
def export(
    animations: list[Path] = typer.Argument(..., help="Animation .npz files (written by 'probtalk animate')."),
    format: str = typer.Option(  # noqa: A002
        "glb", "--format", "-f",
        help="Comma-separated formats: npz, glb, gltf, fbx, livelink (csv), arkit-json (json), curves-csv, or all.",
    ),
    out: str = typer.Option(".", "--out", "-o", help="Output folder (created if missing)."),
    rig: Path = typer.Option(None, "--rig", help="A FLAME .pkl or probtalk .npz rig (default: bundled head)."),
    arkit: bool = typer.Option(False, "--arkit", help="glb/fbx: 52 ARKit morph targets driven by solved curves."),
    targets: Path = typer.Option(
        None, "--targets", help="Your blendshape set (OBJ folder + neutral.obj, or a .glb) to retarget ARKit curves onto."
    ),
    smoothing: float = typer.Option(0.0, "--smoothing", min=0.0, help="Temporal smoothing of the ARKit solve."),
    bake_vertices: bool = typer.Option(False, "--bake-vertices", help="npz: add baked [T, V, 3] vertices."),
    nonzero_only: bool = typer.Option(False, "--nonzero-only", help="glb/fbx: only the expression components that move."),
    tolerance: float = typer.Option(
        5e-5, "--tolerance", help="glb/fbx: drop morph-target entries whose combined effect stays below this (metres)."
    ),
    character: Path = typer.Option(
        None, "--character", help="glb/fbx: your own mesh with ARKit-named blendshapes (.glb or OBJ folder) to animate."
    ),
    fps: float = typer.Option(None, "--fps", help="Resample to this frame rate first (e.g. 24, 29.97, 30, 60)."),
    audio: Path = typer.Option(
        None, "--audio", help="The take's speech: written next to the exports as <stem>.wav (one input only)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files already in the output folder (refused without it)."),
) -> None:
    """Export animations as glTF/GLB, FBX, Live Link Face CSV, ARKit JSON/CSV curves or npz."""
    import exporters
    from probtalk.animation import Animation
    from probtalk.errors import InputError, OutputError
    from probtalk.flame import load_rig

    if not out.strip():
        raise OutputError("-o/--out is empty; give an output folder (e.g. -o . or -o exports)")
    names = exporters.expand_formats(format)
    check_unique_stems(animations)
    options: dict[str, object] = {"arkit_smoothing": smoothing, "tolerance": tolerance}
    if arkit:
        options["arkit"] = True
    if nonzero_only:
        options["nonzero_only"] = True
    if bake_vertices:
        options["bake_vertices"] = True
    if targets is not None:
        options["targets"] = targets
    if character is not None:
        options["character"] = character
    exporters.check_options(names, options, strict=True)  # the API's rules, before anything is loaded
    if audio is not None and len(animations) > 1:
        raise InputError("--audio names the speech of one take; export one animation at a time with it")
    if not overwrite:
        planned = [Path(out) / (path.stem + exporters.suffix(n)) for path in animations for n in names]
        refuse_existing(planned + ([Path(out) / f"{path.stem}.wav" for path in animations] if audio is not None else []))
    takes = [(path, Animation.load(path)) for path in animations]  # fail before writing anything
    the_rig = load_rig(rig)
    for path, anim in takes:
        for written in exporters.write_all(anim, out, path.stem, names, the_rig, fps=fps, audio=audio, **options):
            typer.echo(str(written))
