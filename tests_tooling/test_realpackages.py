"""realpackages' logic without the network: where a class goes in MIDDLEWARE, how a
recorded response is judged, what counts as worse than the release, and the
prototype's edit of load_middleware (run on a real class, in this interpreter)."""

import json

from patchkit.cli import main
from patchkit.review.realpackages import (
    HEALTH_CHECK,
    build_rows,
    describe_flags,
    load_real_packages,
    placements,
    plan_configurations,
    update_doc,
    verdict_of,
)

STARTPROJECT = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
BESIDE = ["cors.Cors", "htmx.Htmx"]
STOCK = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
FAKE_PACKAGE = {
    "version": "1.0",
    "middleware": [
        {
            "class": "fake.AsyncNoFlags",
            "response_headers": {"X-Fake": "yes"},
            "request_attributes": ["fake"],
        }
    ],
}
NO_FLAGS = {
    "sync_capable": None,
    "async_capable": None,
    "call_is_async_def": True,
    "has_acall": False,
}


def test_the_class_goes_where_users_put_it_behind_the_health_check():
    chains = placements("pkg.Mw", STARTPROJECT, BESIDE)
    assert chains["first"] == [HEALTH_CHECK, "pkg.Mw", *STARTPROJECT]
    assert chains["after-security"][:3] == [HEALTH_CHECK, STARTPROJECT[0], "pkg.Mw"]
    assert chains["last"][-1] == "pkg.Mw"
    assert chains["beside-packages"] == [
        HEALTH_CHECK,
        *STARTPROJECT[:2],
        "cors.Cors",
        "pkg.Mw",
        "htmx.Htmx",
        *STARTPROJECT[2:],
    ]
    # A control placed beside the packages is not listed twice.
    assert chains_count(placements("cors.Cors", STARTPROJECT, BESIDE), "cors.Cors") == 1


def chains_count(chains, name):
    return chains["beside-packages"].count(name)


def test_every_class_runs_in_every_position_under_both_handlers():
    configurations = plan_configurations({"fake": FAKE_PACKAGE}, BESIDE, STARTPROJECT)
    assert len(configurations) == 4 * 2
    assert {c["handler"] for c in configurations} == {"wsgi", "asgi"}
    assert [r["path"] for r in configurations[0]["requests"]] == ["/sync", "/async", "/health"]


def response(view, headers=None, attributes=None, warnings=(), status=200, exception=None):
    body = json.dumps({"view": view, "attributes": attributes or {"fake": True}})
    return {
        "status": status,
        "body": "healthy" if view == "health" else body,
        "headers": {**STOCK, "X-Fake": "yes"} if headers is None else headers,
        "exception": exception,
        "warnings": list(warnings),
    }


SERVED = [response("sync"), response("async"), response("health")]
REFUSED = [
    {
        "raised": "ImproperlyConfigured: Middleware factory fake.AsyncNoFlags returned an "
        "asynchronous callable for a synchronous get_response. ...",
        "warnings": [],
    }
] * 3
CRASHED = [
    response("sync", status=500, exception="AttributeError: 'coroutine' object has no"),
    response(
        "async",
        status=500,
        exception="AttributeError: x",
        warnings=["RuntimeWarning: coroutine 'AsyncNoFlags.__call__' was never awaited"],
    ),
    response("health"),
]


def rows_for(results, ledger_ids=("load-time-error",)):
    configurations = plan_configurations({"fake": FAKE_PACKAGE}, BESIDE, STARTPROJECT)[:1]
    reports = {
        tree: {
            "classes": {"fake.AsyncNoFlags": NO_FLAGS},
            "results": {configurations[0]["id"]: {"responses": responses}},
        }
        for tree, responses in results.items()
    }
    by_class = {m["class"]: m for m in FAKE_PACKAGE["middleware"]}
    return build_rows(configurations, reports, by_class, set(ledger_ids))


def test_responses_are_judged_on_status_body_stock_headers_and_the_package_effect():
    missing_header = [response("sync", headers={"X-Frame-Options": "DENY"}), *SERVED[1:]]
    no_effect = [response("sync", attributes={"fake": False}), *SERVED[1:]]
    row = rows_for({"release": CRASHED, "series": missing_header}, ledger_ids=())[0]
    assert row["requests"]["release"] == {
        "sync": "500 AttributeError",
        "async": "500 AttributeError",
        "health": "served",
    }
    assert (
        row["outcomes"]["series"]
        == "sync: no X-Content-Type-Options; async: served; health: served"
    )
    row_without_effect = rows_for({"release": CRASHED, "series": no_effect}, ledger_ids=())[0]
    assert (
        row_without_effect["outcomes"]["series"]
        == "sync: no request.fake; async: served; health: served"
    )
    assert row["problems"]["release"].startswith("AttributeError: 'coroutine'")
    assert row["worse"] == []


def test_a_request_served_by_the_release_and_not_the_series_is_worse():
    row = rows_for({"release": CRASHED, "series": REFUSED})[0]
    assert row["outcomes"] == {
        "release": "sync: 500 AttributeError; async: 500 AttributeError; health: served "
        "(+ unawaited coroutine)",
        "series": "load refused",
    }
    assert row["worse"] == ["health"]
    assert row["ledger"] == "load-time-error"
    summary = verdict_of([row])
    assert summary["worse_with_series"] == ["fake.AsyncNoFlags first wsgi"]
    assert summary["worse_outside_ledger"] == []
    assert summary["served"] == {"release": 0, "series": 0}
    # No flags and an async __call__: the series uses it in async-only mode, so it
    # must serve it; refusing to load it fails the verdict, ledger entry or not.
    assert summary["consistent_not_served_by_series"] == ["fake.AsyncNoFlags first wsgi"]
    assert summary["ok"] is False


def test_a_loss_the_ledger_does_not_list_fails_the_verdict():
    row = rows_for({"release": CRASHED, "series": REFUSED}, ledger_ids=())[0]
    summary = verdict_of([row])
    assert summary["worse_outside_ledger"] == ["fake.AsyncNoFlags first wsgi"]
    assert summary["ok"] is False


def test_a_consistently_declared_class_must_be_served_by_the_series():
    row = rows_for({"release": SERVED, "series": CRASHED})[0]
    row["consistent"] = True
    summary = verdict_of([row])
    assert summary["consistent_not_served_by_series"] == ["fake.AsyncNoFlags first wsgi"]
    assert summary["ok"] is False


def test_flags_are_described_as_load_middleware_reads_them():
    assert describe_flags(NO_FLAGS) == "async def __call__, no flags"
    both = {**NO_FLAGS, "call_is_async_def": False, "has_acall": True}
    both.update(sync_capable=True, async_capable=True)
    assert describe_flags(both) == "sync __call__ + __acall__, sync+async"


def test_the_doc_table_replaces_only_its_series_block(tmp_path):
    doc = tmp_path / "real-packages.md"
    doc.write_text(
        "intro\n<!-- realpackages-6.1 begin -->\nold\n<!-- realpackages-6.1 end -->\nafter\n"
    )
    row = rows_for({"release": CRASHED, "series": REFUSED})[0]
    update_doc({"series": "6.1", "served": {"release": 0, "series": 0}, "rows": [row]}, doc)
    text = doc.read_text()
    assert text.startswith("intro\n<!-- realpackages-6.1 begin -->\n| package")
    assert "| fake    | AsyncNoFlags | async def __call__, no flags | first" in text
    assert "load refused (WORSE)" in text and "old" not in text
    assert text.endswith("<!-- realpackages-6.1 end -->\nafter\n")


def test_the_manifest_pins_every_package_by_sha256():
    packages, beside, _ = load_real_packages()
    assert len([p for p in packages.values() if not p.get("control")]) >= 4
    for package in packages.values():
        assert len(package["sha256"]) == 64
        assert package["file"].endswith(".whl")
    classes = {m["class"] for p in packages.values() for m in p["middleware"]}
    assert set(beside) <= classes


def test_an_unknown_package_is_a_usage_error(capsys):
    assert main(["realpackages", "--packages", "nope"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown package(s): nope\n")
