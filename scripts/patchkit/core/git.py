"""The only place that runs git."""

import os

from patchkit.core.process import ProcessError, run_process

# Our own forks must not depend on the user's git configuration: settings such as
# core.autocrlf, format.* or commit.gpgsign would change commit ids or patch bytes.
ISOLATED_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class GitError(ProcessError):
    """A git command failed; carries the command and git's own output."""

    def __init__(self, args, cwd, returncode, output):
        self.args_list = list(args)
        super().__init__(["git", *args], cwd, returncode, output)

    @property
    def command(self):
        return " ".join(["git", *self.args_list])


def run_git(args, cwd, env=None, input=None):
    """Run `git <args>` in cwd and return its stdout; raise GitError on failure.

    env entries are added to (not substituted for) the current environment. git
    speaks the C locale, so what callers read from its output is never translated.
    git runs shielded from interrupts (see run_process): a git command is never
    killed half-way (a half-written `git am` state is one neither `--continue` nor
    `--abort` clears).
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
    completed = run_process(
        ["git", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        check=False,
        shield_interrupts=True,
        on_started=lambda: step("during", args),
    )
    step("after", args)
    if completed.returncode != 0:
        raise GitError(args, cwd, completed.returncode, completed.output)
    return completed.stdout


# A test-only hook: when set, called as STEP_HOOK(moment, args) with moment
# "before", "during" (git started, not yet waited for) and "after" (finished) of
# every git command, so a test can send a signal at each of those moments.
STEP_HOOK = None


def step(moment, args):
    if STEP_HOOK is not None:
        STEP_HOOK(moment, args)
