"""The only place that runs git."""

import os
import subprocess
import tempfile

from patchkit.core.errors import CommandError

# Our own forks must not depend on the user's git configuration: settings such as
# core.autocrlf, format.* or commit.gpgsign would change commit ids or patch bytes.
ISOLATED_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class GitError(CommandError):
    """A git command failed; carries the command and git's own output."""

    def __init__(self, args, cwd, returncode, output):
        self.args_list = list(args)
        self.cwd = str(cwd)
        self.returncode = returncode
        self.output = output
        super().__init__(
            f"`{self.command}` failed in {self.cwd}:\n{output.rstrip()}",
            "fix the cause above and run the command again",
        )

    @property
    def command(self):
        return " ".join(["git", *self.args_list])


def run_git(args, cwd, env=None, input=None):
    """Run `git <args>` in cwd and return its stdout; raise GitError on failure.

    env entries are added to (not substituted for) the current environment. git
    speaks the C locale, so what callers read from its output is never translated.
    git runs in its own session, so a Ctrl-C at the terminal reaches this process
    only: a git command is never killed half-way (a half-written `git am` state is
    one neither `--continue` nor `--abort` clears); an interrupt that arrives while
    it runs is raised as KeyboardInterrupt once it has finished.
    """
    full_env = dict(os.environ)
    # A caller's GIT_DIR (e.g. from a git hook) would redirect us to another repo.
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        full_env.pop(name, None)
    # Never climb above cwd: a fork folder that lost its .git would otherwise be
    # taken for the repository around it (this project's own checkout).
    full_env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.abspath(cwd))
    full_env["LC_ALL"] = "C"
    full_env.update(env or {})
    step("before", args)
    with tempfile.TemporaryFile() as stdin:
        # Input from a file, not a pipe: waiting again after an interrupt cannot
        # lose or repeat any of it.
        if input is not None:
            stdin.write(input.encode("utf-8", "surrogateescape"))
            stdin.seek(0)
        process = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=full_env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        interrupted = False
        while True:
            try:
                if not interrupted:
                    step("during", args)
                stdout, stderr = process.communicate()
                break
            except KeyboardInterrupt:
                interrupted = True  # let git finish; raise once it has
    if interrupted:
        raise KeyboardInterrupt
    step("after", args)
    # Diffs may hold bytes that are not UTF-8; surrogateescape keeps them intact
    # when the text is fed back to git (e.g. `git patch-id`).
    stdout = stdout.decode("utf-8", "surrogateescape")
    if process.returncode != 0:
        output = (stdout + stderr.decode("utf-8", "surrogateescape")).strip()
        raise GitError(args, cwd, process.returncode, output)
    return stdout


# A test-only hook: when set, called as STEP_HOOK(moment, args) with moment
# "before", "during" (git started, not yet waited for) and "after" (finished) of
# every git command, so a test can send a signal at each of those moments.
STEP_HOOK = None


def step(moment, args):
    if STEP_HOOK is not None:
        STEP_HOOK(moment, args)
