"""A directory put on the PYTHONPATH of every job: its sitecustomize maps /opt/ml (see there).

A package only so that it ships with the distribution; nothing imports it.
"""
