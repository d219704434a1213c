# umqtt.simple (PyPI) as its README uses it: connect, subscribe, publish at
# QoS 0 and 1, then wait for messages -- its own and those mosquitto_pub sends.
import sys
import time
from umqtt.simple import MQTTClient

broker = sys.argv[1]
want = int(sys.argv[2])
got = []


def cb(topic, msg):
    got.append((topic, msg))
    print("msg", topic.decode(), msg.decode())


c = MQTTClient("ksock-umqtt", broker, keepalive=30)
c.set_callback(cb)
c.connect()
c.subscribe(b"ks/in", qos=1)
c.subscribe(b"ks/out", qos=0)
print("ready")
c.publish(b"ks/out", b"own-qos0", qos=0)
c.publish(b"ks/out", b"own-qos1", qos=1)
deadline = time.time() + 30
while len(got) < want and time.time() < deadline:
    c.check_msg()  # non-blocking poll of the socket, as umqtt programs loop
    time.sleep_ms(10) if hasattr(time, "sleep_ms") else time.sleep(0.01)
c.disconnect()
print("got", len(got))
