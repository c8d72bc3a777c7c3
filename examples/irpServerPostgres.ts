/**
 * An IRP server embedded in a program, its registry on PostgreSQL (PROTOCOL.md §§2, 17): the domain
 * directory made by `sixchat irp init` (root, issuing CA, server certificate), the registry's tables
 * created on first start, listening on port 4604 until the process is interrupted.
 *
 *     node irpServerPostgres.js DOMAIN_DIR postgres://postgres@127.0.0.1:5432/sixchat
 */
import { Effect, Layer } from "effect"
import {
  CertificateAuthorityLive,
  CertVerifierLive,
  CryptoLive,
  DomainDirectory,
  EntropyLive,
  IrpServer,
  IrpServerLive,
  makeAddress,
  PgLive,
  SqlRegistry,
  TcpTransport
} from "sixchat"

const [dir = "example.org", url = "postgres://postgres@127.0.0.1:5432/test"] = process.argv.slice(2)

// The server layer takes every service from its tag: the registry, the CA, the CertVerifier (trusting
// the domain's root: the server adds its live revocation list on top), the transport, crypto, Entropy.
const ServerLive = Layer.unwrapEffect(
  Effect.map(DomainDirectory.loadDomain(dir), (domain) =>
    IrpServerLive.layer({ domain, listen: [makeAddress("::", 4604), makeAddress("0.0.0.0", 4604)] }).pipe(
      Layer.provide(CertVerifierLive.layer({ anchors: [domain.rootCertificate] }))
    )
  )
)

const MainLive = ServerLive.pipe(
  Layer.provide(SqlRegistry.layer.pipe(Layer.provide(PgLive.layer(url)))),
  Layer.provide(CertificateAuthorityLive.layer(dir)),
  Layer.provide(Layer.mergeAll(TcpTransport.layer, CryptoLive.layerNode, EntropyLive.layer))
)

const program = Effect.gen(function* () {
  const server = yield* IrpServer
  yield* Effect.logInfo(`IRP server on ${server.addresses.map((a) => `[${a.host}]:${a.port}`).join(" ")}`)
  return yield* Effect.never
})

Effect.runPromise(program.pipe(Effect.provide(MainLive))).catch((e) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exitCode = 1
})
