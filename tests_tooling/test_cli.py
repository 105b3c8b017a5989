import pytest

from patchset import main


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


@pytest.mark.parametrize("command", ["fetch", "materialize", "setup", "test", "apply", "export", "compare"])
def test_every_subcommand_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: patchset.py {command}")
