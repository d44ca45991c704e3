"""Whether an optional extra is installed, without importing it: the check is for early
refusals ("--outputs parquet needs pyarrow"), and importing xarray or pyarrow to find out
costs a second of start-up."""

from __future__ import annotations

import importlib.util


def installed(*modules: str) -> bool:
    """True when every one of ``modules`` can be imported; imports none of them."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in modules)
    except (ImportError, ValueError):
        return False
