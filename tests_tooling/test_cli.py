import pytest

from patchkit.cli import main


def test_no_subcommand_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "error: the following arguments are required: COMMAND" in capsys.readouterr().err


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["materialize", "--bogus"]) == 2
    assert "error: unrecognized arguments: --bogus" in capsys.readouterr().err


def test_unknown_series_is_a_usage_error(project, capsys):
    assert main(["materialize", "--series", "9.9"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown series '9.9'\nnext step: use one of: 6.1, 6.0\n"
    )


def test_test_requires_a_series(capsys):
    assert main(["test"]) == 2
    assert "the following arguments are required: --series" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["fetch", "materialize", "setup", "test", "apply", "export", "compare"]
)
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: patchset.py {command}")


def test_setup_refuses_a_python_the_series_is_not_tested_on(project, tmp_path, capsys):
    assert main(["setup", "--python", "3.9"]) == 2
    assert capsys.readouterr().err == (
        "error: series 6.1 is tested on Python 3.12, not 3.9\n"
        "next step: pass one of them with --python, e.g. --python 3.12\n"
    )
    assert not (project / "django_fork").exists()


def test_an_unwritable_cache_is_an_error(project, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder\n")
    monkeypatch.setenv("PATCHSET_CACHE", str(blocker))
    assert main(["fetch"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: the sdist cache {blocker}/sdists cannot be written (")
    assert err.endswith("next step: point PATCHSET_CACHE at a writable folder, or unset it\n")


@pytest.mark.parametrize("command", ["test", "commits", "mutate"])
def test_outside_a_virtualenv_the_running_python_is_not_installed_into(command, monkeypatch):
    import sys

    from patchkit.cli import build_parser

    monkeypatch.setattr(sys, "prefix", sys.base_prefix)
    assert build_parser().parse_args([command, "--series", "6.1"]).python is None


@pytest.mark.parametrize("command", ["test", "commits", "mutate"])
def test_in_a_virtualenv_the_running_python_is_used(command, monkeypatch):
    import sys

    from patchkit.cli import build_parser

    monkeypatch.setattr(sys, "prefix", "/some/venv")
    assert build_parser().parse_args([command, "--series", "6.1"]).python == sys.executable


def test_a_failed_git_command_is_an_operation_failure_with_its_output(
    project, tmp_path, monkeypatch, capsys
):
    """GitError is the one error type: cli prints git's command, its output and the
    next step, and exits 1."""
    from patchkit.core import fork
    from patchkit.core.git import run_git

    repo = tmp_path / "repo"
    repo.mkdir()
    run_git(["init", "-q"], repo)
    monkeypatch.setattr(
        fork, "materialize_fork", lambda dest, release: run_git(["rev-parse", "nosuch"], repo)
    )
    assert main(["materialize"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: `git rev-parse nosuch` failed in {repo}:\nnosuch\n")
    assert "fatal: ambiguous argument" in err
    assert err.endswith("\nnext step: fix the cause above and run the command again\n")


def test_a_usage_error_from_a_command_exits_2(project, monkeypatch, capsys):
    from patchkit.core import fork
    from patchkit.core.errors import CommandError

    def refuse(dest, release):
        raise CommandError.usage("--dest is not empty", "pass another --dest")

    monkeypatch.setattr(fork, "materialize_fork", refuse)
    assert main(["materialize"]) == 2
    assert capsys.readouterr().err == (
        "error: --dest is not empty\nnext step: pass another --dest\n"
    )


def test_the_console_prints_lines_rewrites_the_status_line_and_echoes_bytes(capsysbinary):
    from patchkit.cli import CONSOLE

    CONSOLE.line("step")
    CONSOLE.status("3/10 tests")
    CONSOLE.status("")
    CONSOLE.echo(b"runtests \xe2\x9c\x93\n")

    assert capsysbinary.readouterr().out == (
        b"step\n\r\x1b[K3/10 tests\r\x1b[Kruntests \xe2\x9c\x93\n"
    )
