/**
 * The protobuf wire format, read: varints, fixed 32/64-bit fields and length-delimited fields,
 * with unknown fields skipped (so newer OTLP versions still decode). Written here rather than
 * taken from protobufjs: OTLP traces need five wire types and a dozen messages, and this is
 * ~100 lines against a 300 kB dependency with an install script (docs/decisions/0026).
 */
import { InputError } from '../core/errors.ts';

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

export class ProtobufReader {
  #pos: number;
  readonly #end: number;
  readonly #buf: Uint8Array;
  readonly #view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length, view?: DataView) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
    // Nested messages share their parent's view: one DataView per request, not per field.
    this.#view = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get done(): boolean {
    return this.#pos >= this.#end;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const key = this.varint();
    return { field: Math.floor(key / 8), wire: key & 7 };
  }

  /** A varint as a number; exact up to 2^53, which covers every count and enum OTLP sends. */
  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#end) throw truncated();
      const byte = this.#buf[this.#pos++] as number;
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw new InputError('malformed protobuf: a varint longer than 10 bytes');
  }

  /** A fixed64 as a number (nanosecond timestamps: exact to ~0.25 µs today, finer than any span needs). */
  fixed64(): number {
    this.#need(8);
    const low = this.#view.getUint32(this.#pos, true);
    const high = this.#view.getUint32(this.#pos + 4, true);
    this.#pos += 8;
    return high * 4294967296 + low;
  }

  fixed32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#pos, true);
    this.#pos += 4;
    return value;
  }

  double(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.#pos, true);
    this.#pos += 8;
    return value;
  }

  /** A length-delimited field as a reader over its bytes (no copy). */
  message(): ProtobufReader {
    const { start, end } = this.#span();
    return new ProtobufReader(this.#buf, start, end, this.#view);
  }

  bytes(): Uint8Array {
    const { start, end } = this.#span();
    return this.#buf.subarray(start, end);
  }

  string(): string {
    const { start, end } = this.#span();
    // Attribute keys and most values are short ASCII: a plain loop beats TextDecoder's call cost.
    if (end - start <= 64) {
      let out = '';
      for (let i = start; i < end; i++) {
        const byte = this.#buf[i] as number;
        if (byte >= 0x80) return decoder.decode(this.#buf.subarray(start, end));
        out += String.fromCharCode(byte);
      }
      return out;
    }
    return decoder.decode(this.#buf.subarray(start, end));
  }

  /** Skips a field of any wire type: what keeps unknown fields harmless. */
  skip(wire: number): void {
    if (wire === WIRE.varint) this.varint();
    else if (wire === WIRE.fixed64) this.#advance(8);
    else if (wire === WIRE.bytes) this.#span();
    else if (wire === WIRE.fixed32) this.#advance(4);
    else throw new InputError(`malformed protobuf: wire type ${wire} is not supported`);
  }

  #span(): { start: number; end: number } {
    const length = this.varint();
    this.#need(length);
    const start = this.#pos;
    this.#pos += length;
    return { start, end: this.#pos };
  }

  #advance(n: number): void {
    this.#need(n);
    this.#pos += n;
  }

  #need(n: number): void {
    if (this.#pos + n > this.#end) throw truncated();
  }
}

const decoder = new TextDecoder('utf-8');

function truncated(): InputError {
  return new InputError('malformed protobuf: the message ends inside a field');
}
