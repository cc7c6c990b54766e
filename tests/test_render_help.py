"""`python -m tools.render --help` prints the module's whole description, layout included."""

import subprocess
import sys

from tools import render
from tools.mocks import ROOT


def test_help_prints_the_whole_description_as_written():
    shown = subprocess.run([sys.executable, "-m", "tools.render", "--help"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
    for line in render.__doc__.strip().splitlines():
        assert line.rstrip() in shown, line
