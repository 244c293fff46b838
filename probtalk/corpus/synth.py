"""Generate the synthetic corpus: sentences -> TTS speech -> phone timings -> procedural FLAME motion.

The default recipe (``SynthConfig()``) mirrors 3DMEAD's design:

* 24 speakers (TTS voices), each with its own animation style and identity.
* Two sentence sets shared by every speaker: ``sentences`` neutral sentences
  (numbered 1..S) and ``round(0.75 * S)`` emotional ones (1..S_e), like
  MEAD's 40 neutral / 30 emotional sentences.
* Every neutral sentence is spoken once in ``neutral`` (intensity index 0);
  every emotional sentence is spoken in ``emotions_per_sentence`` emotions,
  drawn so each speaker covers all emotions about equally, each at a random
  intensity level.
* Splits hold out sentences within speakers (neutral 80/10/10 % of the
  sentence numbers, i.e. 1-32/33-36/37-40; emotional 1-24/25-27/28-30) and
  ``heldout_speakers`` whole speakers (``splits/test_unseen_speakers``).
* ``heldout_engine_speakers`` more speakers voiced by a TTS engine that no
  other speaker uses (``heldout_engine``, flite by default) form
  ``splits/test_unseen_engine``: a proxy for voices unlike any in training.
* Every training utterance is performed ``performances`` times: the same
  speech, animated again with another motion seed and the speaker's habits
  varied (:func:`probtalk.corpus.style_profiles.perform_style`), so the data is
  one-to-many like real capture. Extra performances have keyids ending in
  ``-p2``, ``-p3``, ... and share the first performance's ``wav``.

* Every clip also gets prosody-driven head motion, ``neck/<keyid>.npy``
  float32 [1, T, 3] (FLAME neck axis-angle, radians; :mod:`probtalk.corpus.head`).
* Every clip records its take's habits, ``performance/<keyid>.json``, and its
  timing, ``timing/<keyid>.npy`` float32 [T, 7] (the curves its motion stream
  drew: :data:`probtalk.corpus.animator.TIMING_TRACKS`), which stage 2 can be
  conditioned on (``predictor.performance_habits``, ``predictor.timing_tracks``).

Each clip's random generators derive from (seed, keyid, stream) only ("speech",
"performance", "motion", "head"), so results do not depend on the number of
workers or on resuming; a clip whose files all exist is skipped. A clip
whose wav and align exist but whose motion files are not all there is re-animated
from them without speech synthesis (a motion-only rebuild); fresh clips are
animated from their just-written files the same way, so both give equal motion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from probtalk.data.dataset import make_keyid, parse_keyid
from probtalk.emotions import EMOTION_INDEX, EMOTIONS, INTENSITIES
from probtalk.errors import InputError
from probtalk.io import atomic_path, atomic_write_text, ensure_writable_dir
from probtalk.layout import AUDIO_SAMPLE_RATE, DATASET_FPS, PARAM_DIM

if TYPE_CHECKING:
    from probtalk.corpus.animator import ProceduralAnimator
    from probtalk.corpus.tts import Utterance
    from probtalk.corpus.voices import Voice

log = logging.getLogger(__name__)

GENERATOR = "probtalk.corpus.synth"
GENERATOR_VERSION = 6  # 3: performances vary the upper face and timing; neck/ head motion; motion-only rebuild. 4: and the mouth (emphasis, energy, wider articulation). 5: wider still (articulation, jaw, energy drift, smiles) and lips shut or parted in pauses. 6: the upper face, smiles, emotion strength and emphasis vary wider (the mouth as 5)
SPLIT_FRACTIONS = (0.8, 0.9)  # sentence-number cut points: train <= 80 %, val <= 90 %, test the rest


@dataclass(frozen=True)
class SynthConfig:
    """The corpus recipe.

    Attributes:
        speakers: number of speakers (voices).
        sentences: neutral sentences per speaker (numbered 1..sentences).
        emotions: emotions to generate ("neutral" gives the neutral set).
        intensities: intensity levels used: 3 -> low/medium/high, 2 -> low/high, 1 -> medium.
        seed: corpus seed (voices, styles, sentences, every clip).
        heldout_speakers: speakers kept out of train/val, listed in ``splits/test_unseen_speakers``.
        emotions_per_sentence: emotions each emotional sentence is spoken in (per speaker).
        emotional_fraction: emotional sentences = round(fraction * sentences), at least 1.
        fps: motion frame rate.
        performances: performances per training utterance (1 = one take each).
        heldout_engine: TTS engine of the held-out-engine speakers ("flite" or "festival").
        heldout_engine_speakers: speakers voiced by ``heldout_engine`` (0 = no such split).
    """

    speakers: int = 24
    sentences: int = 40
    emotions: tuple[str, ...] = EMOTIONS
    intensities: int = 3
    seed: int = 0
    heldout_speakers: int = 2
    emotions_per_sentence: int = 3
    emotional_fraction: float = 0.75
    fps: float = DATASET_FPS
    performances: int = 3
    heldout_engine: str = "flite"
    heldout_engine_speakers: int = 5

    def __post_init__(self) -> None:
        bad = [e for e in self.emotions if e not in EMOTION_INDEX]
        if bad:
            raise InputError(f"unknown emotions {bad}; choose from {', '.join(EMOTIONS)} or 'all'")
        if self.speakers < 1 or self.sentences < 1:
            raise InputError("--speakers and --sentences must be >= 1")
        if not 1 <= self.intensities <= len(INTENSITIES):
            raise InputError(f"--intensities must be 1-{len(INTENSITIES)}, got {self.intensities}")
        if not 0 <= self.heldout_speakers < self.speakers:
            raise InputError(f"--heldout-speakers must be 0-{self.speakers - 1}, got {self.heldout_speakers}")
        if self.emotions_per_sentence < 1:
            raise InputError("emotions_per_sentence must be >= 1")
        if self.seed < 0:
            raise InputError(f"--seed must be >= 0, got {self.seed}")
        if self.performances < 1:
            raise InputError(f"--performances must be >= 1, got {self.performances}")
        if self.heldout_engine_speakers < 0:
            raise InputError(f"--heldout-engine-speakers must be >= 0, got {self.heldout_engine_speakers}")

    @property
    def intensity_levels(self) -> tuple[int, ...]:
        """Intensity indices used for emotional clips."""
        return {1: (1,), 2: (0, 2), 3: (0, 1, 2)}[self.intensities]

    @property
    def emotional_sentences(self) -> int:
        """Number of emotional sentences."""
        return max(1, int(round(self.emotional_fraction * self.sentences)))


@dataclass(frozen=True)
class ClipJob:
    """One clip to generate."""

    keyid: str
    text: str
    voice: Voice
    emotion: str
    intensity: int
    seed: int
    fps: float
    performance: int = 1


@dataclass
class SynthResult:
    """What :func:`synthesize_corpus` did."""

    root: Path
    clips: int
    generated: int
    skipped: int
    hours: float
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)


def clip_rng(seed: int, keyid: str, stream: str) -> np.random.Generator:
    """A generator that depends only on (seed, keyid, stream): workers and resumes give equal results."""
    digest = hashlib.sha256(f"{seed}:{keyid}:{stream}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def range_split(sentence: int, count: int) -> str:
    """Split of sentence number ``sentence`` (1-based) out of ``count``: 1-32/33-36/37-40 for 40."""
    if sentence <= round(SPLIT_FRACTIONS[0] * count):
        return "train"
    if sentence <= round(SPLIT_FRACTIONS[1] * count):
        return "val"
    return "test"


def plan_corpus(config: SynthConfig) -> tuple[list[Voice], dict[str, list[str]], list[ClipJob]]:
    """Voices, sentence texts ({"neutral": [...], "emotional": [...]}) and the clip jobs, all deterministic."""
    from probtalk.corpus.text import make_sentences
    from probtalk.corpus.voices import make_engine_speakers, make_speakers

    base = list(make_speakers(config.speakers, config.seed))
    if config.heldout_engine_speakers and any(v.engine == config.heldout_engine for v in base):
        raise InputError(f"engine {config.heldout_engine!r} voices training speakers too; hold out flite")
    voices = base + make_engine_speakers(config.heldout_engine, config.heldout_engine_speakers, config.seed,
                                         len(base) + 1)
    unseen = held_out_speakers(config, voices)
    n_emo = config.emotional_sentences
    texts = list(make_sentences(config.sentences + n_emo, config.seed))
    sentences = {"neutral": texts[: config.sentences], "emotional": texts[config.sentences :]}
    emotional = [e for e in config.emotions if e != "neutral"]
    per_sentence = min(config.emotions_per_sentence, len(emotional))
    jobs: list[ClipJob] = []

    def add(job: ClipJob, count: int) -> None:
        jobs.append(job)
        key = parse_keyid(job.keyid)
        if key.speaker in unseen or range_split(key.sentence, count) != "train":
            return
        for p in range(2, config.performances + 1):
            jobs.append(replace(job, keyid=make_keyid(key.speaker, key.sentence, key.emotion, key.intensity, p),
                                performance=p))

    for voice in voices:
        speaker = voice.speaker_id
        if "neutral" in config.emotions:
            for j, text in enumerate(sentences["neutral"], start=1):
                add(ClipJob(make_keyid(speaker, j, 0, 0), text, voice, "neutral", 0, config.seed, config.fps),
                    config.sentences)
        if not emotional:
            continue
        rng = clip_rng(config.seed, speaker, "plan")
        # Cycle through shuffled emotions so every emotion gets an equal share per speaker.
        pool: list[str] = []
        for j, text in enumerate(sentences["emotional"], start=1):
            chosen: list[str] = []
            while len(chosen) < per_sentence:
                if not pool:
                    pool = list(rng.permutation(emotional))
                pick = next((e for e in pool if e not in chosen), None)
                if pick is None:  # the pool's rest repeats a chosen emotion: refill
                    pool = []
                    continue
                pool.remove(pick)
                chosen.append(pick)
            for emotion in sorted(chosen, key=EMOTION_INDEX.__getitem__):
                level = int(rng.choice(config.intensity_levels))
                keyid = make_keyid(speaker, j, EMOTION_INDEX[emotion], level)
                add(ClipJob(keyid, text, voice, emotion, level, config.seed, config.fps), n_emo)
    return voices, sentences, jobs


def held_out_speakers(config: SynthConfig, voices: Sequence[Any]) -> dict[str, str]:
    """Speaker id -> held-out split ("test_unseen_speakers" or "test_unseen_engine") for ``voices``."""
    engine = [v.speaker_id for v in voices if v.engine == config.heldout_engine][: config.heldout_engine_speakers]
    others = [v.speaker_id for v in voices if v.speaker_id not in engine]
    out = {s: "test_unseen_engine" for s in engine} if config.heldout_engine_speakers else {}
    if config.heldout_speakers:
        out.update({s: "test_unseen_speakers" for s in others[len(others) - config.heldout_speakers :]})
    return out


# ------------------------------------------------------------------ workers
# A clip's speech depends only on its own job: the espeak helper forks a pristine engine per
# utterance and festival's voice and prosody are set on every call. So the files do not depend
# on the number of workers, and a resumed run skips complete clips without speaking them.


def default_animator() -> ProceduralAnimator:
    """The procedural animator on the bundled rig."""
    from probtalk.corpus.animator import ProceduralAnimator
    from probtalk.flame import load_rig

    return ProceduralAnimator(load_rig())


def _clip_paths(root: Path, keyid: str) -> dict[str, Path]:
    return {
        "wav": root / "wav" / f"{parse_keyid(keyid).utterance}.wav",  # performances share the speech
        "align": root / "align" / f"{keyid}.json",
        "param": root / "param" / f"{keyid}.npy",
        "neck": root / "neck" / f"{keyid}.npy",
        "performance": root / "performance" / f"{keyid}.json",
        "timing": root / "timing" / f"{keyid}.npy",
    }


def clip_complete(root: Path, keyid: str) -> bool:
    """True when the clip's wav, align, param, neck, performance and timing files all exist (each is written
    atomically).

    A corpus made before performance records (version 5 and older) or timing tracks (version 6 as first
    made) so gets its motion re-made on the next run (the same motion: it depends only on the stored
    speech and the seeds).
    """
    return all(p.is_file() for p in _clip_paths(root, keyid).values())


def clip_speech_present(root: Path, keyid: str) -> bool:
    """True when the clip's wav and align exist, so its motion can be made without speech synthesis."""
    paths = _clip_paths(root, keyid)
    return paths["wav"].is_file() and paths["align"].is_file()


def _speak(job: ClipJob) -> Utterance:
    from probtalk.corpus.tts import synthesize

    utterance = parse_keyid(job.keyid).utterance  # every performance shares the first one's speech
    return synthesize(job.text, job.voice, job.emotion, float(job.intensity), clip_rng(job.seed, utterance, "speech"))


def _record(job: ClipJob, utt: Utterance, audio: np.ndarray) -> dict[str, Any]:
    duration = audio.size / AUDIO_SAMPLE_RATE
    return {
        "keyid": job.keyid,
        "text": utt.text,
        "phones": [[round(float(p.start), 5), round(float(p.end), 5), str(p.phone)] for p in utt.phones],
        "words": [_jsonable(w) for w in getattr(utt, "words", []) or []],
        "duration": duration,
        "frames": int(round(duration * job.fps)),
        "fps": job.fps,
        "speaker": job.voice.speaker_id,
        "emotion": job.emotion,
        "intensity": job.intensity,
        "performance": job.performance,
    }


def _pcm16(audio: np.ndarray) -> np.ndarray:
    """The audio as it reads back from the 16-bit wav (so motion made now equals motion re-made from the file)."""
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, np.float32), -1.0, 1.0), AUDIO_SAMPLE_RATE, subtype="PCM_16", format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="float32", always_2d=False)[0]


def animate_record(
    job: ClipJob, audio: np.ndarray, record: dict[str, Any], animator: ProceduralAnimator,
    streams: dict[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Motion of one clip from its speech (16 kHz audio) and align record (phones, emotion, intensity).

    Expression motion uses the clip's ``motion`` stream, the take's habits its ``performance``
    stream and head motion its ``head`` stream, so each is independent of the others.
    ``streams`` draws a stream from another clip's instead, by name (e.g. ``{"motion": keyid}``:
    this take's habits with another take's timing; ``benchmarks/corpus_diversity.py --sources``).

    Returns:
        params float32 [1, T, 403], neck float32 [1, T, 3] (FLAME neck axis-angle, radians), and the
        take's timing tracks float32 [T, len(TIMING_TRACKS)] (:meth:`ProceduralAnimator.timing_tracks`).
    """
    from probtalk.corpus.animator import loudness_envelope, stack_tracks
    from probtalk.corpus.phones import Phone
    from probtalk.corpus.style_profiles import make_style, perform_style

    audio = np.asarray(audio, np.float32)
    duration = audio.size / AUDIO_SAMPLE_RATE
    frames = int(round(duration * job.fps))
    phones = [Phone(float(a), float(b), str(p)) for a, b, p in record["phones"]]
    emotion, intensity = str(record.get("emotion", job.emotion)), float(record.get("intensity", job.intensity))
    unknown = set(streams or {}) - {"performance", "motion", "head"}
    if unknown:
        raise ValueError(f"unknown stream(s) {sorted(unknown)}; a clip's streams are performance, motion and head")

    def rng(stream: str) -> np.random.Generator:
        return clip_rng(job.seed, (streams or {}).get(stream, job.keyid), stream)

    style = perform_style(make_style(job.voice.speaker_id, job.seed), rng("performance"))
    loud = loudness_envelope(audio, job.fps, frames)
    timing: dict[str, np.ndarray] = {}
    params = animator.animate(
        phones, duration, fps=job.fps, emotion=emotion, intensity=intensity, style=style,
        loudness=loud, rng=rng("motion"), timing=timing,
    )
    neck = animator.head_motion(
        phones, duration, fps=job.fps, emotion=emotion, intensity=intensity, style=style,
        loudness=loud, rng=rng("head"),
    )
    return params[None].astype(np.float32), neck[None].astype(np.float32), stack_tracks(timing)


def performance_record(job: ClipJob) -> dict[str, Any]:
    """The take's performance: its habit draws in [0, 1) and their standard-normal scores.

    Replays the clip's ``performance`` stream, so it equals what :func:`animate_record` performs.
    """
    from probtalk.corpus.style_profiles import draw_performance, performance_scores

    draws = draw_performance(clip_rng(job.seed, job.keyid, "performance"))
    return {"draws": draws, "scores": performance_scores(draws)}


def make_clip(
    job: ClipJob, animator: ProceduralAnimator | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], np.ndarray]:
    """Synthesise and animate one clip in this process.

    Returns:
        audio float32 [N] at 16 kHz (as stored: 16-bit), params float32 [1, T, 403], align record
        (text, phones, words, ...), neck float32 [1, T, 3].
    """
    utt = _speak(job)
    audio = _pcm16(utt.audio)
    record = _record(job, utt, np.asarray(utt.audio, np.float32))
    params, neck, _ = animate_record(job, audio, json.loads(json.dumps(record)), animator or default_animator())
    return audio, params, record, neck


def _read_speech(root: Path, keyid: str) -> tuple[np.ndarray, dict[str, Any]]:
    """A clip's stored audio (float32, 16 kHz) and align record."""
    import soundfile as sf

    paths = _clip_paths(root, keyid)
    audio, rate = sf.read(str(paths["wav"]), dtype="float32", always_2d=False)
    if rate != AUDIO_SAMPLE_RATE or np.ndim(audio) != 1:
        raise InputError(f"{paths['wav']} is not 16 kHz mono; a corpus's wav files come from synth")
    return audio, json.loads(paths["align"].read_text(encoding="utf-8"))


def _write_speech(root: Path, job: ClipJob, audio: np.ndarray, record: dict[str, Any]) -> None:
    import soundfile as sf

    paths = _clip_paths(root, job.keyid)
    if not paths["wav"].is_file():
        with atomic_path(paths["wav"]) as tmp:
            sf.write(str(tmp), np.clip(audio, -1.0, 1.0), AUDIO_SAMPLE_RATE, subtype="PCM_16", format="WAV")
    atomic_write_text(paths["align"], json.dumps(record, indent=1))


def _write_motion(root: Path, keyid: str, params: np.ndarray, neck: np.ndarray, timing: np.ndarray,
                  performance: dict[str, Any]) -> None:
    """Write performance, timing and neck, then param last: their presence (with wav and align) marks the
    clip complete."""
    paths = _clip_paths(root, keyid)
    atomic_write_text(paths["performance"], json.dumps(performance, indent=1))
    for key, value in (("timing", timing), ("neck", neck), ("param", params)):
        with atomic_path(paths[key]) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, value)


def _speaker_task(args: tuple[str, ProceduralAnimator, list[ClipJob]]) -> int:
    """Run in a worker process: make the clips of one speaker that are not complete.

    A clip whose wav and align exist is re-animated from them (no speech synthesis);
    otherwise its speech is synthesised and written first. Either way the motion is
    made from the stored files, so a motion-only rebuild equals a full generation.
    """
    root, animator, jobs = args
    base = Path(root)
    written = 0
    for job in jobs:
        if clip_complete(base, job.keyid):
            continue
        if not clip_speech_present(base, job.keyid):
            utt = _speak(job)
            raw = np.asarray(utt.audio, np.float32)
            _write_speech(base, job, raw, _record(job, utt, raw))
        audio, record = _read_speech(base, job.keyid)
        _write_motion(base, job.keyid, *animate_record(job, audio, record, animator), performance_record(job))
        written += 1
    return written


# ------------------------------------------------------------------ driver
def synthesize_corpus(
    out: str | os.PathLike[str],
    config: SynthConfig | None = None,
    *,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Generate (or complete) a synthetic corpus in the dataset layout.

    Args:
        out: corpus folder; created if needed. Clips already complete are kept.
        config: the recipe (default :class:`SynthConfig`).
        workers: processes, each generating one speaker at a time.
        progress: called as ``progress(done, total)`` after each clip.

    Returns:
        Counts, total hours and the manifest written to ``out/manifest.json``.

    Raises:
        OutputError: ``out`` cannot be written.
        InputError: the config is invalid.
    """
    config = config or SynthConfig()
    root = ensure_writable_dir(out)
    for sub in ("param", "neck", "performance", "timing", "wav", "align", "splits"):
        ensure_writable_dir(root / sub)
    started = time.perf_counter()
    animator = default_animator()
    _check_resumable(root, config, animator.rig_id)
    voices, sentences, jobs = plan_corpus(config)
    todo = [j for j in jobs if not clip_complete(root, j.keyid)]
    total, done = len(jobs), len(jobs) - len(todo)
    log.info("corpus %s: %d clips, %d to generate with %d workers", root, total, len(todo), workers)
    if progress:
        progress(done, total)
    by_speaker: dict[str, list[ClipJob]] = {}
    for job in jobs:
        by_speaker.setdefault(job.voice.speaker_id, []).append(job)
    tasks = []
    for speaker_jobs in by_speaker.values():
        missing = sum(not clip_complete(root, j.keyid) for j in speaker_jobs)
        if missing:
            tasks.append((missing, speaker_jobs))
    if tasks:
        import multiprocessing as mp

        # spawn: workers inherit neither the parent's engine helpers nor its torch threads.
        ctx = mp.get_context("spawn")
        with ctx.Pool(max(1, min(workers, len(tasks))), maxtasksperchild=1) as pool:
            args = [(str(root), animator, speaker_jobs) for _, speaker_jobs in tasks]
            for written in pool.imap_unordered(_speaker_task, args, chunksize=1):
                done += written
                if progress:
                    progress(done, total)
    manifest = write_manifest(root, config, voices, sentences, jobs, time.perf_counter() - started, animator.rig_id)
    return SynthResult(
        root=root, clips=total, generated=len(todo), skipped=total - len(todo),
        hours=manifest["total_hours"], seconds=time.perf_counter() - started, manifest=manifest,
    )


def _check_resumable(root: Path, config: SynthConfig, rig_id: str) -> None:
    """Refuse to add clips to a corpus made with another rig, seed or generator version."""
    path = root / "manifest.json"
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return  # a broken manifest is rewritten at the end
    theirs = (old.get("rig"), old.get("seed"), old.get("generator_version"), old.get("fps"))
    ours = (rig_id, config.seed, GENERATOR_VERSION, config.fps)
    if old.get("generator_version") != GENERATOR_VERSION:
        raise InputError(
            f"{root} was made by corpus generator version {old.get('generator_version')}, this is version "
            f"{GENERATOR_VERSION}; to re-animate its speech, hard-link wav/ and align/ into a new folder "
            f"(cp -al {root}/wav {root}/align NEW/) and run synth on NEW"
        )
    if theirs != ours:
        raise InputError(
            f"{root} was generated with rig/seed/version/fps {theirs}, not {ours}; "
            "delete the folder or choose another --out"
        )


def write_splits(root: Path, config: SynthConfig, keyids: Sequence[str], unseen: dict[str, str]) -> dict[str, int]:
    """Write splits/{train,val,test,test_unseen_speakers,test_unseen_engine}; return the clip count of each.

    ``unseen`` maps held-out speakers to their split (see :func:`held_out_speakers`).
    """
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": [], "test_unseen_speakers": [],
                                    "test_unseen_engine": []}
    for keyid in sorted(keyids):
        key = parse_keyid(keyid)
        if key.speaker in unseen:
            splits[unseen[key.speaker]].append(keyid)
            continue
        count = config.sentences if key.emotion == 0 else config.emotional_sentences
        splits[range_split(key.sentence, count)].append(keyid)
    for name, ids in splits.items():
        atomic_write_text(root / "splits" / name, "".join(k + "\n" for k in ids))
    return {k: len(v) for k, v in splits.items()}


def write_manifest(
    root: Path,
    config: SynthConfig,
    voices: Sequence[Voice],
    sentences: dict[str, list[str]],
    jobs: Sequence[ClipJob],
    wall_seconds: float,
    rig_id: str = "",
) -> dict[str, Any]:
    """Write splits and ``manifest.json`` (speakers with voice and style, counts, hours) and return the manifest."""
    from probtalk.corpus.style_profiles import make_style

    keyids = [j.keyid for j in jobs]
    seconds = motion_seconds = 0.0
    for job in jobs:
        record = json.loads(_clip_paths(root, job.keyid)["align"].read_text(encoding="utf-8"))
        motion_seconds += float(record["duration"])
        if job.performance == 1:  # hours of distinct speech
            seconds += float(record["duration"])
    unseen = held_out_speakers(config, voices)
    counts = write_splits(root, config, keyids, unseen)
    per_emotion = {e: sum(1 for j in jobs if j.emotion == e) for e in config.emotions}
    manifest = {
        "name": root.name,
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "fps": config.fps,
        "sample_rate": AUDIO_SAMPLE_RATE,
        "param_dim": PARAM_DIM,
        "rig": rig_id,
        "config": {**asdict(config), "emotions": list(config.emotions)},
        "emotions": list(EMOTIONS),
        "intensities": list(INTENSITIES),
        "speakers": [
            {
                "id": v.speaker_id,
                "split": {"test_unseen_engine": "unseen_engine"}.get(unseen.get(v.speaker_id, ""), "unseen")
                if v.speaker_id in unseen else "seen",
                "voice": _jsonable(v),
                "style": make_style(v.speaker_id, config.seed).to_dict(),
            }
            for v in voices
        ],
        "sentences": sentences,
        "counts": {"clips": len(keyids), "speakers": len(voices), "per_emotion": per_emotion, "splits": counts},
        "total_seconds": round(seconds, 3),
        "total_hours": round(seconds / 3600.0, 4),
        "motion_hours": round(motion_seconds / 3600.0, 4),
        "performances": sum(1 for j in jobs if j.performance > 1),
        "wall_seconds_last_run": round(wall_seconds, 1),
    }
    atomic_write_text(root / "manifest.json", json.dumps(manifest, indent=1))
    return manifest


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
