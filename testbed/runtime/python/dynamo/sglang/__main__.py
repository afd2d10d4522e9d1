"""python3 -m dynamo.sglang"""
import sys

from dynamo._entry import main_sglang

sys.exit(main_sglang())
