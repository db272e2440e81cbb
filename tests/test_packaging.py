"""The package as a non-editable install (the Docker image's) gets it: every module of the
project and every file the app serves or reads (#16: a wheel without `callbacks.pages` made
the image's `demo` and `serve` fail at import)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("app", "components", "callbacks", "services")


def test_the_wheel_holds_every_module_and_asset(tmp_path: Path) -> None:
    # Built from a clean copy: an in-tree build reuses build/lib, which hides what is missing.
    source = tmp_path / "source"
    for part in (*PACKAGES, "assets"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        held = set(archive.namelist())
    wanted = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assets = (ROOT / "assets").rglob("*")
    wanted |= {str(path.relative_to(ROOT)) for path in assets if path.is_file()}
    wanted.add("services/storage/migrations/script.py.mako")
    assert sorted(wanted - held) == []
