"""A service Outcrop does not serve answers AWS's error in the protocol its client reads, so boto3 raises a
ClientError naming the service (AWS's Rekognition video and Textract explorer examples call SNS and
CloudFormation, which speak the XML Query protocol), never a ResponseParserError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.server import RunningServer


@pytest.mark.parametrize(
    ("service", "call"),
    [("sns", lambda c: c.create_topic(Name="demo")), ("cloudformation", lambda c: c.describe_stacks())],
)
def test_unserved_query_services_answer_parseable_xml(
    server: RunningServer, service: str, call: Callable[[Any], Any]
) -> None:
    with pytest.raises(ClientError) as caught:
        call(server.client(service))
    error = caught.value.response["Error"]
    assert error["Code"] == "UnknownOperationException"
    assert f"does not serve the {service} service" in error["Message"]


def test_unserved_json_services_still_answer_json(server: RunningServer) -> None:
    with pytest.raises(ClientError) as caught:
        server.client("sqs").list_queues()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    assert "sqs" in caught.value.response["Error"]["Message"]
