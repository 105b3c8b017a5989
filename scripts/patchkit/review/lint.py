"""Django's own linters on the files the patches touch, in every series: black,
isort and flake8 as the sdist configures them, blacken-docs as docs/Makefile runs
it, docs/lint.py (sphinx-lint, 79-column docs), the 79-column rule for comments
and docstrings of the coding style, and the commit message rules.

Only problems the patches introduce count: each tool also runs on the pristine
file, and a finding that the release itself already has (e.g. a newer black than
the one 4.2 was formatted with) is not reported.
"""

import ast
import collections
import dataclasses
import difflib
import hashlib
import re
import shutil
import sys
import tempfile
import tokenize
from io import StringIO
from pathlib import Path

from patchkit.core.evidence import LINT_TOOLS
from patchkit.core.fork import git, materialize_fork, upstream_tag
from patchkit.core.git import GitError
from patchkit.core.manifest import PROJECT_DIR
from patchkit.core.process import run_process
from patchkit.core.report import Outcome, progress, text_table
from patchkit.core.venvs import create_venv, ensure_pip, installed_versions, run_checked

LINT_REQUIREMENTS = PROJECT_DIR / "requirements" / "lint.txt"
# Django's repository .flake8 (the sdists do not ship it).
FLAKE8_OPTIONS = ["--max-line-length", "88", "--extend-ignore", "E203"]
# docs/internals/contributing/writing-code/coding-style.txt
COMMENT_WIDTH = 79
BLACK_PIN = re.compile(r"^\s*(?:deps\s*=\s*)?black\s*==\s*([\w.]+)\s*$", re.MULTILINE)
# docs/internals/contributing/committing-code.txt
COMMIT_WIDTH = 72
TICKET_SUBJECT = re.compile(r"^(?:Fixed|Refs) #\d+ -- \S.*\.$")
TOOLS = LINT_TOOLS
LINTERS = ("black", "isort", "flake8", "blacken-docs", "sphinx-lint")


@dataclasses.dataclass(frozen=True)
class Finding:
    tool: str
    path: str
    line: int
    message: str
    key: str  # what makes two findings the same problem, line numbers aside


# Tools ------------------------------------------------------------------------


def sdist_black_pin(tree):
    """The black version the release pins in tox.ini or docs/requirements.txt."""
    for name in ("tox.ini", "docs/requirements.txt"):
        path = Path(tree) / name
        if path.exists():
            match = BLACK_PIN.search(path.read_text())
            if match:
                return match.group(1)
    return None


def tool_requirements(tree):
    lines = [
        line.strip()
        for line in LINT_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    pin = sdist_black_pin(tree)
    if pin:
        lines = [f"black=={pin}" if line.startswith("black==") else line for line in lines]
    return lines


def tools_venv(workdir, requirements):
    """A virtualenv with exactly these requirements, shared by series that agree."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:10]
    venv = Path(workdir) / f"tools-{key}"
    python = create_venv(sys.executable, venv)
    marker = venv / "lint-requirements.txt"
    wanted = "\n".join(requirements) + "\n"
    if not marker.exists() or marker.read_text() != wanted:
        progress(f"Installing {', '.join(requirements)}...")
        ensure_pip(str(python))
        run_checked(
            [str(python), "-m", "pip", "install", "-q", *requirements],
            "installing the linters",
            "check that PyPI is reachable",
        )
        marker.write_text(wanted)
    return venv


def run_tool(venv, args, text=None, cwd=None):
    return run_process([str(venv / "bin" / args[0]), *args[1:]], input=text, cwd=cwd, check=False)


# Findings of each tool on one text -------------------------------------------


def diff_findings(tool, path, original, formatted):
    """One finding per hunk of the reformatting a formatter asks for."""
    findings = []
    diff = difflib.unified_diff(original.splitlines(), formatted.splitlines(), n=0, lineterm="")
    hunk_start, hunk_lines = None, []

    def close_hunk():
        if hunk_start is not None:
            body = "\n".join(hunk_lines)
            findings.append(Finding(tool, path, hunk_start, "would reformat:\n" + body, body))

    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            close_hunk()
            hunk_start = int(re.match(r"@@ -(\d+)", line).group(1)) or 1
            hunk_lines = []
        else:
            hunk_lines.append(line)
    close_hunk()
    return findings


def formatted_by(venv, command, texts):
    """{path: text} reformatted by one run of command (a formatter that rewrites the
    files it is given) on scratch copies; also its output."""
    with tempfile.TemporaryDirectory() as scratch:
        for path, text in texts.items():
            target = Path(scratch) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        completed = run_tool(venv, [*command, *texts], cwd=scratch)
        formatted = {path: (Path(scratch) / path).read_text() for path in texts}
    return formatted, completed.stdout + completed.stderr


def formatter_findings(venv, tool, command, texts):
    if not texts:
        return []
    formatted, output = formatted_by(venv, command, texts)
    findings = []
    for path, text in texts.items():
        findings += diff_findings(tool, path, text, formatted[path])
    lines_of = {path: text.splitlines() for path, text in texts.items()}
    for row in output.splitlines():
        # black: "error: cannot format PATH: ..."; blacken-docs: "PATH:LINE: ..."
        match = re.match(
            r"^(?:error: cannot format )?(?P<path>[^:]+?):(?:(?P<line>\d+):)? "
            r"(?P<message>.*)$",
            row,
        )
        # blacken-docs' "PATH: Rewriting..." only repeats what the diff shows.
        if match and match["path"] in texts and match["message"] != "Rewriting...":
            number = int(match["line"] or 1)
            lines = lines_of[match["path"]]
            source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            findings.append(
                Finding(
                    tool, match["path"], number, match["message"], f"{match['message']}|{source}"
                )
            )
    return findings


def flake8_findings(venv, texts):
    if not texts:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        for path, text in texts.items():
            target = Path(scratch) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        # --isolated: Django's config is given on the command line, nothing else counts.
        completed = run_tool(venv, ["flake8", "--isolated", *FLAKE8_OPTIONS, *texts], cwd=scratch)
    findings = []
    for row in completed.stdout.splitlines():
        match = re.match(r"^(.+?):(\d+):\d+: (\w+) (.*)$", row)
        if match and match.group(1) in texts:
            path, number = match.group(1), int(match.group(2))
            lines = texts[path].splitlines()
            source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            message = f"{match.group(3)} {match.group(4)}"
            findings.append(Finding("flake8", path, number, message, f"{message}|{source}"))
    return findings


def code_findings(venv, tree, texts):
    """black, isort and flake8 as the release configures them, blacken-docs as its
    docs/Makefile runs it, on {path: text}."""
    python = {path: text for path, text in texts.items() if path.endswith(".py")}
    docs = {
        path: text
        for path, text in texts.items()
        if path.startswith("docs/") and path.endswith(".txt")
    }
    pyproject = str(Path(tree) / "pyproject.toml")
    return (
        formatter_findings(venv, "black", ["black", "-q", "--config", pyproject], python)
        + formatter_findings(venv, "isort", ["isort", "-q", "--settings-path", str(tree)], python)
        + flake8_findings(venv, python)
        + formatter_findings(venv, "blacken-docs", ["blacken-docs", "--rst-literal-block"], docs)
    )


def docs_lint_findings(venv, docs_linter, texts):
    """Django's docs/lint.py on just these docs files ({path under docs/: text}): it
    lints the folder it lives in, so it runs from a scratch copy."""
    findings = []
    with tempfile.TemporaryDirectory() as scratch:
        docs = Path(scratch) / "docs"
        docs.mkdir()
        shutil.copy(docs_linter, docs / "lint.py")
        for path, text in texts.items():
            target = docs / Path(path).relative_to("docs")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        completed = run_tool(venv, ["python", "lint.py"], cwd=docs)
        for row in (completed.stdout + completed.stderr).splitlines():
            match = re.match(rf"^{re.escape(str(docs))}/(.+?):(\d+): (.*)$", row)
            if not match:
                continue
            path, number, message = f"docs/{match.group(1)}", int(match.group(2)), match.group(3)
            lines = texts[path].splitlines()
            source = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            findings.append(Finding("docs-lint", path, number, message, f"{message}|{source}"))
    return findings


def docstring_lines(text):
    """Line numbers of every docstring of the module, its classes and functions."""
    numbers = set()
    for node in ast.walk(ast.parse(text)):
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
        ):
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                numbers.update(range(first.lineno, first.end_lineno + 1))
    return numbers


def comment_lines(text):
    return {
        token.start[0]
        for token in tokenize.generate_tokens(StringIO(text).readline)
        if token.type == tokenize.COMMENT
    }


def wrap_findings(path, text, added):
    """Comments and docstrings on the patch's added lines wider than 79 columns."""
    lines = text.splitlines()
    prose = comment_lines(text) | docstring_lines(text)
    return [
        Finding(
            "wrap-79",
            path,
            number,
            f"comment or docstring line is {len(lines[number - 1])} > {COMMENT_WIDTH} columns",
            lines[number - 1].strip(),
        )
        for number in sorted(prose & added)
        if len(lines[number - 1]) > COMMENT_WIDTH
    ]


# One series -------------------------------------------------------------------


def touched_files(fork, release):
    return git(
        ["diff", "--name-only", "--diff-filter=AM", upstream_tag(release), "HEAD"], fork
    ).split()


def pristine_text(fork, release, path):
    try:
        return git(["show", f"{upstream_tag(release)}:{path}"], fork)
    except GitError:
        return ""  # added by the patches


def added_line_numbers(fork, release, path):
    diff = git(["diff", "-U0", upstream_tag(release), "HEAD", "--", path], fork)
    numbers = set()
    for match in re.finditer(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.MULTILINE):
        start, count = int(match.group(1)), int(match.group(2) or "1")
        numbers.update(range(start, start + count))
    return numbers


def introduced(patched, pristine):
    """The patched findings beyond those the pristine text already has."""
    budget = collections.Counter((f.tool, f.key) for f in pristine)
    new = []
    for finding in patched:
        if budget[(finding.tool, finding.key)] > 0:
            budget[(finding.tool, finding.key)] -= 1
        else:
            new.append(finding)
    return new


def lint_series(fork, release, venv, docs_linter):
    """(new findings, count of pre-existing findings, files checked) for one fork."""
    paths = touched_files(fork, release)
    patched = {path: (Path(fork) / path).read_text() for path in paths}
    pristine = {path: text for path in paths if (text := pristine_text(fork, release, path))}
    patched_findings = code_findings(venv, fork, patched)
    pristine_findings = code_findings(venv, fork, pristine)
    docs = [path for path in paths if path.startswith("docs/") and path.endswith(".txt")]
    if docs and docs_linter:
        patched_findings += docs_lint_findings(
            venv, docs_linter, {path: patched[path] for path in docs}
        )
        pristine_findings += docs_lint_findings(
            venv, docs_linter, {path: pristine[path] for path in docs if path in pristine}
        )
    new = introduced(patched_findings, pristine_findings)
    preexisting = len(patched_findings) - len(new)
    for path in paths:
        if path.endswith(".py"):
            new += wrap_findings(path, patched[path], added_line_numbers(fork, release, path))
    return new, preexisting, paths


def series_commits(fork, release):
    """(sha, subject, body lines) of each commit of the series, oldest first."""
    log = git(["log", "--reverse", "--format=%H%n%B%x00", f"{upstream_tag(release)}..HEAD"], fork)
    commits = []
    for entry in filter(None, (part.strip("\n") for part in log.split("\0"))):
        sha, subject, *body = entry.splitlines()
        commits.append((sha, subject, body))
    return commits


def backport_line(main_sha):
    """The last paragraph of a backport's message: it names the patch set's own
    main series, not Django's main branch."""
    return f"Backport of {main_sha} from this patch set's main series."


def commit_findings(release, commits, main_commits):
    """Django's commit message rules: a `Fixed #N -- `/`Refs #N -- ` subject
    ending with a period, lines of at most 72 characters and, in a backport, the
    `[A.B.x] ` prefix and a last paragraph naming the commit of the patch set's
    main series with the same subject (main_commits maps subject to sha; None for
    the main series itself)."""
    findings = []

    def find(number, line, message):
        findings.append(Finding("commits", f"commit {number}", line, message, message))

    prefix = f"[{release.series}.x] " if main_commits is not None else ""
    for number, (_, subject, body) in enumerate(commits, start=1):
        if not subject.startswith(prefix):
            find(number, 1, f"a backport's subject starts with {prefix!r}")
        subject = subject.removeprefix(prefix)
        if len(subject) > COMMIT_WIDTH:
            find(number, 1, f"{len(subject)} > {COMMIT_WIDTH} characters without the prefix")
        if not TICKET_SUBJECT.match(subject):
            find(
                number,
                1,
                "the subject is `Fixed #N -- ...` or `Refs #N -- ...`, ending with a period",
            )
        for line_number, line in enumerate(body, start=2):
            if len(line) > COMMIT_WIDTH:
                find(number, line_number, f"{len(line)} > {COMMIT_WIDTH} characters")
        if main_commits is not None:
            main_sha = main_commits.get(subject)
            last_paragraph = " ".join("\n".join(body).strip().split("\n\n")[-1].split())
            if main_sha is None:
                find(number, 1, "no commit of the main series has this subject")
            elif last_paragraph != backport_line(main_sha):
                find(number, len(body) + 1, f"the last paragraph is `{backport_line(main_sha)}`")
    return findings


BACKPORT_NOTES_MARK = "These notes are not from a Django release."


def release_note_findings(fork, release):
    """Where the release notes go: the main series adds to the next feature
    release's notes only; a backport adds one notes file of its own, which says
    that it is this patch set's change and not a Django release."""
    changed = git(
        ["diff", "--name-status", upstream_tag(release), "HEAD", "--", "docs/releases"], fork
    ).splitlines()
    findings = []
    for line in changed:
        status, path = line.split("\t", 1)
        if path == "docs/releases/index.txt":
            continue
        if release.stand_in:
            allowed = path == f"docs/releases/{release.stand_in}.txt" and status == "M"
            why = f"the main series' notes go to docs/releases/{release.stand_in}.txt"
        else:
            allowed = (
                path == f"docs/releases/{release.version}-async-callable.txt"
                and status == "A"
                and BACKPORT_NOTES_MARK in (Path(fork) / path).read_text()
            )
            why = (
                f"a backport's notes are docs/releases/{release.version}-async-callable"
                f".txt, saying {BACKPORT_NOTES_MARK!r}"
            )
        if not allowed:
            findings.append(Finding("commits", path, 1, why, why))
    return findings


def format_finding(finding):
    head, *rest = finding.message.splitlines()
    lines = [f"    {finding.path}:{finding.line}: {finding.tool}: {head}"]
    lines += [f"      {line}" for line in rest]
    return "\n".join(lines)


def run_lint(manifest, series_names, workspace):
    """Lint every requested series; print a table; return the exit status."""
    releases = [manifest.release(name) for name in series_names or manifest.releases]
    workdir = workspace.root
    default = manifest.main_release
    default_fork = materialize_fork(workspace.fork(default), default)
    main_log = series_commits(default_fork, default)
    main_commits = {subject: sha for sha, subject, _ in main_log}
    # 4.2 and 5.2 ship no docs/lint.py: the newest release's rules apply to them.
    newest_docs_linter = default_fork / "docs" / "lint.py"
    results = {}
    for release in releases:
        if release == default:
            fork, commits, backport_of = default_fork, main_log, None
        else:
            fork = materialize_fork(workspace.fork(release), release)
            commits, backport_of = series_commits(fork, release), main_commits
        own_docs_linter = fork / "docs" / "lint.py"
        docs_linter = own_docs_linter if own_docs_linter.exists() else newest_docs_linter
        venv = tools_venv(workdir, tool_requirements(fork))
        progress(f"Linting the files series {release.series} touches...")
        new, preexisting, paths = lint_series(fork, release, venv, docs_linter)
        new += commit_findings(release, commits, backport_of)
        new += release_note_findings(fork, release)
        results[release.series] = SeriesLint(
            release,
            new,
            preexisting,
            paths,
            installed_versions(venv / "bin" / "python", LINTERS, "?"),
        )
    return lint_outcome(results)


@dataclasses.dataclass
class SeriesLint:
    """What lint found in one series: the findings the patches introduce, the
    pristine tree's count, the files linted and the tools' versions."""

    release: object
    new: list
    preexisting: int
    paths: list
    versions: dict


def lint_outcome(results):
    """The report and the `lint` evidence of {series: SeriesLint}."""
    lines = ["", "Lint: problems the patches introduce (pristine findings subtracted)"]
    header = ("series", "files", *TOOLS, "pre-existing", "verdict")
    rows = [header]
    for series, result in results.items():
        counts = collections.Counter(f.tool for f in result.new)
        rows.append(
            (
                series,
                len(result.paths),
                *(counts[t] for t in TOOLS),
                result.preexisting,
                "OK" if not result.new else "FAILED",
            )
        )
    lines.append(text_table(rows))
    for series, result in results.items():
        versions = ", ".join(f"{k} {v}" for k, v in result.versions.items())
        lines.append(f"series {series}: {versions}")
        lines += [format_finding(finding) for finding in result.new]
    evidence = {
        series: {
            "version": result.release.version,
            "files": len(result.paths),
            "new": dict(collections.Counter(f.tool for f in result.new)),
            "findings": [dataclasses.asdict(f) for f in result.new],
            "preexisting": result.preexisting,
            "tools": result.versions,
        }
        for series, result in results.items()
    }
    ok = all(not result.new for result in results.values())
    return Outcome(ok, lines, {"lint": evidence})
