/**
 * XML mapping of every E2E wire message (PROTOCOL.md §§4, 6, 11, 15); the normative shapes are in
 * `schema/e2e.xsd`, which this module and its tests keep in step. Pure.
 *
 * Decoding is strict: the root must be in `urn:sixchat:e2e:1`, unknown elements, attributes and
 * children are refused, binary values are canonical base64, the file digest is lower-case hex, integers
 * are plain decimals, and every value goes through its Schema before it is returned (PROTOCOL.md §4.4).
 */
import { Either } from "effect"
import { DecodeError } from "../xml/DecodeError.js"
import { elementsIn, presentAttributes, type XmlElement, type XmlLimits } from "../xml/model.js"
import { parseXml } from "../xml/parse.js"
import {
  decodeWith,
  expectEmpty,
  readAttributes,
  readBase64,
  readBigInt,
  readChildren,
  readHex,
  readInt,
  readText
} from "../xml/read.js"
import { base64Encode, hexEncode } from "../xml/values.js"
import { documentBytes, writeXml } from "../xml/write.js"
import { fastDocument, fastReaders } from "./fast.js"
import { fastHello } from "./fastHandshake.js"
import {
  Ack,
  Alert,
  Certificate,
  CertificateVerify,
  Close,
  E2E_NAMESPACE,
  type E2EMessage,
  FileAccept,
  FileAck,
  FileCancel,
  FileDone,
  FileOffer,
  Finished,
  HelloChoice,
  HelloOffer,
  type KeyShare,
  KeyUpdate,
  Message,
  Ping,
  Pong,
  Read,
  Typing
} from "./messages.js"

export { DecodeError } from "../xml/DecodeError.js"

/** Which `<Hello>` the handshake state expects: the initiator's offer or the responder's choice. */
export type HelloKind = "offer" | "choice"

// --- Encoding ------------------------------------------------------------------------------

const el = elementsIn(E2E_NAMESPACE)

const attrs = presentAttributes

const leaf = (name: string) => (text: string) => el(name, [], [], text)
const keyShare = (k: KeyShare) => el("KeyShare", attrs(["group", k.group]), [], base64Encode(k.key))

export const e2eToElement = (msg: E2EMessage): XmlElement => {
  switch (msg._tag) {
    case "e2e.HelloOffer":
      return el("Hello", attrs(["random", base64Encode(msg.random)]), [
        ...msg.versions.map(leaf("Version")),
        ...msg.keyShares.map(keyShare),
        ...msg.suites.map(leaf("Suite")),
        ...msg.sigAlgs.map(leaf("SigAlg")),
        ...(msg.trust === undefined ? [] : [leaf("Trust")(msg.trust)])
      ])
    case "e2e.HelloChoice":
      return el("Hello", attrs(["random", base64Encode(msg.random)]), [
        leaf("Version")(msg.version),
        keyShare(msg.keyShare),
        leaf("Suite")(msg.suite)
      ])
    case "e2e.Certificate":
      return el(
        "Certificate",
        [],
        // Without a status the element is byte-identical to version 1 without stapling (§19).
        msg.status === undefined
          ? msg.chain.map((der) => leaf("Cert")(base64Encode(der)))
          : [...msg.chain.map((der) => leaf("Cert")(base64Encode(der))), leaf("Status")(base64Encode(msg.status))]
      )
    case "e2e.CertificateVerify":
      return el("CertificateVerify", attrs(["alg", msg.algorithm]), [], base64Encode(msg.signature))
    case "e2e.Finished":
      return el("Finished", [], [], base64Encode(msg.mac))
    case "e2e.Alert":
      return el("Alert", attrs(["code", msg.code], ["description", msg.description]))
    case "e2e.KeyUpdate":
      return el("KeyUpdate")
    case "e2e.Close":
      return el("Close", attrs(["reason", msg.reason]))
    case "e2e.Message":
      return el("Message", attrs(["id", msg.id], ["sent", msg.sent]), [leaf("Body")(msg.body)])
    case "e2e.Ack":
      return el("Ack", attrs(["id", msg.id]))
    case "e2e.Read":
      return el("Read", attrs(["id", msg.id]))
    case "e2e.Typing":
      return el("Typing", attrs(["state", msg.state]))
    case "e2e.Ping":
      return el("Ping", attrs(["nonce", msg.nonce]))
    case "e2e.Pong":
      return el("Pong", attrs(["nonce", msg.nonce]))
    case "e2e.FileOffer":
      return el(
        "FileOffer",
        attrs(
          ["id", msg.id],
          ["name", msg.name],
          ["size", msg.size.toString()],
          ["etag", msg.etag],
          ["chunk", String(msg.chunk)]
        )
      )
    case "e2e.FileAccept":
      return el("FileAccept", attrs(["id", msg.id], ["offset", msg.offset.toString()]))
    case "e2e.FileDone":
      return el("FileDone", attrs(["id", msg.id], ["sha256", hexEncode(msg.sha256)]))
    case "e2e.FileAck":
      return el("FileAck", attrs(["id", msg.id]))
    case "e2e.FileCancel":
      return el("FileCancel", attrs(["id", msg.id], ["reason", msg.reason]))
  }
}

/**
 * The exact bytes that are sent (and, for handshake messages, hashed into the transcript). The hot
 * application messages are written directly (`./fast.ts`), the same bytes as through the element tree.
 */
export const encodeE2E = (msg: E2EMessage): Uint8Array => {
  const fast = fastDocument(msg)
  return fast === undefined ? writeXml(e2eToElement(msg)) : documentBytes(fast)
}

// --- Decoding ------------------------------------------------------------------------------

type Decoded = Either.Either<E2EMessage, DecodeError>

const decodeHelloOffer = decodeWith(HelloOffer, "<Hello> (offer)")
const decodeHelloChoice = decodeWith(HelloChoice, "<Hello> (choice)")
const decodeCertificate = decodeWith(Certificate, "<Certificate>")
const decodeCertificateVerify = decodeWith(CertificateVerify, "<CertificateVerify>")
const decodeFinished = decodeWith(Finished, "<Finished>")
const decodeAlert = decodeWith(Alert, "<Alert>")
const decodeKeyUpdate = decodeWith(KeyUpdate, "<KeyUpdate>")
const decodeClose = decodeWith(Close, "<Close>")
const decodeMessage = decodeWith(Message, "<Message>")
const decodeAck = decodeWith(Ack, "<Ack>")
const decodeRead = decodeWith(Read, "<Read>")
const decodeTyping = decodeWith(Typing, "<Typing>")
const decodePing = decodeWith(Ping, "<Ping>")
const decodePong = decodeWith(Pong, "<Pong>")
const decodeFileOffer = decodeWith(FileOffer, "<FileOffer>")
const decodeFileAccept = decodeWith(FileAccept, "<FileAccept>")
const decodeFileDone = decodeWith(FileDone, "<FileDone>")
const decodeFileAck = decodeWith(FileAck, "<FileAck>")
const decodeFileCancel = decodeWith(FileCancel, "<FileCancel>")

/** A leaf whose text is a token (Version, Suite, SigAlg): no attributes. */
const tokenText = (e: XmlElement) => Either.flatMap(readAttributes(e, []), () => readText(e))

// The handshake readers below are plain `Either` code, not `Either.gen`: a generator costs ~5 µs a
// `yield*` here (measured), more than the message's Schema decode, on both ends of every handshake.

const keyShareFrom = (e: XmlElement): Either.Either<{ group: string; key: Uint8Array }, DecodeError> => {
  const a = readAttributes(e, ["group"])
  if (Either.isLeft(a)) return Either.left(a.left)
  const text = readText(e)
  if (Either.isLeft(text)) return Either.left(text.left)
  const key = readBase64(text.right, "KeyShare")
  return Either.isLeft(key) ? Either.left(key.left) : Either.right({ group: a.right.group, key: key.right })
}

const helloFrom = (e: XmlElement, kind: HelloKind): Decoded => {
  const a = readAttributes(e, ["random"])
  if (Either.isLeft(a)) return Either.left(a.left)
  const one = kind === "choice"
  const c = readChildren(e, [
    { name: "Version", min: 1, max: one ? 1 : 8 },
    { name: "KeyShare", min: 1, max: one ? 1 : 4 },
    { name: "Suite", min: 1, max: one ? 1 : 16 },
    { name: "SigAlg", min: one ? 0 : 1, max: one ? 0 : 16 },
    { name: "Trust", min: 0, max: one ? 0 : 1 }
  ])
  if (Either.isLeft(c)) return Either.left(c.left)
  const random = readBase64(a.right.random, "Hello random")
  if (Either.isLeft(random)) return Either.left(random.left)
  const versions = Either.all(c.right.Version.map(tokenText))
  if (Either.isLeft(versions)) return Either.left(versions.left)
  const keyShares = Either.all(c.right.KeyShare.map(keyShareFrom))
  if (Either.isLeft(keyShares)) return Either.left(keyShares.left)
  const suites = Either.all(c.right.Suite.map(tokenText))
  if (Either.isLeft(suites)) return Either.left(suites.left)
  const common = { random: random.right }
  if (one)
    return decodeHelloChoice({
      _tag: "e2e.HelloChoice",
      ...common,
      version: versions.right[0],
      keyShare: keyShares.right[0],
      suite: suites.right[0]
    })
  const sigAlgs = Either.all(c.right.SigAlg.map(tokenText))
  if (Either.isLeft(sigAlgs)) return Either.left(sigAlgs.left)
  const trustElement = c.right.Trust[0]
  const trust = trustElement === undefined ? undefined : tokenText(trustElement)
  if (trust !== undefined && Either.isLeft(trust)) return Either.left(trust.left)
  return decodeHelloOffer({
    _tag: "e2e.HelloOffer",
    ...common,
    versions: versions.right,
    keyShares: keyShares.right,
    suites: suites.right,
    sigAlgs: sigAlgs.right,
    ...(trust === undefined ? {} : { trust: trust.right })
  })
}

/** A leaf with no attributes whose text is base64: its bytes. */
const base64Leaf = (e: XmlElement, field: string): Either.Either<Uint8Array, DecodeError> => {
  const a = readAttributes(e, [])
  if (Either.isLeft(a)) return Either.left(a.left)
  const text = readText(e)
  return Either.isLeft(text) ? Either.left(text.left) : readBase64(text.right, field)
}

/** An empty element carrying only attributes. */
const attributesOnly = <const R extends string, const O extends string = never>(
  e: XmlElement,
  required: ReadonlyArray<R>,
  optional: ReadonlyArray<O> = []
) => Either.flatMap(expectEmpty(e), () => readAttributes(e, required, optional))

const readers: Readonly<Record<string, (e: XmlElement) => Decoded>> = {
  Certificate: (e) => {
    const a = readAttributes(e, [])
    if (Either.isLeft(a)) return Either.left(a.left)
    const c = readChildren(e, [
      { name: "Cert", min: 0, max: 5 },
      { name: "Status", min: 0, max: 1 }
    ])
    if (Either.isLeft(c)) return Either.left(c.left)
    const chain = Either.all(c.right.Cert.map((cert) => base64Leaf(cert, "Cert")))
    if (Either.isLeft(chain)) return Either.left(chain.left)
    const statusElement = c.right.Status[0]
    if (statusElement === undefined) return decodeCertificate({ _tag: "e2e.Certificate", chain: chain.right })
    const status = base64Leaf(statusElement, "Status")
    if (Either.isLeft(status)) return Either.left(status.left)
    return decodeCertificate({ _tag: "e2e.Certificate", chain: chain.right, status: status.right })
  },
  CertificateVerify: (e) => {
    const a = readAttributes(e, ["alg"])
    if (Either.isLeft(a)) return Either.left(a.left)
    const text = readText(e)
    if (Either.isLeft(text)) return Either.left(text.left)
    const signature = readBase64(text.right, "CertificateVerify")
    if (Either.isLeft(signature)) return Either.left(signature.left)
    return decodeCertificateVerify({
      _tag: "e2e.CertificateVerify",
      algorithm: a.right.alg,
      signature: signature.right
    })
  },
  Finished: (e) => {
    const mac = base64Leaf(e, "Finished")
    return Either.isLeft(mac) ? Either.left(mac.left) : decodeFinished({ _tag: "e2e.Finished", mac: mac.right })
  },
  Alert: (e) =>
    Either.flatMap(attributesOnly(e, ["code"], ["description"]), (a) => decodeAlert({ _tag: "e2e.Alert", ...a })),
  KeyUpdate: (e) => Either.flatMap(attributesOnly(e, []), () => decodeKeyUpdate({ _tag: "e2e.KeyUpdate" })),
  Close: (e) => Either.flatMap(attributesOnly(e, [], ["reason"]), (a) => decodeClose({ _tag: "e2e.Close", ...a })),
  // The hottest reader (one per chat message): plain checks instead of Either.gen, which cost ~2 µs here.
  Message: (e) => {
    const a = readAttributes(e, ["id", "sent"])
    if (Either.isLeft(a)) return Either.left(a.left)
    const c = readChildren(e, [{ name: "Body", min: 1, max: 1 }])
    if (Either.isLeft(c)) return Either.left(c.left)
    const bodyEl = c.right.Body[0]!
    const none = readAttributes(bodyEl, [])
    if (Either.isLeft(none)) return Either.left(none.left)
    const body = readText(bodyEl)
    if (Either.isLeft(body)) return Either.left(body.left)
    return decodeMessage({ _tag: "e2e.Message", id: a.right.id, sent: a.right.sent, body: body.right })
  },
  Ack: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decodeAck({ _tag: "e2e.Ack", ...a })),
  Read: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decodeRead({ _tag: "e2e.Read", ...a })),
  Typing: (e) => Either.flatMap(attributesOnly(e, ["state"]), (a) => decodeTyping({ _tag: "e2e.Typing", ...a })),
  Ping: (e) => Either.flatMap(attributesOnly(e, [], ["nonce"]), (a) => decodePing({ _tag: "e2e.Ping", ...a })),
  Pong: (e) => Either.flatMap(attributesOnly(e, [], ["nonce"]), (a) => decodePong({ _tag: "e2e.Pong", ...a })),
  FileOffer: (e) =>
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["id", "name", "size", "etag", "chunk"])
      return yield* decodeFileOffer({
        _tag: "e2e.FileOffer",
        id: a.id,
        name: a.name,
        size: yield* readBigInt(a.size, "FileOffer size"),
        etag: a.etag,
        chunk: yield* readInt(a.chunk, "FileOffer chunk", 6)
      })
    }),
  FileAccept: (e) =>
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["id", "offset"])
      const offset = yield* readBigInt(a.offset, "FileAccept offset")
      return yield* decodeFileAccept({ _tag: "e2e.FileAccept", id: a.id, offset })
    }),
  FileDone: (e) =>
    Either.gen(function* () {
      const a = yield* attributesOnly(e, ["id", "sha256"])
      return yield* decodeFileDone({
        _tag: "e2e.FileDone",
        id: a.id,
        sha256: yield* readHex(a.sha256, "FileDone sha256")
      })
    }),
  FileAck: (e) => Either.flatMap(attributesOnly(e, ["id"]), (a) => decodeFileAck({ _tag: "e2e.FileAck", ...a })),
  FileCancel: (e) =>
    Either.flatMap(attributesOnly(e, ["id"], ["reason"]), (a) => decodeFileCancel({ _tag: "e2e.FileCancel", ...a }))
}

const wrongNamespace = (root: XmlElement): Decoded =>
  Either.left(
    new DecodeError({
      reason: "Namespace",
      message: `<${root.name}> is in namespace "${root.namespace}"; E2E messages are in "${E2E_NAMESPACE}".`
    })
  )

/**
 * The typed message a parsed document carries. `hello` says which `<Hello>` the handshake state
 * expects (the element is the same for both; PROTOCOL.md §6).
 */
export const e2eFromElement = (root: XmlElement, hello: HelloKind = "offer"): Decoded => {
  if (root.namespace !== E2E_NAMESPACE) return wrongNamespace(root)
  if (root.name === "Hello") {
    const fastHelloValue = fastHello(root, hello)
    return fastHelloValue === undefined ? helloFrom(root, hello) : Either.right(fastHelloValue)
  }
  // The hot application messages and the handshake's: their fast reader decides valid elements, the
  // Schema path the rest.
  const fast = Object.hasOwn(fastReaders, root.name) ? fastReaders[root.name]!(root) : undefined
  return fast === undefined ? e2eFromElementBySchema(root, hello) : Either.right(fast)
}

/** `e2eFromElement` through the Schema path only: the reference the fast readers are tested against. */
export const e2eFromElementBySchema = (root: XmlElement, hello: HelloKind = "offer"): Decoded => {
  if (root.namespace !== E2E_NAMESPACE) return wrongNamespace(root)
  if (root.name === "Hello") return helloFrom(root, hello)
  const reader = Object.hasOwn(readers, root.name) ? readers[root.name] : undefined
  return reader === undefined
    ? Either.left(new DecodeError({ reason: "UnknownElement", message: `<${root.name}> is not an E2E message.` }))
    : reader(root)
}

/** Parses and decodes one E2E document; any failure is a `DecodeError` (a `decode_error` alert), never a throw. */
export const decodeE2E = (bytes: Uint8Array, hello: HelloKind = "offer", limits?: Partial<XmlLimits>): Decoded =>
  Either.match(parseXml(bytes, limits), {
    onLeft: (cause) => Either.left(new DecodeError({ reason: "Xml", message: cause.message, cause })),
    onRight: (root) => e2eFromElement(root, hello)
  })
