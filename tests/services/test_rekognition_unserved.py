"""Rekognition's unserved parts answer modelled errors saying so: DetectLabels (no object-detection weights)
answers AccessDeniedException like the celebrity operations; ListFaces by UserId (no users) is refused."""

from __future__ import annotations

import uuid

import pytest

from tests.errors import error_of
from tests.server import RunningServer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "MaxLabels": 5,
            "Features": ["GENERAL_LABELS"],
            "Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Cup"]}},
        },
    ],
)
def test_detect_labels_answers_a_modelled_error(server: RunningServer, extra: dict[str, object]) -> None:
    error = error_of(server.client("rekognition").detect_labels, Image={"Bytes": PNG}, **extra)
    assert (error["Code"], error["Status"]) == ("AccessDeniedException", 400)
    assert "DetectLabels is not served" in error["Message"]


def test_detect_labels_members_are_still_validated(server: RunningServer) -> None:
    error = error_of(server.client("rekognition").detect_labels, Image={"Bytes": PNG}, MinConfidence=150.0)
    assert error["Code"] == "ValidationException"


def test_list_faces_by_user_is_refused(server: RunningServer) -> None:
    rekognition = server.client("rekognition")
    collection = f"users-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=collection)
    assert rekognition.list_faces(CollectionId=collection)["Faces"] == []
    error = error_of(rekognition.list_faces, CollectionId=collection, UserId="user-1")
    assert error["Code"] == "InvalidParameterException" and "UserId" in error["Message"]
