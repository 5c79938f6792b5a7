"""The IAM action and resource of the customizable ML services' operations (Fraud Detector, Personalize,
Forecast), beside `action_table`, which merges them into `RULES`."""

from __future__ import annotations

Rule = tuple[str, str]


def _same(template: str, *operations: str) -> dict[str, Rule]:
    """Operations whose IAM action is their own name, on one resource."""
    return {operation: ("", template) for operation in operations}


_FD = "arn:aws:frauddetector:{R}:{A}"
FRAUDDETECTOR: dict[str, Rule] = {
    **_same(_FD + ":detector/{detectorId}", "PutDetector", "DescribeDetector", "DeleteDetector"),
    **_same(_FD + ":detector/{detectorId}", "CreateRule"),
    **_same(_FD + ":detector/{detectorId}", "GetRules", "CreateDetectorVersion", "GetEventPrediction"),
    **_same(_FD + ":detector-version/{detectorId}/{detectorVersionId}", "GetDetectorVersion"),
    **_same(_FD + ":detector-version/{detectorId}/{detectorVersionId}", "UpdateDetectorVersion"),
    **_same(_FD + ":detector-version/{detectorId}/{detectorVersionId}", "UpdateDetectorVersionMetadata"),
    **_same(_FD + ":detector-version/{detectorId}/{detectorVersionId}", "UpdateDetectorVersionStatus"),
    **_same(_FD + ":detector-version/{detectorId}/{detectorVersionId}", "DeleteDetectorVersion"),
    **_same(_FD + ":variable/{name}", "CreateVariable", "UpdateVariable", "DeleteVariable"),
    **_same(_FD + ":label/{name}", "PutLabel", "DeleteLabel"),
    **_same(_FD + ":outcome/{name}", "PutOutcome", "DeleteOutcome"),
    **_same(_FD + ":entity-type/{name}", "PutEntityType", "DeleteEntityType"),
    **_same(_FD + ":event-type/{name}", "PutEventType", "DeleteEventType"),
    **_same(_FD + ":event-type/{eventTypeName}", "SendEvent", "GetEvent", "DeleteEvent", "UpdateEventLabel"),
    **_same(_FD + ":event-type/{eventTypeName}", "CreateBatchImportJob"),
    **_same(_FD + ":event-type/{eventTypeName}", "DeleteEventsByEventType"),
    **_same(_FD + ":event-type/{eventTypeName}", "GetDeleteEventsByEventTypeStatus"),
    **_same(_FD + ":model/{modelType}/{modelId}", "CreateModel", "UpdateModel", "DeleteModel"),
    **_same(_FD + ":model/{modelType}/{modelId}", "CreateModelVersion"),
    **_same(_FD + ":model-version/{modelType}/{modelId}/{modelVersionNumber}", "GetModelVersion"),
    **_same(_FD + ":model-version/{modelType}/{modelId}/{modelVersionNumber}", "UpdateModelVersionStatus"),
    **_same(_FD + ":model-version/{modelType}/{modelId}/{modelVersionNumber}", "DeleteModelVersion"),
    **_same(_FD + ":batch-import/{jobId}", "CancelBatchImportJob", "DeleteBatchImportJob"),
    **_same(_FD + ":batch-prediction/{jobId}", "CreateBatchPredictionJob", "CancelBatchPredictionJob"),
    **_same(_FD + ":batch-prediction/{jobId}", "DeleteBatchPredictionJob"),
    **_same("*", "GetBatchPredictionJobs"),
    **_same("{resourceARN}", "ListTagsForResource", "TagResource", "UntagResource"),
    **_same("*", "BatchCreateVariable", "BatchGetVariable", "GetVariables", "GetLabels", "GetOutcomes"),
    **_same("*", "GetEntityTypes", "GetEventTypes", "GetModels", "DescribeModelVersions", "GetDetectors"),
    **_same("*", "GetBatchImportJobs", "ListEventPredictions", "GetEventPredictionMetadata"),
    **_same("*", "UpdateRuleVersion", "UpdateRuleMetadata", "DeleteRule"),
    **_same(_FD + ":list/{name}", "CreateList", "GetListElements", "UpdateList", "DeleteList"),
    **_same("*", "GetListsMetadata", "GetKMSEncryptionKey", "PutKMSEncryptionKey"),
}

_PZ = "arn:aws:personalize:{R}:{A}"
PERSONALIZE: dict[str, Rule] = {
    "CreateDatasetGroup": ("", _PZ + ":dataset-group/{name}"),
    "CreateSchema": ("", _PZ + ":schema/{name}"),
    "CreateFilter": ("", _PZ + ":filter/{name}"),
    "CreateSolution": ("", _PZ + ":solution/{name}"),
    "CreateCampaign": ("", _PZ + ":campaign/{name}"),
    "CreateRecommender": ("", _PZ + ":recommender/{name}"),
    "CreateDatasetImportJob": ("", _PZ + ":dataset-import-job/{jobName}"),
    "CreateBatchInferenceJob": ("", _PZ + ":batch-inference-job/{jobName}"),
    "CreateDatasetExportJob": ("", _PZ + ":dataset-export-job/{jobName}"),
    "CreateDataDeletionJob": ("", _PZ + ":data-deletion-job/{jobName}"),
    **_same("{datasetExportJobArn}", "DescribeDatasetExportJob"),
    **_same("{dataDeletionJobArn}", "DescribeDataDeletionJob"),
    **_same("{datasetGroupArn}", "CreateDataset", "CreateEventTracker", "DescribeDatasetGroup"),
    **_same("{datasetGroupArn}", "DeleteDatasetGroup"),
    **_same("{schemaArn}", "DescribeSchema", "DeleteSchema"),
    **_same("{datasetArn}", "DescribeDataset", "DeleteDataset"),
    **_same("{datasetImportJobArn}", "DescribeDatasetImportJob"),
    **_same("{eventTrackerArn}", "DescribeEventTracker", "DeleteEventTracker"),
    **_same("{filterArn}", "DescribeFilter", "DeleteFilter"),
    **_same("{solutionArn}", "DescribeSolution", "DeleteSolution", "CreateSolutionVersion"),
    **_same("{solutionVersionArn}", "DescribeSolutionVersion", "GetSolutionMetrics"),
    **_same("{solutionVersionArn}", "StopSolutionVersionCreation"),
    **_same("{campaignArn}", "DescribeCampaign", "UpdateCampaign", "DeleteCampaign"),
    **_same("{recommenderArn}", "DescribeRecommender", "UpdateRecommender", "DeleteRecommender"),
    **_same("{recommenderArn}", "StartRecommender", "StopRecommender"),
    **_same("{batchInferenceJobArn}", "DescribeBatchInferenceJob"),
    **_same("{recipeArn}", "DescribeRecipe"),
    **_same("{resourceArn}", "ListTagsForResource", "TagResource", "UntagResource"),
    **_same("*", "ListDatasetGroups", "ListSchemas", "ListDatasets", "ListDatasetImportJobs", "ListFilters"),
    **_same("*", "ListEventTrackers", "ListSolutions", "ListSolutionVersions", "ListCampaigns"),
    **_same("*", "ListRecommenders", "ListBatchInferenceJobs", "ListRecipes"),
    **_same("*", "ListDatasetExportJobs", "ListDataDeletionJobs"),
}
PERSONALIZE_RUNTIME: dict[str, Rule] = {
    "GetRecommendations": ("", "{campaignArn}"),  # by recommenderArn: no campaign, so "*"
    "GetPersonalizedRanking": ("", "{campaignArn}"),
}
PERSONALIZE_EVENTS: dict[str, Rule] = {
    "PutEvents": ("", "*"),  # named by a tracking id, not an ARN
    **_same("{datasetArn}", "PutItems", "PutUsers"),
}

_FC = "arn:aws:forecast:{R}:{A}"
FORECAST: dict[str, Rule] = {
    "CreateDatasetGroup": ("", _FC + ":dataset-group/{DatasetGroupName}"),
    "CreateDataset": ("", _FC + ":dataset/{DatasetName}"),
    "CreateDatasetImportJob": ("", "{DatasetArn}"),
    "CreateAutoPredictor": ("", _FC + ":predictor/{PredictorName}"),
    "CreatePredictor": ("", _FC + ":predictor/{PredictorName}"),
    "CreateForecast": ("", "{PredictorArn}"),
    "CreateForecastExportJob": ("", "{ForecastArn}"),
    "CreateWhatIfAnalysis": ("", "{ForecastArn}"),
    **_same("{DatasetGroupArn}", "DescribeDatasetGroup", "DeleteDatasetGroup", "UpdateDatasetGroup"),
    **_same("{DatasetArn}", "DescribeDataset", "DeleteDataset"),
    **_same("{DatasetImportJobArn}", "DescribeDatasetImportJob", "DeleteDatasetImportJob"),
    **_same("{PredictorArn}", "DescribeAutoPredictor", "DescribePredictor", "DeletePredictor"),
    **_same("{PredictorArn}", "GetAccuracyMetrics"),
    **_same("{ForecastArn}", "DescribeForecast", "DeleteForecast"),
    **_same("{ForecastExportJobArn}", "DescribeForecastExportJob", "DeleteForecastExportJob"),
    "CreatePredictorBacktestExportJob": ("", "{PredictorArn}"),
    **_same("{PredictorBacktestExportJobArn}", "DescribePredictorBacktestExportJob"),
    **_same("{PredictorBacktestExportJobArn}", "DeletePredictorBacktestExportJob"),
    "ListPredictorBacktestExportJobs": ("", "*"),
    **_same("{ResourceArn}", "ListTagsForResource", "TagResource", "UntagResource"),
    **_same("*", "ListDatasetGroups", "ListDatasetImportJobs", "ListDatasets", "ListForecastExportJobs"),
    **_same("*", "ListForecasts", "ListPredictors"),
}
FORECASTQUERY: dict[str, Rule] = {
    "QueryForecast": ("", "{ForecastArn}"),
    "QueryWhatIfForecast": ("", "{WhatIfForecastArn}"),
}

ML_SERVICES: dict[str, dict[str, Rule]] = {
    "frauddetector": FRAUDDETECTOR,
    "personalize": PERSONALIZE,
    "personalize-runtime": PERSONALIZE_RUNTIME,
    "personalize-events": PERSONALIZE_EVENTS,
    "forecast": FORECAST,
    "forecastquery": FORECASTQUERY,
}
