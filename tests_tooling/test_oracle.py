"""The ground-truth oracle's judging core (scripts/payloads/oracle_worker/oracle_core.py)
run in-process against helpers given as source: it must fail the helper the series
had when the oracle was written and pass the corrected rule. No Django, no fork."""

import functools
import inspect
import sys
import types

from patchkit.core.manifest import PAYLOADS_DIR

sys.path.insert(0, str(PAYLOADS_DIR / "oracle_worker"))

import oracle_core  # noqa: E402

# The helper of patches/main/0001 before the oracle (django/utils/inspect.py).
HELPER_BEFORE_THE_ORACLE = """
def is_coroutine_callable(obj):
    if inspect.iscoroutinefunction(obj):
        return True
    if type(obj) in (types.FunctionType, types.MethodType):
        return False
    # type() and issubclass() don't read attributes through obj.
    if issubclass(type(obj), functools.partial):
        return is_coroutine_callable(obj.func)
    # Like Python, look up __call__() on the type, not on the instance.
    return inspect.iscoroutinefunction(getattr(type(obj), "__call__", None))
"""

# The rule the series ships (patches/main/, django/utils/inspect.py), with its
# is_async_def() inlined.
REFERENCE_HELPER = """
def is_coroutine_callable(obj):
    if inspect.iscoroutinefunction(obj):
        return True
    if type(obj) in (types.FunctionType, types.MethodType):
        return False
    call = getattr(type(obj), "__call__", None)
    while call is functools.partial.__call__:
        obj = obj.func
        call = getattr(type(obj), "__call__", None)
    call = getattr(call, "__func__", call)
    return inspect.isfunction(call) and bool(call.__code__.co_flags & inspect.CO_COROUTINE)
"""

EXAMPLES = 400
ALL_LIMITATIONS = set(oracle_core.LIMITATION_IDS.values())


def helper_from(source):
    namespace = {"functools": functools, "inspect": inspect, "types": types}
    exec(source, namespace)
    return namespace["is_coroutine_callable"]


def run_oracle(helper, limitations=ALL_LIMITATIONS):
    return oracle_core.search(helper, inspect.iscoroutinefunction, limitations, EXAMPLES)


@functools.cache
def result_before_the_oracle():
    return run_oracle(helper_from(HELPER_BEFORE_THE_ORACLE), frozenset(ALL_LIMITATIONS))


def is_sync_partial_subclass_of_async_call(tree):
    inner = tree[-1]
    return (
        tree[:2] == ("partial_subclass", "sync") and inner[0] == "instance" and inner[2] == "async"
    )


def test_the_oracle_fails_the_helper_from_before_it():
    result = result_before_the_oracle()
    assert result["counts"]["false positive"] > 0
    # A partial subclass with async def __call__ around a sync function: sync to it.
    assert result["counts"]["false negative"] > 0
    shrunk = {f["shape"]: f for f in result["failures"] if f["outcome"] == "false positive"}
    # The mark on a class's synchronous __call__, on an instance of the class itself.
    kind, _, call, wrapped = shrunk["instance", "marked_sync"]["tree"]
    assert (kind, call, wrapped) == ("instance", "marked_sync", None)
    # A partial subclass with a synchronous __call__ around an async-callable object.
    assert ("partial_subclass", "sync") in shrunk
    drawn = [e["tree"] for e in result["failing_examples"] if e["outcome"] == "false positive"]
    assert any(is_sync_partial_subclass_of_async_call(tree) for tree in drawn)
    false_negatives = [f["shape"] for f in result["failures"] if f["outcome"] == "false negative"]
    assert ("partial_subclass", "async") in false_negatives


def test_a_shrunk_counterexample_is_code_that_reproduces_it():
    helper = helper_from(HELPER_BEFORE_THE_ORACLE)
    result = result_before_the_oracle()
    (false_positive,) = [
        f for f in result["failures"] if f["shape"] == ("instance", "marked_sync")
    ]
    namespace = {}
    exec(false_positive["code"], namespace)
    obj = namespace["obj"]
    assert helper(obj) is True
    assert inspect.iscoroutinefunction(obj) is False
    assert obj("x") == "result"
    text = oracle_core.format_failure(false_positive)
    assert text.startswith("FALSE POSITIVE: the helper says True, the release's ")
    assert text.endswith(false_positive["code"])
    assert "@markcoroutinefunction\n    def __call__(self, *args, **kwargs):" in text
    # Each is shrunk: no larger than any failure of its shape that was drawn.
    for failure in result["failures"]:
        drawn = [
            example["tree"]
            for example in result["failing_examples"]
            if oracle_core.shape_of(example["tree"]) == failure["shape"]
            and example["outcome"] == failure["outcome"]
        ]
        assert all(
            oracle_core.tree_size(failure["tree"]) <= oracle_core.tree_size(t) for t in drawn
        )


def test_the_oracle_passes_the_corrected_rule():
    result = run_oracle(helper_from(REFERENCE_HELPER))
    assert result["failures"] == []
    assert result["examples"] == EXAMPLES
    # It judged shapes of every kind: the release missed some, some are limitations,
    # some are the user's own marks.
    assert result["counts"]["fixed"] > 0
    assert result["counts"]["marker"] > 0
    # inspect's iscoroutinefunction() finds a mark through a partial; asgiref's
    # before Python 3.12 does not (mark-behind-partial, 5.2 and 4.2 on 3.10).
    assert set(result["limitations"]) == ALL_LIMITATIONS - {"mark-behind-partial"}


def test_a_false_negative_is_allowed_only_for_a_listed_limitation():
    helper = helper_from(REFERENCE_HELPER)
    unlisted = ALL_LIMITATIONS - {"lambda-returning-coroutine"}
    result = run_oracle(helper, limitations=unlisted)
    assert {(f["outcome"], f["limitation"]) for f in result["failures"]} == {
        ("false negative", "lambda-returning-coroutine")
    }
    assert [f["tree"][0] for f in result["failures"]] == ["lambda"]


def test_the_release_predicate_as_the_helper_misses_async_call_objects():
    """iscoroutinefunction() alone is what the series fixes: an instance with
    async def __call__() is a false negative no limitation covers."""
    result = run_oracle(inspect.iscoroutinefunction)
    assert "fixed" not in result["counts"]
    assert {f["outcome"] for f in result["failures"]} == {"false negative"}
    assert ("instance", "plain", "async", None) in [f["tree"] for f in result["failures"]]
    assert all(f["limitation"] is None for f in result["failures"] if f["tree"][0] == "instance")


def test_a_helper_that_raises_where_the_release_does_not_fails():
    def raising(obj):
        if isinstance(obj, functools.partial):
            raise AttributeError("func")
        return inspect.iscoroutinefunction(obj)

    tree = ("partial", ("function", "sync"))
    verdict = oracle_core.judge(tree, raising, inspect.iscoroutinefunction, set())
    assert verdict["outcome"] == "raises"
    assert verdict["helper"] == "raises AttributeError"


def test_the_truth_is_the_call():
    marked_sync = ("mark_function", ("function", "sync"))
    async_call = ("instance", "slots", "async", None)
    instance_attribute = ("instance", "instance_attr", "sync", ("function", "async"))
    class_object = ("class_object", "async")
    assert oracle_core.call_returns_awaitable(oracle_core.build(marked_sync)[1]) is False
    assert oracle_core.call_returns_awaitable(oracle_core.build(async_call)[1]) is True
    assert oracle_core.call_returns_awaitable(oracle_core.build(instance_attribute)[1]) is False
    assert oracle_core.call_returns_awaitable(oracle_core.build(class_object)[1]) is False
    assert oracle_core.call_returns_awaitable(lambda x: 1 / 0) is False


def test_the_same_seed_draws_the_same_trees():
    helper = helper_from(REFERENCE_HELPER)
    first = oracle_core.search(helper, inspect.iscoroutinefunction, ALL_LIMITATIONS, 50, keep=50)
    again = oracle_core.search(helper, inspect.iscoroutinefunction, ALL_LIMITATIONS, 50, keep=50)
    assert [t["tree"] for t in first["trees"]] == [t["tree"] for t in again["trees"]]
    assert len(first["trees"]) > 40


def test_only_a_callable_that_returns_its_leaves_result_stands_for_a_twin():
    assert oracle_core.does_the_leaves_job(("partial", ("instance", "plain", "async", None)))
    assert oracle_core.does_the_leaves_job(("lambda", ("function", "async")))
    wrapped = ("instance", "slots", "async", ("function", "async"))
    assert oracle_core.does_the_leaves_job(wrapped)
    assert not oracle_core.does_the_leaves_job(("class_object", "async"))
    assert not oracle_core.does_the_leaves_job(("builtin", "len"))
