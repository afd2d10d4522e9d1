# Placeholder mirroring ai-dynamo/dynamo v0.3.2 examples/tensorrt_llm/components/prefill_worker.py.
# The Dynamo stand-in never imports it: `dynamo serve` reads it with ast (classes, .link() graph).
from dynamo.sdk import service


@service(dynamo={"namespace": "dynamo"}, resources={"gpu": 1})
class TensorRTLLMPrefillWorker:
    """TRT-LLM engine in prefill role."""
