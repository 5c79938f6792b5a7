"""Amazon SageMaker: `provider` holds the `sagemaker` control plane's operations, the rest is its domain.

`training` runs jobs that run the user's script; `hosting` runs endpoints (one worker process per production
variant). `provider` (control plane) and `outcrop.services.sagemaker_runtime` (InvokeEndpoint) are thin
translations onto these. Keep this file free of imports: endpoint workers start as
`python -m outcrop.services.sagemaker.serving.worker` and should load nothing they do not use.
"""
