import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLOSE, closeForWireError } from './close-codes.ts';
import { WIRE_ERROR_CODES, WireError } from './errors.ts';
import { KINDS, kindOfSedna, SEDNA_KINDS, sednaKindOf } from './kinds.ts';

for (const [name, spec] of Object.entries(CLOSE)) {
  test(`close code ${name}: valid code and a reason that fits a close frame`, () => {
    assert.ok(spec.code === 1000 || (spec.code > 1000 && spec.code < 1016) || (spec.code >= 4000 && spec.code <= 4999));
    assert.match(spec.reason, /^[ -~]+$/);
    assert.ok(Buffer.byteLength(spec.reason) <= 123);
  });
}

test('close codes are unique', () => {
  const codes = Object.values(CLOSE).map((s) => s.code);
  assert.equal(new Set(codes).size, codes.length);
});

const mapping = WIRE_ERROR_CODES.map((code) => ({
  name: code,
  code,
  close: code === 'ERR_FRAME_TOO_LARGE' ? CLOSE.FRAME_TOO_LARGE : CLOSE.MALFORMED,
}));
for (const c of mapping) {
  test(`closeForWireError: ${c.name}`, () => assert.equal(closeForWireError(new WireError(c.code, 'x')), c.close));
}

test('kinds map between fedmesh and Sedna spelling both ways', () => {
  for (const [i, kind] of KINDS.entries()) {
    assert.equal(sednaKindOf(kind), SEDNA_KINDS[i]);
    assert.equal(sednaKindOf(kind), kind.toLowerCase());
    assert.equal(kindOfSedna(sednaKindOf(kind)), kind);
  }
});
