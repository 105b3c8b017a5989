"""The one error every command raises: its message, the next step the user can
take and the exit status; `cli` alone prints it as `error:` and `next step:` lines
and returns the status (like Django's CommandError)."""

FAILURE = 1  # the operation failed
USAGE = 2  # bad input from the user


class CommandError(Exception):
    """A command cannot go on: message, next step (or None) and exit status;
    tool_output: what a tool said that the user must see above the error."""

    def __init__(self, message, next_step, status=FAILURE, tool_output=None):
        super().__init__(message)
        self.next_step = next_step
        self.status = status
        self.tool_output = tool_output

    @classmethod
    def usage(cls, message, next_step):
        """Bad input from the user: exit status 2."""
        return cls(message, next_step, status=USAGE)

    @property
    def is_usage(self):
        return self.status == USAGE
