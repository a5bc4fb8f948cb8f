"""Where a server keeps its data, and the secret key it makes there when SECRET_KEY is unset."""

import stat
import subprocess
import sys
import threading

from django.conf import settings

from rubberduck_site.data_dir import default_data_dir, stored_secret_key


def test_a_checkout_keeps_its_data_beside_the_code_and_an_installed_copy_in_the_xdg_data_dir(tmp_path):
    checkout, site_packages, xdg = tmp_path / "checkout", tmp_path / "site-packages", tmp_path / "xdg"
    checkout.mkdir()
    (checkout / "manage.py").touch()
    site_packages.mkdir()

    assert default_data_dir(checkout, xdg) == checkout / "data"
    assert default_data_dir(site_packages, xdg) == xdg / "rubberduck"


def test_it_makes_one_secret_key_and_keeps_it_private(tmp_path):
    keys = []
    start = threading.Barrier(8)

    def read():
        start.wait()
        keys.append(stored_secret_key(tmp_path))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(keys)) == 1 and len(keys[0]) >= 50
    assert stored_secret_key(tmp_path) == keys[0]  # the same on the next start
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left behind


def test_settings_use_the_stored_key_when_secret_key_is_unset(tmp_path):
    env = {"RUBBERDUCK_DATA_DIR": str(tmp_path), "SECRET_KEY": "", "DJANGO_SETTINGS_MODULE": "rubberduck_site.settings"}
    read = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    run = [sys.executable, "-c", read]
    first = subprocess.run(run, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True).stdout
    again = subprocess.run(run, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True).stdout
    assert first.strip() == again.strip() == (tmp_path / "secret_key").read_text()
    given = {**env, "SECRET_KEY": "from-the-environment-" + "x" * 40}
    answer = subprocess.run(run, env=given, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == given["SECRET_KEY"]
