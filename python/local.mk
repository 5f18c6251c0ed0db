# python/local.mk - the Python binding (package errseq, pure Python over
# ctypes): tested by make check through python/run-tests.sh, shipped in the
# tarball, never installed by make install (see python/README.md).
TESTS += python/run-tests.sh
check_PROGRAMS += python/tests/layout
python_tests_layout_SOURCES = python/tests/layout.c
EXTRA_DIST += python/run-tests.sh python/README.md python/pyproject.toml \
	python/errseq/__init__.py python/errseq/_lib.py \
	python/errseq/_errors.py python/errseq/_client.py \
	python/errseq/_version.py.in python/errseq/py.typed \
	python/tests/conftest.py python/tests/helper.py \
	python/tests/test_api.py python/tests/test_async_fork.py \
	python/tests/test_layout.py python/tests/test_story.py
