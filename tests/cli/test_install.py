"""`pip install .` gives a working `rubberduck`: the wheel ships the built web UI, every migration and the email
templates; installed (not editable) into a fresh virtualenv, `rubberduck serve` serves from an empty directory
with its data in the user's data directory.

The fresh virtualenv gets its dependencies from this environment's site-packages through a .pth line, as PyPI is
too slow for a test; that directory holds no copy of Rubberduck's own packages (an editable install only points
back at the checkout, through a .pth file of its own that a .pth line does not run), so the server that answers
can only be the installed one, which the test also checks.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.cli.conftest import healthy, stop
from tests.conftest import wait_until
from tests.test_serve import free_port

ROOT = Path(settings.BASE_DIR)
# Whatever a checkout holds besides its sources: never part of a build.
LOCAL_ONLY = {".git", ".venv", "data", "artifacts", "build", "dist"}
ANYWHERE = shutil.ignore_patterns("__pycache__", "node_modules", "*.egg-info", ".pytest_cache", ".ruff_cache")
CLIENT = ROOT / "client" / "rubberduck_client"


def ignored(directory: str, names: list[str]) -> set[str]:
    top = Path(directory) == ROOT
    return set(ANYWHERE(directory, names)) | ({n for n in names if n in LOCAL_ONLY} if top else set())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel` of a copy of this checkout (so the build leaves nothing here), run from another directory."""
    if not (ROOT / "rubberduck_site" / "ui" / "index.html").exists():
        pytest.fail(
            "The web UI is not built: `make frontend` (part of `make test`) builds it into rubberduck_site/ui/."
        )
    source = tmp_path_factory.mktemp("checkout") / "rubberduck"
    shutil.copytree(ROOT, source, ignore=ignored, symlinks=True)
    if (ROOT / "frontend" / "node_modules").exists():  # for setup.py, should the UI be older than its sources
        (source / "frontend" / "node_modules").symlink_to((ROOT / "frontend" / "node_modules").resolve())
    out = tmp_path_factory.mktemp("wheelhouse")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
        cwd=out,
        check=True,
        timeout=600,
    )
    (found,) = out.glob("rubberduck-*.whl")
    return found


def test_the_wheel_ships_the_ui_the_migrations_the_templates_and_the_command(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()

    index = (ROOT / "rubberduck_site" / "ui" / "index.html").read_text()
    assets = {f"rubberduck_site/ui/{path}" for path in re.findall(r'"/static/([^"]+)"', index)}
    assert "rubberduck_site/ui/index.html" in names and assets and assets <= names
    migrations = {str(p.relative_to(ROOT)) for p in ROOT.glob("*/migrations/*.py")}
    assert len(migrations) >= 8 and migrations <= names
    templates = {str(p.relative_to(ROOT)) for p in (ROOT / "accounts" / "templates").rglob("*.html")}
    assert templates and templates <= names
    assert "rubberduck = rubberduck_cli.main:cli" in entry_points
    assert not [n for n in names if n.startswith(("tests/", "frontend/", "bench/"))]
    if not CLIENT.exists():
        pytest.skip("client/ (rubberduck_client, which the CLI's remote commands use) is not in this checkout yet")
    assert "rubberduck_client/__init__.py" in names


def test_pip_install_gives_a_rubberduck_command_that_serves_from_an_empty_directory(wheel, tmp_path):
    if not CLIENT.exists():
        pytest.skip("client/ (rubberduck_client, which the `rubberduck` command imports) is not in this checkout yet")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=300,
    )
    ask = [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    venv_site = Path(subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip())
    (venv_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    empty, home = tmp_path / "empty", tmp_path / "home"
    empty.mkdir()
    # Nothing from this environment that would choose the data dir, the database or the key.
    unset = {"RUBBERDUCK_DATA_DIR", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "XDG_DATA_HOME", "PYTHONPATH"}
    env = {key: value for key, value in os.environ.items() if key not in unset} | {"HOME": str(home)}
    where = [str(python), "-c", "import rubberduck_site, rubberduck_cli; print(rubberduck_site.__file__)"]
    imported = subprocess.run(where, cwd=empty, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(imported.strip()).is_relative_to(venv)

    rubberduck = venv / "bin" / "rubberduck"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(rubberduck), "serve", "--port", str(port)], cwd=empty, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: healthy(url) or server.poll() is not None, timeout=90, interval=0.1)
        assert server.poll() is None, log.read_text()
        page = httpx.get(f"{url}/some/screen")
        assert page.status_code == 200 and '<div id="root">' in page.text  # the UI, from the installed package
        script = re.search(r'src="(/static/[^"]+\.js)"', page.text).group(1)
        assert httpx.get(url + script).status_code == 200

        created = subprocess.run(
            [str(rubberduck), "token", "create", "me@example.com", "--create-user"],
            cwd=empty,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stderr
        listed = subprocess.run(
            [str(rubberduck), "proxies", "ls", "--json"],
            cwd=empty,
            env={**env, "RUBBERDUCK_URL": url, "RUBBERDUCK_TOKEN": created.stdout.strip()},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (listed.returncode, listed.stdout) == (0, "[]\n"), listed.stderr
    finally:
        code = stop(server)
    output = log.read_text()
    assert code == 0 and "Rubberduck stopped." in output, output
    data = home / ".local" / "share" / "rubberduck"
    assert f"Data in {data}." in output and "No account yet" in output
    assert (data / "rubberduck.sqlite3").exists() and len((data / "secret_key").read_text()) >= 50
    assert list(empty.iterdir()) == []  # nothing written where it was started
