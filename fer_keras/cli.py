"""Shared plumbing for the command-line entry points."""

import argparse
import functools
import importlib
import importlib.util
import os
import sys
import types

from fer_keras.errors import FERError

EXIT_USER_ERROR = 2


def user_errors_exit(main):
    """Decorate a CLI ``main``: a :class:`FERError` becomes one line on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except FERError as err:
            print(f"error: {one_line(str(err))}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper


class _Deferred(types.ModuleType):
    """Stands for a module until its first attribute is read, then imports it (under Python's import lock,
    so threads decoding images at once all see the finished module) and takes its namespace over."""

    def __getattr__(self, attribute):
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attribute)


def lazy_import(name):
    """The module ``name``, imported on its first attribute access: a command's ``--help`` and argument errors
    answer before pandas, OpenCV or h5py load (SPEC 1's idea; ``importlib.util.LazyLoader`` is not safe when
    the first access comes from several threads before Python 3.12). Modules use it for their heavy
    imports at the top level."""
    package = name.partition(".")[0]  # a submodule's spec is found by importing its package: check the package
    if importlib.util.find_spec(package) is None:
        raise ModuleNotFoundError(f"No module named {package!r}", name=package)
    return sys.modules.get(name) or _Deferred(name)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser for every CLI, but an option that takes one value refuses a second, different one
    instead of keeping the last silently: ``--results-dir a_file --results-dir out`` may hide the value the
    user meant, or one that a check before work was to refuse. The same value twice is accepted; options
    meant to repeat (``--set``) say so with ``action="append"``. Subcommands' parsers are of this class too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("action", None, _StoreOnce)
        self.register("action", "store", _StoreOnce)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        vars(namespace).pop(_GIVEN, None)
        return namespace, extras


_GIVEN = "_fer_keras_options_given"
"""The namespace attribute where :class:`_StoreOnce` notes the values given so far (removed after parsing)."""


class _StoreOnce(argparse._StoreAction):
    def __call__(self, parser, namespace, values, option_string=None):
        given = vars(namespace).setdefault(_GIVEN, {})
        if self.dest in given and given[self.dest] != values:
            parser.error(f"argument {option_string or self.dest}: given twice ({_shown(given[self.dest])}, then "
                         f"{_shown(values)}); give it once")
        given[self.dest] = values
        setattr(namespace, self.dest, values)


def _shown(value):
    return one_line(" ".join(map(str, value)) if isinstance(value, list) else str(value))


def one_line(message):
    """``message`` as one printable line: control characters (a file name's ``\\r`` or ``\\n``) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def import_keras_quietly():
    """Import keras; on the TensorFlow backend, hide TensorFlow's C++ start-up log lines.

    TensorFlow 2.21 prints them before its logging is configured, ignoring TF_CPP_MIN_LOG_LEVEL, so
    stderr (file descriptor 2) is pointed at /dev/null for the import only. The devices are listed
    inside that window too, so the CUDA probe's "failed call to cuInit" line of a GPU-less machine
    stays out of the first epoch's output. Python exceptions raised by the import are unaffected.
    Set FER_KERAS_VERBOSE_TF=1 to see the lines. TensorFlow's C++ log level is set to 2 (warnings and
    errors) unless ``TF_CPP_MIN_LOG_LEVEL`` is already set: only the CLIs call this, so importing
    the package changes no environment variable.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    quiet = ("tensorflow" not in sys.modules and not os.environ.get("FER_KERAS_VERBOSE_TF")
             and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow")
    if quiet:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()
        except ImportError:
            pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    import keras

    return keras
