"""The only place that runs git."""

import os
import subprocess

# Our own forks must not depend on the user's git configuration: settings such as
# core.autocrlf, format.* or commit.gpgsign would change commit ids or patch bytes.
ISOLATED_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class GitError(Exception):
    """A git command failed; carries the command and git's own output."""

    def __init__(self, args, cwd, returncode, output):
        self.args_list = list(args)
        self.cwd = str(cwd)
        self.returncode = returncode
        self.output = output
        super().__init__(f"`{self.command}` failed in {self.cwd}:\n{output.rstrip()}")

    @property
    def command(self):
        return " ".join(["git", *self.args_list])


def run_git(args, cwd, env=None, input=None):
    """Run `git <args>` in cwd and return its stdout; raise GitError on failure.

    env entries are added to (not substituted for) the current environment.
    """
    full_env = dict(os.environ)
    # A caller's GIT_DIR (e.g. from a git hook) would redirect us to another repo.
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        full_env.pop(name, None)
    # Never climb above cwd: a fork folder that lost its .git would otherwise be
    # taken for the repository around it (this project's own checkout).
    full_env["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.abspath(cwd))
    full_env.update(env or {})
    completed = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        # Diffs may hold bytes that are not UTF-8; surrogateescape keeps them intact
        # when the text is fed back to git (e.g. `git patch-id`).
        encoding="utf-8",
        errors="surrogateescape",
    )
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()
        raise GitError(args, cwd, completed.returncode, output)
    return completed.stdout
