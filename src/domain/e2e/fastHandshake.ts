/**
 * The handshake's messages (`<Hello>` both ways, `<Certificate>`, `<CertificateVerify>`, `<Finished>`) and
 * `<Close>`, read and written without the generic machinery, under the contract of `./fast.ts`: a reader
 * returns `undefined` ("not decided here") or exactly the value the Schema path of `./xml.ts` returns,
 * same fields in the same order; it decides only valid elements, and leaf values go through their own
 * schemas' predicates (`isOf`), so PROTOCOL.md §4.4 holds value for value. A writer produces the bytes the
 * element tree serialises to. Every handshake decodes four of these and encodes four on each side, where
 * the Schema path (~3–6 µs a message in `ParseResult` frames) and the tree writer cost more than the
 * parse itself (issue 15). `test/xml/e2eFast.test.ts` holds both paths equal. Pure.
 */
import { isBlank } from "../xml/chars.js"
import { isOf } from "../xml/is.js"
import type { XmlElement } from "../xml/model.js"
import { base64Decode, base64Encode, certificateBase64 } from "../xml/values.js"
import { escapeAttribute, escapeText } from "../xml/write.js"
import {
  type Certificate,
  CertificateDer,
  CertificateVerify,
  type Close,
  E2E_NAMESPACE,
  Finished,
  HelloChoice,
  HelloOffer,
  KeyShare,
  SigAlg,
  StapledStatus,
  Suite,
  Token,
  TrustPublic
} from "./messages.js"

type HelloKind = "offer" | "choice"

const isToken = isOf(Token)
const isSuite = isOf(Suite)
const isSigAlg = isOf(SigAlg)
const isGroup = isOf(KeyShare.fields.group)
const isKey = isOf(KeyShare.fields.key)
const isRandom = isOf(HelloOffer.fields.random)
const isChoiceRandom = isOf(HelloChoice.fields.random)
const isTrust = isOf(TrustPublic)
const isCert = isOf(CertificateDer)
const isStatus = isOf(StapledStatus)
const isSignature = isOf(CertificateVerify.fields.signature)
const isAlgorithm = isOf(CertificateVerify.fields.algorithm)
const isMac = isOf(Finished.fields.mac)

/** A child in the root's namespace with this name, no attributes and no children: its text. */
const leafText = (e: XmlElement, name: string, ns: string): string | undefined =>
  e.name === name && e.namespace === ns && e.attributes.length === 0 && e.children.length === 0 ? e.text : undefined

/** The bytes of a canonical base64 leaf (see `leafText`). */
const leafBytes = (e: XmlElement, name: string, ns: string): Uint8Array | undefined => {
  const text = leafText(e, name, ns)
  return text === undefined ? undefined : base64Decode(text)
}

/** The only attribute of `e`, when it is `name`. */
const soleAttribute = (e: XmlElement, name: string): string | undefined => {
  if (e.attributes.length !== 1) return undefined
  const a = e.attributes[0]!
  return a.name === name ? a.value : undefined
}

/** The children from `at` on that `read` accepts, in a row: their values and the next index; `undefined` past `max`. */
const run = <A>(
  children: ReadonlyArray<XmlElement>,
  at: number,
  max: number,
  read: (e: XmlElement) => A | undefined
): { values: Array<A>; next: number } | undefined => {
  const values: Array<A> = []
  let i = at
  for (; i < children.length; i++) {
    const value = read(children[i]!)
    if (value === undefined) break
    if (values.length === max) return undefined
    values.push(value)
  }
  return { values, next: i }
}

const token =
  (name: string, ns: string, valid: (s: string) => boolean) =>
  (e: XmlElement): string | undefined => {
    const text = leafText(e, name, ns)
    return text !== undefined && valid(text) ? text : undefined
  }

const keyShare =
  (ns: string) =>
  (e: XmlElement): { group: string; key: Uint8Array } | undefined => {
    if (e.name !== "KeyShare" || e.namespace !== ns || e.children.length !== 0) return undefined
    const group = soleAttribute(e, "group")
    if (group === undefined || !isGroup(group)) return undefined
    const key = base64Decode(e.text)
    return key !== undefined && isKey(key) ? { group, key } : undefined
  }

/** `<Hello>`: the offer (PROTOCOL.md §6.2) or the choice (§6.3), as the handshake state expects. */
export const fastHello = (e: XmlElement, kind: HelloKind): HelloOffer | HelloChoice | undefined => {
  if (!isBlank(e.text)) return undefined
  const randomText = soleAttribute(e, "random")
  const random = randomText === undefined ? undefined : base64Decode(randomText)
  if (random === undefined) return undefined
  const ns = e.namespace
  const children = e.children
  if (kind === "choice") {
    if (children.length !== 3 || !isChoiceRandom(random)) return undefined
    const version = token("Version", ns, isToken)(children[0]!)
    const share = keyShare(ns)(children[1]!)
    const suite = token("Suite", ns, isSuite)(children[2]!)
    if (version === undefined || share === undefined || suite === undefined) return undefined
    return { _tag: "e2e.HelloChoice", random, version, keyShare: share, suite }
  }
  if (!isRandom(random)) return undefined
  const versions = run(children, 0, 8, token("Version", ns, isToken))
  if (versions === undefined || versions.values.length === 0) return undefined
  const keyShares = run(children, versions.next, 4, keyShare(ns))
  if (keyShares === undefined || keyShares.values.length === 0) return undefined
  const suites = run(children, keyShares.next, 16, token("Suite", ns, isSuite))
  if (suites === undefined || suites.values.length === 0) return undefined
  const sigAlgs = run(children, suites.next, 16, token("SigAlg", ns, isSigAlg))
  if (sigAlgs === undefined || sigAlgs.values.length === 0) return undefined
  const rest = children.length - sigAlgs.next
  if (rest === 0)
    return {
      _tag: "e2e.HelloOffer",
      random,
      versions: versions.values as [string, ...Array<string>],
      keyShares: keyShares.values as [KeyShare, ...Array<KeyShare>],
      suites: suites.values as [string, ...Array<string>],
      sigAlgs: sigAlgs.values as [string, ...Array<string>]
    }
  const trust = rest === 1 ? leafText(children[sigAlgs.next]!, "Trust", ns) : undefined
  if (trust === undefined || !isTrust(trust)) return undefined
  return {
    _tag: "e2e.HelloOffer",
    random,
    versions: versions.values as [string, ...Array<string>],
    keyShares: keyShares.values as [KeyShare, ...Array<KeyShare>],
    suites: suites.values as [string, ...Array<string>],
    sigAlgs: sigAlgs.values as [string, ...Array<string>],
    trust
  }
}

/** `<Certificate>`: up to five `<Cert>`, then at most one `<Status>` (PROTOCOL.md §5.1.3). */
const certificate = (e: XmlElement): Certificate | undefined => {
  if (e.attributes.length !== 0 || !isBlank(e.text)) return undefined
  const ns = e.namespace
  const chain = run(e.children, 0, 5, (c) => {
    const der = leafBytes(c, "Cert", ns)
    return der !== undefined && isCert(der) ? der : undefined
  })
  if (chain === undefined) return undefined
  const rest = e.children.length - chain.next
  if (rest === 0) return { _tag: "e2e.Certificate", chain: chain.values }
  const status = rest === 1 ? leafBytes(e.children[chain.next]!, "Status", ns) : undefined
  return status !== undefined && isStatus(status) ? { _tag: "e2e.Certificate", chain: chain.values, status } : undefined
}

const certificateVerify = (e: XmlElement): CertificateVerify | undefined => {
  const algorithm = soleAttribute(e, "alg")
  if (algorithm === undefined || e.children.length !== 0 || !isAlgorithm(algorithm)) return undefined
  const signature = base64Decode(e.text)
  return signature !== undefined && isSignature(signature)
    ? { _tag: "e2e.CertificateVerify", algorithm, signature }
    : undefined
}

const finished = (e: XmlElement): Finished | undefined => {
  if (e.attributes.length !== 0 || e.children.length !== 0) return undefined
  const mac = base64Decode(e.text)
  return mac !== undefined && isMac(mac) ? { _tag: "e2e.Finished", mac } : undefined
}

/** `<Close/>`, or `<Close reason="…"/>` (PROTOCOL.md §11.9): the last record of every session. */
const close = (e: XmlElement): Close | undefined => {
  if (e.children.length !== 0 || e.text !== "") return undefined
  if (e.attributes.length === 0) return { _tag: "e2e.Close" }
  const reason = soleAttribute(e, "reason")
  return reason !== undefined && isToken(reason) ? { _tag: "e2e.Close", reason } : undefined
}

/** The fast readers of the handshake's other messages and `<Close>`, by element name (the root is in the E2E namespace). */
export const fastHandshakeReaders: Readonly<
  Record<string, (e: XmlElement) => Certificate | CertificateVerify | Finished | Close | undefined>
> = {
  Certificate: certificate,
  CertificateVerify: certificateVerify,
  Finished: finished,
  Close: close
}

// --- Writing -------------------------------------------------------------------------------

const OPEN_NS = ` xmlns="${E2E_NAMESPACE}"`

/** `<name>text</name>`, or `<name/>` for empty text (as the tree writer does). */
const leaf = (name: string, text: string): string =>
  text === "" ? `<${name}/>` : `<${name}>${escapeText(text)}</${name}>`

const keyShareXml = (k: KeyShare): string => {
  const head = `<KeyShare group="${escapeAttribute(k.group)}"`
  const key = base64Encode(k.key)
  return key === "" ? `${head}/>` : `${head}>${key}</KeyShare>`
}

/** The serialised document of a handshake message or `<Close>`, or `undefined` for other messages. */
export const fastHandshakeDocument = (m: { readonly _tag: string }): string | undefined => {
  switch (m._tag) {
    case "e2e.HelloOffer": {
      const o = m as HelloOffer
      let out = `<Hello${OPEN_NS} random="${base64Encode(o.random)}">`
      for (const v of o.versions) out += leaf("Version", v)
      for (const k of o.keyShares) out += keyShareXml(k)
      for (const s of o.suites) out += leaf("Suite", s)
      for (const a of o.sigAlgs) out += leaf("SigAlg", a)
      if (o.trust !== undefined) out += leaf("Trust", o.trust)
      return `${out}</Hello>`
    }
    case "e2e.HelloChoice": {
      const c = m as HelloChoice
      return `<Hello${OPEN_NS} random="${base64Encode(c.random)}">${leaf("Version", c.version)}${keyShareXml(c.keyShare)}${leaf("Suite", c.suite)}</Hello>`
    }
    case "e2e.Certificate": {
      const c = m as Certificate
      if (c.chain.length === 0 && c.status === undefined) return `<Certificate${OPEN_NS}/>`
      let out = `<Certificate${OPEN_NS}>`
      for (const der of c.chain) out += leaf("Cert", certificateBase64(der))
      if (c.status !== undefined) out += leaf("Status", base64Encode(c.status))
      return `${out}</Certificate>`
    }
    case "e2e.CertificateVerify": {
      const v = m as CertificateVerify
      const head = `<CertificateVerify${OPEN_NS} alg="${escapeAttribute(v.algorithm)}"`
      const signature = base64Encode(v.signature)
      return signature === "" ? `${head}/>` : `${head}>${signature}</CertificateVerify>`
    }
    case "e2e.Finished": {
      const mac = base64Encode((m as Finished).mac)
      return mac === "" ? `<Finished${OPEN_NS}/>` : `<Finished${OPEN_NS}>${mac}</Finished>`
    }
    case "e2e.Close": {
      const reason = (m as Close).reason
      return reason === undefined ? `<Close${OPEN_NS}/>` : `<Close${OPEN_NS} reason="${escapeAttribute(reason)}"/>`
    }
    default:
      return undefined
  }
}
