"""python3 -m dynamo.mocker"""
import sys

from dynamo._entry import main_mocker

sys.exit(main_mocker())
