"""What the package imports is what ``setup.py`` declares, each with a lower bound."""

import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Declared without an import of their own: Sacred imports pkg_resources from setuptools.
NOT_IMPORTED = {"setuptools"}


def _imported():
    """Top-level names of the modules the package's files and ``Config.py`` import, the standard
    library and the package itself left out."""
    files = [os.path.join(ROOT, "Config.py")] + [
        os.path.join(folder, name)
        for folder, _, names in os.walk(os.path.join(ROOT, "wavenet_j"))
        for name in names
        if name.endswith(".py")
    ]
    found = set()
    for path in files:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"wavenet_j", "Config"}


def _declared():
    """``{distribution: requirement}`` of ``install_requires`` and every extra but ``dev``."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    keywords = {
        k.arg: ast.literal_eval(k.value)
        for k in call.keywords
        if k.arg in ("install_requires", "extras_require")
    }
    requirements = keywords["install_requires"] + [
        r for extra, listed in keywords["extras_require"].items() if extra != "dev" for r in listed
    ]
    return {re.match(r"[A-Za-z0-9_.-]+", r).group().lower(): r for r in requirements}


def test_every_imported_module_is_declared_with_a_lower_bound_and_every_declared_one_imported():
    imported, declared = _imported(), _declared()
    assert {"keras", "numpy", "scipy", "stempeg", "sacred"} <= imported  # the walk sees the package
    assert sorted(imported - set(declared)) == []
    assert sorted(set(declared) - imported - NOT_IMPORTED) == []
    assert [r for r in declared.values() if ">=" not in r] == []
