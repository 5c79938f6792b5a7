"""A data dir made before resources were partitioned by region keeps them, in the server's default region."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outcrop.rag import kbstore
from outcrop.services.sagemaker import store as sagemaker_store
from outcrop.storage import logschema
from outcrop.storage.sqlite import Database
from tests.errors import error_of
from tests.server import RunningServer
from tests.services.regions import regional

DEFAULT, OTHER = "us-east-1", "eu-west-1"


def old_logs(data: Path) -> None:
    """CloudWatch Logs' file as it was: the schema's first migration only, one group with one event."""
    db = Database(data / "logs" / "logs.sqlite3", logschema.MIGRATIONS[:1])
    now = int(time.time() * 1000)
    with db.transaction() as tx:
        tx.execute("INSERT INTO groups VALUES ('/old/group', ?, NULL, 5, NULL, 'STANDARD', '{}')", (now,))
        tx.execute("INSERT INTO streams VALUES ('/old/group', 's', ?, ?, ?, ?, 2, 5)", (now, now, now, now))
        tx.execute(
            "INSERT INTO events (group_name, stream, timestamp, ingestion, message) "
            "VALUES ('/old/group', 's', ?, ?, 'hello')",
            (now, now),
        )
    db.close()


def old_function(data: Path) -> None:
    """A function made through the Lambda API as it was kept: `functions/<name>/function.json` with no
    account or region."""
    folder = data / "lambda" / "functions" / "old-fn"
    code = folder / "code-0123456789abcdef"
    code.mkdir(parents=True)
    (code / "app.py").write_text("def handler(event, context):\n    return {'old': True}\n")
    settings = {
        "name": "old-fn",
        "handler": "app.handler",
        "code_dir": str(code),
        "runtime": "python3.11",
        "timeout": 3.0,
        "memory_mb": 128,
        "environment": {},
        "description": "",
        "code_sha256": "AAAA",
        "code_size": 1,
        "last_modified": time.time(),
        "role": "arn:aws:iam::000000000000:role/r",
        "tags": {},
    }
    (folder / "function.json").write_text(json.dumps(settings))


def old_knowledge_base(data: Path) -> None:
    """A knowledge base as the store kept it before regions: a name unique across the whole server."""
    db = Database(data / "knowledge-bases" / "knowledge_bases.sqlite3", kbstore.MIGRATIONS[:1])
    body = {
        "knowledgeBaseId": "OLDKB00001",
        "name": "old-kb",
        "knowledgeBaseArn": "arn:aws:bedrock:us-east-1:000000000000:knowledge-base/OLDKB00001",
        "roleArn": "arn:aws:iam::000000000000:role/kb",
        "knowledgeBaseConfiguration": {"type": "VECTOR"},
    }
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO knowledge_bases VALUES ('OLDKB00001', 'old-kb', ?, 'lance', 1024, ?, ?)",
            (json.dumps(body), time.time(), time.time()),
        )
    db.close()


def old_sagemaker_model(data: Path) -> None:
    """A SageMaker model as the store kept it before regions: no account or region column."""
    db = Database(data / "sagemaker" / "sagemaker.db", sagemaker_store.MIGRATIONS[:1])
    arn = "arn:aws:sagemaker:us-east-1:000000000000:model/old-model"
    body = {"ModelName": "old-model", "ModelArn": arn, "PrimaryContainer": {"Image": "i"}}
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO resources VALUES ('model', 'old-model', ?, ?, ?, 'Created', ?)",
            (arn, time.time(), time.time(), json.dumps(body)),
        )
    db.close()


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("before-regions") / "data"
    old_logs(data)
    old_function(data)
    old_knowledge_base(data)
    old_sagemaker_model(data)
    running = RunningServer(data).start()
    yield running
    running.stop()


def test_old_log_groups_are_the_default_regions(migrated: RunningServer) -> None:
    home, other = regional(migrated, "logs", DEFAULT), regional(migrated, "logs", OTHER)
    [group] = home.describe_log_groups()["logGroups"]
    assert group["logGroupName"] == "/old/group"
    assert group["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/old/group"
    events = home.get_log_events(logGroupName="/old/group", logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["hello"]
    assert other.describe_log_groups()["logGroups"] == []
    missing = error_of(other.get_log_events, logGroupName="/old/group", logStreamName="s")
    assert missing["Code"] == "ResourceNotFoundException"


def test_old_functions_are_the_default_regions(migrated: RunningServer) -> None:
    home, other = regional(migrated, "lambda", DEFAULT), regional(migrated, "lambda", OTHER)
    arn = home.get_function(FunctionName="old-fn")["Configuration"]["FunctionArn"]
    assert arn == "arn:aws:lambda:us-east-1:000000000000:function:old-fn"
    assert json.loads(home.invoke(FunctionName="old-fn")["Payload"].read()) == {"old": True}
    assert error_of(other.get_function, FunctionName="old-fn")["Code"] == "ResourceNotFoundException"
    assert other.list_functions()["Functions"] == []


def test_old_knowledge_bases_are_the_default_regions(migrated: RunningServer) -> None:
    home, other = regional(migrated, "bedrock-agent", DEFAULT), regional(migrated, "bedrock-agent", OTHER)
    assert home.get_knowledge_base(knowledgeBaseId="OLDKB00001")["knowledgeBase"]["name"] == "old-kb"
    assert [k["name"] for k in home.list_knowledge_bases()["knowledgeBaseSummaries"]] == ["old-kb"]
    assert (
        error_of(other.get_knowledge_base, knowledgeBaseId="OLDKB00001")["Code"]
        == "ResourceNotFoundException"
    )
    assert other.list_knowledge_bases()["knowledgeBaseSummaries"] == []


def test_old_sagemaker_models_are_the_default_regions(migrated: RunningServer) -> None:
    home, other = regional(migrated, "sagemaker", DEFAULT), regional(migrated, "sagemaker", OTHER)
    arn = home.describe_model(ModelName="old-model")["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:model/old-model"
    assert [m["ModelName"] for m in home.list_models()["Models"]] == ["old-model"]
    assert error_of(other.describe_model, ModelName="old-model")["Code"] == "ValidationException"
    assert other.list_models()["Models"] == []


def test_old_fraud_detector_data_is_the_default_regions(tmp_path: Path) -> None:
    """A detector, its rule and a trained model (its file in the old `models/<id>/...` layout) kept before
    regions still predict in the default region, and are not seen from another."""
    from outcrop.services.frauddetector import store as fraud_store
    from outcrop.services.frauddetector.model import Column, train
    from tests.services.frauddetector_data import events

    data = tmp_path / "data"
    rows = events(300, seed=5)
    model = train(
        [Column("order_price", "FLOAT", "PRICE")],
        [{"order_price": r["order_price"]} for r in rows],
        [int(r["EVENT_LABEL"] == "fraud") for r in rows],
        by_time=False,
    ).model
    model.save(data / "frauddetector" / "models" / "old_model" / "ONLINE_FRAUD_INSIGHTS" / "1.0.pkl")
    ids = {"modelId": "old_model", "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
    resources = {
        ("variable", "order_price"): {
            "name": "order_price",
            "dataType": "FLOAT",
            "dataSource": "EVENT",
            "defaultValue": "0.0",
            "description": "",
            "variableType": "PRICE",
        },
        ("variable", "old_model_insightscore"): {
            "name": "old_model_insightscore",
            "dataType": "FLOAT",
            "dataSource": "MODEL_SCORE",
            "defaultValue": "0.0",
            "variableType": "NUMERIC",
        },
        ("entity_type", "customer"): {"name": "customer", "description": ""},
        ("event_type", "old_orders"): {
            "name": "old_orders",
            "description": "",
            "eventVariables": ["order_price"],
            "labels": [],
            "entityTypes": ["customer"],
            "eventIngestion": "ENABLED",
        },
        ("model", "old_model/ONLINE_FRAUD_INSIGHTS"): {
            "modelId": "old_model",
            "eventTypeName": "old_orders",
            "modelType": "ONLINE_FRAUD_INSIGHTS",
            "description": "",
        },
        ("model_version", "old_model/ONLINE_FRAUD_INSIGHTS/1.0"): ids
        | {"status": "ACTIVE", "eventTypeName": "old_orders"},
        ("detector", "old_detector"): {
            "detectorId": "old_detector",
            "eventTypeName": "old_orders",
            "description": "",
        },
        ("rule", "old_detector/big/1"): {
            "detectorId": "old_detector",
            "ruleId": "big",
            "ruleVersion": "1",
            "expression": "$old_model_insightscore >= 900",
            "language": "DETECTORPL",
            "outcomes": ["block"],
            "description": "",
        },
        ("outcome", "block"): {"name": "block", "description": ""},
        ("detector_version", "old_detector/1"): {
            "detectorId": "old_detector",
            "detectorVersionId": "1",
            "status": "ACTIVE",
            "description": "",
            "rules": [{"detectorId": "old_detector", "ruleId": "big", "ruleVersion": "1"}],
            "modelVersions": [ids],
            "ruleExecutionMode": "FIRST_MATCHED",
            "externalModelEndpoints": [],
        },
    }
    db = Database(data / "frauddetector" / "frauddetector.sqlite3", fraud_store.MIGRATIONS[:1])
    with db.transaction() as tx:
        for (kind, key), body in resources.items():
            tx.execute(
                "INSERT INTO resources VALUES (?, ?, ?, ?, ?)",
                (kind, key, json.dumps(body), time.time(), 0.0),
            )
    db.close()
    running = RunningServer(data).start()
    try:
        home, other = regional(running, "frauddetector", DEFAULT), regional(running, "frauddetector", OTHER)
        event = {
            "detectorId": "old_detector",
            "eventId": "after-migration",
            "eventTypeName": "old_orders",
            "eventTimestamp": "2024-06-01T00:00:00Z",
            "entities": [{"entityType": "customer", "entityId": "c1"}],
            "eventVariables": {"order_price": "1200.00"},
        }
        found = home.get_event_prediction(**event)
        assert found["ruleResults"] == [{"ruleId": "big", "outcomes": ["block"]}]
        assert found["modelScores"][0]["modelVersion"]["arn"].startswith(
            "arn:aws:frauddetector:us-east-1:000000000000:model-version/"
        )
        assert error_of(other.get_event_prediction, **event)["Code"] == "ResourceNotFoundException"
        assert other.get_detectors()["detectors"] == []
        assert [v["name"] for v in other.get_variables()["variables"]] == []
        assert [d["detectorId"] for d in home.get_detectors()["detectors"]] == ["old_detector"]
    finally:
        running.stop()


def test_old_personalize_campaigns_are_the_default_regions(tmp_path: Path) -> None:
    """A dataset group, its interactions and a campaign over a trained version (its model file named as
    before regions) kept before regions still recommend in the default region, and are not seen from
    another, where the names are free."""
    from outcrop.personalize import store as personalize_store
    from outcrop.personalize.training import train

    data = tmp_path / "data"
    prefix = "arn:aws:personalize:us-east-1:000000000000:"
    group, dataset = f"{prefix}dataset-group/old-group", f"{prefix}dataset/old-group/INTERACTIONS"
    version, campaign = f"{prefix}solution/old-solution/1a2b3c4d", f"{prefix}campaign/old-campaign"
    interactions = [  # item I0 is the most watched, then I1, ...
        personalize_store.Interaction(f"u{u}", f"I{i}", 1_700_000_000 + u * 100 + i, "watch", None)
        for u in range(160)
        for i in range(u % 16 + 1)
    ]
    models = data / "personalize" / "models"
    old_file = models / "solution_old-solution_1a2b3c4d.npz"
    train("popularity", interactions, [], {}, 7).model.save(old_file)
    db = Database(data / "personalize" / "personalize.sqlite3", personalize_store.MIGRATIONS[:2])
    now = time.time()
    resources = [
        (group, "datasetGroup", "old-group", None, {}),
        (
            dataset,
            "dataset",
            f"old\x00{dataset}",
            group,
            {"datasetGroupArn": group, "datasetType": "Interactions"},
        ),
        (
            version,
            "solutionVersion",
            version,
            version.rsplit("/", 1)[0],
            {"datasetGroupArn": group, "recipeType": "USER_PERSONALIZATION", "algorithm": "popularity"},
        ),
        (campaign, "campaign", "old-campaign", version.rsplit("/", 1)[0], {"solutionVersionArn": version}),
    ]
    with db.transaction() as tx:
        for arn, kind, name, parent, doc in resources:
            tx.execute(
                "INSERT INTO resources (arn, kind, name, parent, status, doc, created, updated)"
                " VALUES (?, ?, ?, ?, 'ACTIVE', ?, ?, ?)",
                (arn, kind, name, parent, json.dumps(doc), now, now),
            )
        tx.executemany(
            "INSERT INTO interactions (dataset, user_id, item_id, ts, event_type) VALUES (?, ?, ?, ?, ?)",
            [(dataset, *row[:4]) for row in interactions],
        )
    db.close()
    running = RunningServer(data).start()
    try:
        home, other = regional(running, "personalize", DEFAULT), regional(running, "personalize", OTHER)
        assert [g["datasetGroupArn"] for g in home.list_dataset_groups()["datasetGroups"]] == [group]
        assert other.list_dataset_groups()["datasetGroups"] == []
        missing = error_of(other.describe_campaign, campaignArn=campaign)
        assert missing["Code"] == "ResourceNotFoundException"
        runtime = regional(running, "personalize-runtime", DEFAULT)
        answer = runtime.get_recommendations(campaignArn=campaign, userId="newcomer", numResults=3)
        assert [entry["itemId"] for entry in answer["itemList"]] == ["I0", "I1", "I2"]
        refused = error_of(
            regional(running, "personalize-runtime", OTHER).get_recommendations,
            campaignArn=campaign,
            userId="newcomer",
        )
        assert refused["Code"] == "ResourceNotFoundException"
        assert not old_file.exists()  # renamed with its region and account
        assert other.create_dataset_group(name="old-group")["datasetGroupArn"] == group.replace(
            DEFAULT, OTHER
        )
    finally:
        running.stop()


def test_old_forecast_resources_are_where_their_arns_say(tmp_path: Path) -> None:
    """Forecast's store as it was (no account or region): a dataset made in us-east-1 and a dataset group
    made in eu-west-1 stay where their ARNs say, and the eu-west-1 group's name is free in us-east-1."""
    from outcrop.services.forecast import store as forecast_store

    data = tmp_path / "data"
    db = Database(data / "forecast" / "forecast.sqlite3", forecast_store.MIGRATIONS[:1])
    dataset = "arn:aws:forecast:us-east-1:000000000000:dataset/old_sales"
    group = "arn:aws:forecast:eu-west-1:000000000000:dataset-group/old_group"
    schema = {"Attributes": [{"AttributeName": "item_id", "AttributeType": "string"}]}
    rows = [
        (dataset, "dataset", "old_sales", {"DatasetName": "old_sales", "Domain": "CUSTOM", "Schema": schema}),
        (group, "dataset-group", "old_group", {"DatasetGroupName": "old_group", "Domain": "CUSTOM"}),
    ]
    with db.transaction() as tx:
        for arn, kind, name, body in rows:
            tx.execute(
                "INSERT INTO resources (arn, kind, name, status, body, created, modified)"
                " VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?)",
                (
                    arn,
                    kind,
                    name,
                    json.dumps({**body, "DatasetType": "ITEM_METADATA", "DatasetArns": []}),
                    1,
                    1,
                ),
            )
    db.close()
    running = RunningServer(data).start()
    try:
        home, other = regional(running, "forecast", DEFAULT), regional(running, "forecast", OTHER)
        assert [d["DatasetArn"] for d in home.list_datasets()["Datasets"]] == [dataset]
        assert other.list_datasets()["Datasets"] == []
        assert error_of(other.describe_dataset, DatasetArn=dataset)["Code"] == "ResourceNotFoundException"
        assert other.describe_dataset_group(DatasetGroupArn=group)["DatasetGroupName"] == "old_group"
        assert home.list_dataset_groups()["DatasetGroups"] == []
        made = home.create_dataset_group(DatasetGroupName="old_group", Domain="CUSTOM")["DatasetGroupArn"]
        assert made == group.replace(OTHER, DEFAULT)
    finally:
        running.stop()


def test_old_ai_service_resources_and_trails_are_the_default_regions(tmp_path: Path) -> None:
    """Transcribe's jobs and vocabularies, Polly's lexicons and tasks, Textract's jobs, Translate's
    terminologies, Rekognition's collections and CloudTrail's trails as they were kept before regions stay
    in the default region (a collection or trail where its ARN says), unseen from another."""
    from outcrop.audit import trails as trail_store
    from outcrop.backends.vision import face_index
    from outcrop.jobs import speech_task_worker, textract_jobs, transcription_vocabulary
    from outcrop.services.polly import lexicons

    data, now = tmp_path / "data", time.time()
    request = {
        "LanguageCode": "en-US",
        "IdentifyLanguage": False,
        "IdentifyMultipleLanguages": False,
        "LanguageOptions": [],
        "MediaFileUri": "s3://old-media/a.wav",
        "MediaFormat": "wav",
        "MediaSampleRateHertz": None,
        "OutputBucket": "old-output",
        "OutputKey": "old-job.json",
        "OutputLocationType": "CUSTOMER_BUCKET",
    }

    def kept(path: Path, migrations: Any, sql: str, *args: Any) -> None:
        db = Database(path, migrations)
        with db.transaction() as tx:
            tx.execute(sql, args)
        db.close()

    kept(
        data / "transcribe" / "jobs.sqlite3",
        speech_task_worker._MIGRATIONS,
        "INSERT INTO jobs (id, status, request, created, completed) VALUES ('old-job', 'completed', ?, ?, ?)",
        json.dumps(request),
        now,
        now,
    )
    kept(
        data / "transcribe" / "vocabularies.sqlite3",
        transcription_vocabulary._MIGRATIONS,
        "INSERT INTO vocabularies VALUES ('old-vocab', 'en-US', '[\"Outcrop\"]', ?)",
        now,
    )
    kept(
        data / "polly" / "lexicons.sqlite3",
        lexicons._MIGRATIONS,
        "INSERT INTO lexicons VALUES ('oldlex', '<lexicon/>', 'ipa', 'en-US', 1, 11, ?)",
        now,
    )
    kept(
        data / "textract" / "jobs.sqlite3",
        textract_jobs.MIGRATIONS,
        "INSERT INTO jobs (job_id, kind, status, request, client_token, pages, created, finished)"
        " VALUES ('oldjob', 'text', 'SUCCEEDED', '{}', 'tok', 1, ?, ?)",
        now,
        now,
    )
    kept(
        data / "rekognition" / "collections.sqlite3",
        face_index.MIGRATIONS,
        "INSERT INTO collections VALUES (?, ?, ?, 'v', '{}'), (?, ?, ?, 'v', '{}')",
        "old-us",
        "aws:rekognition:us-east-1:000000000000:collection/old-us",
        now,
        "old-eu",
        "aws:rekognition:eu-west-1:000000000000:collection/old-eu",
        now,
    )
    kept(
        data / "cloudtrail" / "trails.sqlite3",
        trail_store.MIGRATIONS,
        "INSERT INTO trails (name, arn, home_region, bucket, multi_region, global_events, validation,"
        " created) VALUES ('old-trail', ?, 'us-east-1', 'b', 0, 1, 0, ?)",
        "arn:aws:cloudtrail:us-east-1:000000000000:trail/old-trail",
        now,
    )
    (data / "textract" / "results").mkdir(parents=True)
    (data / "textract" / "results" / "oldjob.json").write_text("[]")
    terms = data / "translate" / "terminologies"
    terms.mkdir(parents=True)
    glossary = {"languages": ["en", "es"], "rows": [{"en": "cat", "es": "michi"}], "skipped": 0}
    stored = {"name": "old-terms", "description": "", "format": "CSV", "directionality": "UNI"}
    stored |= {"created_at": now, "updated_at": now, "size_bytes": 16, "glossary": glossary}
    (terms / "old-terms.json").write_text(json.dumps(stored | {"download_token": "t"}))

    running = RunningServer(data).start()
    try:
        home, other = (regional(running, "transcribe", r) for r in (DEFAULT, OTHER))
        assert home.get_transcription_job(TranscriptionJobName="old-job")["TranscriptionJob"]["LanguageCode"]
        assert (
            error_of(other.get_transcription_job, TranscriptionJobName="old-job")["Code"]
            == "NotFoundException"
        )
        assert home.get_vocabulary(VocabularyName="old-vocab")["VocabularyState"] == "READY"
        assert other.list_vocabularies()["Vocabularies"] == []
        home, other = (regional(running, "polly", r) for r in (DEFAULT, OTHER))
        assert [lexicon["Name"] for lexicon in home.list_lexicons()["Lexicons"]] == ["oldlex"]
        assert other.list_lexicons()["Lexicons"] == []
        home, other = (regional(running, "textract", r) for r in (DEFAULT, OTHER))
        assert home.get_document_text_detection(JobId="oldjob")["JobStatus"] == "SUCCEEDED"
        assert error_of(other.get_document_text_detection, JobId="oldjob")["Code"] == "InvalidJobIdException"
        home, other = (regional(running, "translate", r) for r in (DEFAULT, OTHER))
        assert home.get_terminology(Name="old-terms")["TerminologyProperties"]["TermCount"] == 1
        assert other.list_terminologies()["TerminologyPropertiesList"] == []
        home, other = (regional(running, "rekognition", r) for r in (DEFAULT, OTHER))
        assert home.list_collections()["CollectionIds"] == ["old-us"]
        assert other.list_collections()["CollectionIds"] == ["old-eu"]  # where its ARN says
        assert other.create_collection(CollectionId="old-us")["CollectionArn"].split(":")[2] == OTHER
        home, other = (regional(running, "cloudtrail", r) for r in (DEFAULT, OTHER))
        assert home.get_trail(Name="old-trail")["Trail"]["HomeRegion"] == DEFAULT
        assert error_of(other.get_trail, Name="old-trail")["Code"] == "TrailNotFoundException"
    finally:
        running.stop()
