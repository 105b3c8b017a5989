"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import json

import patchkit.core.evidence as evidence


def test_evidence_round_trip(project):
    assert evidence.read_evidence("lint") is None
    path = evidence.write_evidence("lint", {"6.1": {"files": 3}})
    assert path == project / "evidence" / "lint.json"
    assert json.loads(path.read_text())["6.1"] == {"files": 3}
    assert evidence.read_evidence("lint") == {"6.1": {"files": 3}}


def test_evidence_from_other_patches_is_not_evidence(project):
    evidence.write_evidence("lint", {"6.1": {"files": 3}})
    (project / "patches" / "6.1" / "0001-x.patch").write_text("changed\n")
    assert evidence.read_evidence("lint") is None
