"""The wheel ships the built web UI: building the Python packages first builds the UI into rubberduck_site/ui/
when it is missing or older than its sources (needs Node 20 and npm). Everything else is in pyproject.toml."""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
FRONTEND = ROOT / "frontend"
BUILT_UI = ROOT / "rubberduck_site" / "ui" / "index.html"


def ui_is_stale() -> bool:
    if not BUILT_UI.exists():
        return True
    sources = [FRONTEND / name for name in ("index.html", "package-lock.json", "vite.config.js")]
    sources += [f for folder in ("src", "public") for f in (FRONTEND / folder).rglob("*") if f.is_file()]
    built = BUILT_UI.stat().st_mtime
    return any(source.stat().st_mtime > built for source in sources if source.exists())


def build_ui() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "Building Rubberduck's web UI needs Node 20 and npm: install them, or build it first with `make frontend`."
        )
    if not (FRONTEND / "node_modules").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


class BuildPyWithUI(build_py):
    def run(self):
        # An editable install (`make install`) serves the UI from the source tree, which `make frontend` builds.
        if FRONTEND.exists() and not self.editable_mode and ui_is_stale():
            build_ui()
        super().run()


setup(cmdclass={"build_py": BuildPyWithUI})
