# Placeholder mirroring ai-dynamo/dynamo v0.3.2 examples/sglang/graphs/agg.py.
# The Dynamo stand-in never imports it: `dynamo serve` reads it with ast (classes, .link() graph).
from components.frontend import Frontend
from components.worker import SGLangWorker

Frontend.link(SGLangWorker)
