"""Every setting is read through ``config/`` and listed in docs/operations.md.

The rule, as checked on the AST of every module under ``maiascore/``:

* forbidden: ``os.getenv(...)``; reading a variable from ``os.environ`` (``os.environ[NAME]`` as a
  value, ``os.environ.get``, ``setdefault``, ``pop``, ``items``... any attribute of it); the
  ``in`` test on it; and binding ``os.environ`` itself to a name (``env = os.environ``), which
  would hide the reads made through that name. A setting is a ``Config`` attribute instead;
  ``config.given(NAME)`` says whether the environment sets one.
* allowed: writing for child processes (``os.environ[NAME] = value``, ``os.environ.update(...)``,
  ``del os.environ[NAME]``) and handing the whole environment on as a value
  (``dict(os.environ)``, ``{**os.environ, ...}``, ``Popen(..., env=os.environ)``): nothing is read
  by name there.

Then the two lists must agree: every name ``config/__init__.py`` reads with ``_env("NAME", ...)``
is in docs/operations.md's settings tables, and every variable listed there is read by config.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "maiascore"
CONFIG = ROOT / "config" / "__init__.py"
OPERATIONS = ROOT / "docs" / "operations.md"
WRITES = {"update", "__setitem__", "__delitem__"}


def _is_os_environ(node):
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def environment_reads(source, filename="<source>"):
    """``(line, what)`` for each read of the environment outside config, by the rule above."""
    tree = ast.parse(source, filename)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getenv" \
                and isinstance(node.value, ast.Name) and node.value.id == "os":
            found.append((node.lineno, "os.getenv"))
            continue
        if not _is_os_environ(node):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Subscript) and parent.value is node:
            if isinstance(parent.ctx, ast.Load):
                found.append((node.lineno, "os.environ[...]"))
        elif isinstance(parent, ast.Attribute) and parent.value is node:
            if parent.attr not in WRITES:
                found.append((node.lineno, f"os.environ.{parent.attr}"))
        elif isinstance(parent, ast.Compare):
            found.append((node.lineno, "... in os.environ"))
        elif isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and parent.value is node:
            found.append((node.lineno, "a name bound to os.environ"))
    return found


def config_settings():
    return set(re.findall(r'_env\(\s*"([A-Z0-9_]+)"', CONFIG.read_text()))


def documented_settings():
    """The variables in the first column of docs/operations.md's settings tables."""
    text = OPERATIONS.read_text().split("\n## ", 2)[1]  # the "Configuration" section
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_nothing_outside_config_reads_the_environment():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, what in environment_reads(path.read_text(), str(path)):
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert not offenders, "read these through config (a Config attribute, config.given):\n" + "\n".join(offenders)


def test_the_checker_tells_reads_from_hand_overs():
    reads = """
import os
a = os.environ.get("A")
b = os.environ["B"]
c = os.getenv("C")
d = "D" in os.environ
env = os.environ
e = os.environ.setdefault("E", "1")
"""
    assert [what for _, what in sorted(environment_reads(reads))] == [
        "os.environ.get", "os.environ[...]", "os.getenv", "... in os.environ", "a name bound to os.environ",
        "os.environ.setdefault"]
    hand_overs = """
import os, subprocess
os.environ["VAR_DIR"] = "var"
os.environ.update(REDIS_URL="redis://x")
del os.environ["X"]
child = {**os.environ, "PYTHONPATH": "."}
subprocess.run(["true"], env=dict(os.environ))
"""
    assert environment_reads(hand_overs) == []


def test_every_setting_is_documented_and_every_documented_setting_exists():
    read, documented = config_settings(), documented_settings()
    assert len(read) > 50 and "MONGO_URI" in documented  # both parsers still find the lists
    assert not read - documented, f"read by config/, missing from docs/operations.md: {sorted(read - documented)}"
    assert not documented - read, f"listed in docs/operations.md, not read by config/: {sorted(documented - read)}"
