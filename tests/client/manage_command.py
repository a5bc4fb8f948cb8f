"""The `rubberduck` command's `serve` and `token create` over manage.py, for when that command is not installed.

python manage_command.py serve --port P                      -> manage.py migrate; manage.py serve --port P
python manage_command.py token create EMAIL --create-user    -> manage.py apitoken EMAIL --create
"""

import os
import subprocess
import sys
from pathlib import Path

MANAGE = str(Path(__file__).resolve().parents[2] / "manage.py")


def main(args: list[str]) -> None:
    if args[:1] == ["serve"]:
        subprocess.run([sys.executable, MANAGE, "migrate", "--noinput", "-v", "0"], check=True)
        # exec: the server is this process, so Ctrl-C (SIGINT) reaches it.
        os.execv(sys.executable, [sys.executable, MANAGE, "serve", *args[1:]])
    if args[:2] == ["token", "create"] and len(args) >= 3:
        create = ["--create"] if "--create-user" in args else []
        os.execv(sys.executable, [sys.executable, MANAGE, "apitoken", args[2], *create])
    sys.exit(f"unsupported: {' '.join(args)}")


if __name__ == "__main__":
    main(sys.argv[1:])
