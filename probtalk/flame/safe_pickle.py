"""Allow-list unpickling of user-supplied FLAME files (``.pkl`` and pickled ``.npy``).

FLAME ships its model, landmark embeddings and masks as pickles; a pickle can
name any importable callable and so run any code. Every pickle probtalk reads
from a user's file goes through :func:`load_pickle` / :func:`load_npy`, whose
unpickler resolves only: numpy array and dtype reconstruction (old ``numpy.core``
and new ``numpy._core`` paths), the ``numpy.frombuffer``/``array``/``reshape``
and bounded ``zlib.decompress`` calls of our own compressed arrays, scipy.sparse
csc/csr/coo matrices (any ``scipy.sparse`` module path, rebuilt through
scipy's checked constructors), chumpy objects (as a shim holding their array),
and plain containers and scalars. Anything else raises :class:`RigError` naming
the refused class, before it is called.
"""

from __future__ import annotations

import _compat_pickle
import ast
import io
import os
import pickle
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from probtalk.errors import RigError

MAX_DECOMPRESSED_BYTES = 2 << 30  # per file: our biggest array is ~70 MB; stops zlib bombs

_ERRORS = (
    pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError,
    ValueError, TypeError, OverflowError, MemoryError, RecursionError, zlib.error, UnicodeError,
)


class _Sealed(type):
    """Metaclass of the shims: a pickle cannot rebind their attributes (``BUILD`` on the class)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(f"{cls.__name__} is read-only")

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"{cls.__name__} is read-only")


class ChumpyShim(metaclass=_Sealed):
    """Stands in for ``chumpy.ch.Ch`` (and friends): keeps ``__dict__['x']`` and exposes it via ``__array__``."""

    def __setstate__(self, state: Any) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {"x": state})

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.__dict__.get("x")
        if value is self or isinstance(value, ChumpyShim):
            raise TypeError("a chumpy object that refers to itself")
        arr = np.asarray(value)
        return arr.astype(dtype) if dtype is not None else arr


class SparseShim(metaclass=_Sealed):
    """Holds a pickled scipy.sparse matrix's state; :meth:`toarray` rebuilds it through scipy's checked constructor."""

    format = ""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise TypeError("a scipy.sparse matrix state must be a dict")
        self.__dict__["state"] = state

    def toarray(self) -> np.ndarray:
        import scipy.sparse

        state = self.__dict__.get("state", {})

        def arr(key: str) -> np.ndarray:
            value = np.asarray(state[key])
            if value.dtype.kind not in "biuf":
                raise TypeError(f"sparse {key} has dtype {value.dtype}")
            return value

        shape = tuple(int(n) for n in state.get("_shape", state.get("shape", ())))
        if self.format == "coo":
            if "coords" in state:
                row, col = (np.asarray(c) for c in state["coords"])
            else:
                row, col = arr("row"), arr("col")
            mat = scipy.sparse.coo_matrix((arr("data"), (row, col)), shape=shape)
        else:
            cls = scipy.sparse.csc_matrix if self.format == "csc" else scipy.sparse.csr_matrix
            mat = cls((arr("data"), arr("indices"), arr("indptr")), shape=shape)
            mat.check_format(full_check=True)
        return np.asarray(mat.toarray())


def _sparse_class(fmt: str) -> type[SparseShim]:
    return _Sealed(f"{fmt}_shim", (SparseShim,), {"format": fmt, "__slots__": ()})


_SPARSE = {fmt: _sparse_class(fmt) for fmt in ("csc", "csr", "coo")}


class _Frozen:
    """An allowed function, wrapped so a pickle's ``BUILD`` cannot rebind its attributes."""

    __slots__ = ("_func", "_name")

    def __init__(self, func: Any, name: str) -> None:
        object.__setattr__(self, "_func", func)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args: Any) -> Any:
        return self._func(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._name} is read-only")


def _numpy_attr(*paths: str) -> Any:
    import importlib

    for path in paths:
        module, _, name = path.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(paths[0])


class SafeUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only the allow-listed globals (see the module docstring)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__(file, encoding="latin1")
        self._budget = MAX_DECOMPRESSED_BYTES

    def _decompress(self, data: Any, *rest: Any) -> bytes:
        if not isinstance(data, (bytes, bytearray)) or rest:
            raise TypeError("zlib.decompress takes one bytes argument here")
        obj = zlib.decompressobj()
        out = obj.decompress(data, self._budget + 1)
        if len(out) > self._budget or obj.unconsumed_tail:
            raise pickle.UnpicklingError(f"compressed data expands past {MAX_DECOMPRESSED_BYTES >> 20} MB")
        self._budget -= len(out)
        return out

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 pickles (FLAME 2020)
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = self._resolve(module, name)
        if found is None:
            raise _Refused(f"{module}.{name}")
        return found

    def _resolve(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyShim
        if module == "scipy.sparse" or module.startswith("scipy.sparse."):
            fmt = name.split("_")[0]
            if fmt in _SPARSE and name in (f"{fmt}_matrix", f"{fmt}_array"):
                return _SPARSE[fmt]
            return None
        core = module.replace("numpy._core", "numpy.core", 1)
        if core == "numpy.core.multiarray" and name == "_reconstruct":
            return _Frozen(np.ndarray.__reduce__(np.zeros(0))[0], name)
        if core == "numpy.core.multiarray" and name == "scalar":
            return _Frozen(np.float64(0).__reduce__()[0], name)
        if core == "numpy.core.numeric" and name == "_frombuffer":
            return _Frozen(_numpy_attr("numpy._core.numeric._frombuffer", "numpy.core.numeric._frombuffer"), name)
        if module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray") and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "numpy" and name in ("frombuffer", "array", "reshape"):
            return _Frozen(getattr(np, name), name)
        if module == "zlib" and name == "decompress":
            return _Frozen(self._decompress, name)
        if module == "_codecs" and name == "encode":
            return _Frozen(_latin1_encode, name)
        if module == "copyreg" and name == "_reconstructor":
            return _Frozen(_reconstructor, name)
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "builtins" and name in _BUILTINS:
            return _BUILTINS[name]
        return None


_BUILTINS: dict[str, Any] = {
    t.__name__: t for t in (set, frozenset, complex, bytes, bytearray, object, int, float, str, bool, tuple, list, dict)
}


class _Refused(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list."""


def _latin1_encode(text: Any, encoding: str = "utf-8", *rest: Any) -> bytes:
    # protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); no other codec is needed
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1") or rest:
        raise TypeError("only _codecs.encode(str, 'latin1') is allowed")
    return text.encode("latin1")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor(cls, object, None): how protocol 0/1 pickles make new-style objects
    if not (isinstance(cls, type) and issubclass(cls, (ChumpyShim, SparseShim))) or base is not object or state is not None:
        raise TypeError("copyreg._reconstructor is allowed only for chumpy and scipy.sparse objects")
    return object.__new__(cls)


def _refusal(path: Path, exc: BaseException, what: str) -> RigError:
    if isinstance(exc, _Refused):
        return RigError(f"{path} wants to load {exc} (not allowed in a {what}); refusing to unpickle it, use a genuine FLAME file")
    detail = str(exc).splitlines()[0][:100] if str(exc) else ""
    return RigError(f"{path} is not a readable {what} ({type(exc).__name__}{': ' + detail if detail else ''})")


def unpickle(fh: BinaryIO, path: Path, what: str = "FLAME pickle") -> Any:
    """Unpickle one object from an open binary file through the allow-list; RigError otherwise."""
    try:
        return SafeUnpickler(fh).load()
    except _ERRORS as exc:
        raise _refusal(path, exc, what) from None


def load_pickle(path: str | os.PathLike[str], what: str = "FLAME pickle") -> Any:
    """Read a pickle file through the allow-list unpickler.

    Args:
        path: the file.
        what: how the file is named in error messages.

    Raises:
        RigError: missing, unreadable, or it names a class outside the allow-list.
    """
    p = Path(path)
    if not p.is_file():
        raise RigError(f"file {p} not found; check the path")
    try:
        with open(p, "rb") as fh:
            return unpickle(fh, p, what)
    except OSError as exc:
        raise RigError(f"cannot read {p} ({exc.strerror or type(exc).__name__})") from None


def load_npy(path: str | os.PathLike[str], what: str = "FLAME .npy file") -> np.ndarray:
    """Read a ``.npy`` array; an object array (a pickle inside) goes through the allow-list unpickler.

    Raises:
        RigError: missing, corrupt, or a pickled payload outside the allow-list.
    """
    p = Path(path)
    if not p.is_file():
        raise RigError(f"file {p} not found; check the path")
    try:
        with open(p, "rb") as fh:
            try:
                plain = np.load(fh, allow_pickle=False)
                if not isinstance(plain, np.ndarray):
                    raise RigError(f"{p} is not a .npy array (an .npz archive?); pass the FLAME .npy file")
                return plain
            except ValueError as exc:
                if "allow_pickle" not in str(exc):
                    raise
            fh.seek(0)
            shape, dtype = _read_npy_header(fh)
            if not dtype.hasobject:
                raise ValueError("the header says no objects, yet numpy refused the data")
            arr = unpickle(fh, p, what)
    except RigError:  # already one line naming the problem (RigError is also a ValueError)
        raise
    except OSError as exc:
        raise RigError(f"cannot read {p} ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise RigError(f"{p} is not a readable {what} ({type(exc).__name__})") from None
    if not isinstance(arr, np.ndarray) or arr.shape != shape:
        raise RigError(f"{p} holds {type(arr).__name__}, not the [{shape}] array its header promises")
    return arr


def _read_npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """Parse a .npy header (format 1.0-3.0) without numpy's pickle path; returns shape and dtype."""
    magic = fh.read(8)
    if len(magic) != 8 or magic[:6] != b"\x93NUMPY":
        raise ValueError("not a .npy file")
    major = magic[6]
    size_bytes = 2 if major == 1 else 4
    raw = fh.read(size_bytes)
    if len(raw) != size_bytes or major not in (1, 2, 3):
        raise ValueError("bad .npy header")
    header = fh.read(int.from_bytes(raw, "little"))
    text = header.decode("utf-8" if major == 3 else "latin1")
    meta = ast.literal_eval(text)
    if not isinstance(meta, dict) or set(meta) != {"descr", "fortran_order", "shape"}:
        raise ValueError("bad .npy header")
    shape = tuple(int(n) for n in meta["shape"])
    return shape, np.dtype(np.lib.format.descr_to_dtype(meta["descr"]))


def unpickle_bytes(data: bytes, name: str = "<bytes>") -> Any:
    """Unpickle ``data`` through the allow-list (for tests and in-memory payloads)."""
    return unpickle(io.BytesIO(data), Path(name))
