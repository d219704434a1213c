# Stateless wire formats: parse/emit of headers on (buf, offset), on top of
# struct.unpack_from/pack_into. Imports nothing of ksock's; never asserts on input.
