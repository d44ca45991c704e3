"""scipy's compiled kernels loaded by their files, without importing the scipy subpackage
around them (whose ``__init__`` imports scipy's array-API layer and much else: 0.25 s for
``scipy.fft``, over a second for ``scipy.signal``, at every process start).

An extension module loaded this way is cached by the interpreter under its own name, so a later
``import scipy.fft`` or ``import scipy.signal`` finds the very same module.  Callers fall back
to the public function where the kernel is not found (scipy laid out otherwise).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from functools import cache
from types import ModuleType


def extension_path(name: str) -> str | None:
    """Where scipy keeps the compiled module ``name`` (such as
    ``scipy.fft._pocketfft.pypocketfft``), found without importing scipy; None where it is not there."""
    try:
        spec = importlib.util.find_spec("scipy")  # finds the package without importing it
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    *folders, stem = name.split(".")[1:]
    folder = os.path.join(os.path.dirname(spec.origin), *folders)
    paths = (os.path.join(folder, stem + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES)
    return next((p for p in paths if os.path.exists(p)), None)


@cache
def scipy_extension(name: str) -> ModuleType | None:
    """The compiled module ``name``, or None where it is not there or does not load."""
    if name in sys.modules:
        return sys.modules[name]
    path = extension_path(name)
    if path is None:
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        found = importlib.util.spec_from_file_location(name, path, loader=loader)
        if found is None:
            return None
        module = importlib.util.module_from_spec(found)
        loader.exec_module(module)
        return module
    except (ImportError, OSError):
        return None
