"""The log scrubber (omnistorage._redact): its patterns, registered values and the
record factory that applies them to the SDK loggers' records."""

from __future__ import annotations

import logging
from urllib.parse import quote, quote_plus

import pytest

from omnistorage._redact import SDK_LOGGERS, protect_secrets, redact_url, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # SigV4: the access key id in the Authorization header and the signature.
        (
            "{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE1/20260101/us-east-1"
            "/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd'}",
            "{'Authorization': b'***, SignedHeaders=host;x-amz-date, Signature=***'}",
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE1/20260101/us-east-1/s3/aws4_request, x",
            "AWS4-HMAC-SHA256 Credential=***, x",
        ),
        # The session token as a header (dict repr, canonical request) and in a query.
        ("{'X-Amz-Security-Token': b'IQoJ+tok/en=='}", "{'X-Amz-Security-Token': b'***'}"),
        ("x-amz-security-token:IQoJ+tok/en==\n", "x-amz-security-token:***\n"),
        (
            "GET /k?X-Amz-Security-Token=IQoJ%2Btok&X-Amz-Date=1",
            "GET /k?X-Amz-Security-Token=***&X-Amz-Date=1",
        ),
        # Bearer tokens, with or without the header name.
        ("Authorization: Bearer ya29.a0-secret", "Authorization: ***"),
        ("{'authorization': 'Bearer ya29.a0-secret'}", "{'authorization': '***'}"),
        ("sent Bearer ya29.a0-secret now", "sent Bearer *** now"),
        # omnistorage's own option names in URL query strings.
        (
            "s3x://b/p?access_key_id=AKID1&secret_access_key=sk%2F1&session_token=tok",
            "s3x://b/p?access_key_id=***&secret_access_key=***&session_token=***",
        ),
        (
            "az://c/p?sas_token=sv%3Dx%26sig%3Dabc&account_key=a2V5&x=1",
            "az://c/p?sas_token=***&account_key=***&x=1",
        ),
        ("?connection_string=AccountKey%3Dabc", "?connection_string=***"),
        (
            "refresh_token=1//0g&client_secret=GOCSPX-x&grant_type=r",
            "refresh_token=***&client_secret=***&grant_type=r",
        ),
        # Azure: SAS signatures and connection-string keys.
        ("PUT /c/b?se=1&sig=abc%2Bdef%3D HTTP/1.1", "PUT /c/b?se=1&sig=*** HTTP/1.1"),
        (
            "AccountName=a;AccountKey=a2V5==;BlobEndpoint=x",
            "AccountName=a;AccountKey=***;BlobEndpoint=x",
        ),
        # GCS resumable sessions: whoever holds the session URI can upload.
        (
            '"PUT /upload/storage/v1/b/b/o?uploadType=resumable&upload_id=ADPycdt HTTP/1.1" 308',
            '"PUT /upload/storage/v1/b/b/o?uploadType=resumable&upload_id=*** HTTP/1.1" 308',
        ),
        # Nothing credential-shaped: untouched.
        ("GET /bucket/key?uploadId=abc&partNumber=2", "GET /bucket/key?uploadId=abc&partNumber=2"),
        ("SignedHeaders=host;x-amz-date", "SignedHeaders=host;x-amz-date"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_registered_values_are_scrubbed_raw_and_url_quoted() -> None:
    secret = "rEdAcT/unit+test=secret$1"
    protect_secrets(secret, None, "abc")  # None and values under 4 chars are ignored
    for form in (secret, quote(secret, safe=""), quote_plus(secret, safe="")):
        assert scrub(f"before {form} after") == "before *** after"
    assert scrub("abc") == "abc"


def test_redact_url_keeps_the_user_and_hides_password_and_credential_queries() -> None:
    assert redact_url("sftp://bob:Pa%24s@host/x") == "sftp://bob:***@host/x"
    assert redact_url("s3x://b/p?secret_access_key=x1y2z3") == "s3x://b/p?secret_access_key=***"
    assert redact_url("gsx://b/p?x=1") == "gsx://b/p?x=1"


@pytest.mark.parametrize("name", ["botocore.endpoint", "urllib3.connectionpool", "google.auth.x"])
def test_the_factory_scrubs_sdk_child_loggers(name: str, caplog: pytest.LogCaptureFixture) -> None:
    secret = "fAcToRy-secret-8812"
    protect_secrets(secret)
    assert name.split(".")[0] in SDK_LOGGERS
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=name)
    logging.getLogger(name).debug("token %s and Bearer %s", secret, "ya29.other-token")
    assert caplog.records[-1].getMessage() == "token *** and Bearer ***"
    assert secret not in caplog.text
    assert "ya29.other-token" not in caplog.text


def test_the_factory_leaves_other_loggers_alone(caplog: pytest.LogCaptureFixture) -> None:
    protect_secrets()
    caplog.set_level(logging.DEBUG, logger="my.app")
    logging.getLogger("my.app").debug("Bearer %s", "mine-to-log")
    assert caplog.records[-1].getMessage() == "Bearer mine-to-log"


def test_protect_secrets_without_values_installs_the_pattern_scrubber(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A backend with rotating credentials (an IAM role, a token credential) registers
    # no fixed value; the patterns must still apply to SDK records.
    protect_secrets()
    caplog.set_level(logging.DEBUG, logger="botocore")
    logging.getLogger("botocore.auth").debug(
        "headers: {'X-Amz-Security-Token': b'%s'}", "rotating+token/1=="
    )
    assert "rotating+token/1==" not in caplog.text
    assert "'X-Amz-Security-Token': b'***'" in caplog.text
