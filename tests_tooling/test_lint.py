"""The upstream review package: lint, docs, ecosystem and case, on small inputs
built here (no network, no real Django)."""

import patchkit.review.lint as lint
from conftest import git


def test_black_pin_comes_from_tox_ini_or_docs_requirements(tmp_path):
    assert lint.sdist_black_pin(tmp_path) is None
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "requirements.txt").write_text("Sphinx>=4.5.0\nblack==23.12.1\n")
    assert lint.sdist_black_pin(tmp_path) == "23.12.1"
    (tmp_path / "tox.ini").write_text("[testenv:black]\ndeps = black == 26.3.1\n")
    assert lint.sdist_black_pin(tmp_path) == "26.3.1"


def test_tool_requirements_use_the_release_black(tmp_path):
    (tmp_path / "tox.ini").write_text("[testenv:black]\ndeps = black == 26.3.1\n")
    requirements = lint.tool_requirements(tmp_path)
    assert "black==26.3.1" in requirements
    assert sum(line.startswith("black==") for line in requirements) == 1


def test_diff_findings_gives_one_finding_per_hunk():
    original = "a = 1\nb  = 2\nc = 3\nd  = 4\n"
    formatted = "a = 1\nb = 2\nc = 3\nd = 4\n"
    findings = lint.diff_findings("black", "x.py", original, formatted)
    assert [(f.line, f.key) for f in findings] == [(2, "-b  = 2\n+b = 2"), (4, "-d  = 4\n+d = 4")]


def test_only_findings_beyond_the_pristine_ones_are_introduced():
    def finding(key, line):
        return lint.Finding("flake8", "x.py", line, key, key)

    pristine = [finding("E501|long", 3)]
    patched = [finding("E501|long", 9), finding("E501|long", 12), finding("F401|os", 1)]
    assert [(f.key, f.line) for f in lint.introduced(patched, pristine)] == [
        ("E501|long", 12),
        ("F401|os", 1),
    ]


def test_wrap_findings_flag_added_wide_comments_and_docstrings_only():
    wide = "x" * 80
    text = f'def f():\n    """{wide}"""\n    # {wide}\n    return "{wide}"\n# {wide}\n'
    findings = lint.wrap_findings("x.py", text, added={2, 3, 4})
    assert [f.line for f in findings] == [2, 3]


def test_touched_files_and_added_lines(tmp_path):
    repo = tmp_path / "fork"
    repo.mkdir()
    git(["init", "-q"], repo)
    (repo / "a.py").write_text("x = 1\n")
    git(["add", "-A"], repo)
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", "r"], repo)
    git(["tag", "upstream/6.1.3"], repo)
    (repo / "a.py").write_text("x = 1\ny = 2\n")
    (repo / "b.txt").write_text("new\n")
    git(["add", "-A"], repo)
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", "p"], repo)

    class Release:
        version = "6.1.3"
        stand_in = None

    assert lint.touched_files(repo, Release) == ["a.py", "b.txt"]
    assert lint.added_line_numbers(repo, Release, "a.py") == {2}
    assert lint.pristine_text(repo, Release, "b.txt") == ""


def test_commit_messages_follow_djangos_rules(tmp_path):
    repo = tmp_path / "fork"
    repo.mkdir()
    git(["init", "-q"], repo)
    git(
        ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "--allow-empty", "-m", "r"],
        repo,
    )
    git(["tag", "upstream/6.0.10"], repo)
    main_sha = "a" * 40
    messages = [
        f"[6.0.x] Refs #1 -- Made it so.\n\nWhy.\n\nBackport of {main_sha} from this\n"
        "patch set's main series.",
        f"Refs #1 -- Made that so.\n\n{'w' * 73}\n\nBackport of {'b' * 40} from main.",
        "[6.0.x] Fixed this\n\nBackport of nothing.",
    ]
    for message in messages:
        git(
            [
                "-c",
                "user.name=a",
                "-c",
                "user.email=a@b",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                message,
            ],
            repo,
        )

    class Release:
        version = "6.0.10"
        series = "6.0"
        stand_in = None

    commits = lint.series_commits(repo, Release)
    assert [subject for _, subject, _ in commits] == [m.split("\n")[0] for m in messages]
    # The second commit's backport line names a main commit that is gone.
    main_commits = {"Refs #1 -- Made it so.": main_sha, "Refs #1 -- Made that so.": "c" * 40}
    findings = lint.commit_findings(Release, commits, main_commits)
    assert [(f.path, f.line) for f in findings] == [
        ("commit 2", 1),
        ("commit 2", 3),
        ("commit 2", 5),
        ("commit 3", 1),
        ("commit 3", 1),
    ]
    assert "starts with '[6.0.x] '" in findings[0].message
    assert "73 > 72" in findings[1].message
    assert f"`Backport of {'c' * 40} from this patch set's main series.`" in findings[2].message
    assert "no commit of the main series" in findings[4].message
    # The main series itself has no prefix and no backport line to check.
    main_findings = lint.commit_findings(Release, commits[1:2], None)
    assert [f.message for f in main_findings] == [findings[1].message]


def test_release_notes_say_where_they_come_from(tmp_path):
    repo = tmp_path / "fork"
    (repo / "docs" / "releases").mkdir(parents=True)
    git(["init", "-q"], repo)
    notes = repo / "docs" / "releases"
    (notes / "6.2.txt").write_text("stub\n")
    commit = ["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", "m"]
    git(["add", "-A"], repo)
    git(commit, repo)
    git(["tag", "upstream/main"], repo)
    git(["tag", "upstream/6.1.3"], repo)

    class Main:
        version, series, stand_in = "6.1.3", "main", "6.2"

    class Backport:
        version, series, stand_in = "6.1.3", "6.1", None

    (notes / "6.2.txt").write_text("stub\n* A change.\n")
    (notes / "6.1.4.txt").write_text("Django 6.1.4 fixes several bugs.\n")
    git(["add", "-A"], repo)
    git(commit, repo)
    assert [f.path for f in lint.release_note_findings(repo, Main)] == ["docs/releases/6.1.4.txt"]
    git(["rm", "-q", "docs/releases/6.1.4.txt", "docs/releases/6.2.txt"], repo)
    git(commit, repo)
    git(["tag", "-f", "upstream/6.1.3"], repo)
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "6.1.3-async-callable.txt").write_text(
        "These notes are not from a Django release. They describe ...\n"
    )
    git(["add", "-A"], repo)
    git(commit, repo)
    assert lint.release_note_findings(repo, Backport) == []
    (notes / "6.1.3-async-callable.txt").write_text("Django 6.1.4 fixes a crash.\n")
    git(["-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-a", "-m", "m"], repo)
    assert [f.path for f in lint.release_note_findings(repo, Backport)] == [
        "docs/releases/6.1.3-async-callable.txt"
    ]
