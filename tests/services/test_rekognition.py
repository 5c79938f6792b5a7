"""Rekognition through boto3 on the real packaged models: dlib faces, RapidOCR text, open_nsfw moderation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.errors import error_of
from tests.fixtures.vision.photos import (
    astronaut,
    astronaut_again,
    book_cover,
    coffee,
    sign,
    to_bytes,
    two_astronauts,
)
from tests.server import RunningServer

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def rekognition(real_server: RunningServer) -> Any:
    return real_server.client("rekognition")


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {
        "astronaut": to_bytes(astronaut()),
        "again": to_bytes(astronaut_again(), "JPEG"),
        "two": to_bytes(two_astronauts(), "JPEG"),
        "coffee": to_bytes(coffee(), "JPEG"),
    }


def test_detect_faces_finds_the_astronaut(rekognition: Any, photos: dict[str, bytes]) -> None:
    (face,) = rekognition.detect_faces(Image={"Bytes": photos["astronaut"]})["FaceDetails"]
    box = face["BoundingBox"]
    # The face spans about x 175-265, y 76-166 of the 512-pixel portrait.
    assert 0.28 < box["Left"] < 0.40 and 0.08 < box["Top"] < 0.20
    assert 0.12 < box["Width"] < 0.25 and 0.12 < box["Height"] < 0.25
    assert face["Confidence"] > 90
    marks = {m["Type"]: (m["X"], m["Y"]) for m in face["Landmarks"]}
    assert set(marks) == {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight"}
    assert marks["eyeLeft"][0] < marks["nose"][0] < marks["eyeRight"][0]
    assert marks["eyeLeft"][1] < marks["nose"][1] < marks["mouthLeft"][1]
    for x, y in marks.values():
        assert (
            box["Left"] <= x <= box["Left"] + box["Width"] and box["Top"] <= y <= box["Top"] + box["Height"]
        )
    assert abs(face["Pose"]["Roll"]) < 20 and abs(face["Pose"]["Yaw"]) < 30
    assert 0 < face["Quality"]["Brightness"] < 100 and 0 < face["Quality"]["Sharpness"] <= 100
    (full,) = rekognition.detect_faces(Image={"Bytes": photos["astronaut"]}, Attributes=["ALL"])[
        "FaceDetails"
    ]
    assert len(full["Landmarks"]) == 28 and full["EyesOpen"]["Value"] is True
    assert rekognition.detect_faces(Image={"Bytes": photos["coffee"]})["FaceDetails"] == []


def test_compare_faces_matches_the_same_person(rekognition: Any, photos: dict[str, bytes]) -> None:
    answer = rekognition.compare_faces(
        SourceImage={"Bytes": photos["astronaut"]}, TargetImage={"Bytes": photos["two"]}
    )
    assert answer["SourceImageFace"]["Confidence"] > 90
    assert len(answer["FaceMatches"]) == 2 and answer["UnmatchedFaces"] == []
    assert all(m["Similarity"] > 90 for m in answer["FaceMatches"])
    lefts = sorted(m["Face"]["BoundingBox"]["Left"] for m in answer["FaceMatches"])
    assert lefts[0] < 0.5 < lefts[1]  # one face in each half
    none = rekognition.compare_faces(
        SourceImage={"Bytes": photos["astronaut"]}, TargetImage={"Bytes": photos["coffee"]}
    )
    assert none["FaceMatches"] == [] and none["UnmatchedFaces"] == []
    no_source = error_of(
        rekognition.compare_faces,
        SourceImage={"Bytes": photos["coffee"]},
        TargetImage={"Bytes": photos["two"]},
    )
    assert no_source["Code"] == "InvalidParameterException"


def test_collection_index_and_search(rekognition: Any, photos: dict[str, bytes]) -> None:
    name = f"people-{uuid.uuid4().hex[:8]}"
    created = rekognition.create_collection(CollectionId=name, Tags={"team": "vision"})
    arn = created["CollectionArn"]
    assert created["StatusCode"] == 200 and arn.endswith(f"collection/{name}")
    rekognition.tag_resource(ResourceArn=arn, Tags={"stage": "test"})
    rekognition.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert rekognition.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test"}
    assert (
        error_of(rekognition.create_collection, CollectionId=name)["Code"] == "ResourceAlreadyExistsException"
    )
    assert name in rekognition.list_collections()["CollectionIds"]
    indexed = rekognition.index_faces(
        CollectionId=name, Image={"Bytes": photos["astronaut"]}, ExternalImageId="eileen"
    )
    (record,) = indexed["FaceRecords"]
    face_id = record["Face"]["FaceId"]
    assert record["Face"]["ExternalImageId"] == "eileen"
    assert rekognition.index_faces(CollectionId=name, Image={"Bytes": photos["coffee"]})["FaceRecords"] == []
    capped = rekognition.index_faces(CollectionId=name, Image={"Bytes": photos["two"]}, MaxFaces=1)
    assert len(capped["FaceRecords"]) == 1 and capped["UnindexedFaces"][0]["Reasons"] == ["EXCEEDS_MAX_FACES"]
    assert rekognition.describe_collection(CollectionId=name)["FaceCount"] == 2

    found = rekognition.search_faces_by_image(CollectionId=name, Image={"Bytes": photos["again"]})
    assert found["SearchedFaceConfidence"] > 90
    assert {m["Face"]["FaceId"] for m in found["FaceMatches"]} >= {face_id}
    assert all(m["Similarity"] > 90 for m in found["FaceMatches"])
    similar = rekognition.search_faces(CollectionId=name, FaceId=face_id)
    assert similar["SearchedFaceId"] == face_id and len(similar["FaceMatches"]) == 1
    assert similar["FaceMatches"][0]["Face"]["FaceId"] != face_id

    first = rekognition.list_faces(CollectionId=name, MaxResults=1)
    second = rekognition.list_faces(CollectionId=name, MaxResults=1, NextToken=first["NextToken"])
    assert len(first["Faces"]) == len(second["Faces"]) == 1 and "NextToken" not in second
    missing = str(uuid.uuid4())
    deleted = rekognition.delete_faces(CollectionId=name, FaceIds=[face_id, missing])
    assert deleted["DeletedFaces"] == [face_id]
    assert deleted["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    assert rekognition.delete_collection(CollectionId=name)["StatusCode"] == 200
    gone = error_of(rekognition.describe_collection, CollectionId=name)
    assert gone["Code"] == "ResourceNotFoundException" and gone["Status"] == 400


def test_detect_text_reads_a_sign(rekognition: Any) -> None:
    answer = rekognition.detect_text(Image={"Bytes": to_bytes(sign("OUTCROP READS SIGNS"))})
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE"]
    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    assert [line["DetectedText"] for line in lines] == ["OUTCROP READS SIGNS"]
    assert [w["DetectedText"] for w in words] == ["OUTCROP", "READS", "SIGNS"]
    assert all(w["ParentId"] == lines[0]["Id"] for w in words)
    lefts = [w["Geometry"]["BoundingBox"]["Left"] for w in words]
    assert lefts == sorted(lefts) and len(words[0]["Geometry"]["Polygon"]) == 4
    strict = rekognition.detect_text(
        Image={"Bytes": to_bytes(sign("OUTCROP READS SIGNS"))},
        Filters={
            "RegionsOfInterest": [{"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 0.3, "Height": 1.0}}]
        },
    )
    assert [d["DetectedText"] for d in strict["TextDetections"] if d["Type"] == "WORD"] == ["OUTCROP"]


def test_detect_text_keeps_the_spaces_of_tight_italic_type(rekognition: Any) -> None:
    """The recognizer half-sees these narrow spaces (blank wins the frame, the space class comes second);
    Outcrop reads them as spaces, so LINE and WORD detections split as Rekognition's do."""
    cover = book_cover(["System Administration", "for Unix and Linux"])
    answer = rekognition.detect_text(Image={"Bytes": to_bytes(cover)})
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE"]
    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    assert [line["DetectedText"] for line in lines] == ["System Administration", "for Unix and Linux"]
    assert [w["DetectedText"] for w in words] == ["System", "Administration", "for", "Unix", "and", "Linux"]
    assert [w["ParentId"] for w in words] == [lines[0]["Id"]] * 2 + [lines[1]["Id"]] * 4
    lefts = [w["Geometry"]["BoundingBox"]["Left"] for w in words[2:]]
    assert lefts == sorted(lefts)


def test_moderation_scores_a_portrait_as_safe(rekognition: Any, photos: dict[str, bytes]) -> None:
    assert (
        rekognition.detect_moderation_labels(Image={"Bytes": photos["astronaut"]})["ModerationLabels"] == []
    )
    (label,) = rekognition.detect_moderation_labels(Image={"Bytes": photos["astronaut"]}, MinConfidence=0)[
        "ModerationLabels"
    ]
    assert label["Name"] == "Explicit" and label["Confidence"] < 20


def test_bad_images_get_rekognition_errors(
    rekognition: Any, real_server: RunningServer, photos: dict[str, bytes]
) -> None:
    corrupt = error_of(rekognition.detect_faces, Image={"Bytes": photos["astronaut"][:300]})
    assert corrupt["Code"] == "InvalidImageFormatException" and corrupt["Status"] == 400
    gif = error_of(rekognition.detect_text, Image={"Bytes": b"GIF89a not supported"})
    assert gif["Code"] == "InvalidImageFormatException"
    s3 = real_server.client("s3")
    bucket = f"rek-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="face.png", Body=photos["astronaut"])
    assert (
        len(
            rekognition.detect_faces(Image={"S3Object": {"Bucket": bucket, "Name": "face.png"}})[
                "FaceDetails"
            ]
        )
        == 1
    )
    missing = error_of(rekognition.detect_faces, Image={"S3Object": {"Bucket": bucket, "Name": "nobody.png"}})
    assert missing["Code"] == "InvalidS3ObjectException"
    s3.put_object(Bucket=bucket, Key="huge.png", Body=b"\x89PNG\r\n\x1a\n" + bytes(16 << 20))
    huge = error_of(rekognition.detect_faces, Image={"S3Object": {"Bucket": bucket, "Name": "huge.png"}})
    assert huge["Code"] == "ImageTooLargeException"
    unmeasured = error_of(
        rekognition.detect_faces, Image={"Bytes": photos["astronaut"]}, Attributes=["EMOTIONS"]
    )
    assert unmeasured["Code"] == "InvalidParameterException" and "EMOTIONS" in unmeasured["Message"]
    labels = error_of(rekognition.detect_labels, Image={"Bytes": photos["coffee"]})
    assert labels["Code"] == "AccessDeniedException" and "does not invent labels" in labels["Message"]
    assert error_of(rekognition.list_faces, CollectionId="no-such")["Code"] == "ResourceNotFoundException"


def test_collections_survive_a_restart(tmp_path: Any, photos: dict[str, bytes]) -> None:
    running = RunningServer(tmp_path / "data", fake_models=False).start()
    try:
        rekognition = running.client("rekognition")
        rekognition.create_collection(CollectionId="kept")
        (record,) = rekognition.index_faces(CollectionId="kept", Image={"Bytes": photos["astronaut"]})[
            "FaceRecords"
        ]
        running.restart()
        rekognition = running.client("rekognition")
        assert rekognition.describe_collection(CollectionId="kept")["FaceCount"] == 1
        found = rekognition.search_faces_by_image(CollectionId="kept", Image={"Bytes": photos["again"]})
        assert [m["Face"]["FaceId"] for m in found["FaceMatches"]] == [record["Face"]["FaceId"]]
    finally:
        running.stop()
