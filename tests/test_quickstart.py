"""The README's main job, end to end: the exact `make demo` command line on the embedded default model."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import av
import numpy as np
from typer.testing import CliRunner

from probtalk import Animation
from probtalk.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def demo_args() -> list[str]:
    """The arguments of the `probtalk` call in the Makefile's demo target (what the README tells users to run)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n\t(.+)$", makefile, re.MULTILINE).group(1)
    args = shlex.split(recipe)
    assert args[0].endswith("probtalk")
    return args[1:]


def test_readme_quick_start_names_make_demo_and_make_test():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_demo_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = demo_args()
    out_index = args.index("-o") + 1
    args[out_index] = str(tmp_path)  # write into the test's folder, not out/demo
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    files = sorted(p.name for p in tmp_path.iterdir())
    # 2 emotions x 2 takes x 4 formats, with predictable names
    assert len(files) == 16, files
    for emotion in ("neutral", "happy"):
        takes = [Animation.load(tmp_path / f"hello_{emotion}_take{k}.npz") for k in range(2)]
        assert takes[0].fps == 25.0 and abs(takes[0].duration - 5.55) < 0.05
        assert not np.allclose(takes[0].motion(), takes[1].motion())  # two different takes
        assert takes[0].meta["emotion"] == {emotion: 1.0}
        # the jaw moves while speaking
        assert takes[0].jaw_pose[:, 0].max() - takes[0].jaw_pose[:, 0].min() > 0.05
        assert (tmp_path / f"hello_{emotion}_take0.glb").read_bytes()[:4] == b"glTF"
        header = (tmp_path / f"hello_{emotion}_take0.csv").read_text().splitlines()[0]
        assert header.startswith("Timecode,BlendshapeCount,EyeBlinkLeft")
        with av.open(str(tmp_path / f"hello_{emotion}_take1.mp4")) as video:
            streams = {s.type for s in video.streams}
            assert streams == {"video", "audio"}
            assert abs(float(video.duration / 1e6) - 5.55) < 0.1
