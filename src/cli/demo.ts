/**
 * `sixchat demo` (what `npm start` runs; issue 4, section 5): the whole flow in one command, on
 * loopback (IPv6 `::1` when the host has it), everything in a temporary directory removed at the end.
 *
 *  1. the operator creates the domain example.org and starts its IRP server (in this process, SQLite);
 *  2. alice and bob each make a key, get a one-time token and enrol over the real protocol (`Enroll`);
 *  3. both agents start as real `sixchat agent` processes and register with the IRP;
 *  4. alice looks bob up, her agent dials him directly; both show the same session code;
 *  5. messages both ways with delivery receipts, a read receipt, a file checked by SHA-256;
 *  6. bob's agent is stopped; alice sends two messages (queued); bob's agent starts again on a new
 *     port, the IRP tells alice's agent (Watch), and both messages arrive, once each;
 *  7. a second domain, other.net, with its own IRP: carol@other.net enrols there; the two IRPs federate
 *     (public certificates for irp.<domain> from a demo CA standing in for the Web PKI, and the demo's
 *     stand-in for DNS, demoFederation.ts); alice and carol write to each other directly;
 *  8. everything shuts down cleanly (agents deregister, the IRP servers close).
 *
 * The agents are driven through their control sockets, exactly as `sixchat send`, `history`, `status`
 * and `send-file` drive them.
 */
import { createHash, randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { networkInterfaces, tmpdir } from "node:os"
import * as path from "node:path"
import * as Command from "@effect/cli/Command"
import { Clock, Context, Effect, Layer, Logger, LogLevel } from "effect"
import type { DomainName } from "../domain/agent/domainRoots.js"
import { type Address, formatAddress, type Handle, makeAddress } from "../domain/brands.js"
import { certificateIdentity } from "../domain/cert/identity.js"
import { pemDecode, pemEncode } from "../domain/pem.js"
import { ENROLLMENT_TOKEN_BYTES, formatEnrollmentToken } from "../domain/pki/token.js"
import * as CertVerifierLive from "../layers/CertVerifierLive.js"
import * as CertificateAuthorityLive from "../layers/ca/CertificateAuthority.js"
import { CertificateAuthority } from "../layers/ca/CertificateAuthority.js"
import { initDomain, type LoadedDomain, loadDomain } from "../layers/ca/DomainDirectory.js"
import { newIdentity } from "../layers/ca/Identity.js"
import * as IrpClientLive from "../layers/irp/client/IrpClientLive.js"
import * as IrpServerLive from "../layers/irp/server/IrpServerLive.js"
import * as TcpTransport from "../layers/transport/TcpTransport.js"
import { Entropy } from "../services/Entropy.js"
import { Federation } from "../services/Federation.js"
import { IrpRegistry, type IrpRegistryService } from "../services/IrpRegistry.js"
import { cryptoLayer, cryptoOption, stdoutLine } from "./common.js"
import { type AgentProcess, call, demoFailure, detail, startAgent, step, waitFor } from "./demoAgents.js"
import { type DemoWeb, federating, federationFor, makeDemoWeb } from "./demoFederation.js"
import { writeIdentityConfig } from "./home.js"
import { registryLayer } from "./irpAdmin.js"

const DOMAIN = "example.org"
const OTHER = "other.net"
const alice = `alice@${DOMAIN}` as Handle
const bob = `bob@${DOMAIN}` as Handle
const carol = `carol@${OTHER}` as Handle

const hasIpv6Loopback = (): boolean =>
  Object.values(networkInterfaces()).some((list) => list?.some((i) => i.family === "IPv6" && i.address === "::1"))

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex")
const short = (hex: string) => `${hex.slice(0, 16)}…`
const failed = (what: string) => (e: { readonly message: string }) => demoFailure(`${what}: ${e.message}`)

/** Enrols `handle` in `home` the way `sixchat id new` + `irp token` + `id enroll` do, over the real protocol. */
const enrol = (handle: Handle, home: string, irp: Address, domain: LoadedDomain, registry: IrpRegistryService) =>
  Effect.gen(function* () {
    const entropy = yield* Entropy
    const created = yield* newIdentity({ home, handle, entropy: entropy.bytes })
    const token = formatEnrollmentToken(entropy.bytes(ENROLLMENT_TOKEN_BYTES))
    const now = yield* Clock.currentTimeMillis
    yield* registry.createToken({
      handle,
      tokenHash: new Uint8Array(createHash("sha256").update(token).digest()),
      expiresAt: now + 600_000
    })
    const issued = yield* Effect.scoped(
      Effect.flatMap(
        IrpClientLive.connect({
          address: irp,
          serverName: domain.config.serverName,
          identity: null
        }),
        (client) => client.enroll({ handle, token, csr: created.csrDer })
      )
    ).pipe(Effect.provide(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })))
    writeFileSync(path.join(home, "cert.pem"), issued.chain.map((d) => pemEncode("CERTIFICATE", d)).join(""))
    writeFileSync(path.join(home, "ca.pem"), pemEncode("CERTIFICATE", domain.rootCertificate))
    yield* writeIdentityConfig(home, {
      version: 1,
      handle,
      deviceId: `demo-${handle.split("@")[0]}`,
      irp: formatAddress(irp),
      irpServerName: domain.config.serverName
    })
    const leaf = certificateIdentity(issued.chain[0]!)
    yield* detail(
      `${handle}: token used once, certificate serial ${issued.serial}, key ${short(leaf?.fingerprint ?? "")}`
    )
  }).pipe(Effect.mapError(failed(`enrolling ${handle}`)))

/**
 * A domain's IRP server in this process, federating (PROTOCOL.md §22): its public chain, the demo's
 * public anchors for other IRPs, and the relay to other domains found through the demo's DNS.
 */
const startIrp = (domainDir: string, host: string, web: DemoWeb) =>
  Effect.gen(function* () {
    const loaded = yield* loadDomain(domainDir).pipe(Effect.mapError(failed("loading the domain")))
    const domain = federating(loaded, web)
    const registry = Context.get(
      yield* Layer.build(registryLayer({ _tag: "Sqlite", path: path.join(domainDir, "irp.sqlite") })),
      IrpRegistry
    )
    const ca = yield* CertificateAuthorityLive.make(domain)
    const { publicVerifier, relay } = yield* federationFor(domain, web).pipe(
      Effect.mapError(failed("starting the federation relay"))
    )
    const server = yield* IrpServerLive.make({
      domain,
      listen: [makeAddress(host, 0)],
      federation: { publicVerifier }
    }).pipe(
      Effect.provideService(IrpRegistry, registry),
      Effect.provideService(CertificateAuthority, ca),
      Effect.provideService(Federation, relay),
      Effect.provide(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })),
      Effect.mapError(failed("starting the IRP server"))
    )
    const irp = server.addresses[0]!
    web.at.set(domain.config.domain, irp)
    return { domain, registry, irp }
  })

const stateOf = (agent: AgentProcess, id: string) =>
  Effect.map(call(agent, "history", { limit: 1000 }), (h) => h.find((m) => m.id === id && m.direction === "out")?.state)

const untilState = (
  agent: AgentProcess,
  id: string,
  states: ReadonlyArray<string>,
  agents: ReadonlyArray<AgentProcess>
) =>
  waitFor(
    `message ${id} to be ${states.join(" or ")}`,
    Effect.map(stateOf(agent, id), (s) => (s !== undefined && states.includes(s) ? s : undefined)),
    agents
  )

const registered = (agent: AgentProcess) =>
  waitFor(
    `${agent.name}'s agent to register with the IRP`,
    Effect.map(call(agent, "status", {}), (s) => (s.registered.length > 0 ? s : undefined)),
    [agent]
  )

const demo = (dir: string, crypto: "node" | "noble") =>
  Effect.gen(function* () {
    const started = Date.now()
    const entropy = yield* Entropy
    const host = hasIpv6Loopback() ? "::1" : "127.0.0.1"
    const listen = host.includes(":") ? `[${host}]:0` : `${host}:0`
    yield* stdoutLine(`SixChat demo: alice and bob chat directly, end to end encrypted (all files in ${dir})`)

    yield* step(1, `The operator creates the domain ${DOMAIN}: root CA, issuing CA, IRP server certificate`)
    const domainDir = path.join(dir, DOMAIN)
    yield* initDomain({ dir: domainDir, domain: DOMAIN, now: new Date(), entropy: entropy.bytes }).pipe(
      Effect.mapError(failed("creating the domain"))
    )
    // The second domain of step 11 needs a stand-in for the Web PKI and DNS (demoFederation.ts).
    const web = yield* makeDemoWeb([DOMAIN, OTHER]).pipe(Effect.mapError(failed("making the demo's public CA")))
    const { domain, registry, irp } = yield* startIrp(domainDir, host, web)
    yield* detail(
      `IRP server ${domain.config.serverName} (registry + CA) listens on ${formatAddress(irp)} (port 4604 in real life)`
    )

    yield* step(2, "alice and bob enrol: own key and CSR, a one-time token from the operator, Enroll over the IRP")
    const homes = { alice: path.join(dir, "alice"), bob: path.join(dir, "bob") }
    yield* enrol(alice, homes.alice, irp, domain, registry)
    yield* enrol(bob, homes.bob, irp, domain, registry)

    yield* step(3, `Both start their agents (separate processes: sixchat agent --home H --listen ${listen})`)
    const agentArgs = ["--listen", listen, "--crypto", crypto]
    const a = yield* startAgent("alice", homes.alice, agentArgs)
    let b = yield* startAgent("bob", homes.bob, agentArgs)
    yield* registered(a)
    const bobStatus = yield* registered(b)

    yield* step(4, "alice looks bob up in the IRP (Lookup): certificate status and current address")
    const record = yield* Effect.scoped(
      Effect.flatMap(
        IrpClientLive.connect({
          address: irp,
          serverName: domain.config.serverName,
          identity: {
            pkcs8: readPem(homes.alice, "key.pem", "PRIVATE KEY")[0]!,
            chain: readPem(homes.alice, "cert.pem", "CERTIFICATE")
          }
        }),
        (client) => client.lookup(bob)
      )
    ).pipe(
      Effect.provide(CertVerifierLive.layer({ anchors: [domain.rootCertificate] })),
      Effect.mapError(failed("looking bob up"))
    )
    const bobKey = certificateIdentity(record.chain[0]!)?.fingerprint ?? ""
    yield* detail(
      `${bob}: ${record.status}, key ${short(bobKey)}, at ${record.bindings
        .flatMap((x) => x.addresses)
        .map((x) => formatAddress(x as Address))
        .join(" ")}`
    )
    if (bobKey !== bobStatus.fingerprint) return yield* demoFailure("the IRP returned another key than bob's")

    yield* step(
      5,
      "alice writes to bob: her agent stores the message, dials bob directly, bob's agent stores it and acknowledges"
    )
    const hello = yield* call(a, "send", {
      peer: bob,
      body: "Hi Bob! This goes straight to you, no server in between."
    })
    yield* untilState(a, hello.id, ["delivered", "read"], [a, b])
    yield* detail(`alice → bob: "${hello.body}"  (delivered: bob's agent stored it and sent <Ack>)`)

    yield* step(6, "Both compare session codes (derived from the session's exporter secret; read them to each other)")
    const aliceSession = (yield* call(a, "status", {})).sessions.find((s) => s.peer === bob)
    const bobSession = (yield* call(b, "status", {})).sessions.find((s) => s.peer === alice)
    if (aliceSession === undefined || bobSession === undefined)
      return yield* demoFailure("no session between alice and bob")
    yield* detail(`alice sees ${aliceSession.sessionCode}  (she dialed ${formatAddress(aliceSession.remote)})`)
    yield* detail(`bob sees   ${bobSession.sessionCode}`)
    if (aliceSession.sessionCode !== bobSession.sessionCode)
      return yield* demoFailure("the session codes differ: someone is in the middle")
    yield* detail("session codes equal: nobody is in the middle")

    yield* step(7, "bob answers and reads alice's message (read receipt)")
    const answer = yield* call(b, "send", { peer: alice, body: "Hi Alice! Got it, and the codes match." })
    yield* untilState(b, answer.id, ["delivered", "read"], [a, b])
    yield* detail(`bob → alice: "${answer.body}"  (delivered)`)
    yield* call(b, "markRead", { peer: alice })
    yield* untilState(a, hello.id, ["read"], [a, b])
    yield* detail(`alice's first message is now "read" (bob's agent sent <Read>)`)

    yield* step(8, "alice sends bob a file (1 MiB); bob's agent checks its SHA-256 before acknowledging")
    const file = path.join(dir, "holiday-photo.bin")
    writeFileSync(file, randomBytes(1024 * 1024))
    const offered = yield* call(a, "sendFile", { peer: bob, path: file })
    const received = yield* waitFor(
      "bob's agent to receive the file",
      Effect.map(call(b, "transfers", { peer: alice }), (ts) =>
        ts.find((t) => t.direction === "in" && t.id === offered.id && t.state === "done")
      ),
      [a, b]
    )
    const saved = received.direction === "in" ? received.finalPath : null
    if (saved === null) return yield* demoFailure("bob's agent kept no file")
    const [sent, got] = [sha256(file), sha256(saved)]
    yield* detail(`sent     ${path.basename(file)}  SHA-256 ${sent}`)
    yield* detail(`received ${path.relative(dir, saved)}  SHA-256 ${got}`)
    if (sent !== got) return yield* demoFailure("the file bob received differs from alice's")
    yield* detail("identical")

    yield* step(9, "bob's agent stops (SIGTERM: <Close/> to alice, deregistered); alice writes two more messages")
    const code = yield* b.stop
    if (code !== 0) return yield* demoFailure(`bob's agent exited with ${code}`)
    const later = [
      yield* call(a, "send", { peer: bob, body: "Are you there? (1/2)" }),
      yield* call(a, "send", { peer: bob, body: "Call me when you are back. (2/2)" })
    ]
    for (const m of later)
      yield* detail(`alice → bob: "${m.body}"  (${(yield* stateOf(a, m.id)) ?? "?"}: bob is offline)`)

    yield* step(10, "bob's agent starts again (a new port); the IRP pushes the new binding to alice's agent (Watch)")
    b = yield* startAgent("bob", homes.bob, agentArgs)
    yield* registered(b)
    const back = Date.now()
    for (const m of later) yield* untilState(a, m.id, ["delivered", "read"], [a, b])
    yield* detail(`alice's agent redelivered ${Date.now() - back} ms after bob's agent registered`)
    const inbox = yield* call(b, "history", { peer: alice, limit: 1000 })
    for (const m of later) {
      const copies = inbox.filter((x) => x.direction === "in" && x.id === m.id).length
      yield* detail(`bob has "${m.body}" ${copies === 1 ? "exactly once" : `${copies} times`}`)
      if (copies !== 1) return yield* demoFailure(`bob holds ${copies} copies of ${m.id}`)
    }
    yield* detail(`both delivered once each: bob's history holds ${inbox.length} messages with alice, no duplicates`)

    yield* step(
      11,
      `A second domain, ${OTHER}, with its own IRP; carol@${OTHER} enrols there. Each IRP has a public certificate for irp.<domain> (here from a demo CA standing in for the Web PKI) and an open federation policy`
    )
    const otherDir = path.join(dir, OTHER)
    yield* initDomain({ dir: otherDir, domain: OTHER, now: new Date(), entropy: entropy.bytes }).pipe(
      Effect.mapError(failed(`creating the domain ${OTHER}`))
    )
    const other = yield* startIrp(otherDir, host, web)
    yield* detail(
      `IRP server ${other.domain.config.serverName} listens on ${formatAddress(other.irp)}; DNS would publish _sixchat-irp._tcp.${OTHER} SRV → it`
    )
    const carolHome = path.join(dir, "carol")
    yield* enrol(carol, carolHome, other.irp, other.domain, other.registry)
    const c = yield* startAgent("carol", carolHome, agentArgs)
    yield* registered(c)

    yield* step(
      12,
      `alice writes to ${carol}: her IRP finds ${OTHER}'s IRP, checks its public certificate for irp.${OTHER}, relays the lookup with ${OTHER}'s CA; alice's agent pins that CA and dials carol directly`
    )
    const across = yield* call(a, "send", { peer: carol, body: `Hi Carol! From ${DOMAIN} to ${OTHER}, still direct.` })
    yield* untilState(a, across.id, ["delivered", "read"], [a, b, c])
    yield* detail(`alice → carol: "${across.body}"  (delivered)`)
    const reply = yield* call(c, "send", { peer: alice, body: `Hi Alice! ${OTHER} answers ${DOMAIN}.` })
    yield* untilState(c, reply.id, ["delivered", "read"], [a, b, c])
    yield* detail(`carol → alice: "${reply.body}"  (delivered)`)
    const pinned = yield* call(a, "domainInfo", { domain: OTHER as DomainName })
    yield* detail(
      `alice's agent pinned ${OTHER}'s CA ${short(pinned.pin?.fingerprint ?? "")} (policy ${pinned.policy ?? "?"}); a different CA later is shown as a key change`
    )

    yield* step(13, "Everything shuts down: the agents (sessions closed, deregistered), then both IRP servers")
    for (const agent of [a, b, c]) {
      const exit = yield* agent.stop
      if (exit !== 0) return yield* demoFailure(`${agent.name}'s agent exited with ${exit}`)
    }
    yield* detail("agents stopped cleanly (exit code 0)")
    yield* stdoutLine(`\nDemo complete in ${((Date.now() - started) / 1000).toFixed(1)} s.`)
  })

const readPem = (home: string, file: string, label: string) =>
  pemDecode(readFileSync(path.join(home, file), "utf8"), label)

export const demoCommand = Command.make("demo", { crypto: cryptoOption }, (o) =>
  Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(path.join(tmpdir(), "sixchat-demo-"))),
    (dir) => Effect.scoped(demo(dir, o.crypto)),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  ).pipe(
    Effect.provide(Layer.mergeAll(cryptoLayer(o.crypto), TcpTransport.layer, Logger.minimumLogLevel(LogLevel.Warning)))
  )
).pipe(
  Command.withDescription(
    "run the whole flow on loopback: a domain and its IRP server, alice and bob enrolled, their agents chatting directly, a file, a restart"
  )
)
