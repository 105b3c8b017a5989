"""Published packages whose middleware define `async def __call__` (and controls
with a sync `__call__` plus `__acall__`), pinned in scripts/realpackages.json and
installed from PyPI into their own virtualenv, each class placed where users put it
in startproject's MIDDLEWARE, requests sent through the WSGI and ASGI handlers.
Two trees side by side: the release and the series."""

import ast
import json
import re
import tempfile
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.interpreters import check_python, python_version_of
from patchkit.core.ledger import read_ledger
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR, SCRIPTS_DIR
from patchkit.core.report import Outcome, markdown_table, progress, text_table
from patchkit.core.sdists import sdist_cache_dir, sha256_of
from patchkit.core.venvs import run_checked
from patchkit.core.workers import run_side_by_side
from patchkit.core.workspace import fork_interpreter, prepare_trees

PACKAGES_FILE = SCRIPTS_DIR / "realpackages.json"
REQUIREMENTS = PROJECT_DIR / "requirements" / "realpackages.txt"
SITE_DIR = PAYLOADS_DIR / "realpackages_site"
DOC = PROJECT_DIR / "docs" / "real-packages.md"
HEALTH_CHECK = "realpackages_site.health_check_middleware"
HANDLERS = ("wsgi", "asgi")
POSITIONS = ("first", "after-security", "last", "beside-packages")
TREES = ("release", "series")
STOCK_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
LOAD_TIME_LEDGER_ID = "load-time-error"
LOAD_TIME_MESSAGE = "returned an asynchronous callable for a synchronous get_response"


# The plan: what runs ----------------------------------------------------------


def load_real_packages(names=None, path=PACKAGES_FILE):
    manifest = json.loads(Path(path).read_text())
    packages = manifest["packages"]
    unknown = sorted(set(names or ()) - set(packages))
    if unknown:
        raise CommandError.usage(
            f"unknown package(s): {', '.join(unknown)}",
            f"use some of: {', '.join(packages)} (see {Path(path).name})",
        )
    chosen = {name: packages[name] for name in (names or packages)}
    return chosen, manifest["beside"], manifest["settings"]


def startproject_middleware(tree):
    """MIDDLEWARE of the tree's startproject template, as a new project gets it."""
    template = Path(tree) / "django/conf/project_template/project_name/settings.py-tpl"
    match = re.search(r"^MIDDLEWARE = (\[.*?\])", template.read_text(), re.MULTILINE | re.DOTALL)
    if not match:
        raise CommandError(f"no MIDDLEWARE list in {template}", "check the tree")
    return ast.literal_eval(match.group(1))


def placements(dotted, startproject, beside):
    """{position: MIDDLEWARE}: the class first, right after SecurityMiddleware, last,
    and beside the common packages (CorsMiddleware before CommonMiddleware, as its
    docs ask, then the class, then HtmxMiddleware). The health check leads each."""
    common = startproject.index("django.middleware.common.CommonMiddleware")
    neighbours = [beside[0], dotted, *beside[1:]]
    lists = {
        "first": [dotted, *startproject],
        "after-security": [startproject[0], dotted, *startproject[1:]],
        "last": [*startproject, dotted],
        "beside-packages": [
            *startproject[:common],
            *dict.fromkeys(neighbours),  # a control beside itself appears once
            *startproject[common:],
        ],
    }
    return {position: [HEALTH_CHECK, *chain] for position, chain in lists.items()}


def plan_requests(middleware, package, handler):
    scope = package.get("asgi_scope", {}) if handler == "asgi" else {}
    headers = middleware.get("request_headers", {})
    return [
        {"name": "sync", "path": "/sync", "headers": headers, "scope": scope},
        {"name": "async", "path": "/async", "headers": headers, "scope": scope},
        {"name": "health", "path": "/health", "headers": {}, "scope": scope},
    ]


def plan_configurations(packages, beside, startproject):
    configurations = []
    for name, package in packages.items():
        for middleware in package["middleware"]:
            chains = placements(middleware["class"], startproject, beside)
            for position in POSITIONS:
                for handler in HANDLERS:
                    configurations.append(
                        {
                            "id": f"{middleware['class']}|{position}|{handler}",
                            "package": name,
                            "class": middleware["class"],
                            "position": position,
                            "handler": handler,
                            "middleware": chains[position],
                            "requests": plan_requests(middleware, package, handler),
                        }
                    )
    return configurations


# Judging what came back -------------------------------------------------------


def judge_response(request, raw, middleware):
    """'served', or what is wrong with one response, in a few words. An unawaited
    coroutine is judged per configuration: under ASGI its warning can come after a
    later request's response (the garbage collector decides when)."""
    if "raised" in raw:
        kind = raw["raised"].split(":", 1)[0]
        return "load refused" if kind == "ImproperlyConfigured" else f"raised {kind}"
    if raw["exception"]:
        return f"{raw['status']} {raw['exception'].split(':', 1)[0]}"
    if raw["status"] != 200:
        return str(raw["status"])
    if request["name"] == "health":
        return "served" if raw["body"] == "healthy" else "wrong body"
    try:
        body = json.loads(raw["body"])
    except ValueError:
        return "wrong body"
    if body.get("view") != request["name"]:
        return "wrong body"
    headers = {key.lower(): value for key, value in raw["headers"].items()}
    expected = {**STOCK_HEADERS, **middleware.get("response_headers", {})}
    for header, value in expected.items():
        got = headers.get(header.lower())
        if got is None or (value is not None and value not in got):
            return f"no {header}"
    for attribute in middleware.get("request_attributes", ()):
        if not body["attributes"].get(attribute):
            return f"no request.{attribute}"
    return "served"


def judge_configuration(configuration, result, middleware):
    """{request name: verdict}."""
    return {
        request["name"]: judge_response(request, raw, middleware)
        for request, raw in zip(configuration["requests"], result["responses"])
    }


def first_problem(result):
    """The first exception or warning a configuration's requests met, verbatim."""
    for raw in result["responses"]:
        if raw.get("raised") or raw.get("exception"):
            return raw.get("raised") or raw["exception"]
    warnings = (w for raw in result["responses"] for w in raw["warnings"])
    return next((w for w in warnings if "never awaited" in w), None)


def unawaited(result):
    return any("never awaited" in w for raw in result["responses"] for w in raw["warnings"])


def summarize(verdicts, unawaited_coroutine=False):
    values = set(verdicts.values())
    if len(values) == 1:
        text = values.pop()
    else:
        text = "; ".join(f"{name}: {verdict}" for name, verdict in verdicts.items())
    return f"{text} (+ unawaited coroutine)" if unawaited_coroutine else text


def served(verdicts):
    return {name for name, verdict in verdicts.items() if verdict == "served"}


def describe_flags(facts):
    if "import_error" in facts:
        return f"import failed: {facts['import_error']}"
    call = "async def __call__" if facts["call_is_async_def"] else "sync __call__"
    if facts["has_acall"]:
        call += " + __acall__"
    flags = (facts["sync_capable"], facts["async_capable"])
    if flags == (None, None):
        return f"{call}, no flags"
    named = {(False, True): "async-only", (True, True): "sync+async", (True, False): "sync"}
    return f"{call}, {named.get(flags, f'sync_capable={flags[0]}, async_capable={flags[1]}')}"


def declared_consistently(facts):
    """Whether Django's own rules (load_middleware's flags) give the class a mode
    its __call__ works in: an async def __call__ needs sync_capable = False, or
    neither flag (the series then uses it in async-only mode)."""
    no_flags = facts.get("sync_capable") is None and facts.get("async_capable") is None
    return "import_error" not in facts and not (
        facts["call_is_async_def"] and facts["sync_capable"] is not False and not no_flags
    )


def build_rows(configurations, reports, middleware_by_class, ledger_ids):
    """One row per configuration, judged on every tree that ran."""
    rows = []
    for configuration in configurations:
        middleware = middleware_by_class[configuration["class"]]
        verdicts = {
            tree: judge_configuration(
                configuration, report["results"][configuration["id"]], middleware
            )
            for tree, report in reports.items()
        }
        facts = reports["series"]["classes"][configuration["class"]]
        lost = sorted(served(verdicts["release"]) - served(verdicts["series"]))
        series_raw = reports["series"]["results"][configuration["id"]]["responses"]
        refused_at_load = any(LOAD_TIME_MESSAGE in raw.get("raised", "") for raw in series_raw)
        rows.append(
            {
                "package": configuration["package"],
                "class": configuration["class"],
                "flags": describe_flags(facts),
                "consistent": declared_consistently(facts),
                "position": configuration["position"],
                "handler": configuration["handler"],
                "outcomes": {
                    tree: summarize(
                        verdicts[tree],
                        unawaited(report["results"][configuration["id"]]),
                    )
                    for tree, report in reports.items()
                },
                "requests": verdicts,
                "problems": {
                    tree: first_problem(report["results"][configuration["id"]])
                    for tree, report in reports.items()
                },
                "worse": lost,
                "ledger": LOAD_TIME_LEDGER_ID
                if lost and refused_at_load and LOAD_TIME_LEDGER_ID in ledger_ids
                else None,
            }
        )
    return rows


def verdict_of(rows):
    """ok: every consistently declared configuration is served by the series, and
    nothing is worse than on the release unless LEDGER.md lists why."""
    not_served = [
        row for row in rows if row["consistent"] and row["outcomes"]["series"] != "served"
    ]
    worse = [row for row in rows if row["worse"]]
    unlisted = [row for row in worse if not row["ledger"]]
    return {
        "ok": not not_served and not unlisted,
        "configurations": len(rows),
        "served": {
            tree: sum(row["outcomes"].get(tree) == "served" for row in rows)
            for tree in TREES
            if rows and tree in rows[0]["outcomes"]
        },
        "consistent_not_served_by_series": [row_id(row) for row in not_served],
        "worse_with_series": [row_id(row) for row in worse],
        "worse_outside_ledger": [row_id(row) for row in unlisted],
    }


def row_id(row):
    return f"{row['class']} {row['position']} {row['handler']}"


# Installing -------------------------------------------------------------------


def fetch_wheel(python, name, package):
    """The pinned wheel from PyPI into the cache, checked against its sha256."""
    folder = sdist_cache_dir() / "realpackages"
    path = folder / package["file"]
    if not path.exists():
        progress(f"Downloading {name} {package['version']} with pip...")
        run_checked(
            [python, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:"]
            + ["--dest", str(folder), f"{name}=={package['version']}"],
            f"downloading {name} {package['version']}",
            "check that PyPI is reachable",
        )
    if sha256_of(path) != package["sha256"]:
        raise CommandError(
            f"{path} has sha256 {sha256_of(path)}, not {package['sha256']}",
            f"remove {path} and run again; if it persists, PyPI's file changed",
        )
    return path


def install_packages(python, wheels):
    # --no-deps: their Django requirement would replace the tree under test.
    progress(f"Installing {', '.join(p.name for p in wheels)}...")
    run_checked(
        [python, "-m", "pip", "install", "-q", "--no-deps", *map(str, wheels)],
        "installing the packages",
        "read pip's output above",
    )


# The command ------------------------------------------------------------------


def format_rows(rows, trees, markdown=False):
    header = ["package", "class", "flags", "position", "handler", *trees]
    body = [
        [
            row["package"],
            row["class"].rsplit(".", 1)[1],
            row["flags"],
            row["position"],
            row["handler"],
            *(
                row["outcomes"][tree] + (" (WORSE)" if tree == "series" and row["worse"] else "")
                for tree in trees
            ),
        ]
        for row in rows
    ]
    if markdown:
        return markdown_table(header, body)
    return text_table([header, *body])


def run_one_package(python, name, package, beside_wheels, trees, startproject, plan):
    """Install name's wheel (plus the packages the 'beside' position needs) into
    python; run its configurations on every tree; return (configurations, reports)."""
    install_packages(python, [fetch_wheel(python, name, package), *beside_wheels])
    configurations = plan_configurations({name: package}, plan["beside"], startproject)
    classes = [middleware["class"] for middleware in package["middleware"]]
    with tempfile.TemporaryDirectory() as scratch:
        plan_path = Path(scratch) / "configurations.json"
        plan_path.write_text(
            json.dumps(
                {
                    "settings": plan["settings"],
                    "classes": classes,
                    "configurations": configurations,
                }
            )
        )
        reports = run_side_by_side(
            python,
            trees,
            SITE_DIR / "run_configurations.py",
            [plan_path],
            scratch,
            "realpackages",
            f"{len(configurations)} configurations of {name}",
        )
    return configurations, reports


def run_realpackages(manifest, series, python, workspace, names):
    release = manifest.release(series)
    packages, beside, settings = load_real_packages(names)
    everything, _, _ = load_real_packages()
    check_python(release, python)
    prepared = prepare_trees(release, workspace)
    trees = {"release": prepared.reverted, "series": prepared.fork}
    startproject = startproject_middleware(prepared.fork)
    ledger_ids = {entry.id for entry in read_ledger()[0] if entry.applies_to(release)}
    plan = {"beside": beside, "settings": settings}
    beside_packages = {
        name: package
        for name, package in everything.items()
        if any(m["class"] in beside for m in package["middleware"])
    }
    rows, versions, ran_on = [], {}, None
    for name, package in packages.items():
        venv_python = fork_interpreter(
            release, workspace, prepared.fork, python, f"{release.series}-{name}", REQUIREMENTS
        )
        ran_on = python_version_of(venv_python)
        beside_wheels = [
            fetch_wheel(venv_python, other, beside_packages[other])
            for other in beside_packages
            if other != name
        ]
        configurations, reports = run_one_package(
            venv_python, name, package, beside_wheels, trees, startproject, plan
        )
        by_class = {m["class"]: m for m in package["middleware"]}
        rows += build_rows(configurations, reports, by_class, ledger_ids)
        versions[name] = package["version"]
    summary = verdict_of(rows)
    evidence = {
        "series": release.series,
        "version": release.version,
        "python": ran_on,
        "packages": versions,
        "startproject_middleware": startproject,
        "positions": list(POSITIONS),
        "rows": rows,
        **summary,
    }
    return evidence


def report_realpackages(evidence, write=True):
    """The table and the verdict as an Outcome, with the evidence to write; with
    write, also the doc's table."""
    trees = [tree for tree in TREES if tree in evidence["served"]]
    lines = [""]
    lines.append(
        f"Real packages on series {evidence['series']} ({evidence['version']}), "
        f"Python {evidence['python']}: {evidence['configurations']} configurations"
    )
    lines.append(format_rows(evidence["rows"], trees))
    served_line = ", ".join(f"{tree} {n}" for tree, n in evidence["served"].items())
    lines.append(f"served (every request right): {served_line}")
    for row in evidence["worse_with_series"]:
        listed = row not in evidence["worse_outside_ledger"]
        lines.append(
            f"WORSE WITH THE SERIES THAN THE RELEASE: {row}"
            + (f" (LEDGER.md: {LOAD_TIME_LEDGER_ID})" if listed else " (NOT IN LEDGER.md)")
        )
    for row in evidence["consistent_not_served_by_series"]:
        lines.append(f"NOT SERVED BY THE SERIES, though declared consistently: {row}")
    written = {}
    if write:
        update_doc(evidence)
        lines.append(f"The table written to {DOC}")
        written[f"realpackages-{evidence['series']}"] = evidence
    return Outcome(
        evidence["ok"],
        lines,
        written,
        detail="every consistently declared configuration served; none worse outside LEDGER.md",
    )


def doc_markers(series):
    return f"<!-- realpackages-{series} begin -->", f"<!-- realpackages-{series} end -->"


def update_doc(evidence, path=DOC):
    """Replace the series' table in docs/real-packages.md (between its markers)."""
    begin, end = doc_markers(evidence["series"])
    text = Path(path).read_text()
    if begin not in text or end not in text:
        raise CommandError(f"{path} has no {begin} ... {end} block", f"add them to {path}")
    trees = [tree for tree in TREES if tree in evidence["served"]]
    table = format_rows(evidence["rows"], trees, markdown=True)
    head, rest = text.split(begin, 1)
    Path(path).write_text(f"{head}{begin}\n{table}\n{end}{rest.split(end, 1)[1]}")
