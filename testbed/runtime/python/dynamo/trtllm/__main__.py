"""python3 -m dynamo.trtllm"""
import sys

from dynamo._entry import main_trtllm

sys.exit(main_trtllm())
