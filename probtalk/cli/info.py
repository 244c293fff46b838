"""``probtalk info``: versions, optional extras and backends, the rig and the model."""

from __future__ import annotations

import importlib.util
import platform
from importlib import metadata

import typer

from probtalk.cli.app import app, run_cli

_EXTRAS = {
    "render (moderngl EGL, CPU)": ("moderngl",),
    "render-gpu (pytorch3d, CUDA)": ("pytorch3d",),
    "video (PyAV)": ("av",),
    "gltf (pygltflib)": ("pygltflib",),
    "align (pocketsphinx)": ("pocketsphinx",),
    "fbx-verify (ufbx)": ("ufbx",),
}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _whisper() -> str:
    """Whether ``listen="whisper"`` can run: the extra and its Whisper folder (probtalk.whisper_ear)."""
    from probtalk.errors import InputError
    from probtalk.whisper_ear import whisper_folder

    if importlib.util.find_spec("faster_whisper") is None:
        return "no (make whisper)"
    try:
        return f"yes ({whisper_folder()})"
    except InputError:
        return "extra installed, no Whisper folder (make whisper, or --whisper-model PATH)"


def _blender() -> str:
    from exporters.fbx import find_blender

    command = find_blender()
    return f"yes ({' '.join(command)})" if command else "no (run scripts/setup.sh)"


@app.command()
@run_cli
def info(
    rig: str = typer.Option(None, "--rig", help="A FLAME .pkl or probtalk .npz rig (default: bundled head)."),
    model: str = typer.Option(None, "--model", help="A checkpoint path (default: embedded model)."),
) -> None:
    """Print versions, available extras and backends, the rig and the model."""
    from probtalk import __version__
    from probtalk.api import load_model
    from probtalk.flame import load_rig

    the_rig = load_rig(rig)  # load both first: a bad --rig or --model gives the one error line and nothing else
    the_model = load_model(model)
    typer.echo(f"probtalk {__version__}  python {platform.python_version()}  {platform.system()}")
    for dist in ("torch", "numpy", "transformers", "smplx"):
        typer.echo(f"  {dist:14s} {_version(dist)}")
    typer.echo("extras:")
    for label, modules in _EXTRAS.items():
        have = [m for m in modules if importlib.util.find_spec(m) is not None]
        typer.echo(f"  {label:34s} {'yes (' + ', '.join(have) + ')' if have else 'no'}")
    typer.echo(f"  {'fbx (Blender bpy env)':34s} {_blender()}")
    typer.echo(f"  {'whisper ear (--listen whisper)':34s} {_whisper()}")
    typer.echo(
        f"rig: {the_rig.rig_id()}  {the_rig.num_vertices} vertices, {len(the_rig.faces)} faces, "
        f"{len(the_rig.semantic_names)} semantic shapes, regions: {', '.join(sorted(the_rig.regions)) or 'none'}"
    )
    for line in the_model.info_lines():
        typer.echo(line)
