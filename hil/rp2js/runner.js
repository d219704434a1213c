// The rp2js target (hil/targets.py): build/rp2/firmware.uf2, exactly as `make flash`
// writes it, on rp2040js. USB CDC is this process's stdin/stdout (a pty the Python
// side drives with the raw REPL). SPI0 + GP17 (CS), GP20 (RST), GP21 (INT) go to
// the W5500 register model (hil/w5500_model.py) run by hil/rp2js/bridge.py, a child
// process: one message per CS frame for writes, one round trip per read burst, all
// on the emulated clock (the emulator stands still while the model answers).
//   node runner.js --uf2 F --bootrom F [--fs IMG] [--uid HEX] [--bridge JSON-ARGV]
import { RP2040, USBCDC } from 'rp2040js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const log = (...a) => process.stderr.write('[rp2js] ' + a.join(' ') + '\n');

const FLASH_FS_OFFSET = 0xa0000; // 2 MB - MICROPY_HW_FLASH_STORAGE_BYTES (1408 KB)
const SPI_PINS = { cs: 17, rst: 20, int: 21 };

const mcu = new RP2040();
mcu.logger = { debug() {}, info() {}, warn() {}, error: (c, m) => log('error', c, m) };
const rom = readFileSync(args.bootrom);
mcu.loadBootrom(new Uint32Array(rom.buffer, rom.byteOffset, rom.length / 4));
loadUF2(readFileSync(args.uf2));
if (args.fs) mcu.flash.set(readFileSync(args.fs), FLASH_FS_OFFSET);
if (args.uid) flashUniqueId(Buffer.from(args.uid, 'hex'));

function loadUF2(buf) {
  // 512-byte blocks: magic, flags, target address, payload size, ..., payload at 32
  for (let off = 0; off + 512 <= buf.length; off += 512) {
    const b = buf.subarray(off, off + 512);
    if (b.readUInt32LE(0) !== 0x0a324655 || b.readUInt32LE(4) !== 0x9e5d5157) throw new Error('not a UF2 block at ' + off);
    const addr = b.readUInt32LE(12), size = b.readUInt32LE(16);
    mcu.flash.set(b.subarray(32, 32 + size), addr - 0x10000000);
  }
}

function flashUniqueId(uid) {
  // The flash chip's RUID command (0x4B, 4 dummy bytes, 8 ID bytes) through the SSI,
  // which rp2040js answers with zeros: machine.unique_id() is then all zeros on
  // every emulated board. Answer it, so that each board has its own id (and MAC).
  const ssi = mcu.peripherals[0x18000];
  const wr = ssi.writeUint32.bind(ssi), rd = ssi.readUint32.bind(ssi);
  let pos = -1;
  ssi.writeUint32 = (offset, value) => {
    if (offset === 0x60) {
      if (pos < 0 && (value & 0xff) === 0x4b) pos = 0;
      else if (pos >= 0) pos++;
    }
    wr(offset, value);
  };
  ssi.readUint32 = (offset) => {
    if (offset === 0x60 && pos >= 0) {
      const v = pos >= 5 && pos < 13 ? uid[pos - 5] : 0;
      if (pos >= 12) pos = -1;
      return v;
    }
    return rd(offset);
  };
}

// ---- USB CDC <-> stdin/stdout ------------------------------------------------------
const cdc = new USBCDC(mcu.usbCtrl);
const input = [];
let connected = false;
cdc.onDeviceConnected = () => { connected = true; };
cdc.onSerialData = (buf) => process.stdout.write(buf);
process.stdin.on('data', (d) => { for (const c of d) input.push(c); });
process.stdin.on('end', () => process.exit(0));
function feedInput() {
  while (connected && input.length && !cdc.txFIFO.full) cdc.sendSerialByte(input.shift());
}

// ---- SPI0 and the W5500 model ----------------------------------------------------
let blocked = false; // the emulator waits for the model's answer
const spi = mcu.spi[0];
let bridge = null;
if (args.bridge) bridge = startBridge(JSON.parse(args.bridge));

function startBridge(argv) {
  const p = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  p.on('exit', (code) => { log('W5500 bridge exited', code); process.exit(3); });
  let rx = Buffer.alloc(0);
  p.stdout.on('data', (d) => {
    rx = Buffer.concat([rx, d]);
    // messages from the bridge: 'd' len16 data (MISO for a read), 'n' level (INTn)
    for (;;) {
      if (rx.length < 2) break;
      const t = rx[0];
      if (t === 0x6e) { // 'n'
        mcu.gpio[SPI_PINS.int].setInputValue(!!rx[1]);
        rx = rx.subarray(2);
      } else if (t === 0x64) { // 'd'
        if (rx.length < 3) break;
        const n = rx.readUInt16LE(1);
        if (rx.length < 3 + n) break;
        miso.push(...rx.subarray(3, 3 + n));
        rx = rx.subarray(3 + n);
        answerRead();
      } else {
        throw new Error('bad message from the W5500 bridge: ' + t);
      }
    }
  });
  return p;
}

const nowUs = () => Math.floor(mcu.clock.nanos / 1000);
let mosi = []; // bytes clocked out in this frame, not yet sent to the model
function send(type, payload) {
  // 'o' len16 bytes | 'i' max16 | 'c'/'r' level u32-us (edges, with the emulated time)
  if (mosi.length && type !== 'o') flushMosi();
  const b = Buffer.alloc(1 + payload.length);
  b[0] = type.charCodeAt(0);
  Buffer.from(payload).copy(b, 1);
  bridge.stdin.write(b);
}
function flushMosi() {
  const m = mosi;
  mosi = [];
  const b = Buffer.alloc(3 + m.length);
  b[0] = 0x6f;
  b.writeUInt16LE(m.length, 1);
  Buffer.from(m).copy(b, 3);
  bridge.stdin.write(b);
}
function edge(type, level) {
  const p = Buffer.alloc(5);
  p[0] = level ? 1 : 0;
  p.writeUInt32LE(nowUs() >>> 0, 1);
  send(type, p);
}

// CS frame state: the W5500's 3-byte header (address, control), then data whose
// direction the control byte's RWB bit gives.
let csLow = false, nhdr = 0, rwb = 0, txAt = 0, pendingRead = false;
let miso = [];
const done = mcu.clock.createAlarm(() => spi.completeTransmit(doneValue));
let doneValue = 0;
const byteNanos = () => 8e9 / (spi.clockFrequency || 1e6);

function complete(v, at) {
  // one byte-time after the byte started: DMA transfers need the RX FIFO to fill
  // at the wire's pace (answered inside onTransmit, a long transfer overruns it)
  doneValue = v;
  done.schedule(Math.max(0, at + byteNanos() - mcu.clock.nanos));
}

spi.onTransmit = (value) => {
  txAt = mcu.clock.nanos;
  if (!bridge) return complete(0xff, txAt); // no chip on the bus: MISO floats high
  if (!csLow || nhdr < 3) {
    mosi.push(value);
    if (csLow) {
      nhdr++;
      if (nhdr === 3) rwb = value & 4;
      return complete(nhdr, txAt); // the chip shifts out 0x01 0x02 0x03 during the header
    }
    return complete(0, txAt);
  }
  if (rwb) {
    mosi.push(value);
    return complete(0, txAt);
  }
  if (miso.length) return complete(miso.shift(), txAt);
  // a read with nothing fetched: ask the model for this byte and what may follow it
  const p = Buffer.alloc(2);
  p.writeUInt16LE(2048, 0);
  send('i', p);
  pendingRead = true;
  blocked = true;
};

function answerRead() {
  if (!pendingRead) return;
  pendingRead = false;
  blocked = false;
  complete(miso.shift(), txAt);
  setImmediate(run);
}

mcu.gpio[SPI_PINS.cs].addListener(() => {
  const v = mcu.gpio[SPI_PINS.cs].outputValue;
  if (!bridge || v === !csLow) return;
  csLow = !v;
  nhdr = 0;
  miso = [];
  edge('c', v);
});
mcu.gpio[SPI_PINS.rst].addListener(() => {
  if (bridge && mcu.gpio[SPI_PINS.rst].outputEnable) edge('r', mcu.gpio[SPI_PINS.rst].outputValue);
});
mcu.gpio[SPI_PINS.int].setInputValue(true); // INTn idles high (pulled up on the board)

// ---- run --------------------------------------------------------------------------
mcu.core.PC = 0x10000000; // boot2 at the start of flash, as the bootrom would enter it
const cycleNanos = 1e9 / 125e6;
function run() {
  const until = Date.now() + 20;
  while (!blocked && Date.now() < until) {
    feedInput();
    for (let i = 0; i < 20000 && !blocked; i++) {
      if (mcu.core.waiting) {
        const n = mcu.clock.nanosToNextAlarm;
        mcu.clock.tick(n > 0 ? n : cycleNanos);
      } else {
        mcu.clock.tick(mcu.core.executeInstruction() * cycleNanos);
      }
    }
  }
  if (!blocked) setImmediate(run);
}
process.on('SIGTERM', () => process.exit(0));
run();
