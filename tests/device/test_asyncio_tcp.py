# MicroPython's asyncio over ksock TCP: the example server
# (ksock/examples/asyncio_echo.py) serves many concurrent clients made with
# asyncio.open_connection, all on the in-stack loopback, with ksock.run's
# drop-in socket/select/time installed (asyncio's IOQueue polls an epoll set
# while the softirq loop runs).
import sys
from ksock import sys as K, stack

stack.init()
MODS = ("socket", "usocket", "select", "uselect", "time", "utime")


_AS = []


def _fresh_asyncio():
    """Install the drop-ins and import asyncio (and the example) under them,
    once per interpreter: the frozen asyncio binds `select` at import, and a
    second import of it next to the _asyncio C module is not safe. Returns
    (asyncio, example, saved sys.modules entries)."""
    saved = {k: sys.modules.get(k) for k in MODS}
    from ksock import run
    run.install()
    if not _AS:
        for k in list(sys.modules):
            if k == "asyncio" or k.startswith("asyncio."):
                sys.modules.pop(k)  # imported before under the built-in select: not yet used
        try:
            import asyncio
        except ImportError:
            _restore(saved)
            skip("no asyncio in this firmware")
        from ksock.examples import asyncio_echo
        _AS.append((asyncio, asyncio_echo))
    return _AS[0] + (saved,)


def _restore(saved):
    for k, v in saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v


def _echo_clients(n, rounds, port):
    K.close_range(3)
    import gc
    gc.collect()
    asyncio, ex, saved = _fresh_asyncio()
    ex.stats["connections"] = ex.stats["bytes"] = 0
    done = []

    async def client(i):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for j in range(rounds):
            msg = b"client %d line %d\n" % (i, j)
            w.write(msg)
            await w.drain()
            got = await r.readline()
            assert got == msg, (i, j, got)
        w.close()
        await w.wait_closed()
        done.append(i)

    async def main():
        srv = await ex.serve("127.0.0.1", port, n)
        await asyncio.gather(*[client(i) for i in range(n)])
        srv.close()
        await srv.wait_closed()

    try:
        asyncio.new_event_loop()  # a fresh IOQueue: nothing left over from an earlier run
        asyncio.run(main())
    finally:
        _restore(saved)
        K.close_range(3)
        from ksock import stack
        import gc
        stack.serve(100)  # the closed connections finish their FIN exchange: rings back to the pool
        gc.collect()
    return sorted(done), ex.stats


def test_asyncio_echo_many_concurrent_clients():
    n = 1 if sys.platform != "linux" else 16  # boards: asyncio plus the stack leave heap for one pair
    done, st = _echo_clients(n, 3, 7007)
    assert done == list(range(n))
    assert st["connections"] == n
    assert st["bytes"] == sum(len(b"client %d line %d\n" % (i, j)) for i in range(n) for j in range(3))


def test_asyncio_server_sees_client_close_and_port_reusable():
    n = 1 if sys.platform != "linux" else 2
    done, st = _echo_clients(n, 1, 7008)
    assert done == list(range(n)) and st["connections"] == n
    done, st = _echo_clients(n, 1, 7008)  # SO_REUSEADDR: the port binds again at once
    assert done == list(range(n)) and st["connections"] == n
