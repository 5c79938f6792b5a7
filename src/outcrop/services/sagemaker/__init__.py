"""SageMaker's domain: training jobs that run the user's script, and endpoints that serve its model.

`training` runs jobs; `hosting` runs endpoints (one worker process per production variant). The services
`sagemaker` (control plane) and `sagemaker-runtime` (InvokeEndpoint) are thin translations onto these.
"""
