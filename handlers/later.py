"""How handlers hand on the work that follows an acknowledgement: `later(fn, *args)` (bot.runtime.listeners.ListenerPool.later).

Not Bolt's lazy listeners: Bolt deep-copies the whole request for each one, on the thread that owes Slack its
answer. `later` queues a plain call instead, started once the requests being answered leave room for it.
"""

from __future__ import annotations

from collections.abc import Callable

Later = Callable[..., None]  # later(fn, *args)
