"""A DiscoverRunner that records each test's outcome as JSON.

Outcomes come from the result object's callbacks, not from unittest's text, and
with --parallel the workers' events are replayed on this result in the parent.
The file is written to the path in $PATCHSET_RESULTS. With $PATCHSET_PROGRESS set,
the number of tests found goes to that file's first line, then one character per
finished test (its outcome's first letter), so a parent can show progress.
"""

import json
import os
import unittest

from django.test.runner import DiscoverRunner


class RecordingTextTestResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcomes = {}

    def stopTest(self, test):
        super().stopTest(test)
        path = os.environ.get("PATCHSET_PROGRESS")
        if path:
            with open(path, "a") as stream:
                stream.write(self.outcomes.get(test.id(), "pass")[0])

    def record(self, test, outcome):
        self.outcomes[test.id()] = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        # A failed subTest already marked the test; success must not hide it.
        self.outcomes.setdefault(test.id(), "pass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            if self.outcomes.get(test.id()) != "error":
                self.record(test, "fail" if failed else "error")


# unittest's callbacks for the outcomes other than success, and what each records.
OUTCOME_CALLBACKS = {
    "addFailure": "fail",
    "addError": "error",
    "addSkip": "skip",
    "addExpectedFailure": "xfail",
    "addUnexpectedSuccess": "upass",
}


def recording_callback(name, outcome):
    def callback(self, test, *args):
        getattr(unittest.TextTestResult, name)(self, test, *args)
        self.record(test, outcome)

    callback.__name__ = name
    return callback


for name, outcome in OUTCOME_CALLBACKS.items():
    setattr(RecordingTextTestResult, name, recording_callback(name, outcome))


class RecordingDiscoverRunner(DiscoverRunner):
    def get_resultclass(self):
        return super().get_resultclass() or RecordingTextTestResult

    def run_suite(self, suite, **kwargs):
        progress = os.environ.get("PATCHSET_PROGRESS")
        if progress:
            with open(progress, "w") as stream:
                stream.write(f"{suite.countTestCases()}\n")
        result = super().run_suite(suite, **kwargs)
        path = os.environ.get("PATCHSET_RESULTS")
        if path:
            outcomes = getattr(result, "outcomes", {})
            with open(path, "w") as stream:
                json.dump(outcomes, stream, indent=0, sort_keys=True)
        return result
