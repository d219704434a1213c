# An asyncio echo server as MicroPython's docs write one: start_server with
# its default backlog, one task per client.
import asyncio
import sys


served = [0]


async def handle(reader, writer):
    while True:
        data = await reader.read(1024)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()
    served[0] += 1


async def main(port, seconds, clients):
    srv = await asyncio.start_server(handle, "0.0.0.0", port)
    print("ready")
    # until `clients` are served or `seconds` pass: a client whose SYN found the
    # accept queue full retries 1, 3, 7, 15 s later (Linux's SYN backoff)
    for _ in range(seconds * 10):
        if served[0] >= clients:
            break
        await asyncio.sleep(0.1)
    srv.close()
    await srv.wait_closed()
    print("done")


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 30))
