#!/usr/bin/env python3
"""Stand-in for ai-dynamo/dynamo v0.3.2 examples/sglang/components/decode_worker.py: the SGLang decode
worker. Run it like upstream, from examples/sglang:

    python3 components/decode_worker.py --model-path M --served-model-name N --disaggregation-mode decode ...

It registers dynamo.decode.generate and no model: only components/worker.py (prefill) calls it.
Flags: the 0.3.2 SGLang ServerArgs table. See dynamo/_entry.py main_sglang_script.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), *[os.pardir] * 4, "python"))
from dynamo._entry import main_sglang_script  # noqa: E402

sys.exit(main_sglang_script("decode"))
