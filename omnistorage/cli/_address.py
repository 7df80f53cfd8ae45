"""Addressing stores on the command line: URLs, local paths and ``profile:path``.

An *address* names a file or a folder somewhere:

- a URL: ``s3://bucket/prefix/key``, ``gs://…``, ``az://…``, ``sftp://user@host/path``,
  ``memory://space/key``, ``file:///abs/path`` (query parameters are backend
  options, as for :func:`omnistorage.open_store`);
- ``profile:path``: a store profile of the TOML configuration (the
  :class:`omnistorage.RegistryConfig` format), like an rclone remote. A colon
  before any ``/`` always means a profile; write ``./a:b`` for a local file
  named ``a:b``;
- anything else is a local path. Symlinks *named on the command line* are
  followed (as ``cp -H`` does); symlinks met inside a tree never are (the local
  backend's rule).

An address resolves to a :class:`Location`: a *base* store and a path below it.
The base is the folder holding the named item, so the item itself may be a file
or a folder, or not exist yet (a destination). Within one command, addresses on
the same bucket, profile or local folder share one backend, so copies and moves
between them are server-side (a rename on local disks).

The configuration file is looked for, in order, at ``--config``, the
``OMNISTORAGE_CONFIG`` environment variable, then
``$XDG_CONFIG_HOME/omnistorage/config.toml`` (``~/.config/…`` by default). It is
read only when a ``profile:`` address (or ``config show``) needs it, so a broken
file never breaks commands that do not use it.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from omnistorage import paths
from omnistorage._redact import redact_url
from omnistorage.backends.local import LocalBackend
from omnistorage.capabilities import Capability
from omnistorage.config import Registry, RegistryConfig
from omnistorage.errors import ConfigurationError, InvalidPath, StorageError
from omnistorage.registry import open_backend, open_store
from omnistorage.store import Store

__all__ = [
    "CONFIG_ENV",
    "Addresses",
    "ConfigSource",
    "Location",
    "find_config",
    "profile_parts",
]

CONFIG_ENV = "OMNISTORAGE_CONFIG"
"""The environment variable naming the configuration file."""

_PROFILE = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]*):(?P<rest>.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the configuration file is (or would be), and what chose it."""

    path: Path
    chosen_by: str
    """``"--config"``, ``"$OMNISTORAGE_CONFIG"`` or ``"default"``."""

    @property
    def required(self) -> bool:
        """True when the user named the file, so a missing file is an error."""
        return self.chosen_by != "default"


def find_config(explicit: str | None, environ: dict[str, str] | None = None) -> ConfigSource:
    """The configuration file to use: ``--config``, else ``$OMNISTORAGE_CONFIG``, else
    ``$XDG_CONFIG_HOME/omnistorage/config.toml`` (``~/.config`` when unset). No I/O."""
    env = os.environ if environ is None else environ
    if explicit:
        return ConfigSource(Path(explicit), "--config")
    if env.get(CONFIG_ENV):
        return ConfigSource(Path(env[CONFIG_ENV]), f"${CONFIG_ENV}")
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return ConfigSource(Path(base) / "omnistorage" / "config.toml", "default")


@dataclass(frozen=True, slots=True)
class Location:
    """A resolved address: ``path`` below the ``store`` that holds it.

    Attributes:
        store: the base store (the folder holding the item).
        path: the item's path in ``store``; ``""`` names the base folder itself.
        text: the address as given, with any password masked (for messages).
        folder_hint: the address ended with ``/``: it names a folder.
        kind: ``"local"``, ``"url"`` or ``"profile"``.
        in_memory: a ``memory://`` address (lives only inside this process).
    """

    store: Store
    path: str
    text: str
    folder_hint: bool = False
    kind: str = "url"
    in_memory: bool = False

    def folder(self) -> Store:
        """A store rooted at this location (a folder; it need not exist yet)."""
        return self.store.child(self.path) if self.path else self.store

    def join(self, name: str) -> Location:
        """The location of ``name`` (a key) inside this folder."""
        text, query = self.text, ""
        if self.kind == "url" and "?" in text:
            text, query = text.split("?", 1)
            query = "?" + query
        text = text if text.endswith("/") else text + "/"
        return Location(
            self.store,
            paths.join(self.path, name),
            text + name + query,
            kind=self.kind,
            in_memory=self.in_memory,
        )

    def is_file(self) -> bool:
        """True when a file exists here (``False`` for the base folder itself)."""
        return bool(self.path) and self.store.is_file(self.path)

    def is_folder(self) -> bool:
        """True when a folder exists here. A store without listings (a web server with
        no index) cannot tell a folder: only its files are reachable, so no."""
        if not self.store.supports(Capability.LIST):
            return False
        return self.store.is_folder(self.path)

    @property
    def name(self) -> str:
        """The last segment of the path (``""`` for a store's root)."""
        return paths.basename(self.path)

    def same_backend(self, other: Location) -> bool:
        """True when both locations are on one backend object (server-side ops work)."""
        return self.store.unwrap() is other.store.unwrap()

    def full_key(self) -> str:
        """The path relative to the backend's root (for server-side copies between
        locations that share a backend)."""
        return paths.join(self.store.root, self.path)


@dataclass
class Addresses:
    """Resolves addresses for one command run and closes what it opened.

    Not thread-safe: resolve addresses on the command's thread, before
    starting workers.
    """

    config: ConfigSource
    _registry: Registry | None = None
    _by_key: dict[str, Store] = field(default_factory=dict)
    _opened: list[Store] = field(default_factory=list)

    def resolve(self, text: str) -> Location:
        """Resolve ``text`` (see the module docstring).

        Raises:
            ConfigurationError: an unknown URL scheme or profile, a bad URL, a
                broken or missing configuration file, a missing optional
                dependency (with the ``pip install`` to run).
            InvalidPath: a path that is not a valid key (named in the message).
        """
        if not text:
            raise ConfigurationError("an empty address names nothing")
        if "://" in text and not text.lower().startswith("file://"):
            return self._url(text)
        if text.lower().startswith("file://"):
            split = urlsplit(text)
            if split.netloc not in ("", "localhost"):
                raise ConfigurationError(f"file URLs name no host, got {split.netloc!r}")
            return self._local(unquote(split.path), text)
        match = _PROFILE.match(text)
        if match is not None and not text.startswith(("/", ".")):
            return self._profile(match.group("name"), match.group("rest"), text)
        return self._local(text, text)

    def share_local(self, a: Location, b: Location) -> tuple[Location, Location]:
        """``a`` and ``b`` on one local backend rooted at their common folder, so that a
        move between them is a rename and a copy needs no second backend. Other pairs
        are returned as they are."""
        if a.kind != "local" or b.kind != "local" or a.same_backend(b):
            return a, b
        root_a = a.store.unwrap(LocalBackend).root
        root_b = b.store.unwrap(LocalBackend).root
        common = os.path.commonpath([root_a, root_b])
        store = self._by_key.get(f"local:{common}")
        if store is None:
            store = Store(open_backend("local", root=common, create=False))
            self._remember(f"local:{common}", store)

        def rebase(location: Location, root: str) -> Location:
            prefix = os.path.relpath(root, common).replace(os.sep, "/")
            path = paths.join("" if prefix == "." else prefix, location.path)
            return Location(store, path, location.text, location.folder_hint, kind="local")

        return rebase(a, root_a), rebase(b, root_b)

    def registry(self) -> Registry:
        """The registry of the configuration file (read on first use)."""
        if self._registry is None:
            source = self.config
            if not source.path.is_file():
                where = f"{source.path} (chosen by {source.chosen_by})"
                if source.required:
                    raise ConfigurationError(f"config file {where} does not exist")
                raise ConfigurationError(
                    f"no config file: looked at --config, ${CONFIG_ENV} and {source.path}"
                )
            self._registry = Registry(RegistryConfig.from_toml(source.path))
        return self._registry

    def close(self) -> None:
        """Close every backend opened here (errors are ignored: the command's outcome is
        already decided)."""
        stores, self._opened = self._opened, []
        self._by_key.clear()
        for store in stores:
            with contextlib.suppress(StorageError):
                store.close()
        registry, self._registry = self._registry, None
        if registry is not None:
            with contextlib.suppress(StorageError):
                registry.close()

    # ------------------------------------------------------------------ kinds

    def _profile(self, name: str, rest: str, text: str) -> Location:
        registry = self.registry()
        if name not in registry.config.stores:
            known = ", ".join(sorted(registry.config.stores)) or "none"
            raise ConfigurationError(
                f"no store profile named {name!r} in {self.config.path} (known: {known}); "
                f"write ./{text} for a local path"
            )
        store = registry.store(name)
        folder_hint = rest.endswith("/")
        path = _valid_path(rest.strip("/"), text)
        return Location(store, path, text, folder_hint, kind="profile")

    def _local(self, raw: str, text: str) -> Location:
        folder_hint = raw.endswith(("/", os.sep)) or raw in (".", "..")
        full = os.path.realpath(os.path.abspath(raw))
        # The base is the folder holding the item (so `rm -r dir` can remove `dir`), or
        # the nearest folder that exists when the item does not exist yet.
        base = os.path.dirname(full)
        while not os.path.isdir(base):
            base = os.path.dirname(base)
        rel = os.path.relpath(full, base)
        key = "" if rel == "." else rel.replace(os.sep, "/")
        store = self._by_key.get(f"local:{base}")
        if store is None:
            store = Store(open_backend("local", root=base, create=False))
            self._remember(f"local:{base}", store)
        return Location(store, _valid_path(key, text), text, folder_hint, kind="local")

    def _url(self, text: str) -> Location:
        shown = redact_url(text)
        split = urlsplit(text)
        scheme = split.scheme.lower()
        in_memory = scheme == "memory"
        folder_hint = split.path.endswith("/")
        raw_path = split.path.strip("/")
        head, _, tail = raw_path.rpartition("/")
        key = _valid_path(unquote(tail), shown) if tail else ""
        site = f"{split.scheme}://{split.netloc}?{split.query}"
        parent_root = unquote(head).strip("/")
        shared = self._by_key.get(f"site:{site}")
        if shared is not None:
            store = Store(shared.unwrap(), _valid_path(parent_root, shown))
        else:
            query = f"?{split.query}" if split.query else ""
            parent_url = f"{split.scheme}://{split.netloc}/{head}{query}"
            store = self._by_key.get(f"url:{parent_url}") or self._open_url(parent_url, shown)
            self._by_key[f"url:{parent_url}"] = store
            if store.root == parent_root:
                # The backend keeps URL paths as store roots (s3, gs, az, memory, http):
                # one backend serves every address on this bucket.
                self._by_key[f"site:{site}"] = store
        return Location(store, key, shown, folder_hint, kind="url", in_memory=in_memory)

    def _open_url(self, url: str, shown: str) -> Store:
        try:
            store = open_store(url)
        except ConfigurationError as exc:
            # open_store's messages already mask passwords; name the address as given.
            raise ConfigurationError(f"{shown}: {exc}") from None
        self._opened.append(store)
        return store

    def _remember(self, key: str, store: Store) -> None:
        self._by_key[key] = store
        self._opened.append(store)


def profile_parts(text: str) -> tuple[str, str] | None:
    """``(profile, path)`` when ``text`` is a ``profile:path`` address, else ``None``."""
    if "://" in text or text.startswith(("/", ".")):
        return None
    match = _PROFILE.match(text)
    return None if match is None else (match.group("name"), match.group("rest"))


def _valid_path(path: str, text: str) -> str:
    try:
        return paths.validate_folder(path)
    except InvalidPath as exc:
        raise InvalidPath(f"{text}: {exc}", path=exc.path) from None
