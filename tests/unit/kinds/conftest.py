"""The kinds' own unit tests: ``tests/unit/kinds/<kind>/test_<kind>_*.py``.

Each kind's folder holds the tests about that kind only, beside their data: ``bad/`` (scenario
files its settings parser refuses), ``golden/<scenario>/<node>/`` (what its renderer writes for
the nodes of that kind, kept by ``tests/unit/test_render.py``) and ``data/`` (output read from
real containers, see ``README.md`` here). Test files carry the kind's name because pytest
imports them by file name. Helpers shared by several kinds are in ``kindtests.py``: pytest puts
this folder on ``sys.path`` when it loads this file, so ``from kindtests import ...`` works
whichever test is run.
"""
