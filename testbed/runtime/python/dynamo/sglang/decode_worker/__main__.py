"""python3 -m dynamo.sglang.decode_worker"""
import sys

from dynamo._entry import main_sglang_decode_worker

sys.exit(main_sglang_decode_worker())
