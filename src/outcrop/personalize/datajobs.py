"""Dataset export jobs and data deletion jobs: the work the background worker does for them.

An export writes the dataset's rows of the chosen origin (BULK: import jobs, PUT: PutEvents/PutItems/
PutUsers, ALL: both) as CSV files under the job's S3 path, in the schema's column order, exact repeats once.
A deletion reads a CSV of USER_ID values and removes those users' interactions and user rows from the
dataset group in one transaction with the job's COMPLETED status, so the next training no longer sees them
and a rerun after a restart neither deletes twice nor loses the count.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from outcrop.personalize.errors import PersonalizeError
from outcrop.personalize.recommend import datasets_of
from outcrop.personalize.schemas import parse_schema
from outcrop.personalize.store import BULK, PUT, PersonalizeStore
from outcrop.storage.objects import ObjectStore, StoreError

SOURCES = {"BULK": (BULK,), "PUT": (PUT,), "ALL": (BULK, PUT)}
DEFAULT_INGESTION_MODE = "PUT"  # AWS's default for CreateDatasetExportJob
ROWS_PER_FILE = 500_000
DELETION_STATES = ("PENDING", "IN_PROGRESS", "COMPLETED", "FAILED")
"""A data deletion job's statuses, which are not the CREATE ... ones of the other jobs."""

Reader = Callable[[str], list[tuple[str, bytes]]]
"""Reads an s3:// file, or the CSV files under an s3:// folder: [(s3 uri, bytes)]."""


def export_folder(path: str, job_name: str) -> str:
    """Where a job's files go: a folder named after the job under the S3 path it was given."""
    return path.rstrip("/") + "/" + job_name + "/"


def export(store: PersonalizeStore, objects: ObjectStore, arn: str) -> dict[str, Any]:
    """Write the dataset's rows as CSV; the job's doc additions (how many rows, in which files)."""
    job = store.get("datasetExportJob", arn)
    dataset = store.get("dataset", job.doc["datasetArn"])
    schema = parse_schema(store.get("schema", dataset.doc["schemaArn"]).doc["schema"])
    columns = [f.name for f in schema.fields]
    rows = store.exported_rows(dataset.arn, dataset.doc["datasetType"], SOURCES[job.doc["ingestionMode"]])
    folder = export_folder(job.doc["jobOutput"]["s3DataDestination"]["path"], job.name)
    bucket, _, prefix = folder[len("s3://") :].partition("/")
    kind = dataset.doc["datasetType"].lower()
    chunks = [rows[i : i + ROWS_PER_FILE] for i in range(0, len(rows), ROWS_PER_FILE)] or [[]]
    for part, chunk in enumerate(chunks):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_cell(row.get(name)) for name in columns] for row in chunk)
        key = f"{prefix}{kind}_{part:05d}.csv"
        try:
            objects.put_object(bucket, key, text.getvalue().encode())
        except StoreError as exc:
            raise PersonalizeError(f"Cannot write s3://{bucket}/{key}: {exc}") from None
    return {"exportedRows": len(rows)}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def delete_users(store: PersonalizeStore, read: Reader, arn: str) -> int:
    """Remove the listed users from the job's dataset group; the number of records deleted."""
    job = store.get("dataDeletionJob", arn)
    users: set[str] = set()
    for name, data in read(job.doc["dataSource"]["dataLocation"]):
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig")))
        header = [h.strip() for h in next(reader, [])]
        if "USER_ID" not in header:
            raise PersonalizeError(f"{name} has no USER_ID column: list the users to delete under USER_ID.")
        column = header.index("USER_ID")
        for values in reader:
            if len(values) > column and values[column].strip():
                users.add(values[column].strip())
    if not users:
        raise PersonalizeError("The data location lists no user IDs to delete.")
    datasets = datasets_of(store, job.doc["datasetGroupArn"])
    return store.delete_users(
        datasets.get("Interactions"), datasets.get("Users"), users, arn, DELETION_STATES[2]
    )
