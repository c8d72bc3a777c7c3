/** `isOf` answers exactly as `Schema.is` on the leaf schemas of the wire messages, for any value. */
import { Schema } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Handle, Id, Port } from "../../src/domain/brands.js"
import { RevocationReason, SerialHex } from "../../src/domain/irp/certificates.js"
import {
  Der,
  EpochMs,
  ErrorCode,
  ErrorMessage,
  IdentityStatus,
  RetryAfterMs,
  TokenText,
  WireHost,
  WirePort
} from "../../src/domain/irp/messages.js"
import { DeviceId, Seq } from "../../src/domain/irp/registry.js"
import { isOf } from "../../src/domain/xml/is.js"

const schemas = {
  Id,
  Handle,
  Port,
  WireHost,
  WirePort,
  EpochMs,
  Seq,
  DeviceId,
  SerialHex,
  RevocationReason,
  ErrorCode,
  ErrorMessage,
  RetryAfterMs,
  IdentityStatus,
  TokenText,
  Der
} as const

const interesting = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.stringMatching(/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/),
  fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
  fc.stringMatching(/^[a-z0-9._+-]{1,12}@[a-z0-9.-]{1,12}$/),
  fc.stringMatching(/^[A-Za-z0-9._:%-]{0,260}$/),
  fc.constantFrom(
    "good",
    "revoked",
    "unknown",
    "superseded",
    "rate_limited",
    "0",
    "0a",
    "a",
    "x".repeat(513),
    "\u0007"
  ),
  fc.integer(),
  fc.integer({ min: -2, max: 70_000 }),
  fc.double(),
  fc.constantFrom(0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 253_402_300_799_999, 253_402_300_800_000),
  fc.bigInt({ min: -2n, max: 2n ** 64n }),
  fc.uint8Array({ maxLength: 10 }),
  fc.constantFrom(new Uint8Array(0), new Uint8Array(8192), new Uint8Array(8193), null, undefined, {}, [], true),
  // Byte-like values that are not all `Uint8Array`s (the compiled `Uint8ArrayFromSelf` test).
  fc.constantFrom(
    Buffer.alloc(3),
    new Uint8ClampedArray(2),
    new Uint16Array(2),
    new Int8Array(2),
    new ArrayBuffer(2),
    new DataView(new ArrayBuffer(2)),
    [1, 2]
  )
)

describe("isOf", () => {
  for (const [name, schema] of Object.entries(schemas))
    it(`equals Schema.is for ${name}`, () => {
      const fast = isOf(schema as Schema.Schema<unknown, unknown, never>)
      const reference = Schema.is(schema as Schema.Schema<unknown, unknown, never>)
      fc.assert(
        fc.property(interesting, (u) => {
          expect(fast(u)).toBe(reference(u))
        }),
        { numRuns: 3000, seed: 5 }
      )
    })
})
