"""The live page: every worker of a running server on one page, as it happens.

`asgi-lab trace APP --live`, `asgi-lab serve --live` and `asgi-lab experiment NAME --live` open
it before the (first) server starts:

- `channel`  a Unix datagram socket in a private temporary directory; its path goes to every
             worker as $ASGI_LAB_LIVE, and each worker's probe sends a snapshot five times a
             second (`asgi_lab.probe.live`, the shape in `asgi_lab.records.snapshot`)
- `board`    the latest snapshot per worker: live, gone after a second of silence, succeeded
- `server`   the page on loopback, fed by server-sent events; `page.html` draws the board
- `session`  the three opened together for as long as a server runs, and closed after it
- `feed`     the page's events read back, frame by frame, and `top` drawing them in a terminal
             (`asgi-lab top URL`)

Nothing runs on a worker's loop, nothing is written to disk but the socket, and the directory is
removed when the server stops.
"""

from asgi_lab.live.board import Board
from asgi_lab.live.session import Live, feeding, loopback, open_live

__all__ = ["Board", "Live", "feeding", "loopback", "open_live"]
