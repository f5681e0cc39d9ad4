"""Build script for the tnswift Python package.

``pip install .`` runs, from the repository root:

1. ``swift build -c release --product tnswift --scratch-path .build-static -Xswiftc -static-stdlib
   -Xswiftc -enforce-exclusivity=unchecked`` (the flags the Makefile uses too)
   (a self-contained libtnswift.so);
2. copies ``.build-static/release/libtnswift.so`` into the package directory ``tnswift/``;
3. compiles the extension ``tnswift._ext`` against it, with RUNPATH ``$ORIGIN`` so the extension
   finds the library next to itself.

Environment:
  SWIFT                      the swift executable (default: "swift")
  TNSWIFT_SKIP_SWIFT_BUILD=1 reuse an existing .build-static/release/libtnswift.so
"""

import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
SCRATCH = ".build-static"
LIBRARY = "libtnswift.so"


class SwiftBuildExt(build_ext):
    """build_ext that first builds libtnswift.so with SwiftPM and ships it with the extension."""

    def run(self):
        self._library = self._build_swift_library()
        for ext in self.extensions:
            if str(self._library.parent) not in ext.library_dirs:
                ext.library_dirs.append(str(self._library.parent))
        super().run()

    def build_extension(self, ext):
        super().build_extension(ext)
        target = Path(self.get_ext_fullpath(ext.name)).parent / LIBRARY
        target.parent.mkdir(parents=True, exist_ok=True)
        self.announce(f"copying {self._library} -> {target}", level=2)
        shutil.copyfile(self._library, target)

    def _build_swift_library(self):
        library = ROOT / SCRATCH / "release" / LIBRARY
        if os.environ.get("TNSWIFT_SKIP_SWIFT_BUILD") == "1":
            if not library.exists():
                raise RuntimeError(
                    f"TNSWIFT_SKIP_SWIFT_BUILD=1 but {SCRATCH}/release/{LIBRARY} does not exist")
            return library
        swift = os.environ.get("SWIFT", "swift")
        command = [swift, "build", "-c", "release", "--product", "tnswift",
                   "--scratch-path", SCRATCH, "-Xswiftc", "-static-stdlib",
                   "-Xswiftc", "-enforce-exclusivity=unchecked"]
        self.announce("running " + " ".join(command), level=2)
        try:
            subprocess.run(command, cwd=ROOT, check=True)
        except FileNotFoundError:
            raise RuntimeError(
                f"'{swift}' was not found: building tnswift needs a Swift toolchain (5.9 or "
                "newer) on PATH, or SWIFT=/path/to/swift") from None
        if not library.exists():
            raise RuntimeError(f"swift build finished but {SCRATCH}/release/{LIBRARY} is missing")
        return library


def _long_description():
    readme = ROOT / "README.md"
    return readme.read_text(encoding="utf-8") if readme.exists() else ""


extension = Extension(
    "tnswift._ext",
    sources=["python/src/tnswift_ext.c"],
    include_dirs=["Sources/TNSwiftC/include"],
    depends=["Sources/TNSwiftC/include/tnswift.h"],
    libraries=["tnswift"],
    extra_compile_args=["-std=c11"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)

setup(
    long_description=_long_description(),
    long_description_content_type="text/markdown",
    package_dir={"tnswift": "python/tnswift"},
    packages=find_packages(where="python", include=["tnswift", "tnswift.*"]),
    package_data={"tnswift": ["py.typed", "*.pyi", "**/*.pyi"]},
    ext_modules=[extension],
    cmdclass={"build_ext": SwiftBuildExt},
    zip_safe=False,
)
