"""The dependency rule of the tooling, and the layout table of docs/design.md."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scripts" / "patchkit"
PAYLOADS = ROOT / "scripts" / "payloads"


def imported_modules(path):
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def package_modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py")


def command_modules():
    """Every module of the package but the cli, the one place that imports commands."""
    return [path for path in package_modules() if path != PACKAGE / "cli.py"]


@pytest.mark.parametrize("path", command_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_but_the_cli_imports_only_the_core_layer(path):
    ours = {m for m in imported_modules(path) if m.split(".")[0] == "patchkit"}
    assert {m for m in ours if not m.startswith("patchkit.core.")} == set()


def test_the_cli_is_the_one_module_left_out_and_imports_only_modules_that_exist():
    assert set(package_modules()) - set(command_modules()) == {PACKAGE / "cli.py"}
    ours = {m for m in imported_modules(PACKAGE / "cli.py") if m.split(".")[0] == "patchkit"}
    assert any(m.startswith("patchkit.checks.") for m in ours)
    for module in ours:
        path = ROOT / "scripts" / Path(*module.split("."))
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), module


def test_the_old_flat_modules_are_gone():
    flat = {p.name for p in (ROOT / "scripts").glob("*.py")}
    assert flat == {"patchset.py"}


def test_payloads_and_package_never_import_each_other():
    for path in PAYLOADS.rglob("*.py"):
        assert not any(m.split(".")[0] == "patchkit" for m in imported_modules(path)), path
    payload_names = {p.stem for p in PAYLOADS.rglob("*.py")} | {p.name for p in PAYLOADS.iterdir()}
    for path in PACKAGE.rglob("*.py"):
        assert not {m.split(".")[0] for m in imported_modules(path)} & payload_names, path


def layout_paths():
    text = (ROOT / "docs" / "design.md").read_text()
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [
        path
        for cell in re.findall(r"^\| (`[^|]+`) \|", section, re.M)
        for path in re.findall(r"`([^`]+)`", cell)
    ]


def test_the_layout_table_matches_the_tree():
    listed = layout_paths()
    assert listed
    for entry in listed:
        assert (ROOT / entry.rstrip("/")).exists(), entry
    groups = {
        p.relative_to(ROOT).as_posix() + "/"
        for p in PACKAGE.iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert groups <= set(listed)


def called_names(path):
    """The dotted names of what path calls (print, subprocess.Popen, sys.stdout.write)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            names.add(ast.unparse(node.func))
    return names


@pytest.mark.parametrize("path", command_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_writes_output_and_only_process_starts_programs(path):
    calls = called_names(path)
    assert {"print", "sys.stdout.write", "sys.stderr.write"} & calls == set()
    if path != PACKAGE / "core" / "process.py":
        assert {"subprocess.Popen", "subprocess.run", "os.system"} & calls == set()


def test_the_output_check_sees_a_print():
    assert "print" in called_names(PACKAGE / "cli.py")
    assert "subprocess.Popen" in called_names(PACKAGE / "core" / "process.py")
