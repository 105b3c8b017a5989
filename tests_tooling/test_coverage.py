"""coverage: how apply's outcome on a maintainer's fork is classified and reported."""

from conftest import commit_all, repo_state
from patchkit.forkops import coverage


def test_a_clean_fork_applies_and_a_crlf_one_is_refused_unchanged(
    project, series_patch, user_fork
):
    crlf = user_fork.parent / "crlf_fork"
    crlf.mkdir()
    for path in user_fork.rglob("*"):
        if ".git" not in path.parts and path.is_file():
            target = crlf / path.relative_to(user_fork)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    coverage.run_git(["init", "-q", "-b", "main"], crlf)
    commit_all(crlf, "Django 6.1.3, as a yanked sdist would have it.")
    before = repo_state(crlf)

    assert coverage.apply_as_maintainer(user_fork, "6.1")[0] == "clean"
    outcome, conflicts, words = coverage.apply_as_maintainer(crlf, "6.1")

    assert (outcome, conflicts) == ("refused", [])
    assert "Windows line endings (CRLF) in <fork>, " in words
    assert repo_state(crlf) == before


def test_refused_is_ok_only_for_a_yanked_release():
    assert coverage.Row("4.2.12", "refused", [], yanked="CRLF files").ok
    assert not coverage.Row("4.2.11", "refused", []).ok
    assert coverage.Row("5.2.0", "conflict", ["django/utils/inspect.py"]).ok
    assert not coverage.Row("5.2.0", "conflict", []).ok
    assert not coverage.Row("6.1.0", "clean", [], passed=2, tests=3).ok
    assert coverage.Row("6.1.0", "clean", [], passed=3, tests=3).ok


def test_the_report_counts_each_outcome_and_says_where_apply_stopped():
    results = {
        "4.2": [
            coverage.Row("4.2.11", "clean", [], passed=3, tests=3),
            coverage.Row(
                "4.2.12", "refused", [], detail="error: 2 file(s) have CRLF; x", yanked="CRLF"
            ),
        ],
        "5.2": [
            coverage.Row("5.2.0", "conflict", ["a.py"], detail="error: conflicts in a.py"),
            coverage.Row("5.2.1", "failed", [], detail="error: boom"),
        ],
    }

    report = coverage.markdown_report(results, False, "python3 scripts/patchset.py coverage")

    assert (
        "4 point releases: 1 apply cleanly and the new tests pass on 1 of them; 1 stop in "
        "`git am` with conflict markers in the files listed; 1 yanked release(s) refused "
        "with the repository unchanged; 1 other failure(s)." in report
    )
    assert '- 4.2 4.2.12: yanked from PyPI ("CRLF"); apply said: `error: 2 file(s) have CRLF`' in (
        report
    )
    assert "- 5.2 5.2.1: apply said: `error: boom`" in report


def test_a_failing_release_fails_its_own_row_only(monkeypatch):
    from patchkit.core.errors import CommandError

    def cover(series_release, version, entry, python, workdir):
        if version == "4.2.11":
            raise CommandError("pip could not download Django 4.2.11's sdist:\nboom", "retry")
        return coverage.Row(version, "clean", [], passed=1, tests=1)

    monkeypatch.setattr(coverage, "cover_release", cover)
    jobs = {
        v: (lambda v=v: coverage.cover_or_fail(None, v, {}, "python", "w"))
        for v in ("4.2.10", "4.2.11")
    }
    rows = coverage.run_both(jobs)

    assert rows["4.2.10"].ok
    assert (rows["4.2.11"].applied, rows["4.2.11"].detail) == (
        "failed",
        "pip could not download Django 4.2.11's sdist: boom",
    )
