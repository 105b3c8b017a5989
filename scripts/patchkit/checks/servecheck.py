"""Real servers: the site in servecheck_site/ (startproject middleware plus an
unmarked async class middleware) served by uvicorn (ASGI) and gunicorn (WSGI) on
127.0.0.1, loaded by httpx at concurrency 50. On the patched fork every response must
be right and carry the middleware's header with nothing wrong in the server logs;
on the pristine release the same run must show the failure."""

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from patchkit.core.errors import CommandError
from patchkit.core.fork import series_topics
from patchkit.core.manifest import PAYLOADS_DIR, PROJECT_DIR
from patchkit.core.process import start_logged
from patchkit.core.report import Outcome, progress, text_table
from patchkit.core.venvs import run_checked
from patchkit.core.workspace import prepare

SITE_DIR = PAYLOADS_DIR / "servecheck_site"
SUPPORT_DIR = PAYLOADS_DIR / "support"
SERVER_REQUIREMENTS = PROJECT_DIR / "requirements" / "servers.txt"
HEADER, HEADER_VALUE = "X-Async-Call", "called"
REQUESTS = 2000
CONCURRENCY = 50
START_TIMEOUT = 60
LOAD_DEADLINE = 240
STOP_TIMEOUT = 10
LOG_TAIL = 40
SERVERS = ("uvicorn (ASGI)", "gunicorn (WSGI)")
LOG_PROBLEMS = re.compile(r"was never awaited|Traceback|Internal Server Error")


def server_commands(python, port):
    """Keep-alive outlasts the load: a server closing an idle connection just as
    the client reuses it (2 s on gunicorn, 5 s on uvicorn, easily reached on a
    loaded CI machine) is a transport race, not what this check is about."""
    bind = f"127.0.0.1:{port}"
    keep_alive = str(LOAD_DEADLINE)
    return {
        "uvicorn (ASGI)": [
            python,
            "-m",
            "uvicorn",
            "site_project.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
            "--timeout-keep-alive",
            keep_alive,
        ],
        "gunicorn (WSGI)": [
            python,
            "-m",
            "gunicorn",
            "site_project.wsgi:application",
            "--bind",
            bind,
            "--workers",
            "2",
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--graceful-timeout",
            "5",
            "--keep-alive",
            keep_alive,
        ],
    }


def expected_responses(topics, django_major):
    """(path, body) pairs the load cycles over; the views and signals patches add
    views that need them."""
    expected = [["/sync", "sync view"], ["/async", "async view"]]
    if "views" in topics:
        expected.append(["/object", "object view"])
        if django_major >= 5:
            expected.append(["/object-csrf-exempt", "object view"])
    if "signals" in topics:
        expected += [["/signal", "received"], ["/asignal", "received"]]
    return expected


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def install_servers(python):
    progress(f"Installing {SERVER_REQUIREMENTS.name} into {python}...")
    run_checked(
        [python, "-m", "pip", "install", "-q", "-r", str(SERVER_REQUIREMENTS)],
        "installing the servers",
        "check the pip output above; PyPI must be reachable",
    )


def site_env(tree, topics, data_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), str(SUPPORT_DIR), str(tree)])
    env["DJANGO_SETTINGS_MODULE"] = "site_project.settings"
    env["SERVECHECK_TOPICS"] = ",".join(sorted(topics))
    env["SERVECHECK_DATA"] = str(data_dir)
    env.pop("PYTHONWARNINGS", None)
    return env


def wait_until_serving(process, port, log_path):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(
                f"the server exited with status {process.returncode}:\n"
                f"{Path(log_path).read_text()[-3000:]}",
                "read the server log above",
            )
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/sync", timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # It answers; whether rightly is the load's business.
        except OSError:
            time.sleep(0.2)
    raise CommandError(
        f"the server did not answer on port {port} within {START_TIMEOUT} s", f"read {log_path}"
    )


def stop_server(process):
    """SIGTERM the server's process group (gunicorn forks workers), then SIGKILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_load(python, port, expected, requests):
    command = [
        python,
        str(SITE_DIR / "load_client.py"),
        f"http://127.0.0.1:{port}",
        json.dumps(expected),
        str(requests),
        str(CONCURRENCY),
        HEADER,
        HEADER_VALUE,
        str(LOAD_DEADLINE),
    ]
    output = run_checked(command, "the httpx load", "read the output above")
    return json.loads(output.strip().splitlines()[-1])


@dataclasses.dataclass
class ServerRun:
    server: str
    tree_name: str
    summary: dict
    log_problems: list
    log_tail: list

    @property
    def clean(self):
        return (
            self.summary["errors"] == 0
            and self.summary["missing_header"] == 0
            and self.summary["ok"] == self.summary["sent"]
            and not self.log_problems
        )


def serve_and_load(server, command, env, port, scratch, tree_name, expected, requests):
    """Start one server, load it, always stop it; return what happened."""
    log_path = Path(scratch) / f"{tree_name}-{server.split()[0]}.log"
    progress(f"Starting {server} with the {tree_name} django on 127.0.0.1:{port}...")
    process = start_logged(command, log_path, cwd=scratch, env=env, own_session=True)
    try:
        wait_until_serving(process, port, log_path)
        progress(f"Sending {requests} requests at concurrency {CONCURRENCY}...")
        summary = run_load(command[0], port, expected, requests)
    finally:
        stop_server(process)
    log_text = log_path.read_text(errors="replace")
    lines = log_text.splitlines()
    problems = [line for line in lines if LOG_PROBLEMS.search(line)]
    return ServerRun(server, tree_name, summary, problems, lines[-LOG_TAIL:])


def format_runs(runs):
    rows = [
        (
            "server",
            "django",
            "sent",
            "ok",
            "errors",
            "no header",
            "log problems",
            "seconds",
            "statuses",
        )
    ]
    for run in runs:
        s = run.summary
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(s["statuses"].items()))
        rows.append(
            (
                run.server,
                run.tree_name,
                str(s["sent"]),
                str(s["ok"]),
                str(s["errors"]),
                str(s["missing_header"]),
                str(len(run.log_problems)),
                str(s.get("seconds", "")),
                statuses,
            )
        )
    lines = text_table(rows).splitlines()
    # Expected failures (pristine) first, unexpected ones (patched) last: a truncated
    # CI log keeps its tail.
    for run in sorted(runs, key=lambda run: run.tree_name == "patched"):
        shown = 3 if run.tree_name == "pristine" else 10
        for sample in run.summary["samples"][:shown]:
            lines.append(f"  {run.server}, {run.tree_name}: e.g. {sample}")
        for line in sorted(set(run.log_problems))[:shown]:
            lines.append(f"  {run.server}, {run.tree_name} log: {line.strip()[:300]}")
        if run.tree_name == "patched" and not run.clean:
            lines.append(f"  {run.server}, patched: the log's last {LOG_TAIL} lines:")
            lines += [f"    {line[:300]}" for line in run.log_tail]
    return "\n".join(lines)


def run_serve_check(manifest, series, python, workspace, pristine, requests):
    """Patched must be clean on both servers; with pristine, the pristine release
    must show the failure on both. Return the Outcome."""
    if requests < 1:
        raise CommandError.usage(
            "--requests must be at least 1", f"pass e.g. --requests {REQUESTS}"
        )
    release = manifest.release(series)
    prepared, interpreter = prepare(release, workspace, python, reverted=pristine)
    fork = prepared.fork
    install_servers(interpreter)
    topics = series_topics(release)
    expected = expected_responses(topics, int(release.version.split(".")[0]))
    progress(f"Paths loaded: {', '.join(path for path, _ in expected)}")
    trees = {"patched": fork}
    if pristine:
        trees["pristine"] = prepared.reverted
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        for tree_name, tree in trees.items():
            env = site_env(tree, topics, scratch)
            for server in SERVERS:
                port = free_port()
                command = server_commands(interpreter, port)[server]
                runs.append(
                    serve_and_load(
                        server, command, env, port, scratch, tree_name, expected, requests
                    )
                )
        lines = [""]
        lines.append(
            f"Real servers: series {release.series} ({release.base_name}), "
            f"{requests} requests per server at concurrency {CONCURRENCY}"
        )
        lines.append(format_runs(runs))
    patched_ok = all(run.clean for run in runs if run.tree_name == "patched")
    pristine_fails = all(not run.clean for run in runs if run.tree_name == "pristine")
    if pristine:
        lines.append(f"pristine shows the failure: {'yes' if pristine_fails else 'NO'}")
    ok = patched_ok and pristine_fails
    return Outcome(ok, lines)
