"""The ground truth for "does calling this object return an awaitable?", and a judge
of a helper that answers it without calling.

Hypothesis composes callables from building blocks (functions, classes with a sync or
async __call__ in every form Python dispatches, markcoroutinefunction() on a
function, an instance or a type's __call__, partial and its subclasses, bound
methods, sync wrappers, lru_cache, asgiref's adapters, mocks, builtins,
SimpleLazyObject) and wrappers of each other. A generated callable is a small tree
of tuples (JSON-able); it is turned into Python source and the object is built by
running that source, so the code printed for a counterexample is exactly what was
judged. The truth is the call: call the object with one harmless argument and ask
inspect.isawaitable() of the result.

A plain module: no Django import at module level, the helper and the release's
iscoroutinefunction() are arguments, so the tooling tests can judge any helper
in-process. Imported by oracle_helper.py and oracle_entry_points.py inside a
Django virtualenv, and by tests_tooling/test_oracle.py.
"""

import asyncio
import functools
import inspect
import random
import warnings

from hypothesis import HealthCheck, Phase, find, given, reject, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

SEED = 34328
ARGUMENT = "x"  # harmless for every block: a string, hashable (lru_cache)

# LEDGER.md's limitations, by the outermost layer that hides an awaitable from
# every predicate that does not call: such a false negative is allowed where the
# release's iscoroutinefunction() also says sync and LEDGER.md lists the id for
# the series. The lead's LEDGER.md rows carry these ids.
LIMITATION_IDS = {
    "lambda": "lambda-returning-coroutine",
    "sync_def": "sync-wrapper-around-async",
    "wraps": "sync-wrapper-around-async",
    "lru_cache": "sync-wrapper-around-async",
    "mock_wraps": "sync-wrapper-around-async",
    "method_type": "method-type-of-object",
    "call/sync": "sync-wrapper-around-async",
    "call/marked_sync": "mark-on-type-call",
    "mark_function/behind_partial": "mark-behind-partial",
}
# Layers a predicate is expected to see through: a false negative is explained (or
# not) by what they wrap.
TRANSPARENT = {"partial", "mark_object", "lazy"}

CALL_MODES = ("sync", "async", "marked_sync")
INSTANCE_VARIANTS = ("plain", "slots", "subclass", "staticmethod", "classmethod")
WRAPPING_VARIANTS = ("plain", "slots", "subclass", "instance_attr", "getattr_proxy")
PARTIAL_SUBCLASS_MODES = ("inherited", "sync_delegating", "sync", "async")
UNARY_WRAPPERS = (
    "lambda",
    "sync_def",
    "wraps",
    "lru_cache",
    "partial",
    "method_type",
    "mark_function",
    "mark_object",
    "mock_wraps",
)
BUILTINS = ("len", "repr", "str")
MOCKS = ("Mock", "MagicMock", "AsyncMock")


def has_module(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


# Strategies ------------------------------------------------------------------------


def callable_trees(asgiref=None, django=None, max_leaves=4):
    """Trees of callables; asgiref's adapters and SimpleLazyObject only where those
    packages are importable (by default: whether they are)."""
    asgiref = has_module("asgiref") if asgiref is None else asgiref
    django = has_module("django") if django is None else django
    modes = st.sampled_from(CALL_MODES)
    leaves = st.one_of(
        st.tuples(st.just("function"), st.sampled_from(("sync", "async"))),
        st.tuples(st.just("bound_method"), modes),
        st.tuples(st.just("builtin"), st.sampled_from(BUILTINS)),
        st.tuples(st.just("mock"), st.sampled_from(MOCKS)),
        st.tuples(st.just("class_object"), modes),
        st.tuples(st.just("metaclass"), modes),
        st.tuples(st.just("instance"), st.sampled_from(INSTANCE_VARIANTS), modes, st.none()),
    )
    unary = list(UNARY_WRAPPERS)
    if asgiref:
        unary += ["sync_to_async", "async_to_sync"]
    if django:
        unary.append("lazy")

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(unary), children),
            st.tuples(
                st.just("partial_subclass"), st.sampled_from(PARTIAL_SUBCLASS_MODES), children
            ),
            st.tuples(
                st.just("instance"),
                st.sampled_from(WRAPPING_VARIANTS),
                st.sampled_from((*CALL_MODES, "none")),
                children,
            ),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def as_tree(value):
    """A tree read back from JSON: lists become tuples again."""
    if isinstance(value, list):
        return tuple(as_tree(item) for item in value)
    return value


# Source code of a tree -------------------------------------------------------------


class Source:
    def __init__(self, mark_module):
        self.mark_module = mark_module
        self.imports = set()
        self.blocks = []
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    def define(self, text):
        self.blocks.append(text)

    def mark(self):
        self.imports.add(f"from {self.mark_module} import markcoroutinefunction")
        return "markcoroutinefunction"


def call_method(mode, target, first="self", decorators=()):
    """def __call__ for a mode: sync or async, marked or not, returning target()."""
    lines = list(decorators)
    if mode == "none":
        return []
    if mode == "marked_sync":
        lines.append("@markcoroutinefunction")
    prefix = "async " if mode == "async" else ""
    lines.append(f"{prefix}def __call__({first}, *args, **kwargs):")
    if mode == "async" and target != "body":
        # Await what it wraps, if awaitable: the wrapper does its inner's job.
        lines.append(f"    result = {target}(*args, **kwargs)")
        lines.append("    return (await result) if inspect.isawaitable(result) else result")
    else:
        lines.append(f"    return {target}(*args, **kwargs)")
    return lines


def class_source(name, body, bases=""):
    body = body or ["pass"]
    return "\n".join([f"class {name}{bases}:", *("    " + line for line in body)])


def render(tree, source):
    """The expression for tree's object; definitions go to source."""
    kind = tree[0]
    if kind == "function":
        name = source.name("function")
        prefix = "async " if tree[1] == "async" else ""
        source.define(f"{prefix}def {name}(*args, **kwargs):\n    return body(*args, **kwargs)")
        return name
    if kind == "bound_method":
        name, mode = source.name("Holder"), tree[1]
        if mode == "marked_sync":
            source.mark()
        lines = [line.replace("__call__", "method") for line in call_method(mode, "body")]
        source.define(class_source(name, lines))
        return f"{name}().method"
    if kind == "builtin":
        return tree[1]
    if kind == "mock":
        source.imports.add("from unittest import mock")
        return f"mock.{tree[1]}()"
    if kind == "class_object":
        name, mode = source.name("Class"), tree[1]
        if mode == "marked_sync":
            source.mark()
        init = ["def __init__(self, *args, **kwargs):", "    pass"]
        source.define(class_source(name, init + call_method(mode, "body")))
        return name
    if kind == "metaclass":
        meta, name, mode = source.name("Meta"), source.name("Class"), tree[1]
        if mode == "marked_sync":
            source.mark()
        source.define(class_source(meta, call_method(mode, "body", "cls"), "(type)"))
        source.define(class_source(name, [], f"(metaclass={meta})"))
        return name
    if kind == "instance":
        return render_instance(tree, source)
    inner = bind(render(tree[-1], source), source)
    if kind == "lambda":
        return f"lambda *args, **kwargs: {inner}(*args, **kwargs)"
    if kind in ("sync_def", "wraps", "mark_function"):
        name = source.name("wrapper")
        decorator = {
            "sync_def": [],
            "wraps": [f"@functools.wraps({inner})"],
            "mark_function": [f"@{source.mark()}"],
        }[kind]
        if kind == "wraps":
            source.imports.add("import functools")
        source.define(
            "\n".join(
                [
                    *decorator,
                    f"def {name}(*args, **kwargs):",
                    f"    return {inner}(*args, **kwargs)",
                ]
            )
        )
        return name
    if kind in ("lru_cache", "partial"):
        source.imports.add("import functools")
        return f"functools.{kind}({inner})"
    if kind == "partial_subclass":
        source.imports.add("import functools")
        name, mode = source.name("Partial"), tree[1]
        lines = {
            "inherited": [],
            "sync_delegating": call_method("sync", "super().__call__"),
            "sync": call_method("sync", "body"),
            "async": call_method("async", "body"),
        }[mode]
        source.define(class_source(name, lines, "(functools.partial)"))
        return f"{name}({inner})"
    if kind == "method_type":
        source.imports.add("import types")
        return f"types.MethodType({inner}, object())"
    if kind == "mark_object":
        return f"{source.mark()}({inner})"
    if kind == "mock_wraps":
        source.imports.add("from unittest import mock")
        return f"mock.Mock(wraps={inner})"
    if kind in ("sync_to_async", "async_to_sync"):
        source.imports.add(f"from asgiref.sync import {kind}")
        return f"{kind}({inner})"
    if kind == "lazy":
        source.imports.add("from django.utils.functional import SimpleLazyObject")
        return f"SimpleLazyObject(lambda: {inner})"
    raise ValueError(f"unknown block {kind!r}")


def render_instance(tree, source):
    _, variant, mode, inner_tree = tree
    target = bind(render(inner_tree, source), source) if inner_tree is not None else "body"
    if mode == "async" and inner_tree is not None:
        source.imports.add("import inspect")
    if mode == "marked_sync":
        source.mark()
    name = source.name("Call")
    if variant == "plain":
        source.define(class_source(name, call_method(mode, target)))
    elif variant == "instance_attr":  # Python ignores it: the type's __call__ runs
        source.define(class_source(name, call_method(mode, "body")))
    elif variant == "slots":
        source.define(class_source(name, ["__slots__ = ()", *call_method(mode, target)]))
    elif variant == "subclass":
        base = source.name("Base")
        source.define(class_source(base, call_method(mode, target)))
        source.define(class_source(name, [], f"({base})"))
    elif variant == "staticmethod":
        lines = call_method(mode, target, "", ["@staticmethod"])
        source.define(class_source(name, [line.replace("(, ", "(") for line in lines]))
    elif variant == "classmethod":
        source.define(class_source(name, call_method(mode, target, "cls", ["@classmethod"])))
    elif variant == "getattr_proxy":
        lines = [
            "def __getattr__(self, name):",
            f"    return getattr({target}, name)",
            *call_method(mode, target),
        ]
        source.define(class_source(name, lines))
    else:
        raise ValueError(f"unknown instance variant {variant!r}")
    instance = bind(f"{name}()", source)
    if variant == "instance_attr":
        source.define(f"{instance}.__call__ = {target}")
    return instance


def bind(expression, source):
    """A name for expression, so that each object is built once."""
    if expression.isidentifier():
        return expression
    name = source.name("obj")
    source.define(f"{name} = {expression}")
    return name


def tree_source(tree, mark_module="inspect", body_source=None):
    """Paste-able Python that builds tree's object as `obj`."""
    source = Source(mark_module)
    expression = render(tree, source)
    body = body_source or 'def body(*args, **kwargs):\n    return "result"'
    parts, statements = ["\n".join(sorted(source.imports)), body], []
    for block in [*source.blocks, f"obj = {expression}"]:
        if "\n" in block:  # a definition: two blank lines around it, as PEP 8 has it
            parts += ["\n".join(statements), block] if statements else [block]
            statements = []
        else:
            statements.append(block)
    parts.append("\n".join(statements))
    return "\n\n\n".join(part for part in parts if part) + "\n"


def build(tree, mark_module="inspect", body=None):
    """(source, object): the object built by running tree_source(); body (the
    leaves' call) defaults to the one the source defines. A block that refuses its
    input (sync_to_async() of async code, a mark on a __slots__ instance) raises."""
    code = tree_source(tree, mark_module)
    namespace = {"__name__": "oracle_generated"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, "<oracle>", "exec"), namespace)
        if body is not None:
            namespace["body"] = body
    return code, namespace["obj"]


# Truth and verdict -----------------------------------------------------------------


def call_returns_awaitable(obj):
    """The ground truth: call obj with one harmless argument; True if the result is
    awaitable. An exception means not awaitable. Coroutines are closed, unawaited
    results of asgiref's threads are not left running."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = obj(ARGUMENT)
        except Exception:
            return False
        awaitable = inspect.isawaitable(result)
        if asyncio.iscoroutine(result):
            result.close()
    return awaitable


async def awaited(awaitable):
    return await awaitable


def does_the_leaves_job(tree, mark_module="inspect"):
    """True if calling the object, and awaiting the result if it is awaitable, gives
    what its leaves' body returns: only then may it stand for an `async def` twin at
    an entry point (a class object builds an instance, a builtin computes its own)."""
    sentinel = object()
    try:
        _, obj = build(tree, mark_module, lambda *args, **kwargs: sentinel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = obj(ARGUMENT)
            if inspect.isawaitable(result):
                result = asyncio.run(awaited(result))
    except Exception:
        return False
    return result is sentinel


def explain_false_negative(tree, behind_partial=False):
    """The LEDGER.md limitation id that covers an awaitable the predicates cannot
    see in tree, or None: the outermost sync layer that passes its inner call's
    result through decides; transparent layers defer to what they wrap."""
    kind = tree[0]
    if kind in TRANSPARENT:
        return explain_false_negative(tree[-1], behind_partial or kind == "partial")
    if kind == "partial_subclass":
        if tree[1] == "inherited":
            return explain_false_negative(tree[-1], True)
        return LIMITATION_IDS["call/sync"] if tree[1] == "sync_delegating" else None
    if kind == "mark_function" and behind_partial:
        # asgiref's iscoroutinefunction() before Python 3.12 doesn't look for a
        # mark through a partial, and the helper follows it.
        return LIMITATION_IDS["mark_function/behind_partial"]
    if kind == "instance" and tree[3] is not None:
        return LIMITATION_IDS.get(f"call/{tree[2]}")
    return LIMITATION_IDS.get(kind)


def ask(predicate, obj):
    try:
        return bool(predicate(obj))
    except Exception as error:
        return f"raises {type(error).__name__}"


def judge(tree, helper, release, limitations, mark_module="inspect"):
    """The verdict on one tree: a dict with the truth, both answers, the outcome
    ("agrees", "fixed", "marker", "limitation") or the failure ("false positive",
    "false negative", "raises"), and the limitation id where one applies."""
    code, obj = build(tree, mark_module)
    said_release, said_helper = ask(release, obj), ask(helper, obj)
    # Build again: a call may change the object (lru_cache remembers its result).
    truth = call_returns_awaitable(build(tree, mark_module)[1])
    verdict = {"truth": truth, "release": said_release, "helper": said_helper}
    if isinstance(said_helper, str):
        outcome = "agrees" if said_helper == said_release else "raises"
    elif said_helper and not truth:
        # Markers are the user's claim: the helper must keep what the release said.
        outcome = "marker" if said_release is True else "false positive"
    elif truth and not said_helper:
        limitation = explain_false_negative(tree)
        verdict["limitation"] = limitation
        allowed = said_release is False and limitation in limitations
        outcome = "limitation" if allowed else "false negative"
    else:
        outcome = "agrees" if said_helper == said_release else "fixed"
    verdict["outcome"] = outcome
    return verdict


FAILURES = ("false positive", "false negative", "raises")
KEEP_FAILING = 50  # failing trees kept as drawn (before shrinking)
SHRINK_EXAMPLES = 1000  # tries to find each kind of failure again, then shrink it


def buildable(tree, mark_module):
    try:
        build(tree, mark_module)
    except Exception:
        return False
    return True


def oracle_settings(examples, phases):
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )


def search(
    helper, release, limitations, examples=500, mark_module="inspect", trees=None, keep=0
):
    """Judge examples generated trees (seeded); then, for each kind of failure seen
    (outcome and outermost block), the smallest tree Hypothesis finds that fails the
    same way, as paste-able code.
    Returns plain data: counts by outcome, limitation ids used, the shrunk failures,
    the first failing trees as drawn, and the first `keep` distinct buildable trees
    (for the entry-point differential)."""
    strategy = trees or callable_trees()
    judged, kept, seen, all_failing = [], [], set(), []

    @seed(SEED)
    @oracle_settings(examples, [Phase.generate])
    @given(strategy)
    def run(tree):
        if not buildable(tree, mark_module):
            reject()
        verdict = judge(tree, helper, release, limitations, mark_module)
        judged.append(verdict)
        if verdict["outcome"] in FAILURES:
            all_failing.append({"tree": tree, **verdict})
        if len(kept) < keep and tree not in seen:
            seen.add(tree)
            job = does_the_leaves_job(tree, mark_module)
            kept.append({"tree": tree, **verdict, "does_its_job": job})

    run()
    counts, by_limitation = {}, {}
    for verdict in judged:
        counts[verdict["outcome"]] = counts.get(verdict["outcome"], 0) + 1
        if verdict["outcome"] == "limitation":
            by_limitation[verdict["limitation"]] = by_limitation.get(verdict["limitation"], 0) + 1
    failures = []
    for outcome, signature in dict.fromkeys(
        (example["outcome"], shape_of(example["tree"])) for example in all_failing
    ):
        drawn = [
            example["tree"]
            for example in all_failing
            if (example["outcome"], shape_of(example["tree"])) == (outcome, signature)
        ]
        failures.append(
            shrink(strategy, outcome, signature, drawn, helper, release, limitations, mark_module)
        )
    return {
        "examples": len(judged),
        "counts": counts,
        "limitations": by_limitation,
        "failures": failures,
        "failing_examples": all_failing[:KEEP_FAILING],
        "trees": kept,
    }


OPTION_ORDER = {
    option: rank
    for options in (INSTANCE_VARIANTS, WRAPPING_VARIANTS, CALL_MODES, PARTIAL_SUBCLASS_MODES)
    for rank, option in enumerate(options)
}


def tree_size(tree):
    """(blocks, the options' ranks): a plain class before a __slots__ one."""
    if not isinstance(tree, tuple):
        return (0, OPTION_ORDER.get(tree, 0))
    sizes = [tree_size(part) for part in tree[1:] if part is not None]
    return (1 + sum(b for b, _ in sizes), sum(r for _, r in sizes))


def shape_of(tree):
    """What groups failures for shrinking: the outermost block and its mode."""
    if tree[0] == "instance":
        return (tree[0], tree[2])
    if tree[0] in ("partial_subclass", "class_object", "metaclass", "bound_method", "function"):
        return tree[:2]
    return tree[:1]


def shrink(strategy, outcome, signature, drawn, helper, release, limitations, mark_module):
    """The smallest tree of this shape failing this way: Hypothesis's shrunk one, or
    one drawn if smaller (shrinking does not cross from a wrapper to a leaf)."""

    def fails_so(tree):
        return (
            shape_of(tree) == signature
            and buildable(tree, mark_module)
            and judge(tree, helper, release, limitations, mark_module)["outcome"] == outcome
        )

    try:
        tree = find(
            strategy,
            fails_so,
            settings=oracle_settings(SHRINK_EXAMPLES, [Phase.generate, Phase.shrink]),
            random=random.Random(SEED),
        )
    except NoSuchExample:
        tree = drawn[0]
    tree = min([tree, *drawn], key=tree_size)
    verdict = judge(tree, helper, release, limitations, mark_module)
    failure = {"shape": signature, "tree": tree, "code": tree_source(tree, mark_module), **verdict}
    failure["text"] = format_failure(failure)
    return failure


def format_failure(failure):
    said = (
        f"the helper says {failure['helper']}, the release's iscoroutinefunction() "
        f"says {failure['release']}, calling obj({ARGUMENT!r}) returns "
        f"{'an awaitable' if failure['truth'] else 'no awaitable'}"
    )
    if failure.get("limitation"):
        said += f" (limitation {failure['limitation']} not listed for this series)"
    return f"{failure['outcome'].upper()}: {said}\n{failure['code']}"
