"""The suite itself: every ``subprocess.run`` in a test has a timeout, so a hung child (a
modem simulator, a broker, a CLI waiting on input) fails its test instead of CI's whole run."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_every_subprocess_run_in_the_tests_has_a_timeout():
    missing = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "run"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "subprocess"
                and "timeout" not in {k.arg for k in node.keywords}
            ):
                missing.append(f"{path.relative_to(TESTS)}:{node.lineno}")
    assert missing == []
