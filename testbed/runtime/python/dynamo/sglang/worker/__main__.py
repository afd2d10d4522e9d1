"""python3 -m dynamo.sglang.worker"""
import sys

from dynamo._entry import main_sglang_worker

sys.exit(main_sglang_worker())
