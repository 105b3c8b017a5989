"""Where every program this tool runs is started (spawn): an argument list, never a
shell string. run_process runs one to completion (git, pip, the linters, the
workers) with its output captured and a failure raised as a CommandError that names
the command and carries its output; start_logged starts one in the background
with its output going to a log file (servers, side-by-side workers, test runs)."""

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass

from patchkit.core.errors import CommandError


@dataclass
class Completed:
    command: list
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self):
        return (self.stdout + self.stderr).strip()


class ProcessError(CommandError):
    """A program exited non-zero; carries the command, where it ran and its output."""

    def __init__(self, command, cwd, returncode, output, next_step=None):
        self.command_list = [str(part) for part in command]
        self.cwd = str(cwd or os.getcwd())
        self.returncode = returncode
        self.output = output
        super().__init__(
            f"`{self.command}` failed in {self.cwd}:\n{output.rstrip()}",
            next_step or "fix the cause above and run the command again",
        )

    @property
    def command(self):
        return shlex.join(self.command_list)


def spawn(command, own_session=False, **options):
    """Start command and return its Popen; options are Popen's (cwd, env, stdin,
    stdout: a pipe unless given, stderr: into stdout unless given). own_session: in a
    session of its own, so a Ctrl-C at the terminal does not reach it, and its
    process group can be signalled as one."""
    options = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, **options}
    command = [str(part) for part in command]
    return subprocess.Popen(command, start_new_session=own_session, **options)


def start_logged(command, log_path, cwd=None, env=None, own_session=False):
    """Start command in the background with its output and errors going to log_path."""
    with open(log_path, "w") as log:
        return spawn(command, cwd=cwd, env=env, stdout=log, own_session=own_session)


def run_process(
    command,
    cwd=None,
    env=None,
    input=None,
    timeout=None,
    check=True,
    next_step=None,
    shield_interrupts=False,
    on_started=None,
):
    """Run command and return a Completed (text, undecodable bytes kept as
    surrogates so they survive being fed back); with check, a non-zero exit raises
    ProcessError. shield_interrupts: the program runs in its own session, so a Ctrl-C
    at the terminal reaches this process only, and is raised as KeyboardInterrupt
    once the program has finished (for git, whose half-done work nothing clears).
    on_started() is called once the program runs, before it is waited for."""
    command = [str(part) for part in command]
    with tempfile.TemporaryFile() as stdin:
        # Input from a file, not a pipe: waiting again after an interrupt cannot
        # lose or repeat any of it.
        if input is not None:
            stdin.write(input.encode("utf-8", "surrogateescape"))
            stdin.seek(0)
        process = spawn(
            command,
            cwd=cwd,
            env=env,
            stdin=stdin,
            stderr=subprocess.PIPE,
            own_session=shield_interrupts,
        )
        interrupted = False
        while True:
            try:
                if on_started is not None and not interrupted:
                    on_started()
                stdout, stderr = process.communicate(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
            except KeyboardInterrupt:
                if not shield_interrupts:
                    process.kill()
                    process.communicate()
                    raise
                interrupted = True  # let the program finish; raise once it has
    if interrupted:
        raise KeyboardInterrupt
    completed = Completed(
        command,
        process.returncode,
        stdout.decode("utf-8", "surrogateescape"),
        stderr.decode("utf-8", "surrogateescape"),
    )
    if check and completed.returncode != 0:
        raise ProcessError(command, cwd, completed.returncode, completed.output, next_step)
    return completed
