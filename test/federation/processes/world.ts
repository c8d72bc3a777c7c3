/**
 * Several domains on one machine (issue 14, section 6): a test "public" CA made by the `openssl` CLI
 * (standing in for the Web PKI, trusted through `SIXCHAT_EXTRA_ROOTS`, PROTOCOL.md §22.2.4) issues each
 * IRP its public certificate for `irp.<domain>`; dnsmasq on loopback publishes each domain's SRV record
 * (§21.1) pointing at its `irp serve` process; each domain has its own `irp init` directory, CA and
 * SQLite registry, and its people run real `sixchat agent` processes.
 *
 * Ports are chosen before the DNS records are written (a free port is bound and released; the IRP then
 * listens on it). Everything started here is stopped by its pid in `cleanup`, which removes every
 * temporary file.
 */
import { createServer } from "node:net"
import { type Domain, startDomain } from "../../agent/processes/support.js"
import { type Dnsmasq, startDnsmasq } from "../../support/dnsmasq.js"
import { bundle, type Cert, Ext, makeWorkspace, type OpensslWorkspace } from "../../support/openssl.js"

export interface DomainSpec {
  readonly name: string
  /** `irp.json`'s `federation` (PROTOCOL.md §22.5). */
  readonly federation: { readonly mode: "open" | "allow" | "closed"; readonly domains?: ReadonlyArray<string> }
  /** No public certificate for this IRP (it cannot federate, §22.2.3). */
  readonly noPublicCertificate?: boolean
}

export interface FederationWorld {
  readonly dns: Dnsmasq
  readonly openssl: OpensslWorkspace
  /** The test public root (PEM file), what `SIXCHAT_EXTRA_ROOTS` names. */
  readonly publicRoot: Cert
  /** The environment every `irp` command of the world runs with. */
  readonly env: NodeJS.ProcessEnv
  readonly domains: ReadonlyMap<string, Domain>
  readonly domain: (name: string) => Domain
  readonly cleanup: () => Promise<void>
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export const freeTcpPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** The SRV and address records of `domain`'s IRP at 127.0.0.1:`port` (PROTOCOL.md §21.1). */
export const irpRecords = (domain: string, port: number): ReadonlyArray<string> => [
  `--srv-host=_sixchat-irp._tcp.${domain},irp.${domain},${port},10,0`,
  `--host-record=irp.${domain},127.0.0.1,60`
]

/** The zones dnsmasq answers for with authority (NXDOMAIN for unknown names rather than REFUSED). */
const localZones = (names: ReadonlyArray<string>) =>
  [...new Set(names.map((n) => n.slice(n.lastIndexOf(".") + 1)))].map((tld) => `--local=/${tld}/`)

export const startFederation = async (specs: ReadonlyArray<DomainSpec>): Promise<FederationWorld> => {
  const openssl = await makeWorkspace("sxfed-")
  const started: Array<Domain> = []
  let dns: Dnsmasq | undefined
  const cleanup = async () => {
    for (const d of started) await d.cleanup()
    await dns?.stop()
    await openssl.cleanup()
  }
  try {
    const publicRoot = await openssl.issue({ subject: "/CN=SixChat Test Public Root/O=Test", extensions: Ext.root() })
    const ports = new Map<string, number>()
    for (const spec of specs) ports.set(spec.name, await freeTcpPort())
    dns = await startDnsmasq([
      ...localZones(specs.map((s) => s.name)),
      ...specs.flatMap((s) => irpRecords(s.name, ports.get(s.name)!))
    ])
    const env = { SIXCHAT_DNS: dns.server, SIXCHAT_EXTRA_ROOTS: publicRoot.path }
    const domains = new Map<string, Domain>()
    for (const spec of specs) {
      let initArgs: ReadonlyArray<string> = []
      if (spec.noPublicCertificate !== true) {
        const server = await openssl.issue({
          subject: `/CN=irp.${spec.name}`,
          issuer: publicRoot,
          extensions: Ext.serverLeaf(`irp.${spec.name}`)
        })
        const chain = await openssl.file(`public-${spec.name}.pem`, bundle(server))
        initArgs = ["--server-cert", chain, "--server-key", server.key.path]
      }
      const domain = await startDomain({
        domain: spec.name,
        listen: `127.0.0.1:${ports.get(spec.name)!}`,
        env,
        initArgs,
        config: { federation: spec.federation }
      })
      started.push(domain)
      domains.set(spec.name, domain)
    }
    const domain = (name: string) => {
      const d = domains.get(name)
      if (d === undefined) throw new Error(`no domain ${name} in this world`)
      return d
    }
    return { dns, openssl, publicRoot, env, domains, domain, cleanup }
  } catch (e) {
    await cleanup()
    throw e
  }
}
