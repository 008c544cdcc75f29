"""Shared plumbing for the command-line entry points."""

import functools
import sys

from fer_keras.errors import FERError

EXIT_USER_ERROR = 2


def user_errors_exit(main):
    """Decorate a CLI ``main``: a :class:`FERError` becomes one line on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except FERError as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
