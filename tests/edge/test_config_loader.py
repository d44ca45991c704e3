"""The one deployment loader (edge.config): every section through it, which sections enter the
hash, every problem listed at once, edge-sync's section without the DSP stack, and no import
cycles among the runtime's modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge.config import DeploymentConfig, check_deployment, from_settings, load_deployment, load_section
from tests.support.data import DEPLOYMENTS, ROOT


def _write(tmp_path: Path, data: dict, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_and_sync_are_sections_of_the_deployment_and_stay_out_of_the_hash(tmp_path):
    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    data["calibration"]["table"] = str(DEPLOYMENTS.parent / "hydrophones.yaml")
    a = load_deployment(_write(tmp_path, data, "a.yaml"))
    data["run"]["poll_s"] = 7.0
    data["sync"]["daily_credits"] = 3
    b = load_deployment(_write(tmp_path, data, "b.yaml"))
    assert (a.run.poll_s, b.run.poll_s, b.sync.daily_credits) == (2.0, 7.0, 3)
    assert a.hash == b.hash and "run" not in a.as_dict() and "sync" not in a.as_dict()
    data["roi"]["on_db"] += 1.0
    assert load_deployment(_write(tmp_path, data, "c.yaml")).hash != a.hash
    assert from_settings(a.as_dict()).hash == a.hash  # what cluster workers rebuild


def test_relative_paths_follow_one_rule(tmp_path):
    path = _write(
        tmp_path,
        {
            "name": "x",
            "run": {"watch": "rec", "log": "logs/d.sqlite"},
            "sync": {"key_file": "k.key", "log": "logs/d.sqlite"},
        },
    )
    config = load_deployment(path)
    assert config.log_path() == tmp_path / "logs" / "d.sqlite"
    assert config.run.path(config.run.watch) == config.path("rec") == tmp_path / "rec"
    assert config.sync.path(config.sync.key_file) == tmp_path / "k.key"
    assert DeploymentConfig().path("rec") == Path("rec")  # no YAML: as written


def test_check_lists_a_problem_in_every_section(tmp_path):
    path = _write(
        tmp_path,
        {
            "name": "x",
            "roi": {"fmin": -1},
            "run": {"poll_s": 0},
            "sync": {"key_file": "k", "transport": "lora"},
            "colour": "blue",
        },
    )
    config, problems = check_deployment(path)
    assert config is None
    assert [p.split(": ")[1] for p in problems] == ["roi", "run", "sync", "unknown key 'colour' (known keys"]
    assert all(p.startswith(str(path)) for p in problems)


def test_a_source_key_in_yaml_is_unknown(tmp_path):
    for data in ({"name": "x", "source": "elsewhere"}, {"name": "x", "run": {"source": "elsewhere"}}):
        _, problems = check_deployment(_write(tmp_path, data))
        assert len(problems) == 1 and "unknown key 'source'" in problems[0]


def test_the_sync_section_loads_without_the_signal_processing_stack():
    code = (
        "import sys; from edge.config import load_section; s, _ = load_section('narw-upcall', 'sync'); "
        "print(s.deployment, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["narw-upcall", "False"]
    section, _ = load_section(DEPLOYMENTS / "generic.yaml", "sync")
    assert section is None


def _module_imports(path: Path, package_root: Path) -> set[str]:
    """Modules of the project imported when ``path`` is imported (module level, outside
    ``if TYPE_CHECKING:``): the edges an import cycle would run along."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef)) else ():
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.level == 0:
                out.add(sub.module)
                out.update(f"{sub.module}.{a.name}" for a in sub.names)
            elif isinstance(sub, ast.Import):
                out.update(a.name for a in sub.names)
    return out


@pytest.mark.slow
def test_no_import_cycles_in_the_runtime():
    modules = {}
    for path in (ROOT / "edge").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        modules[name] = path
    graph = {
        name: {m for m in _module_imports(path, ROOT) if m in modules and m != name} for name, path in modules.items()
    }
    assert {"edge.roi", "edge.config", "edge.classify"} <= graph["edge.pipeline"]  # the walk sees real edges
    cycles = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        if node in stack:
            cycles.append(stack[stack.index(node) :] + [node])
            return
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*stack, node], done)
        done.add(node)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == []
