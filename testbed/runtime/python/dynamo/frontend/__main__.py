"""python3 -m dynamo.frontend"""
import sys

from dynamo._entry import main_frontend

sys.exit(main_frontend())
