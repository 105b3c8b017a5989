"""The small JSON summaries the checks write (evidence/<name>.json), which `case`
reads to fill in UPSTREAM.md: figures are never typed by hand."""

import json

from releases import project_dir


def evidence_dir():
    return project_dir() / "evidence"


def evidence_path(name):
    return evidence_dir() / f"{name}.json"


def write_evidence(name, data):
    path = evidence_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_evidence(name):
    """The summary, or None when that check has not been run yet."""
    path = evidence_path(name)
    return json.loads(path.read_text()) if path.exists() else None
