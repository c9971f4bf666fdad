"""Programs that run inside the topology's sink/client containers (and on the host in tests).

They import nothing from the harness: the sink image copies this folder as it is.
"""
