"""omnistorage: move bytes and records between storage systems with small layers that compose.

The portable :class:`Store` implements the whole contract once over thin
backend drivers (:mod:`omnistorage.driver`). Open one with :func:`open_store`::

    import omnistorage
    store = omnistorage.open_store("file:///tmp/data")
    store.write("hello.txt", b"hi")
"""

from omnistorage._io import AtomicWriter
from omnistorage._listing import Listing
from omnistorage._open import open
from omnistorage.backends import ChannelBackend, LocalBackend, MemoryBackend
from omnistorage.capabilities import BASIC_FEATURES, Capability, Features
from omnistorage.config import BackendConfig, Registry, RegistryConfig, StoreProfile
from omnistorage.driver import (
    Backend,
    ExtendedBackend,
    PinnedReader,
    WriteOptions,
    Writer,
    as_extended,
)
from omnistorage.errors import (
    AlreadyExists,
    BackendClosed,
    BackendUnavailable,
    BucketNotFound,
    CapabilityNotSupported,
    ChangedDuringRead,
    Classification,
    ConfigurationError,
    CorruptDataError,
    CorruptRecordError,
    DataError,
    DependencyMissing,
    DirectoryNotEmpty,
    ErrorKind,
    InvalidPath,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RecordTooLargeError,
    StorageError,
    StreamClosed,
    TruncatedDataError,
    TruncatedRecordError,
    WriteConflict,
)
from omnistorage.models import (
    CleanupReport,
    FolderInfo,
    HashType,
    Leftover,
    ObjectInfo,
    ResolutionPlan,
    WriteResult,
)
from omnistorage.registry import BackendType, backend_types, open_backend, open_store, register
from omnistorage.store import Store

__version__ = "0.1.0"

__all__ = [
    "BASIC_FEATURES",
    "AlreadyExists",
    "AtomicWriter",
    "Backend",
    "BackendClosed",
    "BackendConfig",
    "BackendType",
    "BackendUnavailable",
    "BucketNotFound",
    "Capability",
    "ChannelBackend",
    "CapabilityNotSupported",
    "Classification",
    "ConfigurationError",
    "CorruptDataError",
    "CorruptRecordError",
    "LimitExceeded",
    "DataError",
    "DependencyMissing",
    "DirectoryNotEmpty",
    "ErrorKind",
    "ExtendedBackend",
    "Features",
    "FolderInfo",
    "HashType",
    "InvalidPath",
    "LocalBackend",
    "MemoryBackend",
    "NotFound",
    "ObjectInfo",
    "PermissionDenied",
    "PreconditionFailed",
    "ChangedDuringRead",
    "WriteConflict",
    "PinnedReader",
    "Leftover",
    "Listing",
    "open",
    "CleanupReport",
    "RecordTooLargeError",
    "Registry",
    "RegistryConfig",
    "ResolutionPlan",
    "StorageError",
    "Store",
    "StoreProfile",
    "StreamClosed",
    "TruncatedDataError",
    "TruncatedRecordError",
    "WriteOptions",
    "WriteResult",
    "Writer",
    "__version__",
    "as_extended",
    "backend_types",
    "open_backend",
    "open_store",
    "register",
]
