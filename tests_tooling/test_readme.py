"""What the README names exists: tox envs and labels, subcommands and their flags,
files and links; it stays a front door (short, both commands near the top); its
test command is the one CI runs; its series table is scripts/releases.json's."""

import argparse
import configparser
import itertools
import json
import re
from pathlib import Path

import pytest

from patchkit.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SETUP_COMMAND = "python3 scripts/patchset.py setup"
TEST_COMMAND = (
    "python3 -m pip install -q -r requirements/tox.txt && python3 -m tox run-parallel -m ci -p 2"
)


def code_spans(text):
    """Every inline `code` span and every line of a fenced block, as strings."""
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", text, re.M | re.S)
    lines = [line for block in fenced for line in block.splitlines()]
    outside = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.M | re.S)
    return lines + re.findall(r"`([^`\n]+)`", outside)


def expand_braces(name):
    """tox's factor syntax: djmain-py{312,313} -> djmain-py312, djmain-py313."""
    parts = re.split(r"\{([^}]*)\}", name)
    choices = [[part] if i % 2 == 0 else part.split(",") for i, part in enumerate(parts)]
    return {"".join(combo) for combo in itertools.product(*choices)}


def tox_config():
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    envs = {
        env for line in config["tox"]["env_list"].split() for env in expand_braces(line.strip())
    }
    envs |= {section.split(":", 1)[1] for section in config.sections() if ":" in section}
    labels = {}
    for line in config["tox"]["labels"].strip().splitlines():
        name, _, members = line.partition("=")
        labels[name.strip()] = {member.strip() for member in members.split(",")}
    return envs, labels


def subcommand_parsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def flags_of(parser):
    return {option for option in parser._option_string_actions if option.startswith("--")}


def section(title):
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    assert len(README.splitlines()) <= 200


@pytest.mark.parametrize("command", [SETUP_COMMAND, TEST_COMMAND])
def test_both_commands_stand_alone_in_the_first_40_lines(command):
    assert command in README.splitlines()[:40]


def test_the_test_command_is_the_one_ci_runs():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci_lines[-1] == TEST_COMMAND


def test_every_tox_env_and_label_it_names_is_in_tox_ini():
    envs, labels = tox_config()
    spans = " ".join(code_spans(README))
    named_envs = re.findall(r"tox (?:run )?-e ([\w-]+)", spans)
    named_labels = re.findall(r"tox (?:run|run-parallel) -m ([\w-]+)", spans)
    assert named_envs and named_labels
    assert set(named_envs) <= envs, set(named_envs) - envs
    assert set(named_labels) <= set(labels), set(named_labels) - set(labels)


def test_the_opt_in_envs_it_lists_are_every_env_outside_the_ci_label():
    envs, labels = tox_config()
    opt_in = section("Testing").split("Opt-in envs, not in `ci`:", 1)[1].split(".", 1)[0]
    named = set(re.findall(r"tox -e ([\w-]+)", opt_in))
    assert named and not named & labels["ci"]
    assert "`rg<series>-py<XY>`" in opt_in
    red_green_cells = {env for env in envs if re.fullmatch(r"rg(main|\d+)-py\d+", env)}
    assert envs - labels["ci"] - red_green_cells == named


def test_every_subcommand_and_flag_it_gives_exists():
    parsers = subcommand_parsers()
    uses = [
        (match.group(1), match.group(2))
        for span in code_spans(README)
        for match in re.finditer(r"patchset\.py ([\w-]+)(.*)", span)
        if match.group(1) != "COMMAND"
    ]
    assert len(uses) >= 3
    for name, rest in uses:
        assert name in parsers, name
        assert set(re.findall(r"--[\w-]+", rest)) <= flags_of(parsers[name]), (name, rest)


def test_the_commands_table_lists_every_subcommand_once_with_its_own_flags():
    parsers = subcommand_parsers()
    rows = re.findall(r"^\| `([^`]+)` \|", section("Commands"), re.M)
    names = [row.split()[0] for row in rows]
    assert sorted(names) == sorted(parsers)
    for row in rows:
        name = row.split()[0]
        assert set(re.findall(r"--[\w-]+", row)) <= flags_of(parsers[name]), row


def test_inline_flags_of_a_named_subcommand_exist():
    """`setup --series 5.2` in prose: the flags after a subcommand's name are its own."""
    parsers = subcommand_parsers()
    checked = 0
    for span in code_spans(README):
        words = span.split()
        if words and words[0] in parsers and "--" in span and "|" not in span:
            assert set(re.findall(r"--[\w-]+", span)) <= flags_of(parsers[words[0]]), span
            checked += 1
    assert checked


def test_every_relative_link_and_named_path_exists():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    paths = [
        span
        for span in code_spans(README)
        if re.fullmatch(r"\.?[\w.-]+(/[\w.*<>-]*)+|[\w.-]+\.(md|json|ini|txt)", span)
        and not span.startswith("~")
    ]
    assert len(links) >= 10 and len(paths) >= 5
    # What the tools make (django_fork/, .venv/, .logs/) is git-ignored at the top.
    made = {
        line.strip("/")
        for line in (ROOT / ".gitignore").read_text().splitlines()
        if line.startswith("/") and "*" not in line
    }
    # django/... names a file of Django's tree (a fork, your clone), never of this repo.
    made.add("django")
    assert not (ROOT / "django").exists()
    for path in links + paths:
        path = path.removeprefix("./")
        if "://" in path or "<" in path or path.split("/")[0] in made:
            continue
        assert (ROOT / path).exists(), path


def test_the_series_table_is_the_manifest():
    manifest = json.loads((ROOT / "scripts" / "releases.json").read_text())
    rows = re.findall(
        r"^\| (main|[\d.]+)[^|]*\| ([^|]+) \| ([^|]+) \|$", section("The series"), re.M
    )
    assert {series for series, _, _ in rows} == set(manifest["series"])
    for series, built_on, pythons in rows:
        release = manifest["series"][series]
        assert release["version"] in built_on, series
        assert pythons.strip().split(", ") == release["pythons"], series
    assert f"| {manifest['default_series']} (default) |" in README


NUMBERS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def test_the_commit_counts_it_gives_are_the_patch_folders():
    def count(series):
        return len(list((ROOT / "patches" / series).glob("*.patch")))

    text = " ".join(section("The series").split())
    main = re.search(r"Main has (\w+) commits", text).group(1)
    assert NUMBERS[main] == count("main")
    carry_all = re.search(r"([\d., and]+) carry all (\w+);", text)
    assert NUMBERS[carry_all.group(2)] == count("main")
    for series in re.findall(r"\d\.\d", carry_all.group(1)):
        assert count(series) == count("main"), series
    assert NUMBERS[re.search(r"4\.2 carries (\w+):", text).group(1)] == count("4.2")
