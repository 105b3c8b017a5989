"""The oracle at the helper: generated callables judged by calling them, against
django.utils.inspect.is_coroutine_callable() of the tree under test and the release's
iscoroutinefunction(). Writes the counts, the shrunk counterexamples as code, and the
trees the entry-point run reuses.

Started by scripts/patchkit/checks/explorer.py in the patched tree only (the release
has no helper).

usage: oracle_helper.py CONFIG.json RESULTS.json
  CONFIG: {"predicate_module": "inspect" or "asgiref.sync", "limitations": [ids],
           "examples": N, "keep": M}
"""

import importlib
import json
import sys
import time

import oracle_core


def main(argv):
    config_path, results_path = argv
    config = json.loads(open(config_path).read())
    module = config["predicate_module"]
    release = importlib.import_module(module).iscoroutinefunction
    from django.utils.inspect import is_coroutine_callable

    started = time.monotonic()
    result = oracle_core.search(
        is_coroutine_callable,
        release,
        set(config["limitations"]),
        config["examples"],
        mark_module=module,
        keep=config["keep"],
    )
    # With the companion asgiref series installed, asgiref's own decision
    # (sync_to_async()'s refusal, async_to_sync()'s warning) faces the same truth.
    import asgiref.sync

    asgiref_rule = getattr(asgiref.sync, "_is_coroutine_callable", None)
    if asgiref_rule is not None:
        judged = oracle_core.search(
            asgiref_rule, release, set(config["limitations"]), config["examples"],
            mark_module=module,
        )
        result["asgiref_counts"] = judged["counts"]
        for failure in judged["failures"]:
            result["failures"].append({**failure, "text": "asgiref: " + failure["text"]})
    result["seconds"] = round(time.monotonic() - started, 1)
    import django

    report = {
        "django_file": django.__file__,
        "python": "%d.%d" % sys.version_info[:2],
        "predicate_module": module,
        **result,
    }
    with open(results_path, "w") as stream:
        json.dump(report, stream)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
