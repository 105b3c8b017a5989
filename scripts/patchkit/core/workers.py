"""Code of scripts/payloads/ run inside the Django under test: one process per tree,
side by side, each writing a JSON report that names the django/ it imported."""

import json
import os
import subprocess
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.process import start_logged
from patchkit.core.report import progress

WORKER_TIMEOUT = 1800


def worker_env(tree, paths):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree), *map(str, paths)])
    # Warnings are recorded by the worker itself; none may be silenced or raised.
    env.pop("PYTHONWARNINGS", None)
    return env


def read_report(results_path, tree, name, log_path, command):
    if not Path(results_path).exists():
        raise CommandError(
            f"the {name} run wrote no results:\n{Path(log_path).read_text()[-3000:]}",
            f"fix the error above and run {command} again",
        )
    report = json.loads(Path(results_path).read_text())
    expected_django = Path(tree) / "django" / "__init__.py"
    if Path(report["django_file"]).resolve() != expected_django.resolve():
        raise CommandError(
            f"the {name} run imported {report['django_file']}, not {expected_django}",
            "check PYTHONPATH and what is installed in the interpreter",
        )
    return report


def run_side_by_side(python, trees, script, args, scratch, command, what, paths=()):
    """Run script ARGS... RESULTS.json in one process per tree at the same time, the
    tree first on PYTHONPATH, then the script's folder and paths; return {tree name:
    report}. Logs go to scratch."""
    running = {}
    for name, tree in trees.items():
        progress(f"Running {what} with the {name} django ({tree / 'django'})...")
        results_path = Path(scratch) / f"{Path(script).stem}-{name}.json"
        log_path = Path(scratch) / f"{Path(script).stem}-{name}.log"
        process = start_logged(
            [python, script, *args, results_path],
            log_path,
            env=worker_env(tree, [Path(script).parent, *paths]),
        )
        running[name] = (process, results_path, log_path)
    reports = {}
    for name, (process, results_path, log_path) in running.items():
        try:
            process.wait(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reports[name] = read_report(results_path, trees[name], name, log_path, command)
    return reports
