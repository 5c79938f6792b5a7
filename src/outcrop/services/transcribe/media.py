"""Where Transcribe's media and vocabulary files are: S3 URIs and URLs as Transcribe takes them."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlparse

from outcrop.services.transcribe.errors import BadRequestException


def parse_media_uri(uri: str, base_url: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI, an S3 https URL (path or virtual-host style) or this server's URL."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
    else:
        url = urlparse(uri)
        host = url.hostname or ""
        path = unquote(url.path).lstrip("/")
        ours = host == urlparse(base_url).hostname
        virtual = re.match(r"^(.+)\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com$", host)
        if virtual:
            bucket, key = virtual.group(1), path
        elif ours or (host.startswith("s3") and host.endswith("amazonaws.com")):
            bucket, _, key = path.partition("/")
        else:
            raise BadRequestException(f"The media URI {uri} is not an S3 location")
    if not bucket or not key:
        raise BadRequestException(f"The media URI {uri} names no object")
    return bucket, key
