"""The two failures every command reports as `error:` and `next step:` lines."""


class UsageError(Exception):
    """Bad input from the user: exit status 2."""

    def __init__(self, message, next_step):
        super().__init__(message)
        self.next_step = next_step


class OperationError(Exception):
    """The operation failed: exit status 1."""

    def __init__(self, message, next_step):
        super().__init__(message)
        self.next_step = next_step
