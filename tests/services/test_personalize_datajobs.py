"""Dataset export jobs and data deletion jobs through boto3, on the two taste groups.

An export writes the rows of the origin asked for (BULK imports, PUT events and items, or ALL) as CSV in
the schema's columns; a deletion removes the listed users' interactions so the next training does not
see them; both resume after a restart.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from outcrop.personalize.jobs import PENDING
from outcrop.personalize.store import PersonalizeStore
from tests.errors import error_of
from tests.server import RunningServer
from tests.services.test_personalize import ROLE, Group, items_csv, taste_groups, wait


@pytest.fixture(scope="module")
def group(server: RunningServer) -> Group:
    return Group(server)


def export(group: Group, dataset: str, mode: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Run an export job to s3://bucket/exports/ and wait for it."""
    extra = {"ingestionMode": mode} if mode else {}
    arn = group.p.create_dataset_export_job(
        jobName=name or f"export-{uuid.uuid4().hex[:8]}",
        datasetArn=dataset,
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": f"s3://{group.bucket}/exports/"}},
        **extra,
    )["datasetExportJobArn"]
    return wait(lambda: group.p.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])


def exported(group: Group, job: dict[str, Any]) -> str:
    """The text of the job's CSV files, in order."""
    prefix = f"exports/{job['jobName']}/"
    keys = [o["Key"] for o in group.s3.list_objects_v2(Bucket=group.bucket, Prefix=prefix)["Contents"]]
    assert keys and all(k.endswith(".csv") for k in keys)
    return "".join(
        group.s3.get_object(Bucket=group.bucket, Key=k)["Body"].read().decode() for k in sorted(keys)
    )


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_export_writes_the_rows_of_the_asked_origin_as_csv(group: Group) -> None:
    p = group.p
    tracking = p.create_event_tracker(name=f"t-{group.tag}", datasetGroupArn=group.arn)["trackingId"]
    group.events.put_events(
        trackingId=tracking,
        userId="u-new",
        sessionId="s1",
        eventList=[
            {"eventType": "watch", "itemId": "C01", "sentAt": 1_800_000_000},
            {"eventType": "click", "itemId": "D02", "sentAt": 1_800_000_100},
        ],
    )
    group.events.put_items(
        datasetArn=group.items,
        items=[{"itemId": "N01", "properties": json.dumps({"genres": "Comedy", "price": 3.5})}],
    )

    bulk = export(group, group.interactions, "BULK")
    assert bulk["status"] == "ACTIVE", bulk
    assert exported(group, bulk) == taste_groups()  # the imported file, row for row, in the schema's order
    put = export(group, group.interactions)  # AWS's default: only what came through PutEvents
    assert put["ingestionMode"] == "PUT" and put["status"] == "ACTIVE"
    assert rows(exported(group, put)) == [
        {"USER_ID": "u-new", "ITEM_ID": "C01", "EVENT_TYPE": "watch", "TIMESTAMP": "1800000000"},
        {"USER_ID": "u-new", "ITEM_ID": "D02", "EVENT_TYPE": "click", "TIMESTAMP": "1800000100"},
    ]
    everything = rows(exported(group, export(group, group.interactions, "ALL")))
    assert len(everything) == len(rows(taste_groups())) + 2

    items = rows(exported(group, export(group, group.items, "ALL")))
    assert [r["ITEM_ID"] for r in items] == [r["ITEM_ID"] for r in rows(items_csv())] + ["N01"]
    assert items[-1] == {"ITEM_ID": "N01", "GENRES": "Comedy", "PRICE": "3.5"}
    assert [r["ITEM_ID"] for r in rows(exported(group, export(group, group.items, "PUT")))] == ["N01"]

    described = p.describe_dataset_export_job(datasetExportJobArn=bulk["datasetExportJobArn"])
    assert described["datasetExportJob"]["datasetArn"] == group.interactions
    assert described["datasetExportJob"]["jobOutput"]["s3DataDestination"]["path"].endswith("/exports/")
    listed = p.list_dataset_export_jobs(datasetArn=group.items)["datasetExportJobs"]
    assert len(listed) == 2 and {j["status"] for j in listed} == {"ACTIVE"}

    # a FULL import replaces what was imported before and keeps what came through PutEvents, as on AWS
    fewer = "".join(taste_groups().splitlines(keepends=True)[:101])
    assert group.import_csv(group.interactions, "fewer.csv", fewer)["status"] == "ACTIVE"
    assert exported(group, export(group, group.interactions, "BULK")) == fewer
    assert len(rows(exported(group, export(group, group.interactions, "ALL")))) == 100 + 2


def test_export_jobs_refuse_bad_requests_and_fail_on_a_missing_bucket(group: Group) -> None:
    p = group.p
    output = {"s3DataDestination": {"path": f"s3://{group.bucket}/exports/"}}
    name = f"dup-{group.tag}"
    p.create_dataset_export_job(jobName=name, datasetArn=group.items, roleArn=ROLE, jobOutput=output)
    again = error_of(
        p.create_dataset_export_job, jobName=name, datasetArn=group.items, roleArn=ROLE, jobOutput=output
    )
    assert again["Code"] == "ResourceAlreadyExistsException"
    missing = group.arn.replace("dataset-group/", "dataset/") + "/USERS"
    gone = error_of(
        p.create_dataset_export_job, jobName="x1", datasetArn=missing, roleArn=ROLE, jobOutput=output
    )
    assert gone["Code"] == "ResourceNotFoundException"
    keyed = {"s3DataDestination": {"path": output["s3DataDestination"]["path"], "kmsKeyArn": KEY}}
    refused = error_of(
        p.create_dataset_export_job, jobName="x2", datasetArn=group.items, roleArn=ROLE, jobOutput=keyed
    )
    assert refused["Code"] == "InvalidInputException" and "kmsKeyArn" in refused["Message"]
    assert (
        error_of(p.describe_dataset_export_job, datasetExportJobArn=group.arn + "-export")["Code"]
        == "ResourceNotFoundException"
    )
    arn = p.create_dataset_export_job(
        jobName=f"nobucket-{group.tag}",
        datasetArn=group.items,
        roleArn=ROLE,
        jobOutput={"s3DataDestination": {"path": f"s3://no-such-bucket-{group.tag}/out/"}},
    )["datasetExportJobArn"]
    failed = wait(lambda: p.describe_dataset_export_job(datasetExportJobArn=arn)["datasetExportJob"])
    assert failed["status"] == "CREATE FAILED" and "no-such-bucket" in failed["failureReason"]


USERS_SCHEMA = {
    "type": "record",
    "name": "Users",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "PLAN", "type": "string", "categorical": True},
    ],
    "version": "1.0",
}
KEY = "arn:aws:kms:us-east-1:000000000000:key/12345678-1234-1234-1234-123456789012"


def delete_users(group: Group, users: str, name: str | None = None) -> dict[str, Any]:
    key = f"delete-{uuid.uuid4().hex[:6]}.csv"
    group.s3.put_object(Bucket=group.bucket, Key=key, Body=users.encode())
    arn = group.p.create_data_deletion_job(
        jobName=name or f"delete-{uuid.uuid4().hex[:8]}",
        datasetGroupArn=group.arn,
        dataSource={"dataLocation": f"s3://{group.bucket}/{key}"},
        roleArn=ROLE,
    )["dataDeletionJobArn"]
    return wait(
        lambda: group.p.describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"],
        until=("COMPLETED",),
    )


def popular(group: Group) -> list[str]:
    """Every item a fresh popularity model recommends to u10 (numResults beyond the catalog)."""
    campaign = group.campaign(group.train("aws-popularity-count"))
    answer = group.runtime.get_recommendations(campaignArn=campaign, userId="u10", numResults=100)
    return [entry["itemId"] for entry in answer["itemList"]]


def test_a_deletion_job_removes_the_users_so_the_next_training_does_not_see_them(
    server: RunningServer,
) -> None:
    group = Group(server)
    users = group.dataset(
        "Users", USERS_SCHEMA, "USER_ID,PLAN\n" + "".join(f"u{u},basic\n" for u in range(60))
    )
    tracking = group.p.create_event_tracker(name=f"t-{group.tag}", datasetGroupArn=group.arn)["trackingId"]
    group.events.put_events(  # an item only u0 ever touched
        trackingId=tracking,
        userId="u0",
        sessionId="s0",
        eventList=[{"eventType": "watch", "itemId": "Z99", "sentAt": 1_800_000_000}],
    )
    assert "Z99" in popular(group)

    job = delete_users(group, "USER_ID\nu0\nu1\nu2\nu3\nu4\nnobody\n")
    assert job["status"] == "COMPLETED", job
    assert job["numDeleted"] == 5 * 20 + 1 + 5  # twenty imported interactions each, u0's event, their rows
    kept = rows(exported(group, export(group, users, "ALL")))
    assert [r["USER_ID"] for r in kept] == [f"u{u}" for u in range(5, 60)]
    left = rows(exported(group, export(group, group.interactions, "ALL")))
    assert len(left) == 60 * 20 - 5 * 20
    assert not {r["USER_ID"] for r in left} & {"u0", "u1", "u2", "u3", "u4"}
    assert "Z99" not in popular(group)

    failed = delete_users(group, "CUSTOMER\nu9\n")
    assert failed["status"] == "FAILED" and "USER_ID" in failed["failureReason"]
    listed = group.p.list_data_deletion_jobs(datasetGroupArn=group.arn)["dataDeletionJobs"]
    assert [j["status"] for j in listed] == ["FAILED", "COMPLETED"]  # newest first
    assert {j["datasetGroupArn"] for j in listed} == {group.arn}


def test_deletion_jobs_refuse_bad_requests(group: Group) -> None:
    p = group.p
    source = {"dataLocation": f"s3://{group.bucket}/users.csv"}
    missing = group.arn + "-gone"
    assert (
        error_of(
            p.create_data_deletion_job, jobName="d1", datasetGroupArn=missing, dataSource=source, roleArn=ROLE
        )["Code"]
        == "ResourceNotFoundException"
    )
    local = {"dataLocation": "file:///etc/passwd"}
    refused = error_of(
        p.create_data_deletion_job, jobName="d2", datasetGroupArn=group.arn, dataSource=local, roleArn=ROLE
    )
    assert refused["Code"] == "InvalidInputException"
    assert (
        error_of(p.describe_data_deletion_job, dataDeletionJobArn=group.arn + "-deletion")["Code"]
        == "ResourceNotFoundException"
    )


def test_export_and_deletion_jobs_cut_off_by_a_stop_finish_after_restart(tmp_path: Path) -> None:
    server = RunningServer(tmp_path / "data").start()
    try:
        group = Group(server)
        group.s3.put_object(Bucket=group.bucket, Key="gone.csv", Body=b"USER_ID\nu1\nu2\n")
    finally:
        server.stop()
    # as a stopped server leaves them: an export not started, a deletion in progress
    store = PersonalizeStore(tmp_path / "data" / "personalize" / "personalize.sqlite3")
    place = ("000000000000", "us-east-1")
    export_arn = f"arn:aws:personalize:us-east-1:000000000000:dataset-export-job/cut-{group.tag}"
    store.at(place).create(
        "datasetExportJob",
        export_arn,
        f"cut-{group.tag}",
        group.interactions,
        PENDING,
        {
            "datasetArn": group.interactions,
            "ingestionMode": "BULK",
            "roleArn": ROLE,
            "jobOutput": {"s3DataDestination": {"path": f"s3://{group.bucket}/exports"}},
        },
    )
    deletion_arn = f"arn:aws:personalize:us-east-1:000000000000:data-deletion-job/cut-{group.tag}"
    store.at(place).create(
        "dataDeletionJob",
        deletion_arn,
        f"cut-{group.tag}",
        group.arn,
        "IN_PROGRESS",
        {"datasetGroupArn": group.arn, "dataSource": {"dataLocation": f"s3://{group.bucket}/gone.csv"}},
    )
    store.close()
    server.start()
    try:
        p = server.client("personalize")
        done = wait(lambda: p.describe_dataset_export_job(datasetExportJobArn=export_arn)["datasetExportJob"])
        assert done["status"] == "ACTIVE", done
        assert exported(Restarted(server, group.bucket), done) == taste_groups()
        deleted = wait(
            lambda: p.describe_data_deletion_job(dataDeletionJobArn=deletion_arn)["dataDeletionJob"],
            until=("COMPLETED",),
        )
        assert deleted["status"] == "COMPLETED" and deleted["numDeleted"] == 40
    finally:
        server.stop()


class Restarted(Group):
    """The clients of a restarted server for a group made before (only what `exported` reads)."""

    def __init__(self, server: RunningServer, bucket: str) -> None:
        self.s3 = server.client("s3")
        self.bucket = bucket
