"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import patchkit.review.ecosystem as ecosystem
from patchkit.cli import main


def test_junit_outcomes(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        "<testsuites><testsuite>"
        '<testcase classname="t.A" name="ok"/>'
        '<testcase classname="t.A" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="t.A" name="broken"><error message="x"/></testcase>'
        '<testcase classname="t.A" name="later"><skipped message="x"/></testcase>'
        "</testsuite></testsuites>"
    )
    assert ecosystem.junit_outcomes(report) == {
        "t.A.ok": "pass",
        "t.A.bad": "fail",
        "t.A.broken": "error",
        "t.A.later": "skip",
    }


def test_unknown_ecosystem_package_is_a_usage_error(project, capsys):
    assert main(["ecosystem", "--packages", "no-such-package"]) == 2
    assert "error: unknown package(s): no-such-package" in capsys.readouterr().err
