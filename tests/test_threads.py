"""numpy's BLAS runs on one thread inside animate and a stream's feed/flush, and as the caller set it outside."""

from __future__ import annotations

import numpy as np
import pytest
from test_lipsync import tiny_talker

from probtalk.models.checkpoint import save_checkpoint

threadpoolctl = pytest.importorskip("threadpoolctl")


def _numpy_blas_threads() -> list[int]:
    from probtalk.runtime.threads import _vendored_by_numpy

    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas" and _vendored_by_numpy(lib["filepath"], lib["prefix"])]


def test_only_a_blas_numpy_vendored_is_held():
    from probtalk.runtime.threads import _vendored_by_numpy

    assert _vendored_by_numpy("/env/site-packages/numpy.libs/libscipy_openblas64_-1a.so", "libscipy_openblas")
    assert _vendored_by_numpy("/env/site-packages/scipy_openblas32/lib/libscipy_openblas.so", "libscipy_openblas")
    assert not _vendored_by_numpy("/opt/conda/lib/libopenblasp-r0.3.21.so", "libopenblas")  # may be torch's too
    assert not _vendored_by_numpy("/env/site-packages/torch/lib/libopenblas.so.0", "libopenblas")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import probtalk

    path = tmp_path_factory.mktemp("threads") / "tiny.pt"
    save_checkpoint(path, tiny_talker(), provenance={"fps": 25.0})
    return probtalk.load_model(path, device="cpu")


def test_numpy_blas_is_one_thread_inside_the_runtime_and_restored_after(model, monkeypatch):
    if not _numpy_blas_threads():
        pytest.skip("numpy has no vendored BLAS threadpoolctl can see (a shared one is left alone)")
    seen = []
    encode = model.backend.encode

    def spy(*args, **kwargs):
        seen.append(_numpy_blas_threads())
        return encode(*args, **kwargs)

    monkeypatch.setattr(model.backend, "encode", spy)
    speech = (0.3 * np.sin(2 * np.pi * 180 * np.arange(24000) / 16000)).astype(np.float32)
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        model.animate(speech, 16000, num_samples=2, seed=0)
        assert seen and all(t == [1] * len(t) for t in seen)
        assert set(_numpy_blas_threads()) == {2}
        seen.clear()
        stream = model.stream(16000, num_samples=1, seed=0)
        stream.feed(speech[:16000])
        stream.feed(speech[16000:])
        stream.flush()
        assert seen and all(t == [1] * len(t) for t in seen)
        assert set(_numpy_blas_threads()) == {2}
