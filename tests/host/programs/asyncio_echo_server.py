# An asyncio echo server as MicroPython's docs write one: start_server with
# its default backlog, one task per client.
import asyncio
import sys


async def handle(reader, writer):
    while True:
        data = await reader.read(1024)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main(port, seconds):
    srv = await asyncio.start_server(handle, "0.0.0.0", port)
    print("ready")
    await asyncio.sleep(seconds)
    srv.close()
    await srv.wait_closed()
    print("done")


asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
