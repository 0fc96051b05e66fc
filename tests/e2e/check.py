# SPDX-License-Identifier: MIT
"""check.py: what the e2e scripts share to say what they checked.

A failed check raises Failure (the script prints it and exits 1); ok() and
note() print progress; wait_for() polls a predicate under a deadline;
parallel() runs one callable per guest in threads.
"""
import threading
import time


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def ok(msg):
    print(f'ok: {msg}', flush=True)


def note(msg):
    print(f'    {msg}', flush=True)


def wait_for(what, pred, timeout=30.0, step=0.1):
    """pred()'s first true value, polled every step seconds; Failure after
    timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise Failure(f'timed out after {timeout:g} s waiting for {what}')
        time.sleep(step)


def parallel(*calls):
    """Runs the callables in threads (one guest each at most); returns
    their results in order, or raises the first exception."""
    results = [None] * len(calls)
    errors = [None] * len(calls)

    def run(i, c):
        try:
            results[i] = c()
        except BaseException as e:  # noqa: B902 - re-raised below
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e:
            raise e
    return results
