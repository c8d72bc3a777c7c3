/**
 * Looks a handle up in its domain's IRP server (PROTOCOL.md §17 `Lookup`): certificate status and the
 * addresses where the holder can be reached now.
 *
 *     node lookup.js HOME bob@example.org irp.example.org:4604
 *
 * HOME holds our key.pem and cert.pem (Lookup is for enrolled users) and ca.pem, the domain's root.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Console, Effect, Layer } from "effect"
import {
  CertVerifierLive,
  CryptoLive,
  EntropyLive,
  Handle,
  IrpClientLive,
  IrpClients,
  parseAddress,
  pemDecode,
  TcpTransport
} from "sixchat"

const [home = ".", handle = "bob@example.org", server = "127.0.0.1:4604"] = process.argv.slice(2)
const pem = (file: string, label: string) => pemDecode(readFileSync(join(home, file), "utf8"), label)

const program = Effect.gen(function* () {
  const address = parseAddress(server)
  if (address === undefined) return yield* Effect.fail(new Error(`${server} is not HOST:PORT`))
  const clients = yield* IrpClients
  const client = yield* clients.connect({
    address,
    domain: handle.slice(handle.indexOf("@") + 1),
    identity: { pkcs8: pem("key.pem", "PRIVATE KEY")[0]!, chain: pem("cert.pem", "CERTIFICATE") }
  })
  const record = yield* client.lookup(Handle.make(handle))
  yield* Console.log(`${record.handle}: ${record.status}`)
  for (const binding of record.bindings)
    yield* Console.log(`  ${binding.addresses.map((a) => `[${a.host}]:${a.port}`).join(" ")}`)
}).pipe(Effect.scoped)

// The IRP client checks the server's certificate with the CertVerifier of its context.
const MainLive = IrpClientLive.layer.pipe(
  Layer.provide(
    Layer.mergeAll(
      TcpTransport.layer,
      CertVerifierLive.layer({ anchors: pem("ca.pem", "CERTIFICATE") }),
      CryptoLive.layerNode,
      EntropyLive.layer
    )
  )
)

Effect.runPromise(program.pipe(Effect.provide(MainLive))).catch((e) => {
  console.error(e instanceof Error ? e.message : String(e))
  process.exitCode = 1
})
