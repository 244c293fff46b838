"""MotionDataset / collate: 3DMEAD-style corpora without a manifest, our corpus, padding, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

from probtalk.animation import resample_motion
from probtalk.data.dataset import MotionDataset, collate, parse_keyid, sentence_range_split
from probtalk.errors import DatasetError
from probtalk.layout import MOTION_DIM, PARAM_DIM

FPS = 25.0


def _write_clip(root, keyid, frames, sr=16000, fps=FPS, audio_frames=None, value=None):
    (root / "param").mkdir(parents=True, exist_ok=True)
    (root / "wav").mkdir(parents=True, exist_ok=True)
    params = np.zeros((1, frames, PARAM_DIM), np.float32)
    params[0, :, 0] = 0.5  # identity
    params[0, :, 300] = np.arange(frames) if value is None else value  # expression 0 counts frames
    params[0, :, 400] = 0.1  # jaw
    np.save(root / "param" / f"{keyid}.npy", params)
    n = int(round((audio_frames if audio_frames is not None else frames) / fps * sr))
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(n) / sr)
    sf.write(str(root / "wav" / f"{keyid}.wav"), tone.astype(np.float32), sr, subtype="PCM_16")


@pytest.fixture
def mead(tmp_path):
    """A 3DMEAD-like corpus: no manifest, no align/, no splits/, audio at 22.05 kHz."""
    root = tmp_path / "mead"
    for speaker in ("M003", "W009"):
        for sentence in (1, 33, 37):
            _write_clip(root, f"{speaker}_{sentence:03d}_0_0", 30 + sentence % 7, sr=22050)
        for sentence in (2, 25, 28):
            _write_clip(root, f"{speaker}_{sentence:03d}_3_2", 40, sr=22050)
    return root


def test_keyid_parsing_and_ranges():
    key = parse_keyid("M003_017_6_1")
    assert (key.speaker, key.sentence, key.emotion, key.intensity) == ("M003", 17, 6, 1)
    assert str(key) == "M003_017_6_1"
    assert sentence_range_split(parse_keyid("M003_032_0_0")) == "train"
    assert sentence_range_split(parse_keyid("M003_033_0_0")) == "val"
    assert sentence_range_split(parse_keyid("M003_037_0_0")) == "test"
    assert sentence_range_split(parse_keyid("M003_024_1_0")) == "train"
    assert sentence_range_split(parse_keyid("M003_025_1_0")) == "val"
    assert sentence_range_split(parse_keyid("M003_030_1_0")) == "test"
    with pytest.raises(DatasetError, match="keyid"):
        parse_keyid("not-a-keyid")


def test_mead_layout_without_manifest(mead):
    train = MotionDataset(mead, "train", split_mode="sentence_ranges")
    val = MotionDataset(mead, "val", split_mode="sentence_ranges")
    test = MotionDataset(mead, "test", split_mode="sentence_ranges")
    assert sorted(train.keyids) == ["M003_001_0_0", "M003_002_3_2", "W009_001_0_0", "W009_002_3_2"]
    assert sorted(val.keyids) == ["M003_025_3_2", "M003_033_0_0", "W009_025_3_2", "W009_033_0_0"]
    assert len(test) == 4
    assert train.speaker_vocab == ("M003", "W009")  # inferred from the keyids
    sample = train[train.keyids.index("W009_002_3_2")]
    assert sample.motion.shape == (40, MOTION_DIM) and sample.motion.dtype == np.float32
    assert sample.audio.dtype == np.float32
    assert sample.audio.shape[0] == 40 * 16000 // 25  # resampled from 22.05 kHz, matched to the motion
    assert (sample.speaker, sample.speaker_index, sample.emotion, sample.intensity) == ("W009", 1, 3, 2)
    assert sample.phones is None
    np.testing.assert_allclose(sample.motion[:, 0], np.arange(40))
    np.testing.assert_allclose(sample.motion[:, 50], 0.1)
    assert sample.shape.shape == (300,) and sample.shape[0] == pytest.approx(0.5)


def test_split_files_from_sentence_ranges(mead):
    from typer.testing import CliRunner

    from probtalk.cli.main import app

    res = CliRunner().invoke(app, ["data", "splits", str(mead)])
    assert res.exit_code == 0, res.output
    assert "train 4, val 4, test 4" in res.output
    for split in ("train", "val", "test"):
        by_file = MotionDataset(mead, split)
        assert sorted(by_file.keyids) == sorted(MotionDataset(mead, split, split_mode="sentence_ranges").keyids)
    bad = CliRunner().invoke(app, ["data", "splits", str(mead / "nope")])
    assert bad.exit_code == 2 and "param/" in bad.output


def test_filters_and_missing_split_file(mead):
    ds = MotionDataset(mead, "all", speakers=["M003"], emotions=["surprised"])
    assert sorted(ds.keyids) == ["M003_002_3_2", "M003_025_3_2", "M003_028_3_2"]
    with pytest.raises(DatasetError, match="split file"):
        MotionDataset(mead, "train")  # no splits/ and split_mode="files"
    with pytest.raises(DatasetError, match="no clips"):
        MotionDataset(mead, "all", emotions=["happy"])


def test_collate_pads_and_masks(mead):
    ds = MotionDataset(mead, "all", speakers=["M003"], emotions=[0])
    samples = [ds[i] for i in range(len(ds))]
    lengths = [s.motion.shape[0] for s in samples]
    assert len(set(lengths)) > 1  # different lengths, so padding is exercised
    batch = collate(samples)
    b, t_max = len(samples), max(lengths)
    assert batch.motion.shape == (b, t_max, MOTION_DIM)
    assert batch.motion_mask.dtype == torch.bool
    assert batch.lengths.tolist() == lengths
    assert batch.motion_mask.sum(1).tolist() == lengths
    assert batch.audio.shape == (b, max(s.audio.shape[0] for s in samples))
    assert batch.audio_lengths.tolist() == [s.audio.shape[0] for s in samples]
    for i, s in enumerate(samples):
        torch.testing.assert_close(batch.motion[i, : lengths[i]], torch.from_numpy(s.motion))
        assert torch.all(batch.motion[i, lengths[i] :] == 0)
        assert torch.all(batch.audio[i, s.audio.shape[0] :] == 0)
    assert batch.emotion.tolist() == [0] * b and batch.speaker_index.tolist() == [0] * b
    assert batch.keyids == [s.keyid for s in samples]
    loader = torch.utils.data.DataLoader(ds, batch_size=2, collate_fn=collate)
    assert sum(len(x) for x in loader) == len(ds)


def test_fps_resampling_and_length_reconcile(tmp_path, caplog):
    root = tmp_path / "c"
    _write_clip(root, "A_001_0_0", 50, value=np.linspace(0, 1, 50))
    _write_clip(root, "A_002_0_0", 50, audio_frames=51)  # one frame longer audio: silently matched
    _write_clip(root, "A_003_0_0", 50, audio_frames=40)  # 10 frames shorter: warn and trim
    ds30 = MotionDataset(root, "all", fps=30.0)
    s = ds30[0]
    assert s.motion.shape[0] == 60
    np.testing.assert_allclose(s.motion[[0, -1], 0], [0.0, 1.0], atol=1e-5)
    assert s.audio.shape[0] == 60 * 16000 // 30
    ds = MotionDataset(root, "all")
    assert ds[1].motion.shape[0] == 50 and ds[1].audio.shape[0] == 50 * 640
    with caplog.at_level("WARNING"):
        short = ds[2]
    assert short.motion.shape[0] == 40 and short.audio.shape[0] == 40 * 640
    assert "trimming" in caplog.text
    assert resample_motion(np.zeros((10, 3), np.float32), 25, 50).shape == (20, 3)
    cropped = MotionDataset(root, "all", max_seconds=1.0)[0]
    assert cropped.motion.shape[0] == 25 and cropped.audio.shape[0] == 16000


def test_errors(tmp_path, mead):
    with pytest.raises(DatasetError, match="not found"):
        MotionDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="param/"):
        MotionDataset(tmp_path / "empty", "all")
    ds = MotionDataset(mead, "all")
    (mead / "wav" / f"{ds.keyids[0]}.wav").unlink()
    with pytest.raises(DatasetError, match="wav"):
        ds[0]
    np.save(mead / "param" / f"{ds.keyids[1]}.npy", np.zeros((1, 5, 50), np.float32))
    with pytest.raises(DatasetError, match="403"):
        ds[1]
    (mead / "splits").mkdir()
    (mead / "splits" / "train").write_text("M003_999_0_0\n")
    with pytest.raises(DatasetError, match="missing"):
        MotionDataset(mead, "train")[0]
    with pytest.raises(DatasetError, match="split_mode"):
        MotionDataset(mead, "train", split_mode="bogus")


def test_manifest_vocab_and_align(tmp_path):
    root = tmp_path / "ours"
    _write_clip(root, "F002_001_1_2", 20)
    (root / "manifest.json").write_text(json.dumps({"fps": 25.0, "speakers": [{"id": "M001"}, {"id": "F002"}]}))
    (root / "align").mkdir()
    (root / "align" / "F002_001_1_2.json").write_text(json.dumps({"text": "hi", "phones": [[0, 0.4, "HH"], [0.4, 0.8, "AY"]]}))
    (root / "splits").mkdir()
    (root / "splits" / "train").write_text("F002_001_1_2\n")
    s = MotionDataset(root, "train")[0]
    assert s.speaker_index == 1  # the manifest's order, not alphabetical
    assert s.phones == [(0.0, 0.4, "HH"), (0.4, 0.8, "AY")]
    assert MotionDataset(root, "train", speaker_vocab=["F002"])[0].speaker_index == 0
