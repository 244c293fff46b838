

def test_listen_names_its_choices():
    from pathlib import Path

    import pytest

    from probtalk.errors import OptionError
    from probtalk.options import LISTEN_MODES, AnimateOptions

    assert AnimateOptions().listen == "words" and AnimateOptions(listen="phones").listen == "phones"
    assert LISTEN_MODES == ("phones", "whisper", "words")
    with pytest.raises(OptionError, match="listen must be one of phones, whisper, words"):
        AnimateOptions(listen="sentences")
    assert AnimateOptions(whisper_model=Path("w")).whisper_model == "w" and AnimateOptions().whisper_model is None
    with pytest.raises(OptionError, match="whisper_model must be a folder path"):
        AnimateOptions(whisper_model=3)


def test_cli_listen_flag(tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    import probtalk
    from probtalk.animation import Animation
    from probtalk.cli.main import app

    hello = Path(probtalk.__file__).parent / "assets" / "hello.wav"
    bad = CliRunner().invoke(app, ["animate", str(hello), "-o", str(tmp_path / "bad"), "--listen", "loud"])
    assert bad.exit_code == 2 and "--listen must be one of phones, whisper, words" in bad.output and "Traceback" not in bad.output
    for flags, listen in (([], "words"), (["--listen", "phones"], "phones")):
        out = tmp_path / listen
        res = CliRunner().invoke(app, ["animate", str(hello), "-o", str(out), "--seed", "1", *flags])
        assert res.exit_code == 0, res.output
        (npz,) = sorted(out.glob("*.npz"))
        meta = Animation.load(npz).meta
        assert meta["listen"] == listen and meta["sealed_from"] == "audio"


def test_cli_variation_flag(tmp_path):
    from pathlib import Path

    import numpy as np
    from typer.testing import CliRunner

    import probtalk
    from probtalk.animation import Animation
    from probtalk.cli.main import app

    hello = Path(probtalk.__file__).parent / "assets" / "hello.wav"
    motions = {}
    for flags, variation in (([], 1.0), (["--variation", "2"], 2.0)):
        out = tmp_path / str(variation)
        res = CliRunner().invoke(app, ["animate", str(hello), "-o", str(out), "--seed", "1", "--no-blinks", *flags])
        assert res.exit_code == 0, res.output
        (npz,) = sorted(out.glob("*.npz"))
        anim = Animation.load(npz)
        assert anim.meta["variation"] == variation
        motions[variation] = anim.motion()
    assert np.abs(motions[2.0] - motions[1.0]).max() > 1e-3  # the flag reaches the take
