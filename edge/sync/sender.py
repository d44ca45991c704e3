"""The send loop: outbox -> transport (:class:`edge.types.Transport`), acknowledging what the
transport confirms and backing off after a failed session."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.sync.commands import CommandHandler
from edge.sync.outbox import Outbox
from edge.types import Transport

MAX_MAILBOX_CHECKS = 10  # per paused run: messages queued behind a pause (e.g. a resume) are fetched


@dataclass
class SendStats:
    sent: int = 0
    failed: int = 0
    downlink: int = 0


def send_pending(
    outbox: Outbox,
    transport: Transport,
    *,
    sleep: Callable[[float], None] = time.sleep,
    wait: bool = True,
    max_sessions: int | None = None,
    on_mt: Callable[[bytes], None] | None = None,
    commands: CommandHandler | None = None,
) -> SendStats:
    """Send queued frames until the queue is empty (or today's budget is spent, or
    ``max_sessions``); with ``wait``, sleeps through backoffs, else returns at the first.
    With ``commands`` (an :class:`edge.sync.commands.CommandHandler`), downlink commands are
    applied as they arrive: a status request queues a status frame, ``pause`` stops sending."""
    stats = SendStats()
    outbox.fill()
    while max_sessions is None or stats.sent + stats.failed < max_sessions:
        if commands is not None:
            if commands.take_status_request():
                outbox.add_status(commands.deployment)
            if commands.paused:  # keep listening: a resume comes by the mailbox
                for _ in range(MAX_MAILBOX_CHECKS):
                    result = transport.check_mailbox()
                    if result is None:
                        break  # no downlink on this transport
                    for payload in result.mt:
                        stats.downlink += 1
                        commands.handle(payload)
                    if not commands.paused or not result.mt or result.mt_queued == 0:
                        break  # resumed, or the mailbox is empty
                if commands.paused:
                    break
                continue
        frame = outbox.next_frame()
        if frame is None:
            delay = outbox.not_before() - outbox.clock()
            if delay > 0 and wait and outbox.status()["frames_pending"]:
                sleep(delay)
                continue
            break
        result = transport.send(frame.data)
        for payload in result.mt:
            stats.downlink += 1
            if commands is not None:
                commands.handle(payload)
            if on_mt is not None:
                on_mt(payload)
        if result.ok:
            outbox.acked(frame)
            stats.sent += 1
        else:
            outbox.failed(frame)
            stats.failed += 1
    return stats
