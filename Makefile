# tnswift — entry points. Each target does its own set-up on a fresh machine:
# system packages (when root), a virtualenv in .venv, the Swift build and the Python package.
#   make test    swift test, the C tests, pytest
#   make demo    the demonstration
#   make bench   the benchmark (ratios against the anchors measured in the same run)
#   make sanitize / make valgrind   the C tests under ASan+UBSan / valgrind memcheck
#   make fuzz    the property tests' long profile (10,000 cases each) and 100,000-call leak runs
#   make test-torch  installs PyTorch into .venv, then the PyTorch bridge's tests (tnswift.torch)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LIBDIR := .build-static/release
LIB := $(LIBDIR)/libtnswift.so
SWIFT_SOURCES := $(shell find Sources -type f) Package.swift
PY_SOURCES := $(shell find python/src python/tnswift -type f -not -path '*/__pycache__/*') setup.py pyproject.toml

.PHONY: all setup sysdeps datadeps lib test test-swift test-c test-python test-torch demo bench sanitize valgrind fuzz clean

all: setup

sysdeps:
	@if ! pkg-config --exists openblas 2>/dev/null || ! command -v pkg-config >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing libopenblas-dev (OpenBLAS, for BLAS/LAPACK)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev pkg-config >/dev/null; \
	  else \
	    echo "OpenBLAS is missing: run 'sudo apt-get install libopenblas-dev pkg-config' and retry" >&2; exit 1; \
	  fi; \
	fi
	@command -v swift >/dev/null || { echo "swift is not on PATH (Swift 5.9 or newer is needed)" >&2; exit 1; }

# The Swift and C tests load OpenBLAS without the Python shim: give them the kernel family the
# shim would choose (python/tnswift/_openblas_core.py; without NumPy it reads /proc/cpuinfo),
# unless OPENBLAS_CORETYPE is set.
ifeq ($(origin OPENBLAS_CORETYPE),undefined)
OPENBLAS_CHOSEN := $(shell $(PYTHON) python/tnswift/_openblas_core.py 2>/dev/null)
ifneq ($(OPENBLAS_CHOSEN),)
export OPENBLAS_CORETYPE := $(OPENBLAS_CHOSEN)
endif
endif

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q numpy pytest hypothesis opt_einsum tensorly "setuptools>=61" wheel
	touch $@

# The shipped library: Swift runtime linked in (-static-stdlib), and dynamic exclusivity checks
# off (they were half the per-call cost of small contractions; `swift test` keeps them on, so
# the test suite still catches any violation). Keep these flags in step with setup.py.
$(LIB): $(SWIFT_SOURCES) | sysdeps
	swift build -c release --product tnswift --scratch-path .build-static -Xswiftc -static-stdlib \
	  -Xswiftc -enforce-exclusivity=unchecked

lib: sysdeps $(LIB)

$(VENV)/.installed: $(VENV)/.created $(LIB) $(PY_SOURCES)
	TNSWIFT_SKIP_SWIFT_BUILD=1 $(PY) -m pip install -q --no-build-isolation --force-reinstall --no-deps .
	touch $@

setup: sysdeps $(VENV)/.installed

test-swift: sysdeps
	swift test

test-c: lib
	bash Tests/CTests/run.sh $(LIBDIR)

test-python: setup
	$(PY) -m pytest -q python/tests

# The PyTorch bridge. Not part of `make test`: torch from PyPI is the CUDA build (about 5 GB with
# its nvidia-* and triton wheels; it runs on the CPU). bench/README.md names a CPU-only wheel.
test-torch: setup
	$(PY) -m pip install -q torch
	$(PY) -m pytest -q python/tests/test_torch_bridge.py

# The property tests with the long profile: 10,000 cases per target.
fuzz: setup
	TNSWIFT_FUZZ_PROFILE=long TNSWIFT_LEAK_CALLS=100000 $(PY) -m pytest -q --hypothesis-show-statistics python/tests/test_properties.py python/tests/test_leaks.py

# The C tests built with AddressSanitizer (leaks included) and UBSan; any report fails them.
sanitize: lib
	TN_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  bash Tests/CTests/run.sh $(LIBDIR)

# The C tests under valgrind memcheck: any error or definite leak fails them.
valgrind: lib
	@command -v valgrind >/dev/null || { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; else \
	  echo "valgrind is missing: run 'sudo apt-get install valgrind'" >&2; exit 1; fi; }
	@# valgrind 3.19 gives up reading this library's debug information (clang's DWARF 5) since the
	@# worker pool came in: memcheck runs on a copy without debug info (its symbols stay).
	@mkdir -p $(LIBDIR)/valgrind && objcopy --strip-debug $(LIB) $(LIBDIR)/valgrind/libtnswift.so
	@# valgrind runs no AVX-512: OpenBLAS picks its kernels from the CPU valgrind presents.
	env -u OPENBLAS_CORETYPE \
	  TN_RUNNER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
	  bash Tests/CTests/run.sh $(LIBDIR)/valgrind

test: setup test-swift test-c test-python

# Debian's Fashion-MNIST (IDX files in /usr/share/datasets/fashion-mnist) for the demo.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
datadeps:
	@if [ ! -e $(FASHION_MNIST) ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing dataset-fashion-mnist (Debian's Fashion-MNIST, 30 MB)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	  else \
	    echo "Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist' and retry" >&2; exit 1; \
	  fi; \
	fi

# The demonstration: the seed einsum checks (seconds), then the main job, Fashion-MNIST with a
# dense MLP and its TT/CP/Tucker twins (about 3 minutes on 2 cores; DEMO_ARGS=--quick for ~1).
demo: setup datadeps
	$(PY) -c "import matplotlib" 2>/dev/null || $(PY) -m pip install -q matplotlib || \
	  echo "matplotlib could not be installed: the demo prints its table without the plot"
	$(PY) examples/demo.py
	$(PY) -m tnswift demo $(DEMO_ARGS)

bench: setup
	$(PY) -m pip install -q -r bench/requirements.txt || echo "some benchmark anchors could not be installed; their columns stay empty"
	$(PY) bench/run.py

clean:
	rm -rf .build .build-static build $(VENV) *.egg-info python/tnswift/*.so
