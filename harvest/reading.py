"""Read and normalise an export file in a second process while the importer stores it.

Parsing (files.read_file) and normalising (store.normalise_hit) are about half the CPU of a
large import; run in a child process they overlap with the parent's inserts and
deduplication, as the PubMed harvester overlaps parsing with storing. The parent still does
every write, in its one transaction, so a failure anywhere leaves the database untouched.

The child sends batches of normalised rows through a pipe, then ``None``; an error is sent
as the exception itself (or its message, if it does not pickle) and raised in the parent. A
child whose parent is gone (kill -9) exits instead of waiting on a full pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError
from evidence.harvest import files, store

#: Rows per message: big enough that pickling, not messaging, is the cost.
BATCH = 1000
#: Files smaller than this are read in the importing process: a child would cost more.
MIN_BYTES = 2_000_000


def read_normalised(path: Path, fmt: str) -> Iterator[list[dict[str, Any]]]:
    """Batches of normalised hit rows of ``path``, in file order."""
    if path.stat().st_size < MIN_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        yield from _batches(path, fmt)
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(path, fmt, sender, os.getpid()), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            message = receiver.recv()
            if message is None:
                break
            if isinstance(message, BaseException):
                raise message
            yield message
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


def _batches(path: Path, fmt: str) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for entry in files.read_file(path, fmt):
        batch.append(store.normalise_hit(entry))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _child(path: Path, fmt: str, sender: Any, parent: int) -> None:
    _exit_with(parent)
    try:
        for batch in _batches(path, fmt):
            sender.send(batch)
        sender.send(None)
    except BrokenPipeError:
        pass  # the parent stopped reading (an error of its own): nothing to tell it
    except Exception as error:  # noqa: BLE001 - sent to the parent, which raises it
        sender.send(_picklable(error))
    finally:
        sender.close()


def _picklable(error: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:  # noqa: BLE001 - an exception that does not survive the pipe
        return EvidenceError(str(error))


def _exit_with(parent: int) -> None:
    """Exit when the importing process is gone: its pipe would never be read again."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()
