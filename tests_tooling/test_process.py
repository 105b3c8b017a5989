import shlex
import sys

import pytest

from patchkit.core.errors import CommandError
from patchkit.core.process import run_process

FAIL = "import sys; print('out'); sys.stderr.write('boom'); sys.exit(3)"


def test_a_failing_program_raises_the_one_error_with_its_command_and_output(tmp_path):
    command = [sys.executable, "-c", FAIL]
    with pytest.raises(CommandError) as raised:
        run_process(command, cwd=tmp_path)
    assert str(raised.value) == f"`{shlex.join(command)}` failed in {tmp_path}:\nout\nboom"
    assert raised.value.returncode == 3
    assert raised.value.status == 1


def test_unchecked_runs_return_status_output_and_input_read_back():
    completed = run_process(
        [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read()[::-1])"],
        input="abc",
        check=False,
    )
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "cba", "")
    assert run_process([sys.executable, "-c", FAIL], check=False).returncode == 3
