#!/usr/bin/env python3
"""Stand-in for ai-dynamo/dynamo v0.3.2 examples/sglang/components/worker.py: the SGLang prefill (or,
without --disaggregation-mode, aggregated) worker. Run it like upstream, from examples/sglang:

    python3 components/worker.py --model-path M --served-model-name N [--disaggregation-mode prefill] ...

It registers dynamo.worker.generate with the model; in prefill mode it hands each request to a
dynamo.decode.generate instance (components/decode_worker.py) itself. Flags: the 0.3.2 SGLang
ServerArgs table (testbed/runtime/flags/releases.json). See dynamo/_entry.py main_sglang_script.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), *[os.pardir] * 4, "python"))
from dynamo._entry import main_sglang_script  # noqa: E402

sys.exit(main_sglang_script("worker"))
