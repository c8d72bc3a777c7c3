/**
 * The initiator's handshake (PROTOCOL.md §6), one state per step:
 *
 *   begin -> AwaitHello --onHello--> [peer auth: AwaitCertificate ... PeerAuthenticated]
 *         -> AwaitPeer (awaitPeer.ts) --onPeerAuthenticated--> (our flight) + Established
 *
 * The initiator reveals its certificate only after it has authenticated the responder.
 */
import { Either } from "effect"
import { handshakeSecrets, type TrafficKeys, trafficKeys } from "../channel/keySchedule.js"
import { Transcript } from "../channel/transcript.js"
import type { X25519KeyPair } from "../crypto/primitives.js"
import type { HelloChoice, HelloOffer } from "../e2e/messages.js"
import { encodeE2E } from "../e2e/xml.js"
import { AwaitPeer } from "./awaitPeer.js"
import { fail, type HandshakeError } from "./errors.js"
import { GROUP_X25519, type HandshakeConfig, PROTOCOL_VERSIONS, SIGNATURE_ALGORITHMS, SUITES } from "./parameters.js"
import { AwaitCertificate } from "./peerAuth.js"

/** Builds our Hello from 32 random bytes and 32 secret bytes for the X25519 share. */
export const begin = (
  config: HandshakeConfig,
  random: Uint8Array,
  keyShareSecret: Uint8Array
): { readonly state: AwaitHello; readonly hello: Uint8Array } => {
  const keyPair = config.crypto.keyExchange.fromSecret(keyShareSecret)
  const offer: HelloOffer = {
    _tag: "e2e.HelloOffer",
    random,
    versions: [...PROTOCOL_VERSIONS],
    keyShares: [{ group: GROUP_X25519, key: keyPair.publicKey }],
    suites: [...SUITES],
    sigAlgs: [...SIGNATURE_ALGORITHMS],
    ...(config.requestPublicChain === true ? { trust: "public" as const } : {})
  }
  const hello = encodeE2E(offer)
  const transcript = new Transcript(config.crypto.hashing).add(hello)
  return { state: new AwaitHello(config, offer, keyPair, transcript), hello }
}

export interface HandshakeKeys {
  readonly read: TrafficKeys
  readonly write: TrafficKeys
}

export class AwaitHello {
  readonly _tag = "InitiatorAwaitHello"
  constructor(
    readonly config: HandshakeConfig,
    readonly offer: HelloOffer,
    readonly keyPair: X25519KeyPair,
    readonly transcript: Transcript
  ) {}

  /** The responder's choice must be one of ours (downgrade: Finished covers the offer, PROTOCOL.md §6.8). */
  onHello(
    raw: Uint8Array,
    choice: HelloChoice
  ): Either.Either<
    { readonly peerAuth: AwaitCertificate; readonly next: AwaitPeer; readonly keys: HandshakeKeys },
    HandshakeError
  > {
    if (!this.offer.versions.includes(choice.version))
      return Either.left(
        fail("ProtocolVersion", "protocol_version", `the responder chose version ${choice.version}, never offered`)
      )
    if (!this.offer.suites.includes(choice.suite))
      return Either.left(
        fail("IllegalParameter", "illegal_parameter", `the responder chose suite ${choice.suite}, never offered`)
      )
    if (choice.keyShare.group !== GROUP_X25519 || choice.keyShare.key.length !== 32)
      return Either.left(
        fail("IllegalParameter", "illegal_parameter", "the responder's key share is not an X25519 key")
      )
    const shared = this.keyPair.agree(choice.keyShare.key)
    if (shared === null)
      return Either.left(
        fail("BadKeyShare", "illegal_parameter", "the responder's X25519 share gives an all-zero secret")
      )
    this.transcript.add(raw)
    const { hashing, signatures } = this.config.crypto
    const secrets = handshakeSecrets(hashing, shared, this.transcript.hash())
    const peerAuth = new AwaitCertificate({
      hashing,
      signatures,
      transcript: this.transcript,
      peerRole: "responder",
      peerSecret: secrets.responder,
      allowAnonymous: false,
      ownFingerprint: this.config.identity?.fingerprint,
      acceptedSigAlgs: this.offer.sigAlgs
    })
    return Either.right({
      peerAuth,
      next: new AwaitPeer(this.config, secrets, this.transcript, "initiator", choice.version, choice.suite),
      keys: { read: trafficKeys(hashing, secrets.responder), write: trafficKeys(hashing, secrets.initiator) }
    })
  }
}
