"""The S3 backend (boto3): ``s3://bucket/prefix?endpoint_url=…&region=…``.

>>> from omnistorage import open_store
>>> store = open_store("s3://my-bucket/logs?region=eu-west-1")  # doctest: +SKIP

See :class:`S3Backend` for the options and :mod:`omnistorage.backends.s3._backend`
for the behaviour (atomic and create-only writes, multipart uploads, reads,
listing, copies) and what is verified only against a real AWS account.
"""

from omnistorage.backends.s3._backend import S3Backend
from omnistorage.backends.s3._buckets import S3Buckets
from omnistorage.backends.s3._config import parse_url
from omnistorage.backends.s3._errors import ObjectChangedError, ObjectExistsError

__all__ = ["ObjectChangedError", "ObjectExistsError", "S3Backend", "S3Buckets", "parse_url"]
