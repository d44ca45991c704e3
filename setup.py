"""Only the build step that puts the shipped files into the wheel; metadata is pyproject.toml.

A buoy installs pamedge with pip and has no repository: the model bundles (models/), the
deployments, device profiles, hydrophone table and systemd units (firmware-config/) and the
example recordings (examples/) are copied to ``edge/_shipped/`` in the wheel, where
``edge.shipped`` finds them.  An editable install (``pip install -e .``) reads the checkout's
folders instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("models", "firmware-config", "examples")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "edge" / "_shipped"
        shutil.rmtree(target, ignore_errors=True)
        for name in SHIPPED:
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target / name, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithShippedFiles})
