"""The shell commands (and Python examples) of README.md, CONTRIBUTING.md and docs/ as a user
pastes them.

Every pamedge command in a ``sh`` block parses against the CLI it names (its options, its
arguments, its subcommand), so a renamed option or a mangled line fails here, not in a user's
terminal.  Every block that needs none of what a test machine lacks (a buoy's hardware, the
network, root, the user's own recordings) runs, whole, with ``bash -e`` from a folder shaped
like a clone (the repository's entries linked in, ``../shared`` beside it); a block that cannot
run says why on the line above it::

    <!-- not run by the tests: the reason -->
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import click
import pytest

from tests.support.data import ROOT, SHARED_REAL

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(sh|bash|shell|python)\n(.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run by the tests: (.+?) -->\s*$")
# what a user's shell would substitute, for the parse check of blocks that do not run
SUBSTITUTE = {"$(nproc)": "2"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    language: str  # "python" or a shell
    text: str
    not_run: str  # the reason, "" when the block runs

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    out = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            above = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            reason = NOT_RUN.match(above.strip())
            out.append(Block(path, line, m.group(1), m.group(2), reason.group(1) if reason else ""))
    return out


def commands(block: Block) -> list[list[str]]:
    """The block's command lines as argument lists (continuations joined, comments dropped,
    shell variables it assigns substituted); none for a Python block."""
    if block.language == "python":
        return []
    variables: dict[str, str] = {}
    out = []
    for line in block.text.replace("\\\n", " ").splitlines():
        for token, value in SUBSTITUTE.items():
            line = line.replace(token, value)
        words = shlex.split(line, comments=True)
        if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
            name, value = words[0].split("=", 1)
            variables[name] = value
            continue
        if words:
            out.append([re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), w) for w in words])
    return out


def console_scripts() -> dict[str, metadata.EntryPoint]:
    found = {}
    for ep in metadata.entry_points(group="console_scripts"):
        if ep.dist is not None and ep.dist.name == "pamedge":
            found[ep.name] = ep
    return found


BLOCKS = blocks()
SCRIPTS = console_scripts()


def test_the_docs_have_blocks_and_the_package_its_commands():
    assert len(BLOCKS) >= 20 and {"edge-detect", "edge-train", "edge-sync", "edge-shore"} <= set(SCRIPTS)
    assert sum(not b.not_run for b in BLOCKS) >= 5, "most blocks should run as pasted"


def _parse(name: str, args: list[str]) -> None:
    """Parse ``args`` as ``name`` would, down to the subcommand; raises click's usage errors."""
    command = SCRIPTS[name].load()
    if not isinstance(command, click.Command):  # edge-train: a function choosing train or evaluate
        from training.cli import train

        command, args = (train.evaluate_cmd, args[1:]) if args[:1] == ["evaluate"] else (train.train_cmd, args)
    ctx = command.make_context(name, list(args))
    while isinstance(command, click.Group):
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        sub_name, command, sub_args = command.resolve_command(ctx, rest)
        ctx = command.make_context(sub_name, sub_args, parent=ctx)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_every_pamedge_command_parses(block):
    for words in commands(block):
        if words[0] not in SCRIPTS:
            continue
        try:
            _parse(words[0], words[1:])
        except click.BadParameter as exc:  # a placeholder path in a block that does not run
            if not (block.not_run and "does not exist" in exc.format_message()):
                pytest.fail(f"{block.where}: {shlex.join(words)}: {exc.format_message()}")
        except click.ClickException as exc:
            pytest.fail(f"{block.where}: {shlex.join(words)}: {exc.format_message()}")


def clone_shaped(tmp_path: Path) -> Path:
    """``tmp_path/pamedge`` with the repository's entries linked in (outputs land here, not in
    the repository) and ``tmp_path/shared`` standing for ../shared."""
    work = tmp_path / "pamedge"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in {".git", "build", "site", "demo-out", "out"}:
            (work / entry.name).symlink_to(entry)
    beside = ROOT.parent / "shared"
    if beside.is_dir():
        (tmp_path / "shared").symlink_to(beside)
    return work


def _run_param(block: Block) -> object:
    if "../shared" not in block.text:
        return pytest.param(block, id=block.where)
    absent = pytest.mark.skipif(
        not SHARED_REAL.is_dir(), reason=f"{block.where} reads ../shared/data, absent here (CI has it)"
    )
    return pytest.param(block, id=block.where, marks=[pytest.mark.shared, absent])


RUN = [_run_param(b) for b in BLOCKS if not b.not_run]


def venv_stale() -> bool:
    """Whether ``make`` would reinstall the repository's venv (its stamps older than the
    packaging files): a block running ``make`` in the clone-shaped folder, whose ``.venv`` is the
    repository's, would then reinstall it from that temporary folder and leave its scripts
    pointing there."""
    stamp = ROOT / ".venv" / ".installed"  # the whole venv's: with it fresh, make installs nothing
    newest = max((ROOT / f).stat().st_mtime for f in ("pyproject.toml", "setup.py") if (ROOT / f).exists())
    return not (stamp.exists() and stamp.stat().st_mtime > newest)


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN)
def test_blocks_run_as_pasted(block, tmp_path):
    if re.search(r"(^|[;&|\s])make\b", block.text) and venv_stale():
        pytest.skip("the venv is older than pyproject.toml: `make install` first (make test does)")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    argv = [sys.executable, "-c", block.text] if block.language == "python" else ["bash", "-e", "-c", block.text]
    done = subprocess.run(
        argv,
        cwd=clone_shaped(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{block.where} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
