"""SIGINT and SIGTERM as KeyboardInterrupt while a command changes a repository,
and held back while it cleans up, so the clean-up itself is never cut short."""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    def __init__(self):
        self.holding = False
        self.pending = False
        self.saved = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.saved = {number: signal.signal(number, self.receive) for number in SIGNALS}
        return self

    def __exit__(self, *exc_info):
        if self.saved:
            for number, handler in self.saved.items():
                signal.signal(number, handler)

    def receive(self, number, frame):
        if self.holding:
            self.pending = True
        else:
            raise KeyboardInterrupt

    def hold(self):
        """Hold interrupts back for the rest of the block (see pending)."""
        self.holding = True

    @contextlib.contextmanager
    def held_back(self, resume=True):
        """Run the block without interruption; an interrupt received meanwhile is
        raised after it when resume, else left in pending for the caller."""
        outer = self.holding
        self.holding = True
        try:
            yield
        finally:
            self.holding = outer
        if self.pending and resume and not outer:
            self.pending = False
            raise KeyboardInterrupt
