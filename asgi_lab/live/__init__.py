"""The live page: every worker of a running server on one page, as it happens.

`asgi-lab trace APP --live` and `asgi-lab serve --live` open it before the server starts:

- `channel`  a Unix datagram socket in a private temporary directory; its path goes to every
             worker as $ASGI_LAB_LIVE, and each worker's probe sends a snapshot five times a
             second (`asgi_lab.probe.live`, the shape in `asgi_lab.records.snapshot`)
- `board`    the latest snapshot per worker: live, gone after a second of silence, succeeded
- `server`   the page on loopback, fed by server-sent events; `page.html` draws the board
- `session`  the three opened together for as long as a server runs, and closed after it

Nothing runs on a worker's loop, nothing is written to disk but the socket, and the directory is
removed when the server stops.
"""

from asgi_lab.live.board import Board
from asgi_lab.live.session import Live, feeding, loopback, open_live

__all__ = ["Board", "Live", "feeding", "loopback", "open_live"]
