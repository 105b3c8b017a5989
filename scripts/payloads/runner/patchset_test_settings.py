"""Settings for runtests.py: Django's own SQLite settings plus a recording runner.

Put on PYTHONPATH by djangotests.py; `test_sqlite` is tests/test_sqlite.py, which
runtests.py makes importable.
"""

from test_sqlite import *  # noqa: F401,F403

TEST_RUNNER = "patchset_recording.RecordingDiscoverRunner"
