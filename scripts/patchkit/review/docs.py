"""Django's docs built with `make html` (and `make spelling`) in docs/ of the
patched tree and of the pristine release, with the versions docs/requirements.txt
asks for: the patched docs must bring no new warning."""

import collections
import os
import re
import shutil
import sys
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import extract_commit, materialize_fork, upstream_tag
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, progress
from patchkit.core.venvs import create_venv, ensure_pip, installed_versions, run_checked

# What pyenchant needs from Debian to check en_US spelling.
SPELLING_DEBIAN_PACKAGES = ["libenchant-2-2", "hunspell-en-us"]
ENCHANT_PROBE = "import enchant; enchant.Dict('en_US')"
WARNING_LINE = re.compile(
    r"^(?P<file>[^:\s][^:]*?)(?::(?P<line>\d+))?: "
    r"(?P<level>WARNING|ERROR|CRITICAL|SEVERE): (?P<message>.*)$"
)


def docs_venv(workdir, tree):
    venv = Path(workdir) / "docs-venv"
    python = create_venv(sys.executable, venv)
    requirements = Path(tree) / "docs" / "requirements.txt"
    progress(f"Installing {requirements} into {venv}...")
    ensure_pip(str(python))
    run_checked(
        [str(python), "-m", "pip", "install", "-q", "-r", str(requirements)],
        "installing docs/requirements.txt",
        "check that PyPI is reachable",
    )
    return venv


def enchant_works(venv):
    probe = run_process([str(venv / "bin" / "python"), "-c", ENCHANT_PROBE], check=False)
    return probe.returncode == 0


def install_enchant():
    """Install Debian's enchant and an en_US dictionary when we can; return why not."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    if os.geteuid() != 0:
        return "apt-get needs root"
    progress(f"Installing {' '.join(SPELLING_DEBIAN_PACKAGES)} with apt-get...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", *SPELLING_DEBIAN_PACKAGES],
    ):
        completed = run_process(command, env=env, check=False)
        if completed.returncode != 0:
            return f"`{' '.join(command)}` failed: {completed.stderr.strip()[-300:]}"
    return None


def spelling_unavailable(venv):
    """None when the spelling builder can run, else the reason it cannot."""
    if enchant_works(venv):
        return None
    reason = install_enchant()
    if reason is None and not enchant_works(venv):
        reason = "pyenchant still finds no en_US dictionary"
    return reason


def warnings_file_of(tree, target):
    return Path(tree) / "docs" / "_build" / f"{target}-warnings.txt"


def last_build_warnings(tree, target):
    """The warnings of the last `make <target>` in tree, for --compare-only."""
    path = warnings_file_of(tree, target)
    if not path.exists():
        raise CommandError(
            f"no earlier `make {target}` in {tree}",
            "run the docs command without --compare-only first",
        )
    return 0, path.read_text().splitlines()


def make_docs(venv, tree, target, label):
    """Run `make <target>` in tree/docs with warnings written to a file; return
    (status, warning lines)."""
    docs = Path(tree) / "docs"
    build = docs / "_build"
    warnings_file = warnings_file_of(tree, target)
    build.mkdir(exist_ok=True)
    command = [
        "make",
        target,
        f"SPHINXBUILD={venv / 'bin' / 'sphinx-build'}",
        f"PYTHON={venv / 'bin' / 'python'}",
        f"SPHINXOPTS=-q -w {warnings_file}",
    ]
    progress(f"$ cd {docs} && {' '.join(command)}   ({label})")
    completed = run_process(command, cwd=docs, check=False)
    lines = warnings_file.read_text().splitlines() if warnings_file.exists() else []
    if completed.returncode != 0 and not lines:
        raise CommandError(
            f"`make {target}` failed in {docs}:\n{(completed.stdout + completed.stderr)[-2000:]}",
            "read the Sphinx output above",
        )
    return completed.returncode, lines


def warning_key(line, tree):
    """A warning without its tree path and line number, so the same warning in both
    trees compares equal even when the patch moved it."""
    line = line.replace(str(Path(tree)) + "/", "")
    match = WARNING_LINE.match(line)
    if not match:
        # e.g. the spelling builder's "WARNING: releases/6.1.4.txt:24: : Spell check: ..."
        return re.sub(r"(\.txt):\d+:", r"\1:", line)
    return f"{match['file']}: {match['level']}: {match['message']}"


def new_warnings(patched_lines, patched_tree, pristine_lines, pristine_tree):
    budget = collections.Counter(warning_key(line, pristine_tree) for line in pristine_lines)
    new = []
    for line in patched_lines:
        key = warning_key(line, patched_tree)
        if budget[key] > 0:
            budget[key] -= 1
        else:
            new.append(line.replace(str(Path(patched_tree)) + "/", ""))
    return new


def inventories_unreachable(lines):
    return any("failed to reach any of the inventories" in line for line in lines)


def resolved_by_python_inventory(line):
    """A reference to the standard library, which intersphinx resolves from Python's
    objects.inv when it can download it."""
    match = re.search(r"reference target not found: ([\w.]+)", line)
    return bool(match) and match.group(1).split(".")[0] in sys.stdlib_module_names


def compare_builds(venv, patched_tree, pristine_tree, target, compare_only=False):
    results = {}
    for label, tree in (("patched", patched_tree), ("pristine", pristine_tree)):
        if compare_only:
            results[label] = last_build_warnings(tree, target)
        else:
            results[label] = make_docs(venv, tree, target, label)
    new = new_warnings(results["patched"][1], patched_tree, results["pristine"][1], pristine_tree)
    # Offline, every stdlib reference is unresolved; with network they resolve.
    offline = inventories_unreachable(results["patched"][1])
    offline_only = [line for line in new if offline and resolved_by_python_inventory(line)]
    return {
        "offline_only": offline_only,
        "warnings_patched": len(results["patched"][1]),
        "warnings_pristine": len(results["pristine"][1]),
        "status_patched": results["patched"][0],
        "status_pristine": results["pristine"][0],
        "new": [line for line in new if line not in offline_only],
    }


def run_docs(manifest, series, workspace, spelling, compare_only=False):
    """Build the docs on both trees (or, compare_only, take the last builds'
    warnings); print the comparison; return the exit status."""
    release = manifest.release(series)
    workdir = workspace.root
    pristine = workdir / f"pristine-{release.version}"
    if compare_only:
        fork = workspace.fork(release)
        venv = workdir / "docs-venv"
        last_build_warnings(fork, "html")  # fails early when there was no build
    else:
        fork = materialize_fork(workspace.fork(release), release)
        # The release's files as imported (django/ is needed: conf.py imports it).
        extract_commit(fork, upstream_tag(release), pristine, link_regression=False)
        venv = docs_venv(workdir, fork)
    summary = {
        "series": release.series,
        "version": release.version,
        "tools": installed_versions(
            venv / "bin" / "python", ["Sphinx", "pyenchant", "sphinxcontrib-spelling"]
        ),
    }
    summary["html"] = compare_builds(venv, fork, pristine, "html", compare_only)
    reason = spelling_unavailable(venv) if spelling else "--no-spelling"
    if reason is None:
        summary["spelling"] = compare_builds(venv, fork, pristine, "spelling", compare_only)
    else:
        summary["spelling"] = {"skipped": reason}
        progress(
            f"Spelling check skipped: {reason} (it needs Debian's "
            f"{' and '.join(SPELLING_DEBIAN_PACKAGES)})"
        )
    lines = [""]
    lines.append(
        f"Docs of series {release.series}, patched vs {release.base_name} "
        f"(Sphinx {summary['tools']['Sphinx']}):"
    )
    ok = True
    for target in ("html", "spelling"):
        result = summary[target]
        if "skipped" in result:
            lines.append(f"  make {target:<9} skipped: {result['skipped']}")
            continue
        lines.append(
            f"  make {target:<9} warnings: pristine {result['warnings_pristine']}, "
            f"patched {result['warnings_patched']}, new {len(result['new'])}"
        )
        for line in result["new"]:
            lines.append(f"    {line}")
        if result["offline_only"]:
            lines.append(
                f"    also {len(result['offline_only'])} unresolved standard library "
                "references (intersphinx inventories unreachable here):"
            )
            for line in result["offline_only"]:
                lines.append(f"      {line}")
        ok = ok and not result["new"]
    return Outcome(ok, lines, {f"docs-{release.series}": summary})
