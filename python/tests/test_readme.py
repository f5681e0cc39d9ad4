"""The README's examples are the files the tests run: check they match, and run the Python one.

examples/quickstart.py runs here; examples/c/quickstart.c is built and run by Tests/CTests/run.sh;
the Swift snippet is the body of Tests/TNSwiftTests/ReadmeExampleTests.swift (run by swift test).
"""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language):
    return re.findall(r"```" + language + r"\n(.*?)```", README, flags=re.S)


def test_python_example_is_in_readme_and_runs():
    code = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    assert code in blocks("python")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    cost, largest = result.stdout.split()
    assert float(cost) > 0 and int(largest) > 0


def test_c_example_is_in_readme():
    code = (ROOT / "examples" / "c" / "quickstart.c").read_text(encoding="utf-8")
    assert code in blocks("c")


def test_swift_example_is_the_tested_code():
    test = (ROOT / "Tests" / "TNSwiftTests" / "ReadmeExampleTests.swift").read_text(encoding="utf-8")
    snippet = test.split("// README-SWIFT-BEGIN\n")[1].split("// README-SWIFT-END")[0]
    snippet = textwrap.dedent(snippet.rstrip(" "))
    assert snippet in blocks("swift")
