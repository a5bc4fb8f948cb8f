"""Every environment variable the product reads is read once, in rubberduck_site/settings.py, and listed in
.env.example (the one place a newcomer looks for them)."""

import ast
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["rubberduck_site", "proxies", "providers", "logs", "metrics", "accounts"]  # pyproject.toml's packages
SETTINGS = Path("rubberduck_site/settings.py")
LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)  # "# NAME=default   # comment"
ENV_READERS = {"os.getenv", "os.environ.get", "os.environ.pop"}


@dataclass(frozen=True)
class Read:
    path: Path
    line: int
    name: str | None  # None: the code reads the environment without a literal name this test could check

    def __str__(self):
        return f"{self.path}:{self.line} {self.name or '(a name this test cannot see)'}"


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def readers_of(tree: ast.AST) -> set[str]:
    """The module's django-environ readers, e.g. `env` of `env = environ.Env()`."""
    return {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and dotted(node.value.func) == "environ.Env"
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def reads_in(tree: ast.AST, path: Path = Path("<source>")) -> list[Read]:
    """The environment reads in a module: django-environ's env(...) and env.<cast>(...), os.environ[...],
    os.environ.get(...), os.getenv(...), and any other use of os.environ or env.ENVIRON (a read by another route)."""
    envs = readers_of(tree)
    whole = {"os.environ", *(f"{env}.ENVIRON" for env in envs)}
    reads, accounted = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = dotted(node.func)
            if func == "os.environ.setdefault" and literal(node.args[0]) == "DJANGO_SETTINGS_MODULE":
                accounted.add(id(node.func.value))  # Django's bootstrap writes it; no setting is read
            elif func in ENV_READERS or func.partition(".")[0] in envs and func not in whole:
                reads.append(Read(path, node.lineno, literal(node.args[0]) if node.args else None))
                accounted.add(id(node.func.value) if isinstance(node.func, ast.Attribute) else id(node.func))
        elif isinstance(node, ast.Subscript) and dotted(node.value) == "os.environ":
            reads.append(Read(path, node.lineno, literal(node.slice)))
            accounted.add(id(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and dotted(node) in whole and id(node) not in accounted:
            reads.append(Read(path, node.lineno, None))
    return reads


def product_reads() -> list[Read]:
    files = [ROOT / "manage.py", *(f for package in PACKAGES for f in (ROOT / package).rglob("*.py"))]
    reads = []
    for file in files:
        reads += reads_in(ast.parse(file.read_text()), file.relative_to(ROOT))
    return reads


def listed() -> set[str]:
    return set(LISTED.findall((ROOT / ".env.example").read_text()))


def test_it_finds_each_kind_of_read_and_can_fail():
    source = """
import os
import environ
env = environ.Env()
A = env("A_VAR", default="")
B = env.float("B_VAR", default=1.0)
C = os.environ.get("C_VAR", "1")
D = os.getenv("D_VAR")
E = os.environ["E_VAR"]
F = {**os.environ}
G = env.ENVIRON
H = credentials.load("NOT_THE_ENVIRONMENT")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")
"""
    names = [read.name for read in reads_in(ast.parse(source))]

    assert sorted(names, key=str) == ["A_VAR", "B_VAR", "C_VAR", "D_VAR", "E_VAR", None, None]


def test_it_sees_the_reads_of_settings_py():
    names = {read.name for read in product_reads() if read.path == SETTINGS}

    assert {"DATABASE_URL", "RUBBERDUCK_LEASE_SECONDS", "RUBBERDUCK_PORT", "GITHUB_CLIENT_SECRET"} <= names


def test_it_lists_every_variable_the_code_reads_in_env_example():
    missing = [str(read) for read in product_reads() if read.name not in listed()]

    assert not missing, f"add these to .env.example, with their default and a short comment: {missing}"


def test_it_lists_only_variables_the_code_reads():
    stale = listed() - {read.name for read in product_reads()}

    assert not stale, f".env.example lists variables nothing reads: {sorted(stale)}"


def test_it_reads_each_variable_once_and_only_in_settings_py():
    reads = product_reads()
    elsewhere = [str(read) for read in reads if read.path != SETTINGS]
    twice = [name for name, count in Counter(read.name for read in reads).items() if count > 1]

    assert not elsewhere, f"read these in rubberduck_site/settings.py and use django.conf.settings: {elsewhere}"
    assert not twice, f"read once in settings.py, then use the setting: {twice}"
