# Placeholder mirroring ai-dynamo/dynamo v0.3.2 examples/vllm_v1/components/simple_load_balancer.py.
# The Dynamo stand-in never imports it: `dynamo serve` reads it with ast (classes, .link() graph).
from dynamo.sdk import service


@service(dynamo={"namespace": "dynamo"})
class SimpleLoadBalancer:
    """Routes to VllmDecodeWorker; with enable_disagg, prefill goes to VllmPrefillWorker first."""
