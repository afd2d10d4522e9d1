# Placeholder mirroring ai-dynamo/dynamo v0.3.2 examples/vllm_v1/graphs/agg.py.
# The Dynamo stand-in never imports it: `dynamo serve` reads it with ast (classes, .link() graph).
from components.frontend import Frontend
from components.simple_load_balancer import SimpleLoadBalancer
from components.worker import VllmDecodeWorker

load_balancer = Frontend.link(SimpleLoadBalancer)
load_balancer.link(VllmDecodeWorker)
