"""The GitHub Actions workflow for fork maintainers: valid against GitHub's schema
(vendored by check-jsonschema, so no network) and running exactly tox's env_list."""

import configparser
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOW = PROJECT / ".github" / "workflows" / "tox.yml"


def expand_tox_factors(entry):
    """tox's generative names: dj61-py{312,313} -> dj61-py312, dj61-py313."""
    parts = re.split(r"\{([^}]*)\}", entry)
    choices = [[part] if index % 2 == 0 else part.split(",") for index, part in enumerate(parts)]
    return ["".join(combination).strip() for combination in itertools.product(*choices)]


def tox_env_list():
    config = configparser.ConfigParser(interpolation=None)
    config.read(PROJECT / "tox.ini")
    entries = config["tox"]["env_list"].split()
    return [name for entry in entries for name in expand_tox_factors(entry)]


def workflow_env_list():
    return YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]["tox"]["strategy"]["matrix"]["env"]


def test_expand_tox_factors():
    assert expand_tox_factors("dj52-py{310,311}") == ["dj52-py310", "dj52-py311"]
    assert expand_tox_factors("tooling") == ["tooling"]


def test_workflow_runs_every_tox_env_of_env_list():
    assert workflow_env_list() == tox_env_list()


def test_workflow_opt_in_envs_exist_in_tox_ini():
    config = configparser.ConfigParser(interpolation=None)
    config.read(PROJECT / "tox.ini")
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    options = workflow["on"]["workflow_dispatch"]["inputs"]["opt_in_env"]["options"]
    for env in options:
        assert env == "none" or config.has_section(f"testenv:{env}"), env


def test_workflow_matches_githubs_schema():
    executable = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    command = [executable] if executable else [sys.executable, "-m", "check_jsonschema"]
    completed = subprocess.run(
        [*command, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ok -- validation done" in completed.stdout
