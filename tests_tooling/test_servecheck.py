"""serve-check's pieces that need no server package: what is loaded, and that a
server always stops."""

import subprocess
import sys
import time

import pytest

from patchkit.checks.servecheck import (
    ServerRun,
    expected_responses,
    format_runs,
    stop_server,
    wait_until_serving,
)
from patchkit.cli import main
from patchkit.core.errors import CommandError


def test_views_and_signals_join_the_load_with_their_patches():
    assert expected_responses(set(), 6) == [["/sync", "sync view"], ["/async", "async view"]]
    paths = [path for path, _ in expected_responses({"views", "signals"}, 6)]
    assert paths == ["/sync", "/async", "/object", "/object-csrf-exempt", "/signal", "/asignal"]
    assert "/object-csrf-exempt" not in dict(expected_responses({"views"}, 4))


def group_alive(group):
    listed = subprocess.run(
        ["ps", "-o", "stat=", "-g", str(group)], capture_output=True, text=True
    ).stdout.split()
    return any(not state.startswith("Z") for state in listed)


def test_stop_server_ends_the_whole_process_group():
    child = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)']); time.sleep(60)"
    )
    process = subprocess.Popen([sys.executable, "-c", child], start_new_session=True)
    stop_server(process)
    assert process.returncode is not None
    deadline = time.monotonic() + 5
    while group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(process.pid)


def test_a_server_that_exits_at_start_is_reported(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("ImportError: no module named uvicorn\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()
    with pytest.raises(CommandError, match="exited with status 3"):
        wait_until_serving(process, 9, log)


def test_zero_requests_is_a_usage_error(capsys):
    assert main(["serve-check", "--requests", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --requests must be at least 1\n")


def server_run(tree_name, samples, log):
    errors = len(samples)
    summary = {
        "sent": 4,
        "ok": 4 - errors,
        "errors": errors,
        "missing_header": errors,
        "statuses": {"200": 4 - errors, "500": errors},
        "samples": samples,
    }
    problems = [line for line in log if "Traceback" in line]
    return ServerRun("gunicorn (WSGI)", tree_name, summary, problems, log)


def test_an_unclean_patched_run_is_reported_last_with_its_log():
    patched = server_run("patched", ["/object: ReadError: "], ["booted", "Traceback (x)"])
    pristine = server_run("pristine", ["/sync: 500 'Internal Server Error'"], ["Traceback"])
    report = format_runs([patched, pristine]).splitlines()
    assert report[1].split()[:4] == ["gunicorn", "(WSGI)", "patched", "4"]
    details = report[3:]
    assert details[0] == "  gunicorn (WSGI), pristine: e.g. /sync: 500 'Internal Server Error'"
    assert details[2] == "  gunicorn (WSGI), patched: e.g. /object: ReadError: "
    assert details[-3:] == [
        "  gunicorn (WSGI), patched: the log's last 40 lines:",
        "    booted",
        "    Traceback (x)",
    ]
    assert not any("pristine: the log" in line for line in details)
