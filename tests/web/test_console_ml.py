"""The console's ML services page in real headless Chromium: resources made through boto3 (a Personalize
campaign, a Forecast forecast, a Fraud Detector detector, each trained on small data with a known answer)
are listed with their statuses and metrics, the page's queries answer what boto3 answers, and a solution
version created while the page is open appears and reaches ACTIVE without a reload."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest

from tests.browser import browser_page, requires_chromium, take_screenshot
from tests.server import RunningServer
from tests.services.frauddetector_data import events
from tests.services.test_forecast import PATTERNS, seasonal_csv
from tests.services.test_forecast import SCHEMA as FORECAST_SCHEMA
from tests.services.test_personalize import RECIPE
from tests.services.test_personalize import ROLE as PERSONALIZE_ROLE
from tests.services.test_personalize_flow import GETTING_STARTED_SCHEMA, ratings

FRAUD_ROLE = "arn:aws:iam::123456789012:role/FraudDetectorRole"


def until(read: Callable[[], str], done: tuple[str, ...], limit_s: float = 300) -> str:
    deadline = time.monotonic() + limit_s
    while (status := read()) not in done and "FAIL" not in status and status != "ERROR":
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.3)
    assert status in done, status
    return status


def make_personalize(server: RunningServer, tag: str) -> dict[str, str]:
    """A dataset group (users favour one of 10 genres), an ACTIVE solution version and an ACTIVE campaign."""
    p, s3 = server.client("personalize"), server.client("s3")
    s3.create_bucket(Bucket=f"pz-{tag}")
    s3.put_object(Bucket=f"pz-{tag}", Key="ratings.csv", Body=ratings(120, 100, 15).encode())
    group = p.create_dataset_group(name=f"pz-{tag}")["datasetGroupArn"]
    schema = p.create_schema(name=f"pz-{tag}", schema=json.dumps(GETTING_STARTED_SCHEMA))["schemaArn"]
    dataset = p.create_dataset(
        name=f"pz-{tag}", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = p.create_dataset_import_job(
        jobName=f"pz-{tag}-import",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://pz-{tag}/ratings.csv"},
        roleArn=PERSONALIZE_ROLE,
    )["datasetImportJobArn"]
    until(
        lambda: p.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"]["status"],
        ("ACTIVE",),
    )
    solution = p.create_solution(
        name=f"pz-{tag}-solution", datasetGroupArn=group, recipeArn=RECIPE.format("aws-user-personalization")
    )["solutionArn"]
    version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    until(
        lambda: p.describe_solution_version(solutionVersionArn=version)["solutionVersion"]["status"],
        ("ACTIVE",),
    )
    campaign = p.create_campaign(name=f"pz-{tag}-campaign", solutionVersionArn=version)["campaignArn"]
    until(lambda: p.describe_campaign(campaignArn=campaign)["campaign"]["status"], ("ACTIVE",))
    return {
        "solution": solution,
        "version": version,
        "campaign": campaign,
        "dataset": dataset,
        "group": f"pz-{tag}",
        "job": f"pz-{tag}-import",
    }


def make_forecast(server: RunningServer, tag: str) -> dict[str, str]:
    """Three items with weekly patterns, an AutoPredictor (p10/p50/p90) and an ACTIVE forecast."""
    fc, s3 = server.client("forecast"), server.client("s3")
    name = f"fc_{tag}"
    s3.create_bucket(Bucket=f"fc-{tag}")
    s3.put_object(Bucket=f"fc-{tag}", Key="demand.csv", Body=seasonal_csv().encode())
    dataset = fc.create_dataset(
        DatasetName=name,
        Domain="CUSTOM",
        DatasetType="TARGET_TIME_SERIES",
        DataFrequency="D",
        Schema=FORECAST_SCHEMA,
    )["DatasetArn"]
    group = fc.create_dataset_group(DatasetGroupName=name, Domain="CUSTOM", DatasetArns=[dataset])[
        "DatasetGroupArn"
    ]
    job = fc.create_dataset_import_job(
        DatasetImportJobName=f"{name}_import",
        DatasetArn=dataset,
        DataSource={"S3Config": {"Path": f"s3://fc-{tag}/demand.csv", "RoleArn": FRAUD_ROLE}},
        TimestampFormat="yyyy-MM-dd",
    )["DatasetImportJobArn"]
    until(lambda: fc.describe_dataset_import_job(DatasetImportJobArn=job)["Status"], ("ACTIVE",))
    predictor = fc.create_auto_predictor(
        PredictorName=f"{name}_predictor",
        ForecastHorizon=7,
        ForecastFrequency="D",
        ForecastTypes=["0.1", "0.5", "0.9"],
        DataConfig={"DatasetGroupArn": group},
    )["PredictorArn"]
    until(lambda: fc.describe_auto_predictor(PredictorArn=predictor)["Status"], ("ACTIVE",), 600)
    forecast = fc.create_forecast(ForecastName=f"{name}_forecast", PredictorArn=predictor)["ForecastArn"]
    until(lambda: fc.describe_forecast(ForecastArn=forecast)["Status"], ("ACTIVE",))
    return {"name": name, "predictor": predictor, "forecast": forecast}


def make_fraud(server: RunningServer, tag: str) -> dict[str, str]:
    """A model trained on separable events (fraud: a large price from a throwaway domain) and a detector."""
    fd, s3 = server.client("frauddetector"), server.client("s3")
    price, email = f"price_{tag}", f"email_{tag}"
    rows = events(2000)
    lines = [f"EVENT_TIMESTAMP,EVENT_LABEL,{price},{email}"]
    lines += [
        f"{r['EVENT_TIMESTAMP']},{r['EVENT_LABEL']},{r['order_price']},{r['email_address']}" for r in rows
    ]
    s3.create_bucket(Bucket=f"fd-{tag}")
    s3.put_object(Bucket=f"fd-{tag}", Key="train.csv", Body=("\n".join(lines) + "\n").encode())
    fd.create_variable(
        name=price, variableType="PRICE", dataSource="EVENT", dataType="FLOAT", defaultValue="0.0"
    )
    fd.create_variable(
        name=email,
        variableType="EMAIL_ADDRESS",
        dataSource="EVENT",
        dataType="STRING",
        defaultValue="unknown",
    )
    fd.put_entity_type(name="customer")
    fd.put_label(name="fraud")
    fd.put_label(name="legit")
    event_type, model = f"signup_{tag}", f"model_{tag}"
    fd.put_event_type(
        name=event_type, eventVariables=[price, email], labels=["fraud", "legit"], entityTypes=["customer"]
    )
    fd.create_model(modelId=model, eventTypeName=event_type, modelType="ONLINE_FRAUD_INSIGHTS")
    fd.create_model_version(
        modelId=model,
        modelType="ONLINE_FRAUD_INSIGHTS",
        trainingDataSource="EXTERNAL_EVENTS",
        trainingDataSchema={
            "modelVariables": [price, email],
            "labelSchema": {"labelMapper": {"FRAUD": ["fraud"], "LEGIT": ["legit"]}},
        },
        externalEventsDetail={"dataLocation": f"s3://fd-{tag}/train.csv", "dataAccessRoleArn": FRAUD_ROLE},
    )
    ids = {"modelId": model, "modelType": "ONLINE_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"}
    until(lambda: fd.get_model_version(**ids)["status"], ("TRAINING_COMPLETE",))
    fd.update_model_version_status(**ids, status="ACTIVE")
    for outcome in ("verify", "approve"):
        fd.put_outcome(name=outcome)
    detector = f"detector_{tag}"
    fd.put_detector(detectorId=detector, eventTypeName=event_type)
    score = f"${model}_insightscore"
    rules = []
    for rule, expression, outcome in (
        ("high", f"{score} > 900", "verify"),
        ("low", f"{score} <= 900", "approve"),
    ):
        made = fd.create_rule(
            ruleId=f"{rule}_{tag}",
            detectorId=detector,
            expression=expression,
            language="DETECTORPL",
            outcomes=[outcome],
        )["rule"]
        rules.append({k: made[k] for k in ("detectorId", "ruleId", "ruleVersion")})
    version = fd.create_detector_version(
        detectorId=detector, rules=rules, modelVersions=[ids], ruleExecutionMode="FIRST_MATCHED"
    )["detectorVersionId"]
    fd.update_detector_version_status(detectorId=detector, detectorVersionId=version, status="ACTIVE")
    return {
        "model": model,
        "detector": detector,
        "event_type": event_type,
        "price": price,
        "email": email,
        "tag": tag,
    }


@pytest.fixture(scope="module")
def resources(server: RunningServer) -> dict[str, dict[str, str]]:
    tag = uuid.uuid4().hex[:6]
    return {
        "personalize": make_personalize(server, tag),
        "forecast": make_forecast(server, tag),
        "fraud": make_fraud(server, tag),
    }


@requires_chromium
def test_ml_page_lists_resources_queries_them_and_follows_training(
    server: RunningServer, resources: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)
    pz, fc, fd = resources["personalize"], resources["forecast"], resources["fraud"]
    personalize = server.client("personalize")
    with browser_page() as page:
        page.goto(server.endpoint + "/_outcrop/console/#ml")

        # Personalize: the trained version with its offline metrics, then recommendations for user 3
        row = page.locator(f"#pz-versions tr[data-version='{pz['version']}']")
        expect(row).to_contain_text("ACTIVE")
        metrics = personalize.get_solution_metrics(solutionVersionArn=pz["version"])["metrics"]
        cells = row.locator("td")
        assert float(cells.nth(5).inner_text()) == pytest.approx(
            metrics["normalized_discounted_cumulative_gain_at_10"], abs=1e-4
        )
        assert float(cells.nth(6).inner_text()) == pytest.approx(metrics["precision_at_10"], abs=1e-4)
        expect(page.locator(f"#pz-campaigns tr[data-campaign='{pz['campaign']}']")).to_contain_text("ACTIVE")
        imported = page.locator(f"#pz-datasets tr[data-dataset='{pz['dataset']}'] td")
        expect(imported).to_have_text([pz["group"], "ACTIVE", "Interactions", pz["job"], "ACTIVE"])
        page.wait_for_selector(f"#pz-campaign option[value='{pz['campaign']}']", state="attached")
        page.select_option("#pz-campaign", pz["campaign"])
        page.fill("#pz-user", "3")
        page.fill("#pz-count", "10")
        page.click("#pz-recommend")
        expect(page.locator("#pz-results li")).to_have_count(10)
        shown = [text.split(" ")[0] for text in page.locator("#pz-results li").all_inner_texts()]
        runtime = server.client("personalize-runtime")
        answer = runtime.get_recommendations(campaignArn=pz["campaign"], userId="3", numResults=10)[
            "itemList"
        ]
        assert shown == [item["itemId"] for item in answer]
        assert sum((int(item) - 1) % 10 == 2 for item in shown) >= 7  # user 3 favours genre 2
        take_screenshot(page, "console-ml-personalize").assert_rendered()

        # A version trained while the page is open shows up and reaches ACTIVE with no click or reload
        newer = personalize.create_solution_version(solutionArn=pz["solution"])["solutionVersionArn"]
        expect(page.locator(f"#pz-versions tr[data-version='{newer}']")).to_contain_text(
            "ACTIVE", timeout=120_000
        )

        # Forecast: backtest accuracy, then the p10/p50/p90 of one item as a chart and a table
        page.click(".ml-nav[data-pane=forecast]")
        predictor = page.locator(f"#fc-predictors tr[data-predictor='{fc['predictor']}']")
        expect(predictor).to_contain_text("ACTIVE")
        mase = float(predictor.locator("td").nth(6).inner_text())
        assert 0 < mase < 1.0  # better than the seasonal naive in-sample
        page.wait_for_selector(f"#fc-forecast option[value='{fc['forecast']}']", state="attached")
        page.select_option("#fc-forecast", fc["forecast"])
        page.fill("#fc-filters", "item_id=shoes")
        page.click("#fc-query")
        expect(page.locator("#fc-points tbody tr")).to_have_count(7)
        expect(page.locator("#fc-result svg.ml-chart polyline")).to_have_count(1)
        headers = page.locator("#fc-points thead th").all_inner_texts()
        assert headers == ["Date", "p10", "p50", "p90"]
        query = server.client("forecastquery").query_forecast(
            ForecastArn=fc["forecast"], Filters={"item_id": "shoes"}
        )
        expected = query["Forecast"]["Predictions"]
        for i, line in enumerate(page.locator("#fc-points tbody tr").all()):
            day, p10, p50, p90 = line.locator("td").all_inner_texts()
            assert day == expected["p50"][i]["Timestamp"][:10]
            assert float(p50) == pytest.approx(expected["p50"][i]["Value"], abs=0.01)
            assert float(p10) <= float(p50) <= float(p90)
            assert abs(float(p50) - PATTERNS["shoes"][(84 + i) % 7]) < 3  # follows the weekly pattern
        take_screenshot(page, "console-ml-forecast").assert_rendered()

        # Fraud Detector: the model's AUC, the detector's active version, and predictions for two events
        page.click(".ml-nav[data-pane=fraud]")
        model_row = page.locator(f"#fd-models tr[data-model='{fd['model']}/1.0']")
        expect(model_row).to_contain_text("ACTIVE")
        assert float(model_row.locator("td").nth(5).inner_text()) > 0.97
        expect(page.locator(f"#fd-detectors tr[data-detector='{fd['detector']}']")).to_contain_text(
            "v1 ACTIVE"
        )
        page.wait_for_selector(f"#fd-detector option[value='{fd['detector']}']", state="attached")
        page.select_option("#fd-detector", fd["detector"])
        expect(page.locator("#fd-event")).to_have_value(
            f'{{\n  "{fd["price"]}": "",\n  "{fd["email"]}": ""\n}}'
        )
        fd_client = server.client("frauddetector")
        for price, domain, outcome in (("950.00", "burner.xyz", "verify"), ("80.00", "gmail.com", "approve")):
            variables = {fd["price"]: price, fd["email"]: f"someone@{domain}"}
            page.fill("#fd-event", json.dumps(variables))
            page.click("#fd-predict")
            rule = f"{'high' if outcome == 'verify' else 'low'}_{fd['tag']}"
            expect(page.locator("#fd-result .ml-rule")).to_have_text([f"{rule}: {outcome}"])
            text = page.locator("#fd-result .ml-score").inner_text()
            score = float(text.rsplit(": ", 1)[1])
            direct = fd_client.get_event_prediction(
                detectorId=fd["detector"],
                eventId=f"direct-{uuid.uuid4().hex[:6]}",
                eventTypeName=fd["event_type"],
                entities=[{"entityType": "customer", "entityId": "direct"}],
                eventTimestamp="2024-06-01T00:00:00Z",
                eventVariables=variables,
            )
            assert score == direct["modelScores"][0]["scores"][f"{fd['model']}_insightscore"]
            assert (score > 900) == (outcome == "verify")
        take_screenshot(page, "console-ml-fraud").assert_rendered()
        assert page.outcrop_errors == [], (page.outcrop_errors, page.outcrop_failed_responses)
