"""The IAM action and resource of every served operation, after AWS's service authorization reference.

`RULES[service][operation] = (action, resource template)`: action "" is the operation's own name; the
template language is described in `actions`. A served operation missing here fails
tests/iam/test_action_map.py.
"""

from __future__ import annotations

from outcrop.iam.action_table_iam import IAM_MORE, STS_MORE
from outcrop.iam.action_table_ml import ML_SERVICES, Rule, _same

PREFIXES = {
    "bedrock": "bedrock",
    "bedrock-runtime": "bedrock",
    "bedrock-agent": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "sagemaker": "sagemaker",
    "sagemaker-runtime": "sagemaker",
    "s3": "s3",
    "iam": "iam",
    "sts": "sts",
    "kms": "kms",
    "cloudtrail": "cloudtrail",
    "lambda": "lambda",
    "logs": "logs",
    "cloudwatch": "cloudwatch",
    "comprehend": "comprehend",
    "polly": "polly",
    "rekognition": "rekognition",
    "textract": "textract",
    "transcribe": "transcribe",
    "translate": "translate",
    "frauddetector": "frauddetector",
    "personalize": "personalize",
    "personalize-runtime": "personalize",
    "personalize-events": "personalize",
    "forecast": "forecast",
    "forecastquery": "forecast",
    "application-autoscaling": "application-autoscaling",
}

_BR = "arn:aws:bedrock:{R}:{A}"
_MODEL = "{@model:modelId}"
_GUARDRAIL = _BR + ":guardrail/{guardrailIdentifier}"
_AGENT = _BR + ":agent/{agentId}"
_ALIAS = _BR + ":agent-alias/{agentId}/{agentAliasId}"
_KB = _BR + ":knowledge-base/{knowledgeBaseId}"
_FLOW = _BR + ":flow/{flowIdentifier}"
_FLOW_ALIAS = _BR + ":flow/{flowIdentifier}/alias/{aliasIdentifier}"
_PROMPT = _BR + ":prompt/{promptIdentifier}"
_SESSION = _BR + ":session/{sessionIdentifier}"


BEDROCK: dict[str, Rule] = {
    **_same(_GUARDRAIL, "CreateGuardrailVersion", "DeleteGuardrail", "GetGuardrail", "UpdateGuardrail"),
    **_same("*", "CreateGuardrail", "ListGuardrails", "ListFoundationModels", "ListInferenceProfiles"),
    **_same("*", "CreateInferenceProfile", "CreateModelInvocationJob", "ListModelInvocationJobs"),
    **_same("{resourceARN}", "ListTagsForResource", "TagResource", "UntagResource"),
    "GetFoundationModel": ("", "{@model:modelIdentifier}"),
    "GetInferenceProfile": ("", "{@model:inferenceProfileIdentifier}"),
    "DeleteInferenceProfile": ("", "{@model:inferenceProfileIdentifier}"),
    "GetModelInvocationJob": ("", _BR + ":model-invocation-job/{jobIdentifier}"),
    "StopModelInvocationJob": ("", _BR + ":model-invocation-job/{jobIdentifier}"),
    **_same(_BR + ":custom-model/{modelIdentifier}", "GetCustomModel", "DeleteCustomModel"),
    **_same("*", "ListCustomModels", "CreateModelCustomizationJob", "ListModelCustomizationJobs"),
}

BEDROCK_RUNTIME: dict[str, Rule] = {
    "InvokeModel": ("", _MODEL),
    "InvokeModelWithResponseStream": ("", _MODEL),
    "Converse": ("InvokeModel", _MODEL),
    "ConverseStream": ("InvokeModelWithResponseStream", _MODEL),
    "CountTokens": ("", _MODEL),
    "StartAsyncInvoke": ("InvokeModel", _MODEL),
    "GetAsyncInvoke": ("", "{invocationArn}"),
    "ListAsyncInvokes": ("", "*"),
    "ApplyGuardrail": ("", _GUARDRAIL),
}

BEDROCK_AGENT: dict[str, Rule] = {
    **_same("*", "CreateAgent", "ListAgents", "CreateKnowledgeBase", "ListKnowledgeBases", "CreateFlow"),
    **_same("*", "ListFlows", "CreatePrompt", "ListPrompts", "ValidateFlowDefinition"),
    **_same(_AGENT, "DeleteAgent", "GetAgent", "UpdateAgent", "PrepareAgent", "CreateAgentAlias"),
    **_same(_AGENT, "ListAgentAliases", "ListAgentVersions", "DeleteAgentVersion", "GetAgentVersion"),
    **_same(_AGENT, "CreateAgentActionGroup", "DeleteAgentActionGroup", "GetAgentActionGroup"),
    **_same(_AGENT, "UpdateAgentActionGroup", "ListAgentActionGroups", "AssociateAgentKnowledgeBase"),
    **_same(_AGENT, "DisassociateAgentKnowledgeBase", "GetAgentKnowledgeBase", "ListAgentKnowledgeBases"),
    **_same(_AGENT, "UpdateAgentKnowledgeBase"),
    **_same(_ALIAS, "DeleteAgentAlias", "GetAgentAlias", "UpdateAgentAlias"),
    **_same(_KB, "DeleteKnowledgeBase", "GetKnowledgeBase", "UpdateKnowledgeBase", "CreateDataSource"),
    **_same(_KB, "DeleteDataSource", "GetDataSource", "UpdateDataSource", "ListDataSources"),
    **_same(_KB, "GetIngestionJob", "ListIngestionJobs", "StartIngestionJob", "StopIngestionJob"),
    **_same(_KB, "DeleteKnowledgeBaseDocuments", "GetKnowledgeBaseDocuments"),
    **_same(_KB, "IngestKnowledgeBaseDocuments", "ListKnowledgeBaseDocuments"),
    **_same(_FLOW, "DeleteFlow", "GetFlow", "UpdateFlow", "PrepareFlow", "CreateFlowVersion"),
    **_same(_FLOW, "DeleteFlowVersion", "GetFlowVersion", "ListFlowVersions", "CreateFlowAlias"),
    **_same(_FLOW, "ListFlowAliases"),
    **_same(_FLOW_ALIAS, "DeleteFlowAlias", "GetFlowAlias", "UpdateFlowAlias"),
    **_same(_PROMPT, "DeletePrompt", "GetPrompt", "UpdatePrompt", "CreatePromptVersion"),
    **_same("{resourceArn}", "ListTagsForResource", "TagResource", "UntagResource"),
}

BEDROCK_AGENT_RUNTIME: dict[str, Rule] = {
    **_same(_ALIAS, "InvokeAgent", "GetAgentMemory", "DeleteAgentMemory"),
    "InvokeFlow": ("", _BR + ":flow/{flowIdentifier}/alias/{flowAliasIdentifier}"),
    "Retrieve": ("", _KB),
    **_same("*", "RetrieveAndGenerate", "Rerank", "InvokeInlineAgent"),
    "RetrieveAndGenerateStream": ("RetrieveAndGenerate", "*"),
    **_same("*", "CreateSession", "ListSessions"),
    **_same(_SESSION, "GetSession", "UpdateSession", "EndSession", "DeleteSession", "CreateInvocation"),
    **_same(_SESSION, "ListInvocations", "PutInvocationStep", "GetInvocationStep", "ListInvocationSteps"),
    **_same("{resourceArn}", "TagResource", "UntagResource", "ListTagsForResource"),
}

_SM = "arn:aws:sagemaker:{R}:{A}"
_ENDPOINT = _SM + ":endpoint/{EndpointName|lower}"
_CONFIG = _SM + ":endpoint-config/{EndpointConfigName|lower}"
_SM_MODEL = _SM + ":model/{ModelName|lower}"
_JOB = _SM + ":training-job/{TrainingJobName|lower}"
_GROUP = _SM + ":model-package-group/{ModelPackageGroupName|lower}"
_PIPELINE = _SM + ":pipeline/{PipelineName|lower}"
_TUNING = _SM + ":hyper-parameter-tuning-job/{HyperParameterTuningJobName|lower}"
_PROCESSING = _SM + ":processing-job/{ProcessingJobName|lower}"
_TRANSFORM = _SM + ":transform-job/{TransformJobName|lower}"

SAGEMAKER: dict[str, Rule] = {
    **_same(_ENDPOINT, "CreateEndpoint", "DeleteEndpoint", "DescribeEndpoint", "UpdateEndpoint"),
    **_same(_ENDPOINT, "UpdateEndpointWeightsAndCapacities"),
    **_same(_CONFIG, "CreateEndpointConfig", "DeleteEndpointConfig", "DescribeEndpointConfig"),
    **_same(_SM_MODEL, "CreateModel", "DeleteModel", "DescribeModel"),
    **_same(_JOB, "CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"),
    **_same(_GROUP, "CreateModelPackageGroup", "DeleteModelPackageGroup", "DescribeModelPackageGroup"),
    "CreateModelPackage": ("", _SM + ":model-package/{ModelPackageGroupName|lower}/*"),
    **_same(_SM + ":model-package/{ModelPackageName|lower}", "DeleteModelPackage", "DescribeModelPackage"),
    "UpdateModelPackage": ("", "{ModelPackageArn}"),
    **_same("{ResourceArn}", "AddTags", "DeleteTags", "ListTags"),
    **_same("*", "ListEndpointConfigs", "ListEndpoints", "ListModelPackageGroups", "ListModelPackages"),
    **_same("*", "ListModels", "ListTrainingJobs"),
    **_same(_PROCESSING, "CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"),
    **_same(_TRANSFORM, "CreateTransformJob", "DescribeTransformJob", "StopTransformJob"),
    **_same("*", "ListProcessingJobs", "ListTransformJobs"),
    **_same(_PIPELINE, "CreatePipeline", "DeletePipeline", "DescribePipeline", "UpdatePipeline"),
    **_same(_PIPELINE, "StartPipelineExecution", "ListPipelineExecutions"),
    **_same("{PipelineExecutionArn}", "DescribePipelineExecution", "ListPipelineExecutionSteps"),
    **_same("{PipelineExecutionArn}", "StopPipelineExecution", "RetryPipelineExecution"),
    **_same("{PipelineExecutionArn}", "DescribePipelineDefinitionForExecution"),
    **_same(_TUNING, "CreateHyperParameterTuningJob", "DescribeHyperParameterTuningJob"),
    **_same(_TUNING, "StopHyperParameterTuningJob", "ListTrainingJobsForHyperParameterTuningJob"),
    **_same("*", "ListPipelines", "ListHyperParameterTuningJobs"),
}

SAGEMAKER_RUNTIME: dict[str, Rule] = {
    "InvokeEndpoint": ("", _ENDPOINT),
    "InvokeEndpointAsync": ("", _ENDPOINT),
    "InvokeEndpointWithResponseStream": ("InvokeEndpoint", _ENDPOINT),
}

_BUCKET = "arn:aws:s3:::{Bucket}"
_OBJECT = "arn:aws:s3:::{Bucket}/{Key}"

S3: dict[str, Rule] = {
    **_same(_BUCKET, "CreateBucket", "DeleteBucket", "GetBucketLocation", "GetBucketVersioning"),
    "HeadBucket": ("ListBucket", _BUCKET),
    "ListObjects": ("ListBucket", _BUCKET),
    "ListObjectsV2": ("ListBucket", _BUCKET),
    "ListBuckets": ("ListAllMyBuckets", "arn:aws:s3:::*"),  # what S3 authorizes it on (AWS policy examples)
    "ListMultipartUploads": ("ListBucketMultipartUploads", _BUCKET),
    **_same(_OBJECT, "GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"),
    **_same(_OBJECT, "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "HeadObject": ("GetObject", _OBJECT),
    "CopyObject": ("PutObject", _OBJECT),
    "DeleteObjects": ("DeleteObject", "arn:aws:s3:::{Bucket}/*"),
    "CreateMultipartUpload": ("PutObject", _OBJECT),
    "UploadPart": ("PutObject", _OBJECT),
    "UploadPartCopy": ("PutObject", _OBJECT),
    "CompleteMultipartUpload": ("PutObject", _OBJECT),
    "ListParts": ("ListMultipartUploadParts", _OBJECT),
    **_same(_BUCKET, "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus"),
    **_same(_BUCKET, "GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"),
}

_IAM = "arn:aws:iam::{A}"
_USER = _IAM + ":user/{UserName}"
_IAM_GROUP = _IAM + ":group/{GroupName}"
_ROLE = _IAM + ":role/{RoleName}"

IAM: dict[str, Rule] = {
    **_same(_USER, "CreateUser", "GetUser", "DeleteUser", "ListGroupsForUser", "CreateAccessKey"),
    **_same(_USER, "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey", "PutUserPolicy"),
    **_same(_USER, "GetUserPolicy", "DeleteUserPolicy", "ListUserPolicies", "AttachUserPolicy"),
    **_same(_USER, "DetachUserPolicy", "ListAttachedUserPolicies"),
    **_same(_IAM_GROUP, "CreateGroup", "GetGroup", "DeleteGroup", "AddUserToGroup", "RemoveUserFromGroup"),
    **_same(_IAM_GROUP, "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies"),
    **_same(_IAM_GROUP, "AttachGroupPolicy", "DetachGroupPolicy", "ListAttachedGroupPolicies"),
    **_same(_ROLE, "CreateRole", "GetRole", "DeleteRole", "UpdateRole", "UpdateAssumeRolePolicy"),
    **_same(_ROLE, "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies"),
    **_same(_ROLE, "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies"),
    **_same(_USER, "TagUser", "UntagUser", "ListUserTags"),
    **_same(_USER, "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary"),
    **_same(_ROLE, "TagRole", "UntagRole", "ListRoleTags"),
    **_same(_ROLE, "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary"),
    **_same("{PolicyArn}", "TagPolicy", "UntagPolicy", "ListPolicyTags"),
    "CreatePolicy": ("", _IAM + ":policy/{PolicyName}"),
    **_same("{PolicyArn}", "GetPolicy", "DeletePolicy", "CreatePolicyVersion", "GetPolicyVersion"),
    **_same("{PolicyArn}", "ListPolicyVersions", "DeletePolicyVersion", "SetDefaultPolicyVersion"),
    **_same("{PolicyArn}", "ListEntitiesForPolicy"),
    **_same("*", "ListUsers", "ListGroups", "ListRoles", "ListPolicies", "GetAccountAuthorizationDetails"),
    **_same("*", "GetAccessKeyLastUsed", "SimulateCustomPolicy"),
    "SimulatePrincipalPolicy": ("", "{PolicySourceArn}"),
    **IAM_MORE,
}

STS: dict[str, Rule] = {
    "AssumeRole": ("", "{RoleArn}"),
    "AssumeRoleWithWebIdentity": ("", "{RoleArn}"),
    **_same("*", "GetCallerIdentity", "GetSessionToken"),
    **STS_MORE,
}

_KEY = "{@kms:KeyId}"
_KMS_ALIAS = "arn:aws:kms:{R}:{A}:{AliasName}"

KMS: dict[str, Rule] = {
    **_same(_KEY, "CancelKeyDeletion", "CreateGrant", "DescribeKey", "DisableKey", "DisableKeyRotation"),
    **_same(_KEY, "EnableKey", "EnableKeyRotation", "Encrypt", "GenerateDataKey", "GetKeyPolicy"),
    **_same(_KEY, "GenerateDataKeyWithoutPlaintext", "GetKeyRotationStatus", "ListGrants"),
    **_same(_KEY, "ListKeyPolicies", "ListKeyRotations", "ListResourceTags", "PutKeyPolicy"),
    **_same(_KEY, "RevokeGrant", "RotateKeyOnDemand", "ScheduleKeyDeletion", "TagResource"),
    **_same(_KEY, "UntagResource", "UpdateKeyDescription", "Decrypt", "GenerateDataKeyPair"),
    **_same(_KEY, "Sign", "Verify", "GetPublicKey", "GenerateMac", "VerifyMac"),
    **_same(_KEY, "GenerateDataKeyPairWithoutPlaintext"),
    "ReEncrypt": ("ReEncryptTo", "{@kms:DestinationKeyId}"),
    **_same(_KMS_ALIAS, "CreateAlias", "DeleteAlias", "UpdateAlias"),
    **_same("*", "CreateKey", "GenerateRandom", "ListAliases", "ListKeys", "RetireGrant"),
}

_TRAIL = "arn:aws:cloudtrail:{R}:{A}:trail/{Name}"
_TRAIL_BY_NAME = "arn:aws:cloudtrail:{R}:{A}:trail/{TrailName}"

CLOUDTRAIL: dict[str, Rule] = {
    **_same(_TRAIL, "CreateTrail", "DeleteTrail", "GetTrailStatus", "StartLogging", "StopLogging"),
    **_same(_TRAIL, "UpdateTrail", "GetTrail"),
    **_same(_TRAIL_BY_NAME, "GetEventSelectors", "PutEventSelectors", "GetInsightSelectors"),
    **_same("*", "DescribeTrails", "ListTrails", "LookupEvents"),
    **_same("{ResourceId}", "AddTags", "RemoveTags"),
    "ListTags": ("", "*"),
}

_FUNCTION = "arn:aws:lambda:{R}:{A}:function:{FunctionName}"

LAMBDA: dict[str, Rule] = {
    **_same(_FUNCTION, "CreateFunction", "DeleteFunction", "GetFunction", "GetFunctionConfiguration"),
    **_same(_FUNCTION, "UpdateFunctionCode", "UpdateFunctionConfiguration"),
    **_same(_FUNCTION, "AddPermission", "RemovePermission", "GetPolicy"),
    **_same(_FUNCTION, "PublishVersion", "ListVersionsByFunction"),
    "Invoke": ("InvokeFunction", _FUNCTION),
    "InvokeWithResponseStream": ("InvokeFunction", _FUNCTION),
    "ListFunctions": ("", "*"),
}

_LOG_GROUP = "arn:aws:logs:{R}:{A}:log-group:{logGroupName}"
_LOG_STREAM = _LOG_GROUP + ":log-stream:{logStreamName}"

LOGS: dict[str, Rule] = {
    **_same(_LOG_GROUP, "CreateLogGroup", "DeleteLogGroup", "DeleteRetentionPolicy", "PutRetentionPolicy"),
    **_same(_LOG_GROUP, "ListTagsLogGroup", "TagLogGroup", "UntagLogGroup", "DescribeLogStreams"),
    **_same(_LOG_GROUP, "FilterLogEvents", "AssociateKmsKey", "DisassociateKmsKey"),
    **_same(_LOG_STREAM, "CreateLogStream", "DeleteLogStream", "PutLogEvents", "GetLogEvents"),
    **_same("{resourceArn}", "ListTagsForResource", "TagResource", "UntagResource"),
    "DescribeLogGroups": ("", "*"),
    **_same(_LOG_GROUP, "StartQuery", "GetLogGroupFields"),  # logGroupName; * for lists or identifiers
    **_same("*", "GetQueryResults", "StopQuery", "DescribeQueries"),
}

_COLLECTION = "arn:aws:rekognition:{R}:{A}:collection/{CollectionId}"

SIMPLE: dict[str, dict[str, Rule]] = {
    "application-autoscaling": _same(
        "*",  # scalable targets are named by namespace, resource id and dimension, not by an ARN
        "RegisterScalableTarget",
        "DeregisterScalableTarget",
        "DescribeScalableTargets",
        "PutScalingPolicy",
        "DeleteScalingPolicy",
        "DescribeScalingPolicies",
        "DescribeScalingActivities",
    ),
    "cloudwatch": _same("*", "GetMetricData", "GetMetricStatistics", "ListMetrics", "PutMetricData"),
    "comprehend": _same(
        "*",
        "BatchDetectDominantLanguage",
        "BatchDetectEntities",
        "BatchDetectKeyPhrases",
        "BatchDetectSentiment",
        "BatchDetectSyntax",
        "ContainsPiiEntities",
        "DetectDominantLanguage",
        "DetectEntities",
        "DetectKeyPhrases",
        "DetectPiiEntities",
        "DetectSentiment",
        "DetectSyntax",
        "DetectToxicContent",
        "ListTopicsDetectionJobs",
        "StartTopicsDetectionJob",
        "ListDocumentClassifiers",
        "ListDocumentClassificationJobs",
        "StartDocumentClassificationJob",
        "ListEndpoints",
    )
    | _same(
        "arn:aws:comprehend:{R}:{A}:document-classifier/{DocumentClassifierName}", "CreateDocumentClassifier"
    )
    | _same("arn:aws:comprehend:{R}:{A}:document-classifier-endpoint/{EndpointName}", "CreateEndpoint")
    | _same(
        "{DocumentClassifierArn}",
        "DescribeDocumentClassifier",
        "DeleteDocumentClassifier",
        "StopTrainingDocumentClassifier",
    )
    | _same("arn:aws:comprehend:{R}:{A}:topics-detection-job/{JobId}", "DescribeTopicsDetectionJob")
    | _same(
        "arn:aws:comprehend:{R}:{A}:document-classification-job/{JobId}", "DescribeDocumentClassificationJob"
    )
    | _same("{EndpointArn}", "ClassifyDocument", "DescribeEndpoint", "DeleteEndpoint", "UpdateEndpoint"),
    "polly": {
        **_same("arn:aws:polly:{R}:{A}:lexicon/{Name}", "DeleteLexicon", "GetLexicon", "PutLexicon"),
        **_same("*", "DescribeVoices", "GetSpeechSynthesisTask", "ListLexicons", "ListSpeechSynthesisTasks"),
        **_same("*", "StartSpeechSynthesisTask", "SynthesizeSpeech"),
    },
    "rekognition": {
        **_same(_COLLECTION, "CreateCollection", "DeleteCollection", "DeleteFaces", "DescribeCollection"),
        **_same(_COLLECTION, "IndexFaces", "ListFaces", "SearchFaces", "SearchFacesByImage"),
        **_same("{ResourceArn}", "ListTagsForResource", "TagResource", "UntagResource"),
        **_same("*", "CompareFaces", "DetectFaces", "DetectLabels", "DetectModerationLabels", "DetectText"),
        **_same("*", "RecognizeCelebrities", "GetCelebrityInfo"),
        **_same("*", "ListCollections"),
    },
    "textract": _same(
        "*",
        "AnalyzeDocument",
        "DetectDocumentText",
        "GetDocumentAnalysis",
        "GetDocumentTextDetection",
        "StartDocumentAnalysis",
        "StartDocumentTextDetection",
    ),
    "transcribe": {
        **_same(
            "arn:aws:transcribe:{R}:{A}:transcription-job/{TranscriptionJobName}",
            "DeleteTranscriptionJob",
            "GetTranscriptionJob",
            "StartTranscriptionJob",
        ),
        **_same(
            "arn:aws:transcribe:{R}:{A}:vocabulary/{VocabularyName}",
            "CreateVocabulary",
            "DeleteVocabulary",
            "GetVocabulary",
            "UpdateVocabulary",
        ),
        **_same("*", "ListTranscriptionJobs", "ListVocabularies"),
    },
    "translate": {
        **_same(
            "arn:aws:translate:{R}:{A}:terminology/{Name}",
            "DeleteTerminology",
            "GetTerminology",
            "ImportTerminology",
        ),
        **_same("*", "ListLanguages", "ListTerminologies", "TranslateDocument", "TranslateText"),
    },
}

RULES: dict[str, dict[str, Rule]] = {
    "bedrock": BEDROCK,
    "bedrock-runtime": BEDROCK_RUNTIME,
    "bedrock-agent": BEDROCK_AGENT,
    "bedrock-agent-runtime": BEDROCK_AGENT_RUNTIME,
    "sagemaker": SAGEMAKER,
    "sagemaker-runtime": SAGEMAKER_RUNTIME,
    "s3": S3,
    "iam": IAM,
    "sts": STS,
    "kms": KMS,
    "cloudtrail": CLOUDTRAIL,
    "lambda": LAMBDA,
    "logs": LOGS,
    **SIMPLE,
    **ML_SERVICES,
}
