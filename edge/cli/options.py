"""Options and error handling shared by the ``edge-*`` commands."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import click

from edge import shipped
from edge.errors import ConfigError, PamedgeError

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    # the names read from the shipped folder, so a deployment added there is listed without an edit here
    help=f"Deployment YAML, or a shipped deployment's name ({', '.join(shipped.deployment_names())}). "
    "Default: generic broadband settings at each recording's own sample rate.",
)
# pamedge's version and the Python running it: what a bug report needs first
version_option = click.version_option(
    None,
    "-V",
    "--version",
    package_name="pamedge",
    message="%(prog)s (pamedge) %(version)s, Python " + sys.version.split()[0],
)
hydrophones_option = click.option(
    "--hydrophones",
    "hydrophones_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Hydrophone calibration table; overrides the deployment's calibration.table.",
)


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def one_line(text: str) -> str:
    """``text`` with control characters escaped: a file name holding a newline or a terminal
    escape must not split a ``failed:``/``warning:`` line or forge another."""
    return str(text).translate(_CONTROL)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def domain_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print pamedge errors as one line (exit 2 for configuration, 1 otherwise)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc), EXIT_USAGE)
        except PamedgeError as exc:
            fail(str(exc), EXIT_USAGE)
        except OSError as exc:  # e.g. the output card is full or read-only
            where = exc.filename or "output"
            fail(f"{where}: {exc.strerror or exc}", EXIT_USAGE)
        except KeyboardInterrupt:
            fail("interrupted; recordings already completed are kept, rerun with --resume to continue", 130)

    return wrapper
