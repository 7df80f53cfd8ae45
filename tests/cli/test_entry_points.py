"""The command starts the documented ways, documents itself, and costs ``import omnistorage``
nothing."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import click
import pytest

from omnistorage import __version__
from omnistorage.cli import app
from tests.cli.conftest import REPO, CliInvoker, ProcessRunner

COMMANDS = [
    ("ls",),
    ("stat",),
    ("size",),
    ("tree",),
    ("cat",),
    ("put",),
    ("get",),
    ("cp",),
    ("mv",),
    ("rm",),
    ("mb",),
    ("rmdir",),
    ("sync",),
    ("copy",),
    ("move",),
    ("check",),
    ("bisync",),
    ("cleanup",),
    ("features",),
    ("config", "show"),
    ("records", "cat"),
    ("records", "head"),
    ("records", "count"),
    ("records", "convert"),
]


def test_python_dash_m_runs_the_command(run: ProcessRunner) -> None:
    result = run("--version")
    assert result.stdout.decode().strip() == f"omnistorage, version {__version__}"


def test_the_console_script_is_declared_for_the_main_function() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["omnistorage"] == "omnistorage.cli:main"
    extras = project["project"]["optional-dependencies"]
    assert {"click>=8.1", "rich>=13.7"} <= set(extras["cli"])
    assert "omnistorage[cli]" in extras["dev"]


def test_the_installed_console_script_runs() -> None:
    script = Path(sysconfig.get_path("scripts")) / "omnistorage"
    assert script.exists(), f"{script} missing: reinstall with pip install -e '.[dev]'"
    result = subprocess.run([str(script), "--version"], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout.decode()


def test_python_dash_m_without_click_says_which_extra_to_install() -> None:
    code = (
        "import sys, runpy; sys.modules['click'] = None; "
        "sys.argv = ['omnistorage', '--version']; "
        "runpy.run_module('omnistorage', run_name='__main__')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    assert result.returncode == 2
    assert b"pip install 'omnistorage[cli]'" in result.stderr


@pytest.mark.parametrize("missing", ["click", "rich"])
def test_the_console_script_without_the_cli_extra_says_which_extra_to_install(
    missing: str,
) -> None:
    # What pip's generated script runs, built from the declaration in pyproject.toml.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["omnistorage"].partition(":")
    code = (
        f"import sys; sys.modules[{missing!r}] = None; "
        "sys.argv = ['omnistorage', 'ls', '.']; "
        f"from {module} import {function}; sys.exit({function}())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=False, cwd=REPO
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.decode().strip() == (
        f"the omnistorage command needs {missing}: pip install 'omnistorage[cli]'"
    )


def test_python_dash_m_without_rich_says_which_extra_to_install() -> None:
    code = (
        "import sys, runpy; sys.modules['rich'] = None; "
        "sys.argv = ['omnistorage', '--version']; "
        "runpy.run_module('omnistorage', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=False, cwd=REPO
    )
    assert result.returncode == 2
    assert b"needs rich: pip install 'omnistorage[cli]'" in result.stderr
    assert b"Traceback" not in result.stderr


def test_importing_omnistorage_imports_no_cli_library() -> None:
    code = (
        "import sys, omnistorage, omnistorage.records, omnistorage.registry; "
        "bad = [m for m in ('click', 'rich', 'omnistorage.cli') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_commands_that_need_no_sync_engine_do_not_load_it() -> None:
    code = (
        "import sys; from omnistorage.cli import app; "
        "bad = [m for m in sys.modules if m.startswith('omnistorage.sync')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_main_help_documents_exit_codes_and_addresses(cli: CliInvoker) -> None:
    text = cli("--help").stdout
    needles = ("0 ok", "1 errors", "2 usage", "3 check found differences", "130", "profile:path")
    for needle in needles:
        assert needle in text


def test_every_command_is_listed_in_the_main_help(cli: CliInvoker) -> None:
    text = cli("--help").stdout
    for path in COMMANDS:
        assert f"  {path[0]} " in text, path


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_help_shows_examples_and_exit_codes(
    cli: CliInvoker, path: tuple[str, ...]
) -> None:
    text = cli(*path, "--help").stdout
    assert "Examples:" in text
    examples = text.split("Examples:", 1)[1]
    assert f"omnistorage {' '.join(path)} " in examples
    assert "130" in text


def test_every_registered_command_is_covered_by_the_help_test() -> None:
    found: set[tuple[str, ...]] = set()
    for name, command in app.commands.items():
        if isinstance(command, click.Group):
            found.update((name, sub) for sub in command.commands)
        else:
            found.add((name,))
    assert found == set(COMMANDS)


def test_an_unknown_option_is_a_usage_error_with_exit_code_2(run: ProcessRunner) -> None:
    result = run("ls", "--no-such-option", expect=2)
    assert b"No such option" in result.stderr


def test_an_unknown_command_is_a_usage_error_with_exit_code_2(run: ProcessRunner) -> None:
    run("frobnicate", expect=2)
