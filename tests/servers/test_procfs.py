"""The kernel facts readiness stands on, checked on a socket of our own: a connection waits in
the listen queue with inode 0 until it is accepted, and then names the process that holds it."""

from __future__ import annotations

import os
import socket

from asgi_lab import procfs
from asgi_lab.serving import bind


def test_a_connection_has_an_inode_only_once_accepted_and_names_who_accepted() -> None:
    with bind() as listener:
        port = int(listener.getsockname()[1])
        assert procfs.listener_inodes(port) == {os.fstat(listener.fileno()).st_ino}
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client_port = int(client.getsockname()[1])
            assert procfs.connection_inode(port, client_port) == 0
            accepted, _ = listener.accept()
            with accepted:
                inode = procfs.connection_inode(port, client_port)
                assert inode == os.fstat(accepted.fileno()).st_ino
                assert procfs.accepted_by(os.getpid(), inode) == os.getpid()
    assert procfs.listener_inodes(port) == set()


def test_the_workers_are_the_lowest_holders_of_the_listening_socket() -> None:
    # We hold the socket and have no child that does: we are our own only worker.
    with bind() as listener:
        inode = os.fstat(listener.fileno()).st_ino
        assert procfs.workers(os.getpid(), {inode}) == [os.getpid()]
    assert procfs.alive(os.getpid())
    assert not procfs.alive(2**22 + 1)  # above the kernel's largest pid
