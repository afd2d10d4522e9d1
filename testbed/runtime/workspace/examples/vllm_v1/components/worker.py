# Placeholder mirroring ai-dynamo/dynamo v0.3.2 examples/vllm_v1/components/worker.py.
# The Dynamo stand-in never imports it: `dynamo serve` reads it with ast (classes, .link() graph).
from dynamo.sdk import service


@service(dynamo={"namespace": "dynamo"}, resources={"gpu": 1})
class VllmPrefillWorker:
    """vLLM engine in prefill role (NixlConnector KV producer)."""


@service(dynamo={"namespace": "dynamo"}, resources={"gpu": 1})
class VllmDecodeWorker:
    """vLLM engine in decode role (aggregated when no prefill worker is linked)."""
