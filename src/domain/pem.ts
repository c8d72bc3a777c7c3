/**
 * PEM (RFC 7468) to DER and back. Pure.
 */

export interface PemBlock {
  readonly label: string
  readonly der: Uint8Array
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n([A-Za-z0-9+/=\r\n\t ]*?)-----END \1-----/g

/** Every PEM block in `text`, in order (a file may hold several certificates). */
export const pemDecodeAll = (text: string): ReadonlyArray<PemBlock> => {
  const out: Array<PemBlock> = []
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.replace(/\s+/g, "")
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) continue
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(body, "base64")) })
  }
  return out
}

/** The DER of every block with the given label (`CERTIFICATE`, `PRIVATE KEY`, …). */
export const pemDecode = (text: string, label: string): ReadonlyArray<Uint8Array> =>
  pemDecodeAll(text)
    .filter((b) => b.label === label)
    .map((b) => b.der)

export const pemEncode = (label: string, der: Uint8Array): string => {
  const b64 = Buffer.from(der).toString("base64")
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`
}
