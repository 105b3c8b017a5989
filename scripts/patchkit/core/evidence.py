"""The small JSON summaries the checks write (evidence/<name>.json), which `case`
reads to fill in UPSTREAM.md: figures are never typed by hand."""

import hashlib
import json

from patchkit.core.manifest import project_dir

PATCHES_KEY = "patches_sha256"


def evidence_dir():
    return project_dir() / "evidence"


def evidence_path(name):
    return evidence_dir() / f"{name}.json"


def patches_digest():
    """One sha256 over every patch file: which patches a summary was made from."""
    digest = hashlib.sha256()
    for path in sorted((project_dir() / "patches").glob("*/*.patch")):
        digest.update(path.relative_to(project_dir()).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_evidence(name, data):
    path = evidence_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**data, PATCHES_KEY: patches_digest()}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_evidence(name):
    """The summary, or None when that check has not been run yet or was run on
    other patches than the current ones (a stale figure is not evidence)."""
    path = evidence_path(name)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.pop(PATCHES_KEY, None) != patches_digest():
        return None
    return data


# The columns of the lint summary, in the order `case` prints them.
LINT_TOOLS = ("black", "isort", "flake8", "blacken-docs", "docs-lint", "wrap-79", "commits")
