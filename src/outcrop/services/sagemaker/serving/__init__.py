"""Serving SageMaker endpoints: a worker process per variant instance that runs the user's inference script.

`wire` frames messages on the socket between server and worker; `codecs` and `handlers` are the inference
toolkits' defaults (they run inside the worker); `worker` is the worker's main loop; `process` starts and
watches workers from the server side; `endpoint` splits traffic and keeps multi-model endpoints' LRU;
`metrics` counts invocations per variant; `spec` is the variant the control plane asks for.
"""
