"""Where a server keeps its data, and the secret key it keeps there when none is configured."""

import os
import secrets
import tempfile
from pathlib import Path


def default_data_dir(base_dir: Path, xdg_data_home: Path) -> Path:
    """./data in a source checkout (it has manage.py); $XDG_DATA_HOME/rubberduck for an installed copy."""
    return base_dir / "data" if (base_dir / "manage.py").exists() else xdg_data_home / "rubberduck"


def stored_secret_key(data_dir: Path) -> str:
    """The key in DATA_DIR/secret_key, made on first use. It is written aside and linked into place, so every
    process that starts at the same time reads the one complete key, whichever process made it."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd, draft = tempfile.mkstemp(dir=data_dir, prefix=".secret_key-")  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(50))
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: everyone uses that one
        finally:
            os.unlink(draft)
    return path.read_text().strip()
