"""Virtualenvs, pip installs and checked subprocess runs."""

import re
import shutil
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.interpreters import python_version_of
from patchkit.core.manifest import PROJECT_DIR
from patchkit.core.process import run_process
from patchkit.core.report import progress

DJANGO_TEST_REQUIREMENTS = PROJECT_DIR / "requirements" / "django-tests.txt"


def run_checked(command, what, next_step, cwd=None):
    """run_process, its failure named by what the command was doing."""
    completed = run_process(command, cwd=cwd, check=False)
    if completed.returncode != 0:
        raise CommandError(f"{what} failed:\n{completed.output}", next_step)
    return completed.stdout


def create_venv(base_python, venv_dir):
    venv_dir = Path(venv_dir)
    python = venv_dir / "bin" / "python"
    wanted = python_version_of(base_python)
    if python.exists() and python_version_of(python) == wanted:
        progress(f"Reusing the virtualenv {venv_dir} (Python {wanted})")
        return python
    if venv_dir.exists():
        if not (venv_dir / "pyvenv.cfg").exists():
            raise CommandError(
                f"{venv_dir} exists and is not a virtualenv",
                "move it away and run the command again",
            )
        progress(f"Replacing the virtualenv {venv_dir} (not Python {wanted})")
        shutil.rmtree(venv_dir)
    progress(f"Creating the virtualenv {venv_dir} with {base_python}...")
    run_checked(
        [base_python, "-m", "venv", str(venv_dir)],
        f"creating {venv_dir}",
        f"remove {venv_dir} and retry",
    )
    return python


def ensure_pip(python):
    # Environments made by uv (e.g. tox-uv) come without pip.
    probe = run_process([python, "-m", "pip", "--version"], check=False)
    if probe.returncode != 0:
        run_checked(
            [python, "-m", "ensurepip", "--default-pip"],
            "bootstrapping pip",
            f"install pip into {python}'s environment",
        )


def install_fork(python, fork, requirements=DJANGO_TEST_REQUIREMENTS):
    """Install the fork editable plus a requirements file (by default what
    runtests.py needs) into python's env, in one pip run."""
    progress(f"Installing {fork} (editable) and {Path(requirements).name} into {python}...")
    ensure_pip(python)
    run_checked(
        [python, "-m", "pip", "install", "-q", "-e", str(fork), "-r", str(requirements)],
        f"installing {fork}",
        "check the pip output above; PyPI must be reachable",
    )


def install_requirements(python, requirements):
    """pip install -r requirements into python's env (already there: a quick no-op)."""
    progress(f"Installing {Path(requirements).name} into {python}...")
    ensure_pip(python)
    run_checked(
        [python, "-m", "pip", "install", "-q", "-r", str(requirements)],
        f"installing {Path(requirements).name}",
        "check the pip output above; PyPI must be reachable",
    )


def installed_versions(python, names, missing="not installed"):
    """{distribution: version} as pip in python's environment sees them."""
    versions = {}
    for name in names:
        output = run_process([str(python), "-m", "pip", "show", name], check=False).stdout
        match = re.search(r"^Version: (.+)$", output, re.MULTILINE)
        versions[name] = match.group(1) if match else missing
    return versions
