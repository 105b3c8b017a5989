"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import sys

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


def test_listed_packages_are_pinned_and_runnable():
    for name, package in ecosystem.load_packages().items():
        assert package["version"].replace(".", "").isdigit(), name
        assert package["runner"] in ("django", "pytest", "runtests"), name
        assert package["args"], name


def test_no_test_requirements_installs_only_the_package(tmp_path, monkeypatch):
    commands = []
    monkeypatch.setattr(ecosystem, "run_checked", lambda command, *_: commands.append(command))
    source = tmp_path / "pkg-1.0"
    ecosystem.install_package("python", source, [])
    assert commands == [["python", "-m", "pip", "install", "-q", "--no-deps", str(source)]]


FAKE_TEST_RUNNER = """
class DiscoverRunner:
    def run_suite(self, suite, **kwargs):
        outcome = "fail" if suite == "bad" else "pass"
        return type("Result", (), {"outcomes": {f"{suite}.Tests.test_it": outcome}})()

    def run_tests(self, labels):
        return self.run_suite(labels[0]).outcomes != {}
"""

# Like django-simple-history's: settings of its own, a runner per label.
FAKE_RUNTESTS = """
import sys
from django.test.runner import DiscoverRunner

for label in sys.argv[1:]:
    DiscoverRunner().run_tests([label])
sys.exit(1)
"""


def test_runtests_runner_records_every_run_of_the_packages_script(tmp_path, monkeypatch):
    monkeypatch.delenv("PATCHSET_PROGRESS", raising=False)
    tree, source = tmp_path / "tree", tmp_path / "pkg-1.0"
    (tree / "django" / "test").mkdir(parents=True)
    (tree / "django" / "__init__.py").write_text("")
    (tree / "django" / "test" / "__init__.py").write_text("")
    (tree / "django" / "test" / "runner.py").write_text(FAKE_TEST_RUNNER)
    source.mkdir()
    (source / "runtests.py").write_text(FAKE_RUNTESTS)
    package = {"runner": "runtests", "env": {}, "args": ["runtests.py", "good", "bad"]}
    status, outcomes = ecosystem.run_package_tests(sys.executable, package, source, tree, True)
    assert status == 1
    assert outcomes == {"good.Tests.test_it": "pass", "bad.Tests.test_it": "fail"}


def test_a_package_that_cannot_run_is_reported_and_the_others_still_run(
    project, monkeypatch, capsys
):
    from types import SimpleNamespace

    from patchkit.core.errors import CommandError
    from patchkit.core.evidence import read_evidence
    from patchkit.review.case import ecosystem_text

    trees = SimpleNamespace(fork=project / "fork", reverted=project / "reverted")
    monkeypatch.setattr(ecosystem, "prepare_trees", lambda release, workspace: trees)
    monkeypatch.setattr(ecosystem, "check_python", lambda release, python: None)
    monkeypatch.setattr(ecosystem, "fork_interpreter", lambda *args: "venv-python")
    monkeypatch.setattr(ecosystem, "python_version_of", lambda python: "3.12.1")
    monkeypatch.setattr(
        ecosystem,
        "load_packages",
        lambda names: {"broken": {"version": "1.0"}, "fine": {"version": "2.0"}},
    )

    def run_one(python, name, package, release, workspace, trees):
        if name == "broken":
            raise CommandError("installing broken failed:\npip said no", "read pip's output")
        return {
            "version": "2.0",
            "tests": 3,
            "pristine": {"pass": 3},
            "patched": {"pass": 3},
            "status": {"pristine": 0, "patched": 0},
            "differing": [],
            "new_failures": [],
        }

    monkeypatch.setattr(ecosystem, "run_one_package", run_one)
    assert main(["ecosystem", "--workdir", str(project / "eco")]) == 1
    out = capsys.readouterr().out
    assert "error: broken: installing broken failed:" in out
    assert "not run: installing broken failed:" in out
    assert "patched:  3 pass" in out
    assert "verdict: FAILED" in out
    summary = read_evidence("ecosystem-6.1")
    assert summary["packages"]["broken"]["error"] == "installing broken failed:"
    assert summary["packages"]["fine"]["tests"] == 3
    text = ecosystem_text({"6.1": summary})
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in text.splitlines()]
    assert ["6.1", "fine", "2.0", "3", "3 pass", "3 pass", "0", "0"] in rows
    assert not any("broken" in row for row in rows)
    assert "- 6.1, broken 1.0: not run (installing broken failed:)" in text
