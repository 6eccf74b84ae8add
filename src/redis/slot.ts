/**
 * Redis Cluster's key -> slot function (the cluster spec: CRC16-XMODEM of the key, or of its hash
 * tag, modulo 16384). Computed once per SKU when a run starts, never per request.
 */

export const SLOTS = 16384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * The slot of a key: only the part between the first `{` and the next `}` is hashed when that
 * part is not empty (the hash tag), so `sellout:r:inv:{7}` and `sellout:r:journal:{7}` share a slot.
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let from = 0;
  let to = bytes.length;
  const open = bytes.indexOf(0x7b);
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) {
      from = open + 1;
      to = close;
    }
  }
  return crc16(bytes, from, to) % SLOTS;
}
