import { describe, expect, it } from 'vitest';
import { attribute, Message, tensor, valueInfo, varint, DT } from './protobuf';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('protobuf writer', () => {
  it('writes varints, negative int64 as ten bytes', () => {
    expect(hex(varint(0))).toBe('00');
    expect(hex(varint(1))).toBe('01');
    expect(hex(varint(150))).toBe('9601');
    expect(hex(varint(2 ** 31))).toBe('8080808008');
    expect(hex(varint(-1))).toBe('ffffffffffffffffff01');
  });

  it('writes the wire types: varint, fixed32, fixed64, length-delimited, packed and nested', () => {
    expect(hex(new Message().int(1, 150).toBytes())).toBe('089601');
    expect(hex(new Message().float(2, 1).toBytes())).toBe('150000803f');
    expect(hex(new Message().double(3, 1).toBytes())).toBe('19000000000000f03f');
    expect(hex(new Message().string(2, 'testing').toBytes())).toBe('120774657374696e67');
    expect(hex(new Message().packedInts(4, [3, 270, 86942]).toBytes())).toBe('2206038e029ea705');
    expect(hex(new Message().message(3, new Message().int(1, 150)).toBytes())).toBe('1a03089601');
  });

  it('makes lazy payloads only while writing, and checks their announced size', () => {
    let made = 0;
    const m = new Message().lazyBytes(9, { size: 3, bytes: () => (made++, new Uint8Array([1, 2, 3])) });
    expect(m.size).toBe(5);
    expect(made).toBe(0);
    expect(hex(m.toBytes())).toBe('4a03010203');
    const bad = new Message().lazyBytes(9, { size: 4, bytes: () => new Uint8Array(3) });
    expect(() => bad.toBytes()).toThrow(/3 bytes, 4 announced/);
  });

  it('coalesces small parts into chunks and passes large payloads through', () => {
    const big = new Uint8Array(1 << 16).fill(7);
    const m = new Message();
    for (let i = 0; i < 100; i++) m.int(1, i);
    m.bytes(2, big);
    const chunks = [...m.chunks()];
    expect(chunks.length).toBe(2);
    expect(chunks[1]).toBe(big);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(m.size);
  });

  it('encodes ONNX attributes, tensors and value infos with onnx.proto field numbers', () => {
    // AttributeProto: name=1, i=3, ints=8 (unpacked), type=20 (INT=2, INTS=7)
    expect(hex(attribute('axis', -1).toBytes())).toBe('0a0461786973' + '18ffffffffffffffffff01' + 'a00102');
    expect(hex(attribute('perm', [0, 2]).toBytes())).toBe('0a047065726d' + '40004002' + 'a00107');
    // TensorProto: dims=1, data_type=2, name=8, raw_data=9
    expect(hex(tensor('w', DT.FLOAT, [2], new Uint8Array(8)).toBytes())).toBe('0802' + '1001' + '420177' + '4a080000000000000000');
    // ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1 | dim_param=2}}}}}
    expect(hex(valueInfo('x', DT.INT64, ['b', 4]).toBytes())).toBe('0a0178' + '120f' + '0a0d' + '0807' + '1209' + '0a03' + '120162' + '0a02' + '0804');
  });
});
