"""Lazy package exports: names imported from their submodule on first use (PEP 562).

Packages whose submodules pull in heavy dependencies (torch, the speech stack)
list their public names here, so that importing the package itself stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name from its submodule on first use.

    Args:
        package: the package's ``__name__``.
        exports: public name -> submodule name relative to ``package`` (e.g. ``"dataset"``).

    Returns:
        The function to bind as the package's ``__getattr__``.
    """

    def __getattr__(name: str) -> Any:
        submodule = exports.get(name)
        if submodule is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{submodule}"), name)

    return __getattr__
