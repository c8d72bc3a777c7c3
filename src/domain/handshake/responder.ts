/**
 * The responder's handshake (PROTOCOL.md §6), one state per step:
 *
 *   onHello (choose; our Hello + our flight) -> [peer auth: AwaitCertificate ... PeerAuthenticated]
 *     -> AwaitPeer (awaitPeer.ts) --onPeerAuthenticated--> Established
 */
import { Either } from "effect"
import { handshakeSecrets, trafficKeys } from "../channel/keySchedule.js"
import { Transcript } from "../channel/transcript.js"
import type { HelloChoice, HelloOffer } from "../e2e/messages.js"
import { encodeE2E } from "../e2e/xml.js"
import { AwaitPeer } from "./awaitPeer.js"
import { fail, type HandshakeError } from "./errors.js"
import type { HandshakeKeys } from "./initiator.js"
import { ownFlight } from "./ownFlight.js"
import { GROUP_X25519, type HandshakeConfig, PROTOCOL_VERSIONS, SIGNATURE_ALGORITHMS, SUITES } from "./parameters.js"
import { AwaitCertificate } from "./peerAuth.js"

/**
 * The "highest" common version (PROTOCOL.md §6.4 step 2, §6.8): the first of our own versions, listed
 * newest first, that the initiator offered. Versions are tokens, not numbers: one we do not know is
 * skipped, whatever it looks like.
 */
const chooseVersion = (offered: ReadonlyArray<string>): string | undefined =>
  PROTOCOL_VERSIONS.find((v) => offered.includes(v))

/** The first value an offer lists twice, if any (§6.4 step 1: an offer names each one once). */
const repeated = (values: ReadonlyArray<string>): string | undefined => values.find((v, i) => values.indexOf(v) !== i)

/** §6.4 step 1, as RFC 8446 §4.2.8 for key shares: a repeated Version, group, Suite or SigAlg is illegal_parameter. */
const offerProblem = (offer: HelloOffer): string | undefined => {
  const lists = [
    ["Version", offer.versions],
    ["KeyShare group", offer.keyShares.map((k) => k.group)],
    ["Suite", offer.suites],
    ["SigAlg", offer.sigAlgs]
  ] as const
  for (const [what, values] of lists) {
    const twice = repeated(values)
    if (twice !== undefined) return `the offer lists ${what} ${twice} twice`
  }
  return undefined
}

export interface ResponderStarted {
  /** Our plaintext Hello, then the flight to send under our handshake key. */
  readonly hello: Uint8Array
  readonly flight: ReadonlyArray<Uint8Array>
  readonly keys: HandshakeKeys
  readonly peerAuth: AwaitCertificate
  readonly next: AwaitPeer
}

/** The initiator's Hello arrived: choose, answer, and send our authentication flight at once. */
export const onHello = (
  config: HandshakeConfig,
  random: Uint8Array,
  keyShareSecret: Uint8Array,
  raw: Uint8Array,
  offer: HelloOffer
): Either.Either<ResponderStarted, HandshakeError> => {
  const problem = offerProblem(offer)
  if (problem !== undefined) return Either.left(fail("IllegalParameter", "illegal_parameter", problem))
  const version = chooseVersion(offer.versions)
  if (version === undefined)
    return Either.left(
      fail("ProtocolVersion", "protocol_version", `no common protocol version in ${offer.versions.join(",")}`)
    )
  const suite = SUITES.find((s) => offer.suites.includes(s))
  if (suite === undefined) return Either.left(fail("NoCommonParameters", "handshake_failure", "no common cipher suite"))
  const share = offer.keyShares.find((k) => k.group === GROUP_X25519)
  if (share === undefined)
    return Either.left(fail("NoCommonParameters", "handshake_failure", "no X25519 key share offered"))
  if (share.key.length !== 32)
    return Either.left(fail("IllegalParameter", "illegal_parameter", "the X25519 key share is not 32 bytes"))
  // §22.2.3: `<Trust>public</Trust>` asks for the public chain; without one we present the domain chain,
  // which the asking IRP refuses (`unknown_ca`).
  const identity =
    offer.trust === "public" && config.publicIdentity !== undefined ? config.publicIdentity : config.identity
  if (identity !== null && !offer.sigAlgs.includes(identity.key.algorithm))
    return Either.left(
      fail(
        "NoCommonParameters",
        "handshake_failure",
        `the initiator does not accept ${identity.key.algorithm} signatures`
      )
    )
  const { hashing, signatures, keyExchange } = config.crypto
  const keyPair = keyExchange.fromSecret(keyShareSecret)
  const shared = keyPair.agree(share.key)
  if (shared === null)
    return Either.left(
      fail("BadKeyShare", "illegal_parameter", "the initiator's X25519 share gives an all-zero secret")
    )
  const choice: HelloChoice = {
    _tag: "e2e.HelloChoice",
    random,
    version,
    keyShare: { group: GROUP_X25519, key: keyPair.publicKey },
    suite
  }
  const hello = encodeE2E(choice)
  const transcript = new Transcript(hashing).add(raw).add(hello)
  const secrets = handshakeSecrets(hashing, shared, transcript.hash())
  const flight = ownFlight(hashing, transcript, "responder", secrets.responder, identity)
  return Either.right({
    hello,
    flight,
    keys: { read: trafficKeys(hashing, secrets.initiator), write: trafficKeys(hashing, secrets.responder) },
    peerAuth: new AwaitCertificate({
      hashing,
      signatures,
      transcript,
      peerRole: "initiator",
      peerSecret: secrets.initiator,
      allowAnonymous: config.allowAnonymousPeer,
      ownFingerprint: identity?.fingerprint,
      acceptedSigAlgs: SIGNATURE_ALGORITHMS
    }),
    next: new AwaitPeer(config, secrets, transcript, "responder", version, suite)
  })
}
