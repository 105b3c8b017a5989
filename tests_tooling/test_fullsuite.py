from patchkit.core.errors import CommandError
from patchkit.core.manifest import Release
from patchkit.core.runtests import compare_outcomes
from patchkit.review import fullsuite

RELEASE = Release("6.1", "6.1.3", "0" * 64, ("3.12",))


def summary_of(patched, reverted, new_ids=()):
    comparison = compare_outcomes(set(new_ids), patched, reverted, None)
    return fullsuite.fullsuite_summary(
        RELEASE, "3.12", comparison, patched, reverted, {"patched": 1, "pristine": 1}, [], 125
    )


def test_summary_counts_the_red_green_tests_and_keeps_same_outcomes():
    summary = summary_of(
        patched={"a.T.test_new": "pass", "a.T.test_old": "pass", "a.T.test_flaky": "fail"},
        reverted={"a.T.test_new": "fail", "a.T.test_old": "pass", "a.T.test_flaky": "fail"},
        new_ids={"a.T.test_new"},
    )

    assert summary["ok"] is True
    assert summary["red_green"] == 1
    assert summary["same_outcome"] == 2
    assert summary["patched"] == {"fail": 1, "pass": 2}
    assert summary["pristine"] == {"fail": 2, "pass": 1}
    assert summary["minutes"] == 2.1
    assert summary["differing"] == []


def test_an_old_test_that_fails_only_patched_is_listed_and_fails_the_run():
    summary = summary_of(
        patched={"a.T.test_old": "error", "a.T.test_other": "pass"},
        reverted={"a.T.test_old": "pass", "a.T.test_other": "pass"},
    )

    assert summary["ok"] is False
    assert summary["differing"] == [
        {"test": "a.T.test_old", "pristine": "pass", "patched": "error", "rule": "outcome changed"}
    ]


def test_a_module_that_fails_to_import_fails_the_run():
    summary = summary_of(
        patched={"unittest.loader._FailedTest.broken": "error"},
        reverted={"unittest.loader._FailedTest.broken": "error"},
    )

    assert summary["ok"] is False
    assert summary["load_failures"] == [
        "unittest.loader._FailedTest.broken (patched)",
        "unittest.loader._FailedTest.broken (reverted)",
    ]


def test_requirements_that_do_not_install_are_skipped_one_by_one(tmp_path, monkeypatch):
    requirements = tmp_path / "tests" / "requirements" / "py3.txt"
    requirements.parent.mkdir(parents=True)
    requirements.write_text("asgiref >= 3.8  # needed\n\npylibmc; sys_platform != 'win32'\n")
    installed = []

    def run_checked(command, what, next_step, cwd=None):
        if command[-2:] == ["-r", str(requirements)] or "pylibmc" in command[-1]:
            raise CommandError(f"{what} failed", next_step)
        installed.append(command[-1])

    monkeypatch.setattr(fullsuite, "ensure_pip", lambda python: None)
    monkeypatch.setattr(fullsuite, "run_checked", run_checked)
    skipped = fullsuite.install_suite_requirements("python", tmp_path)

    assert installed == ["asgiref >= 3.8"]
    assert skipped == ["pylibmc; sys_platform != 'win32'"]


def test_failures_the_release_shares_are_named():
    patched = {"a.T.test_x": "fail", "a.T.test_y": "error", "a.T.test_z": "pass"}
    reverted = {"a.T.test_x": "fail", "a.T.test_y": "fail", "a.T.test_z": "pass"}

    summary = summary_of(patched, reverted)

    assert summary["failing_on_both"] == ["a.T.test_x (fail)"]
