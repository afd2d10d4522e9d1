"""python3 -m dynamo.vllm"""
import sys

from dynamo._entry import main_vllm

sys.exit(main_vllm())
