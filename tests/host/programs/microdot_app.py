# A microdot 2.x (PyPI) async web app: a page, a 1 MiB streamed response and
# a POST echo, as its documentation shows them.
import sys
from microdot import Microdot, Request

Request.max_content_length = Request.max_body_length = 128 * 1024  # a 64 KiB upload, read whole
app = Microdot()
CHUNK = bytes(range(256)) * 4


@app.route("/")
async def index(request):
    return "hello from microdot\n"


@app.route("/big")
async def big(request):
    async def gen():
        for i in range(1024):
            yield CHUNK
    return gen(), 200, {"Content-Type": "application/octet-stream"}


@app.post("/echo")
async def echo(request):
    return request.body, 200, {"Content-Type": "application/octet-stream"}


@app.route("/shutdown")
async def shutdown(request):
    request.app.shutdown()
    return "bye\n"


print("ready")
app.run(host="0.0.0.0", port=int(sys.argv[1]))
