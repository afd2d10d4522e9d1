"""Tests of the Dynamo stand-in (a package so that `unittest discover -t testbed/runtime` works)."""
