"""S3 keeps one bucket namespace, each bucket in its region: reported as AWS reports it, and a request
signed for another region refused as AWS refuses it (which the SDKs follow, as they do on AWS)."""

from __future__ import annotations

import uuid
from xml.etree import ElementTree

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import AWAY, HOME, regional


def _signed(server: RunningServer, method: str, path: str, region: str) -> httpx.Response:
    """A request signed with SigV4 for `region`, as an SDK that does not follow redirects sends it."""
    url = f"{server.endpoint}{path}"
    request = AWSRequest(method=method, url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials("AKIAOUTCROPTEST", "test-secret"), "s3", region).add_auth(request)
    return httpx.request(method, url, headers=dict(request.headers.items()))


def test_a_bucket_lives_in_its_region(server: RunningServer) -> None:
    home, away = regional(server, "s3", HOME), regional(server, "s3", AWAY)
    name = f"regions-{uuid.uuid4().hex[:8]}"
    home.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": HOME})
    home.put_object(Bucket=name, Key="k", Body=b"in eu-west-1")

    # one namespace: the name is taken everywhere, and the bucket's region is reported from everywhere
    assert error_of(away.create_bucket, Bucket=name)["Code"] == "BucketAlreadyOwnedByYou"
    assert away.get_bucket_location(Bucket=name)["LocationConstraint"] == HOME
    listed = {b["Name"]: b["BucketRegion"] for b in away.list_buckets()["Buckets"]}
    assert listed[name] == HOME
    assert away.list_buckets(BucketRegion=AWAY)["Buckets"] == [] or name not in [
        b["Name"] for b in away.list_buckets(BucketRegion=AWAY)["Buckets"]
    ]

    # signed for us-east-1, the bucket's operations are refused with the region to use
    listing = _signed(server, "GET", f"/{name}?list-type=2", AWAY)
    assert listing.status_code == 400
    assert listing.headers["x-amz-bucket-region"] == HOME
    error = ElementTree.fromstring(listing.content)
    assert error.findtext("Code") == "AuthorizationHeaderMalformed"
    assert error.findtext("Region") == HOME
    assert error.findtext("Message") == (
        "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    )
    head = _signed(server, "HEAD", f"/{name}", AWAY)
    assert (head.status_code, head.headers["x-amz-bucket-region"]) == (400, HOME)
    assert _signed(server, "GET", f"/{name}/k", HOME).content == b"in eu-west-1"

    # boto3 follows the answer and signs again for eu-west-1, as it does against AWS
    assert away.get_object(Bucket=name, Key="k")["Body"].read() == b"in eu-west-1"
    assert away.head_bucket(Bucket=name)["BucketRegion"] == HOME

    home.delete_object(Bucket=name, Key="k")
    home.delete_bucket(Bucket=name)
