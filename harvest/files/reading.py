"""Read and normalise an export file in a second process while the importer stores it.

Parsing (files.read_file) and normalising (store.normalise_hit) are about half the CPU of a
large import; run in a child process they overlap with the parent's inserts and
deduplication, as the PubMed harvester overlaps parsing with storing. The parent still does
every write, in its one transaction, so a failure anywhere leaves the database untouched.

The child sends batches of normalised rows through a pipe, then ``None``; an error is sent
as the exception itself (or its message, if it does not pickle) and raised in the parent. A
thread of the parent empties the pipe into a short queue, so the child reads on while the
parent is busy with a batch (deduplicating, say). A child whose parent is gone (kill -9) exits
instead of waiting on a full pipe.

``annotate`` is work per row that either process can do before the row is stored (the
importer's deduplication keys). The child does it unless the importer is waiting for it: a
waiting importer has time, so the child sends its batch as it is and the importer annotates
it. The importer is the slower side for most of an import (it writes and deduplicates), and
the work ends up shared about evenly; an earlier rule (annotate only while two batches wait)
left most of it to the importer, which then finished a 12,000-record import with 1.9 s of
CPU against the child's 1.2 s. A flag in shared memory, written by the importer only, says
whether it waits.
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from evidence.errors import EvidenceError
from evidence.harvest import files, store

#: Rows per message: big enough that pickling, not messaging, is the cost.
BATCH = 1000
#: Rows of the first message: the importer waits for it, so it is small (the batches
#: double from it up to ``BATCH``).
FIRST_BATCH = 50
#: Files smaller than this are read in the importing process: a child would cost more.
MIN_BYTES = 2_000_000
#: Batches read ahead of the importer: enough to cover a deduplication pass, bounded memory.
AHEAD = 32

Row = dict[str, Any]


def read_normalised(path: Path, fmt: str, *, annotate: Callable[[Row], None] | None = None,
                    idle: Callable[[], None] | None = None) -> Iterator[list[Row]]:
    """Batches of normalised hit rows of ``path``, in file order, each passed to ``annotate``.

    ``idle`` is called when the next batch is not read yet, before waiting for it: the
    importer deduplicates then, so less is left to do once the file is read."""
    if path.stat().st_size < MIN_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        yield from _batches(path, fmt, annotate)
        return
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    _widen(sender)
    waiting = context.RawValue("b", 0)  # the importer waits for the child: written by it only
    child = context.Process(target=_child, daemon=True, args=(
        path, fmt, annotate, sender, os.getpid(), waiting))
    child.start()
    sender.close()
    ahead: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
    reader = threading.Thread(target=_read_ahead, args=(receiver, ahead),
                              daemon=True, name="read-ahead")
    reader.start()
    finished = False
    try:
        while True:
            try:
                message = ahead.get_nowait()
            except queue.Empty:
                if idle is not None:
                    idle()
                waiting.value = 1
                message = ahead.get()
                waiting.value = 0
            if message is None:
                finished = True
                break
            if isinstance(message, BaseException):
                raise message
            annotated, batch = message
            if annotate is not None and not annotated:
                for row in batch:
                    annotate(row)
            yield batch
    finally:
        if not finished:
            child.kill()  # the importer stopped early: closes the pipe, the reader sees EOF
        while reader.is_alive():  # a reader blocked on a full queue needs room to see it
            try:
                ahead.get(timeout=0.1)
            except queue.Empty:
                pass
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()


#: Bytes a pipe holds (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB by default).
PIPE_BYTES = 1 << 20


def _widen(connection: Any) -> None:
    """Let the pipe hold ``PIPE_BYTES`` instead of 64 KiB, where the system allows.

    A batch is megabytes of pickled rows. ``multiprocessing`` moves a message through a pipe
    one pipe-full at a time: the reading thread takes the interpreter lock for every piece
    (waiting for the importer's thread each time) and the sender copies the rest of its
    buffer after every piece, so at 64 KiB a 4 MB batch took about 60 rounds of both.
    """
    try:
        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or a lower limit: the default pipe works
        pass


def _read_ahead(receiver: Any, ahead: queue.Queue[Any]) -> None:
    """Move the child's messages into ``ahead`` until its ``None``, an error, or a closed pipe."""
    try:
        while True:
            message = receiver.recv()
            ahead.put(message)
            if message is None or isinstance(message, BaseException):
                return
    except (EOFError, OSError) as error:
        ahead.put(EvidenceError(f"the reading process stopped: {error}"))


def _batches(path: Path, fmt: str, annotate: Callable[[Row], None] | None = None
             ) -> Iterator[list[Row]]:
    """Batches of ``BATCH`` rows, the first ones smaller: the importer starts storing (and
    deduplicating) while the rest of the file is read, instead of waiting a full batch."""
    return store.batches(_rows(path, fmt, annotate), BATCH, first=FIRST_BATCH)


def _rows(path: Path, fmt: str, annotate: Callable[[Row], None] | None) -> Iterator[Row]:
    for number, entry in enumerate(files.read_file(path, fmt), 1):
        try:
            row = store.normalise_hit(entry)
        except store.HitError as e:
            raise files.FileFormatError(f"{path.name}: entry {number}: {e}") from None
        if annotate is not None:
            annotate(row)
        yield row


def _child(path: Path, fmt: str, annotate: Callable[[Row], None] | None, sender: Any,
           parent: int, waiting: Any) -> None:
    """Send ``(annotated, batch)`` messages, then ``None``."""
    _exit_with(parent)
    try:
        for batch in _batches(path, fmt):
            annotated = annotate is not None and child_annotates(waiting.value)
            if annotated:
                for row in batch:
                    annotate(row)
            sender.send((annotated, batch))
        sender.send(None)
    except BrokenPipeError:
        pass  # the parent stopped reading (an error of its own): nothing to tell it
    except Exception as error:  # noqa: BLE001 - sent to the parent, which raises it
        sender.send(_picklable(error))
    finally:
        sender.close()


def child_annotates(importer_waits: int) -> bool:
    """Whether the child annotates the batch it has read (tests replace this rule)."""
    return not importer_waits


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
