"""The oracle's generated callables at the entry points the series changes, through
the entry-point differential's own machinery (explorer_worker/): each as a view,
bare and under one view or auth decorator (taken in turn), as a user_passes_test()
test function that passes or fails on a sync and an async view, and as a signal
receiver under send(), send_robust(), send() from a running loop and asend(); under
both handlers where a request is served. The `async def` and plain-function twins
run too, so that the host can hold a callable the oracle calls async to its twin.

Started by scripts/patchkit/checks/explorer.py, once per tree, on the same cases.

usage: oracle_entry_points.py CASES.json RESULTS.json
  CASES: {"mark_module": ..., "trees": [{"tree": ..., "alias": ...}, ...]}
"""

import asyncio
import json
import re
import sys

import oracle_core

HANDLERS = ("wsgi", "asgi")
SIGNAL_MODES = ("send", "send_robust", "send_in_loop_awaited", "asend")
# What differs between two runs and is not behaviour: object ids in reprs.
VOLATILE = [(re.compile(r" at 0x[0-9a-f]+"), ""), (re.compile(r"id='\d+'"), "id='...'")]


def generated(tree, mark_module, label, value):
    import entry_catalogue

    def body(*args, **kwargs):
        entry_catalogue.record(label)
        return value(*args, **kwargs)

    return oracle_core.build(tree, mark_module, body)[1]


def maker(tree, mark_module):
    """(label, value) -> the callable: a generated tree, or a catalogue form."""
    import entry_catalogue

    if isinstance(tree, str):
        return lambda label, value: entry_catalogue.make(tree, label, value)
    return lambda label, value: generated(tree, mark_module, label, value)


def cases_for(number, tree, alias, mark_module, decorators):
    """The cases of one callable; alias is its segment in case ids (a catalogue
    form's name for a twin, else what LEDGER.md patterns can match)."""
    import entry_catalogue
    from explore_entry_points import make_decorator, serve, signal_run

    make = maker(tree, mark_module)
    suffix = f"#gen{number}" if number is not None else ""
    decorator = decorators[number % len(decorators)] if number is not None else None
    for handler in HANDLERS:

        def bare(loop, h=handler):
            return serve(make("view", entry_catalogue.page), ["entry_catalogue.UserStub"], h, loop)

        yield f"view/bare/{alias}/{handler}{suffix}", bare
        for name in [decorator] if number is not None else decorators:

            def decorated(loop, h=handler, name=name):
                view = make("view", entry_catalogue.page)
                return serve(make_decorator(name)(view), ["entry_catalogue.UserStub"], h, loop)

            yield f"view/{name}/{alias}/{handler}{suffix}", decorated
        for passes in (True, False):
            outcome = "passes" if passes else "fails"
            for view_form in ("sync_function", "async_function"):

                def auth(loop, p=passes, v=view_form, h=handler):
                    try:
                        from django.contrib.auth.decorators import user_passes_test
                    except ImportError as error:
                        from explore_entry_points import NotAvailable

                        raise NotAvailable(str(error)) from None
                    test = make("test", lambda *args, **kwargs: p)
                    view = entry_catalogue.make(v, "view", entry_catalogue.page)
                    return serve(user_passes_test(test)(view), ["entry_catalogue.UserStub"],
                                 h, loop)

                yield f"auth/user_passes_test/{alias}/{outcome}/{view_form}/{handler}{suffix}", auth
    for mode in SIGNAL_MODES:

        def signal(loop, m=mode):
            original = entry_catalogue.make
            # signal_run makes its receivers with entry_catalogue.make(form, ...).
            entry_catalogue.make = lambda form, label, value: make(
                label, lambda *args, **kwargs: "done"
            )
            try:
                return signal_run(["generated"], m, loop)
            finally:
                entry_catalogue.make = original

        yield f"signal/{mode}/{alias}{suffix}", signal


def twin_id(case_id, twin_form):
    """The case id of the same entry point with the twin form (the third segment)."""
    parts = case_id.split("#")[0].split("/")
    parts[2] = twin_form
    return "/".join(parts)


def stable(observation):
    text = json.dumps(observation)
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return json.loads(text)


def main(argv):
    cases_path, results_path = argv
    config = json.loads(open(cases_path).read())
    from explore_entry_points import configure_django, decorator_table, observe

    configure_django()
    from django.dispatch import Signal

    async_receivers = hasattr(Signal, "asend")
    mark_module = config["mark_module"]
    decorators = list(decorator_table())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    results, needed = [], set()
    for number, case in enumerate(config["trees"]):
        tree = oracle_core.as_tree(case["tree"])
        for case_id, run in cases_for(number, tree, case["alias"], mark_module, decorators):
            observation = observe(lambda: run(loop), loop)
            twin = case["twin"] and twin_id(case_id, case["twin"])
            if case_id.startswith("signal/") and not async_receivers:
                twin = None  # Before Django 5.0, no receiver is awaited.
            results.append({"id": case_id, "twin": twin or None, **stable(observation)})
            needed.add(twin)
    for form in ("async_function", "sync_function"):
        for case_id, run in cases_for(None, form, form, mark_module, decorators):
            if case_id in needed:
                needed.discard(case_id)
                observation = observe(lambda: run(loop), loop)
                results.append({"id": case_id, "twin": None, **stable(observation)})
    loop.close()
    from explore_chains import write_report

    write_report(results_path, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
