/**
 * Names for received files (issue 4, section 3: "files land in `H/downloads/` under the offered name
 * made safe: no path traversal, no overwrite"). The offered name comes from the peer and is
 * untrusted; what comes out of `safeFileName` is a single path component that is safe to join to the
 * downloads directory on POSIX and Windows file systems alike. Pure.
 */

/** Longest name most file systems accept (ext4, APFS, NTFS count up to 255 units; UTF-8 bytes is the tightest). */
export const MAX_FILE_NAME_BYTES = 255
/** What an offered name that leaves nothing usable becomes. */
export const FALLBACK_FILE_NAME = "file"

/** Bytes of `s` in UTF-8 (an unpaired surrogate counts as the 3 bytes of U+FFFD). */
export const utf8Length = (s: string): number => {
  let n = 0
  for (const ch of s) {
    const cp = ch.codePointAt(0)!
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
  }
  return n
}

/** Unpaired UTF-16 surrogates: they cannot be written as UTF-8 and would become U+FFFD silently. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
/**
 * Control characters (C0, DEL, C1) and invisible format characters that can disguise a name: bidi
 * overrides and isolates (`invoice\u202Efdp.exe` shows as `invoiceexe.pdf`), marks, zero-width
 * characters and the BOM.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u061C\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g
/** Characters Windows refuses in names; replaced so the file can be copied there too. */
const WINDOWS_RESERVED_CHARS = /[<>:"|?*]/g
/** Device names Windows reserves whatever the extension (`CON`, `nul.txt`, `COM1.log`, …). */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])(?:\..*)?$/i
/** Extensions kept whole when a name is numbered (`a.tar.gz` → `a (1).tar.gz`). */
const COMPOUND_EXTENSION = /\.tar\.(?:gz|bz2|xz|zst|lz|lzma|z)$/i
/** A longer "extension" is treated as part of the name. */
const MAX_EXTENSION_BYTES = 32

/** `[stem, extension]`, the extension with its dot (`""` when there is none). */
const splitExtension = (name: string): readonly [string, string] => {
  const compound = COMPOUND_EXTENSION.exec(name)
  const dot = compound !== null ? compound.index : name.lastIndexOf(".")
  if (dot <= 0) return [name, ""]
  const extension = name.slice(dot)
  return utf8Length(extension) <= MAX_EXTENSION_BYTES ? [name.slice(0, dot), extension] : [name, ""]
}

/** The longest prefix of `s`, cut between code points, that fits in `maxBytes` of UTF-8. */
const truncateUtf8 = (s: string, maxBytes: number): string => {
  let out = ""
  let bytes = 0
  for (const ch of s) {
    const n = utf8Length(ch)
    if (bytes + n > maxBytes) break
    out += ch
    bytes += n
  }
  return out
}

/** Windows drops trailing dots and spaces, and leading dots hide a file on POSIX: both go. */
const trimEnds = (s: string): string => s.replace(/^[\s.]+/u, "").replace(/[\s.]+$/u, "")

/** Shortens `name` to `maxBytes`, keeping its extension when it can. */
const fitName = (name: string, maxBytes: number): string => {
  if (utf8Length(name) <= maxBytes) return name
  const [stem, extension] = splitExtension(name)
  const room = maxBytes - utf8Length(extension)
  const cut = room > 0 ? trimEnds(truncateUtf8(stem, room)) : ""
  return cut.length > 0 ? cut + extension : trimEnds(truncateUtf8(name, maxBytes))
}

/**
 * The offered name made safe: the last path component only (`/` and `\` both separate), Unicode NFC,
 * without control, invisible or unpaired-surrogate characters, Windows-reserved characters replaced
 * by `_`, without leading dots (no hidden files, never `.` or `..`) or trailing dots and spaces, a
 * reserved device name prefixed with `_`, at most 255 bytes of UTF-8 (extension kept), never empty.
 */
export const safeFileName = (offered: string): string => {
  const segments = offered.replace(LONE_SURROGATE, "").split(/[/\\]/)
  const last = segments[segments.length - 1] ?? ""
  let name = last.normalize("NFC").replace(INVISIBLE, "").replace(WINDOWS_RESERVED_CHARS, "_")
  name = trimEnds(name)
  if (WINDOWS_DEVICE.test(name)) name = `_${name}`
  name = fitName(name, MAX_FILE_NAME_BYTES)
  return name.length > 0 ? name : FALLBACK_FILE_NAME
}

/**
 * The `n`-th alternative to `name` when it is taken: `report.pdf` → `report (1).pdf`,
 * `a.tar.gz` → `a (1).tar.gz`, `README` → `README (2)`; `n = 0` is the name itself. Stays within
 * 255 bytes by shortening the stem. `name` should already be safe.
 */
export const numberedName = (name: string, n: number): string => {
  if (n <= 0) return name
  const [stem, extension] = splitExtension(name)
  const suffix = ` (${n})${extension}`
  const room = MAX_FILE_NAME_BYTES - utf8Length(suffix)
  const shortStem = trimEnds(truncateUtf8(stem, Math.max(room, 0)))
  return `${shortStem.length > 0 ? shortStem : FALLBACK_FILE_NAME}${suffix}`
}
