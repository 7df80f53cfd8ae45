"""The public API is re-exported from one place and ``__all__`` stays complete."""

from __future__ import annotations

import importlib
import inspect

import omnistorage

SUBPACKAGES = ["omnistorage.compression", "omnistorage.formats", "omnistorage.records"]


def test_all_names_exist() -> None:
    for name in omnistorage.__all__:
        assert hasattr(omnistorage, name), name


def test_every_public_name_is_in_all() -> None:
    public = {
        name
        for name, value in vars(omnistorage).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", "omnistorage").startswith("omnistorage")
    }
    assert public <= set(omnistorage.__all__), public - set(omnistorage.__all__)


def test_all_is_sorted_and_unique() -> None:
    assert len(set(omnistorage.__all__)) == len(omnistorage.__all__)


def test_subpackages_export_what_they_list() -> None:
    for module_name in SUBPACKAGES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.{name}"


def test_importing_omnistorage_imports_no_cloud_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, omnistorage; "
        "bad = [m for m in ('boto3', 'google.cloud.storage', 'azure.storage.blob', 'paramiko') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
