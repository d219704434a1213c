# An asyncio TCP echo server on ksock: MicroPython's own asyncio (start_server,
# StreamReader/StreamWriter) over ksock's drop-in socket and select, which the
# launcher installs before the program runs; asyncio's poll waits on an epoll
# set while the softirq loop serves the network.
#
#   micropython -m ksock.run --iface veth0 --addr 10.0.0.2/24 asyncio_echo.py [PORT]
#
# Any number of clients at once; each gets back what it sends until it closes.
import asyncio

stats = {"connections": 0, "bytes": 0}


async def handle(reader, writer):
    stats["connections"] += 1
    try:
        while True:
            data = await reader.read(512)
            if not data:
                break  # the client closed its side
            stats["bytes"] += len(data)
            writer.write(data)
            await writer.drain()
    except OSError:
        pass  # reset by the client
    writer.close()
    await writer.wait_closed()


async def serve(host="0.0.0.0", port=7, backlog=8):
    return await asyncio.start_server(handle, host, port, backlog)


async def main(port):
    server = await serve(port=port)
    print("asyncio echo on TCP port %d" % port)
    await server.wait_closed()


if __name__ == "__main__":
    import sys
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 7))
