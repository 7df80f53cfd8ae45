"""Backend drivers. Each is a thin :class:`omnistorage.driver.Backend`.

Remote drivers (``s3``, ``gcs``, ``azure``, ``sftp``, ``sql``) import their
client libraries lazily: ``open_store("s3://…")`` without boto3 installed
fails with the ``pip install 'omnistorage[s3]'`` to run.
"""

from omnistorage.backends.channel import ChannelBackend
from omnistorage.backends.local import LocalBackend
from omnistorage.backends.memory import MemoryBackend

__all__ = ["ChannelBackend", "LocalBackend", "MemoryBackend"]
