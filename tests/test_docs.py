"""docs/ against the code: every command and option it names exists, every one that exists is documented
(docs/cli.md), its documented defaults are the real ones, and its relative links resolve."""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import build
from pipeline import serve

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CLI_DOC = DOCS / "cli.md"
SESSION_CHECK = "session-check"

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
OPTION = re.compile(r"(?<![^\s\[(])(--?[a-z][a-z-]*)")  # at the start of a word
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
BUILD_COMMAND = re.compile(r"build\.py ((?:\[?-[a-z-]+\]? )*)([a-z][a-z-]*)(.*)")
SERVE_COMMAND = re.compile(r"pipeline\.serve ([a-z][a-z-]*)(.*)")
PYTHON_MODULE = re.compile(r"python3? -m \S+")


# ---------------------------------------------------------------------------------------- the real CLI
def click_options(command: click.Command) -> set[str]:
    return {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts + p.secondary_opts}


def click_arguments(command: click.Command) -> set[str]:
    return {p.name.upper() for p in command.params if isinstance(p, click.Argument)}


def session_check_options() -> set[str]:
    """The options of `python -m pipeline.serve session-check`, from its argparse help."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        serve.main([SESSION_CHECK, "--help"])
    assert stop.value.code == 0
    return set(OPTION.findall(PYTHON_MODULE.sub("", out.getvalue()))) - {"-h", "--help"}


HELP = {"-h", "--help"}  # every command's, from the group's context settings (checked below)
COMMANDS: dict[str, set[str]] = {name: click_options(c) for name, c in build.cli.commands.items()}
GROUP_OPTIONS = click_options(build.cli)
SESSION_CHECK_OPTIONS = session_check_options()
EVERY_OPTION = set().union(*COMMANDS.values(), GROUP_OPTIONS, SESSION_CHECK_OPTIONS, HELP)


# ------------------------------------------------------------------------------------------- the docs
def doc_files() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def code_of(text: str) -> list[str]:
    """The code in a markdown text: each line of its fenced blocks, and each inline code span outside them."""
    lines = [line for block in FENCE.findall(text) for line in block.splitlines()]
    return lines + INLINE_CODE.findall(FENCE.sub("", text))


def options_in(code: str) -> list[str]:
    return OPTION.findall(PYTHON_MODULE.sub("", code))


def sections(text: str) -> list[tuple[str, str]]:
    """(heading, body up to the next heading) of every heading of the text."""
    text = FENCE.sub(lambda m: m.group(0).replace("#", "\0"), text)  # a `#` in code is no heading
    found = list(HEADING.finditer(text))
    ends = [m.start() for m in found[1:]] + [len(text)]
    return [(m.group(2), text[m.end() : end].replace("\0", "#")) for m, end in zip(found, ends)]


def command_of(heading: str) -> str | None:
    """The command a cli.md section documents: a build.py command, `session-check`, `group`, or None."""
    if heading.lower() == "global options":
        return "group"
    if match := re.search(r"build\.py ([a-z-]+)", heading):
        return match.group(1)
    if match := re.search(r"pipeline\.serve ([a-z-]+)", heading):
        return match.group(1)
    return None


def cli_sections() -> dict[str, str]:
    documented: dict[str, str] = {}
    for heading, body in sections(CLI_DOC.read_text(encoding="utf-8")):
        command = command_of(heading)
        if command is not None:
            assert command not in documented, f"docs/cli.md documents {command!r} twice"
            documented[command] = body
    return documented


def real_options(command: str) -> set[str]:
    if command == "group":
        return GROUP_OPTIONS | HELP
    if command == SESSION_CHECK:
        return SESSION_CHECK_OPTIONS | HELP
    return COMMANDS[command] | HELP


# ------------------------------------------------------------------------------------ commands, options
def test_every_command_is_documented_and_every_documented_command_exists():
    documented = set(cli_sections())
    assert documented - {"group"} == set(COMMANDS) | {SESSION_CHECK}


@pytest.mark.parametrize("command", sorted(COMMANDS) + [SESSION_CHECK, "group"])
def test_every_option_of_a_command_is_in_its_section_and_no_other(command):
    body = cli_sections()[command]
    named = {o for code in code_of(body) for o in options_in(code)}
    real = real_options(command)
    assert named - real == set(), f"docs/cli.md names options that {command!r} does not have"
    assert real - HELP - named == set(), f"options of {command!r} missing from its section of docs/cli.md"
    if command in COMMANDS:
        arguments = click_arguments(build.cli.commands[command])
        missing = {a for a in arguments if a not in body}
        assert not missing, f"arguments of {command!r} missing from its section of docs/cli.md"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_answers_the_short_help(command):
    result = CliRunner().invoke(build.cli, [command, "-h"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_every_command_line_in_the_docs_is_real():
    """Wherever a doc writes `build.py …` or `pipeline.serve …`, the command and its options exist."""
    checked = 0
    for path in doc_files():
        for code in code_of(path.read_text(encoding="utf-8")):
            for match in BUILD_COMMAND.finditer(code):
                before, command, rest = match.groups()
                where = f"{path.name}: {code.strip()!r}"
                assert command in COMMANDS, f"{where}: no command {command!r}"
                assert set(options_in(before)) <= GROUP_OPTIONS | HELP, where
                assert set(options_in(rest)) <= COMMANDS[command] | HELP, where
                checked += 1
            for match in SERVE_COMMAND.finditer(code):
                command, rest = match.groups()
                where = f"{path.name}: {code.strip()!r}"
                assert command == SESSION_CHECK, f"{where}: no command {command!r}"
                assert set(options_in(rest)) <= SESSION_CHECK_OPTIONS | HELP, where
                checked += 1
    assert checked >= len(COMMANDS)


def test_every_option_named_anywhere_in_the_docs_exists():
    for path in doc_files():
        for code in code_of(path.read_text(encoding="utf-8")):
            unknown = set(options_in(code)) - EVERY_OPTION
            assert not unknown, f"{path.name}: {code.strip()!r} names {sorted(unknown)}, of no command"


def documented_defaults(body: str) -> dict[str, str]:
    """Option → the default column of its row, from a table `| `--option …` | default | meaning |`."""
    defaults = {}
    for row in re.findall(r"^\|\s*`(--[a-z-]+)[^`]*`\s*\|([^|]*)\|", body, re.M):
        defaults[row[0]] = row[1].strip()
    return defaults


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_documented_defaults_are_the_real_ones(command):
    params = {
        opt: p for p in build.cli.commands[command].params if isinstance(p, click.Option) for opt in p.opts
    }
    defaults = documented_defaults(cli_sections()[command])
    assert set(defaults) == {o for o in params if o.startswith("--")}, "one table row per option"
    for option, text in defaults.items():
        param = params[option]
        if text == "required":
            assert param.required, option
        elif text == "off":
            assert param.is_flag and _no_default(param), option
        elif text == "none":
            assert _no_default(param) and not param.required, option
        elif match := re.fullmatch(r"`([^`]+)`", text):
            literal = match.group(1)
            assert str(param.default) == literal or _same_number(param.default, literal), option
        else:
            assert not param.required and _no_default(param), f"{option}: {text!r}"  # a computed default


def _no_default(param: click.Option) -> bool:
    """No default, or False for a flag (click 8.3+ writes "none" as its sentinel `UNSET`)."""
    return param.default in (None, False) or param.default is getattr(click.core, "UNSET", None)


def _same_number(value: object, text: str) -> bool:
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------------------ links
def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for heading, _body in sections(path.read_text(encoding="utf-8")):
        base = slug(heading)
        anchor, n = base, 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", [*doc_files(), ROOT / "README.md"], ids=lambda p: p.name)
def test_relative_links_resolve(path):
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{path.name}: link {target!r} leads nowhere"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{path.name}: no heading {anchor!r} in {resolved.name}"


def test_the_index_links_every_page():
    linked = {(DOCS / t.partition("#")[0]).resolve() for t in links(DOCS / "README.md")}
    assert {p.resolve() for p in doc_files() if p.name != "README.md"} <= linked


def test_the_slugs_are_githubs():
    assert slug("`build.json`") == "buildjson"
    assert slug("`build.py nightly`") == "buildpy-nightly"
    assert slug("The seven indicators") == "the-seven-indicators"
