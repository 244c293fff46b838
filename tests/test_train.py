"""Training loop: loss goes down, resume continues, 2-process DDP keeps ranks identical, configs, CLI."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import probtalk
from probtalk.errors import InputError
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS, KINTREE_TABLE, PARAM_DIM, PARAM_EXPRESSION, PARAM_JAW
from probtalk.train.config import AugmentConfig, TrainConfig, load_train_config

TINY = [
    "vq.hidden=32", "vq.layers=1", "vq.heads=2", "vq.ff_dim=64", "vq.latent_dim=16", "vq.num_codes=32",
    "vq.dropout=0.0", "audio.hidden=32", "audio.layers=1", "audio.heads=2", "audio.intermediate=64",
    "audio.conv_dim=[16, 16, 16, 16, 16, 16, 16]", "predictor.hidden=32", "predictor.layers=1",
    "predictor.heads=2", "predictor.ff_dim=64", "batch_size=4", "lr=3e-3", "warmup_steps=2",
    "log_every=1", "val_every=0", "save_every=0", "max_seconds=1.2", "amp=false",
]


def make_corpus(root: Path, speakers=("A", "B"), sentences=4, seed=0) -> Path:
    """A toy corpus in the dataset layout: jaw and a few expressions follow the speech envelope."""
    rng = np.random.default_rng(seed)
    for sub in ("param", "wav", "splits"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "val": []}
    for spk in speakers:
        for s in range(1, sentences + 1):
            for emo in (0, 1):
                keyid = f"{spk}_{s:03d}_{emo}_{0 if emo == 0 else 1}"
                frames = int(rng.integers(20, 40))
                t = np.arange(frames) / DATASET_FPS
                env = 0.5 + 0.5 * np.sin(2 * np.pi * (1.5 + s * 0.3) * t)
                params = np.zeros((1, frames, PARAM_DIM), np.float32)
                params[0, :, PARAM_JAW.start] = 0.2 * env
                params[0, :, PARAM_EXPRESSION.start : PARAM_EXPRESSION.start + 5] = env[:, None] * rng.normal(size=5)
                params[0, :, PARAM_EXPRESSION.start + 6] = 0.5 * emo
                np.save(root / "param" / f"{keyid}.npy", params)
                n = int(frames / DATASET_FPS * AUDIO_SAMPLE_RATE)
                ts = np.arange(n) / AUDIO_SAMPLE_RATE
                env_a = np.interp(ts, t, env)
                sf.write(root / "wav" / f"{keyid}.wav", (0.3 * env_a * np.sin(2 * np.pi * 180 * ts)).astype(np.float32),
                         AUDIO_SAMPLE_RATE)
                splits["val" if s == sentences else "train"].append(keyid)
    for name, ids in splits.items():
        (root / "splits" / name).write_text("\n".join(ids) + "\n")
    return root


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def tiny_rig():
    """An 8-vertex FLAME-layout rig whose first 4 vertices ("lips") follow expression and jaw."""
    from probtalk.flame.rig import Rig
    from probtalk.layout import NUM_EXPRESSION, NUM_JOINTS, NUM_SHAPE

    rng = np.random.default_rng(0)
    v = 8
    weights = np.zeros((v, NUM_JOINTS), np.float32)
    weights[:4, 2] = 1.0  # lips on the jaw joint
    weights[4:, 0] = 1.0
    return Rig(
        name="tiny", v_template=rng.normal(size=(v, 3)) * 0.05, faces=np.array([[0, 1, 2], [4, 5, 6]]),
        shapedirs=np.zeros((v, 3, NUM_SHAPE)), exprdirs=rng.normal(size=(v, 3, NUM_EXPRESSION)) * 0.01,
        posedirs=np.zeros((v, 3, (NUM_JOINTS - 1) * 9)), j_regressor=np.full((NUM_JOINTS, v), 1.0 / v),
        weights=weights, kintree_table=np.array(KINTREE_TABLE),
        regions={"lips": np.arange(4)},
    )


def tiny(*extra: str) -> TrainConfig:
    return load_train_config(None, [*TINY, *extra])


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_config_toml_and_overrides(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('steps = 7\nlr = 1\n[vq]\nhidden = 64\nquant_factor = 2\n[augment]\nspeed_range = [0.8, 1.2]\n')
    cfg = load_train_config(toml, ["vq.hidden=32", "batch_size=3"])
    assert (cfg.steps, cfg.lr, cfg.batch_size) == (7, 1.0, 3)
    assert (cfg.vq.hidden, cfg.vq.quant_factor) == (32, 2)
    assert cfg.augment.speed_range == (0.8, 1.2)
    with pytest.raises(InputError, match="did you mean 'hidden'"):
        load_train_config(None, ["vq.hiden=3"])
    with pytest.raises(InputError, match="expects int"):
        load_train_config(None, ["steps=abc"])
    with pytest.raises(InputError, match="key=value"):
        load_train_config(None, ["steps"])


def test_augment_keeps_audio_and_motion_aligned(corpus):
    from probtalk.data.dataset import MotionDataset, collate
    from probtalk.train.augment import augment_batch, random_crop

    ds = MotionDataset(corpus, "train")
    batch = collate([ds[i] for i in range(4)])
    gen = torch.Generator().manual_seed(0)
    cropped = random_crop(batch, 0.6, DATASET_FPS, gen)
    assert int(cropped.lengths.max()) == 15
    assert torch.equal(cropped.motion_mask.sum(1), cropped.lengths)
    aug = augment_batch(cropped, AugmentConfig(speed_prob=1.0, speed_range=(1.2, 1.2), noise_prob=1.0,
                                               eq_prob=1.0, reverb_prob=1.0), DATASET_FPS, gen)
    ratio = aug.audio_lengths.double() / AUDIO_SAMPLE_RATE * DATASET_FPS / aug.lengths.double()
    assert torch.allclose(ratio, torch.ones_like(ratio), atol=0.1)
    assert aug.lengths.tolist() == [round(t / 1.2) for t in cropped.lengths.tolist()]
    assert torch.isfinite(aug.audio).all()


def test_pitch_shift_moves_pitch_and_keeps_duration():
    from probtalk.train.augment import pitch_shift

    t = torch.arange(AUDIO_SAMPLE_RATE) / AUDIO_SAMPLE_RATE
    tone = (torch.sin(2 * math.pi * 200 * t) + 0.5 * torch.sin(2 * math.pi * 600 * t)) * (t > 0.1)
    for semitones in (-4.0, 3.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. istft padding a short stretch with zeros
            shifted = pitch_shift(tone, semitones)
        assert shifted.shape == tone.shape and torch.isfinite(shifted).all()
        spectrum = torch.fft.rfft(shifted).abs()
        peak_hz = float(spectrum.argmax()) * AUDIO_SAMPLE_RATE / len(shifted)
        assert peak_hz == pytest.approx(200 * 2 ** (semitones / 12), abs=2.0)
        assert float(shifted[4000:].std()) == pytest.approx(float(tone[4000:].std()), rel=0.2)  # loudness kept
    assert torch.equal(pitch_shift(tone, 0.0), tone)
    # 363 STFT frames at -1.13 semitones: torch.arange's float step lands on its end, one frame past the spare
    odd = torch.randn(362 * 128, generator=torch.Generator().manual_seed(0))
    assert pitch_shift(odd, -1.13).shape == odd.shape
    assert pitch_shift(tone[:300], 2.0).shape == (300,)  # shorter than one analysis window


def test_augment_pitch_keeps_motion_and_lengths(corpus):
    from probtalk.data.dataset import MotionDataset, collate
    from probtalk.train.augment import augment_batch

    batch = collate([MotionDataset(corpus, "train")[i] for i in range(3)])
    aug = augment_batch(batch, dataclasses.replace(AugmentConfig.off(), pitch_prob=1.0, pitch_semitones=(-3.0, 3.0)),
                        DATASET_FPS, torch.Generator().manual_seed(0))
    assert torch.equal(aug.audio_lengths, batch.audio_lengths) and torch.equal(aug.motion, batch.motion)
    assert not torch.allclose(aug.audio, batch.audio)
    cfg = load_train_config(None, ["augment.pitch_semitones=[-4, 4]"])
    assert cfg.augment.pitch_semitones == (-4.0, 4.0)  # signed: a range of shifts around zero
    with pytest.raises(InputError, match=">= 0"):
        load_train_config(None, ["augment.speed_range=[-1, 1]"])


def test_train_vq_lowers_loss_and_resumes(corpus, tmp_path):
    from probtalk.models.checkpoint import load_checkpoint
    from probtalk.train import train_vq

    out = tmp_path / "vq"
    vq, norm, metrics = train_vq(corpus, out, tiny("steps=30"), progress=False)
    rows = [r for r in read_metrics(out / "metrics.csv") if r["split"] == "train"]
    first = np.mean([float(r["loss"]) for r in rows[:3]])
    last = np.mean([float(r["loss"]) for r in rows[-3:]])
    assert last < 0.7 * first, (first, last)
    assert "loss" in metrics and (out / "last.pt").is_file() and (out / "best.pt").is_file()
    model, info = load_checkpoint(out / "last.pt")
    assert info.kind == "motion_vq" and info.provenance["steps"] == 30
    assert info.vocabulary.speakers == ("A", "B")

    # Resume: a longer run continues from step 30 instead of starting over.
    train_vq(corpus, out, tiny("steps=34"), resume=True, progress=False)
    steps = [int(r["step"]) for r in read_metrics(out / "metrics.csv") if r["split"] == "train"]
    assert steps == list(range(1, 35))
    state = torch.load(out / "train_state.pt", weights_only=True)
    assert state["step"] == 34


def test_train_predictor_and_cli(corpus, tmp_path):
    from typer.testing import CliRunner

    from probtalk.cli.main import app
    from probtalk.models.checkpoint import load_checkpoint
    from probtalk.models.talker import Talker

    runner = CliRunner()
    sets = [a for s in [*TINY, "steps=3"] for a in ("--set", s)]
    res = runner.invoke(app, ["train", "vq", "--data", str(corpus), "--out", str(tmp_path / "vq"), "--no-progress", *sets])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["train", "predictor", "--data", str(corpus), "--out", str(tmp_path / "pred"),
                              "--vq", str(tmp_path / "vq" / "last.pt"), "--no-progress", *sets])
    assert res.exit_code == 0, res.output
    talker, info = load_checkpoint(tmp_path / "pred" / "last.pt")
    assert isinstance(talker, Talker) and info.kind == "talker"
    rows = read_metrics(tmp_path / "pred" / "metrics.csv")
    assert {"latent", "expression", "jaw"} <= set(rows[0]) and rows[-1]["split"] == "val"

    res = runner.invoke(app, ["train", "predictor", "--data", str(corpus), "--out", str(tmp_path / "p2"), *sets])
    assert res.exit_code == 2 and "--vq" in res.output
    res = runner.invoke(app, ["train", "vq", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "p3")])
    assert res.exit_code == 2 and "not found" in res.output


def test_train_predictor_reports_lve(corpus, tmp_path):
    from probtalk.train import train_predictor, train_vq

    rig = tiny_rig()
    train_vq(corpus, tmp_path / "vq", tiny("steps=2"), rig=rig, progress=False)
    vq_rows = [r for r in read_metrics(tmp_path / "vq" / "metrics.csv") if r["split"] == "val"]
    assert float(vq_rows[-1]["lve"]) > 0
    talker, metrics = train_predictor(corpus, tmp_path / "pred", tmp_path / "vq" / "last.pt", tiny("steps=20"),
                                      rig=rig, progress=False)
    assert metrics["lve"] > 0 and np.isfinite(metrics["lve"])
    losses = [float(r["loss"]) for r in read_metrics(tmp_path / "pred" / "metrics.csv") if r["split"] == "train"]
    assert np.mean(losses[-3:]) < 0.75 * np.mean(losses[:3]), losses  # stage 2 learns
    from probtalk.models.checkpoint import load_checkpoint

    _, info = load_checkpoint(tmp_path / "pred" / "last.pt")
    assert info.rig_id == rig.rig_id() and info.provenance["metrics"]["lve"] == pytest.approx(metrics["lve"])


def test_init_from_continues_a_run_or_warm_starts_a_new_vq(corpus, tmp_path):
    from probtalk.train import train_predictor, train_vq
    from probtalk.train.stages import _init_from, build_talker

    phones = ("predictor.phone_input=true", "predictor.noise_dim=4")
    train_vq(corpus, tmp_path / "vq", tiny("steps=2"), progress=False)
    source, _ = train_predictor(corpus, tmp_path / "pred", tmp_path / "vq" / "last.pt", tiny("steps=3", *phones),
                                progress=False)
    speakers = tuple(source.vocabulary.speakers)
    # Same stage-1 model: a continued run starts exactly where the source stopped, phone input and output included.
    again = build_talker(tmp_path / "vq" / "last.pt", tiny(*phones), speakers)
    _init_from(again, str(tmp_path / "pred" / "last.pt"))
    theirs = source.predictor.state_dict()
    for k, v in again.predictor.state_dict().items():
        assert torch.allclose(v, theirs[k].float().cpu()), k  # (train_predictor returns the model on its device)
    assert float(again.predictor.phone_in.weight.detach().abs().sum()) > 0
    # An inference-only copy (float16, no stage-1 encoder, as the embedded default ships) continues too:
    # its codebook and decoder are the same, so the output layer carries over.
    from probtalk.models.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "shipped.pt", source.cpu(), half=True, inference_only=True)
    shipped = build_talker(tmp_path / "vq" / "last.pt", tiny(*phones), speakers)
    _init_from(shipped, str(tmp_path / "shipped.pt"))
    for k, v in shipped.predictor.state_dict().items():
        assert torch.allclose(v, theirs[k].float().cpu(), atol=2e-3, rtol=2e-3), k
    # Another stage-1 model: its latent space differs, so the output layer starts fresh.
    train_vq(corpus, tmp_path / "vq2", tiny("steps=2", "seed=5"), progress=False)
    other = build_talker(tmp_path / "vq2" / "last.pt", tiny(*phones), speakers)
    fresh = {k: v.clone() for k, v in other.predictor.state_dict().items()}
    _init_from(other, str(tmp_path / "pred" / "last.pt"))
    own = other.predictor.state_dict()
    assert all(torch.equal(own[k], fresh[k]) for k in own if k.startswith("out."))
    assert any(not torch.equal(own[k], fresh[k]) for k in own if not k.startswith("out."))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, corpus: str, out: str, result_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import torch.distributed as dist

    from probtalk.train import train_predictor, train_vq

    # train_vq joins the group from the torchrun-style environment; train_predictor reuses it.
    # gloo on the CPU, also on a machine with GPUs (two processes may share one GPU there but not here)
    vq, _, _ = train_vq(corpus, out, tiny("steps=4", "batch_size=2", "device=cpu"), progress=False)
    torch.save({k: v.clone() for k, v in vq.state_dict().items()}, Path(result_dir) / f"rank{rank}.pt")
    talker, _ = train_predictor(corpus, out + "_pred", out + "/last.pt", tiny("steps=2", "batch_size=2", "device=cpu"),
                                progress=False)
    torch.save({k: v.clone() for k, v in talker.state_dict().items()}, Path(result_dir) / f"talker{rank}.pt")
    dist.destroy_process_group()


def test_ddp_two_processes_identical_weights(corpus, tmp_path):
    import torch.multiprocessing as mp

    results = tmp_path / "res"
    results.mkdir()
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(corpus), str(tmp_path / "ddp"), str(results)), nprocs=2, join=True)
    a = torch.load(results / "rank0.pt", weights_only=True)
    b = torch.load(results / "rank1.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # both ranks stepped: the state is 4 steps in and the weights moved from the seed init
    torch.manual_seed(0)
    from probtalk.models.motion_vq import MotionVQ

    init = MotionVQ(tiny().vq).state_dict()
    assert not torch.equal(init["enc_in.weight"], a["enc_in.weight"])
    assert torch.load(tmp_path / "ddp" / "train_state.pt", weights_only=True)["step"] == 4
    ta = torch.load(results / "talker0.pt", weights_only=True)
    tb = torch.load(results / "talker1.pt", weights_only=True)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


def test_held_out_speakers_stay_out_of_the_style_vocabulary(tmp_path):
    from probtalk.train.stages import _datasets

    root = make_corpus(tmp_path / "c", speakers=("A", "B", "C"), sentences=2)
    # C is held out: its clips exist on disk but appear in no train split
    train_ids = [k for k in (root / "splits" / "train").read_text().split() if not k.startswith("C_")]
    (root / "splits" / "train").write_text("\n".join(train_ids) + "\n")
    train, val = _datasets(root, DATASET_FPS)
    assert train.speaker_vocab == ("A", "B")
    assert val.speaker_vocab == ("A", "B")


def test_device_setting_names_a_gpu_that_exists(monkeypatch):
    from probtalk.train.trainer import setup_distributed

    assert load_train_config(None, ["device=cuda:1"]).device == "cuda:1"
    for bad in ("gpu", "cpu:0", "cuda:x", "auto:1"):
        with pytest.raises(InputError, match="cuda:N"):
            load_train_config(None, [f"device={bad}"])
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup_distributed("auto").device.type == "cpu"
    with pytest.raises(InputError, match="no CUDA GPU.*device=cpu"):
        setup_distributed("cuda")
    # One GPU: cuda:1 does not exist, and neither does a second process's GPU (checked before the group forms).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(InputError, match="GPU 1 does not exist.*cuda:0 to cuda:0"):
        setup_distributed("cuda:1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(InputError, match="GPU 1 does not exist.*at most that many processes"):
        setup_distributed("auto")


def test_coloured_noise_keeps_the_snr_and_tilts_its_power_down():
    from probtalk.train.augment import add_noise

    speech = torch.zeros(4 * AUDIO_SAMPLE_RATE)
    speech[::400] = 1.0  # power 1/400
    low_to_high = []
    for color in (0.0, 1.0, 2.0):
        noise = add_noise(speech, 10.0, torch.Generator().manual_seed(3), color) - speech
        assert float(noise.pow(2).mean()) == pytest.approx(float(speech.pow(2).mean()) / 10, rel=0.02)
        power = torch.fft.rfft(noise).abs().pow(2)
        hz = torch.fft.rfftfreq(noise.shape[0], 1 / AUDIO_SAMPLE_RATE)
        low_to_high.append(float(power[(hz > 100) & (hz < 500)].mean() / power[(hz > 4000) & (hz < 8000)].mean()))
    assert low_to_high[0] == pytest.approx(1.0, rel=0.2)  # white
    assert 5 < low_to_high[1] < low_to_high[2]  # pink (about 14x over these bands), brown (about 200x)


def test_a_far_room_keeps_its_direct_sound_at_the_stated_ratio():
    from probtalk.train.augment import far_room, room, room_response

    tail = np.random.default_rng(0).standard_normal(AUDIO_SAMPLE_RATE // 2)
    for drr in (0.0, 5.0, 12.0):
        ir = room_response(0.5, drr, tail)
        assert ir[0] == 1.0 and not ir[1:16].any()  # the direct sound, then nothing for the first ms
        assert 10 * math.log10(1.0 / np.sum(ir[1:] ** 2)) == pytest.approx(drr, abs=1e-6)
        assert np.sum(ir[-800:] ** 2) < 1e-3 * np.sum(ir[16:816] ** 2)  # the tail has died away
    click = np.zeros(AUDIO_SAMPLE_RATE, np.float32)
    click[100] = 1.0
    heard = room(torch.from_numpy(click), 0.4, 5.0, torch.Generator().manual_seed(1)).numpy()
    assert heard.shape == click.shape and int(np.argmax(np.abs(heard))) == 100
    direct, late = heard[100] ** 2, np.sum(heard[101:] ** 2)
    assert 10 * math.log10(direct / late) == pytest.approx(5.0, abs=0.01)
    assert np.array_equal(far_room(click, 5.0, seed=2), far_room(click, 5.0, seed=2))  # the benchmarks' seeded room


@pytest.mark.parametrize("name,kbps", [("mp3", 24), ("opus", 12)])
def test_the_codec_augmentation_round_trips_speech_in_time_with_its_losses(name, kbps):
    pytest.importorskip("av")
    from probtalk.audio import load_audio
    from probtalk.train.augment import codec

    speech = load_audio(Path(probtalk.__file__).parent / "assets" / "hello.wav")
    heard = codec(speech, name, kbps)
    assert heard.shape == speech.shape and heard.dtype == np.float32
    assert not np.allclose(heard, speech, atol=1e-3)  # it lost something
    lags = [float(np.dot(speech[: speech.size - lag], heard[lag:])) for lag in range(0, 160)]
    assert int(np.argmax(lags)) <= 3  # no codec delay left in (MP3 and Opus both pad their start)
    spectrum = np.abs(np.fft.rfft(heard)) ** 2
    hz = np.fft.rfftfreq(heard.size, 1 / AUDIO_SAMPLE_RATE)
    assert spectrum[hz < 3000].sum() > 0.5 * (np.abs(np.fft.rfft(speech)) ** 2)[hz < 3000].sum()  # the voice stays


def test_the_codec_augmentation_without_pyav_names_the_extra(monkeypatch):
    import sys

    from probtalk.errors import MissingExtraError
    from probtalk.train.augment import codec

    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    with pytest.raises(MissingExtraError, match=r"probtalk\[render\]"):
        codec(np.zeros(1600, np.float32), "mp3", 16)


def test_perturbing_with_room_coloured_noise_and_codec_keeps_the_clip():
    pytest.importorskip("av")
    from probtalk.audio import load_audio
    from probtalk.train.augment import perturb_speech

    speech = torch.from_numpy(load_audio(Path(probtalk.__file__).parent / "assets" / "hello.wav"))
    config = AugmentConfig.off()
    config = dataclasses.replace(config, room_prob=1.0, noise_prob=1.0, noise_color_prob=1.0, snr_db=(20.0, 20.0),
                                 codec_prob=1.0)
    a, speed = perturb_speech(speech, config, torch.Generator().manual_seed(0))
    b, _ = perturb_speech(speech, config, torch.Generator().manual_seed(0))
    assert speed == 1.0 and a.shape == speech.shape and torch.isfinite(a).all()
    assert torch.equal(a, b)  # seeded
    assert not torch.allclose(a, speech, atol=1e-3)
