/**
 * Certificates for the RFC 5280 section 4 decisions (PROTOCOL.md §13.7), made with the `openssl`
 * CLI: `openssl ca` through the workspace helper, and `openssl x509 -req` for what `ca` will not
 * make (a negative serial, an empty subject). Each refused case has an accepted neighbour that
 * differs only in the rule under test.
 */
import { readFile } from "node:fs/promises"
import { type Cert, Ext, type Key, type OpensslWorkspace } from "../support/openssl.js"

const DAY = 86400_000

export interface Rfc5280Pki {
  readonly root: Cert
  readonly int: Cert
  readonly leaf: Cert // the accepted baseline: root -> int -> leaf
  readonly expiredRoot: Cert
  readonly leafUnderExpiredRoot: Cert
  readonly futureRoot: Cert
  readonly leafUnderFutureRoot: Cert
  readonly leafNoAki: Cert
  readonly intNoAki: Cert
  readonly leafUnderIntNoAki: Cert
  readonly rootNoAki: Cert // self-signed, no AKI: allowed
  readonly leafUnderRootNoAki: Cert
  readonly crossRootNoAki: Cert // trusted, but issued by `root` (not self-signed) and without AKI
  readonly leafUnderCrossRootNoAki: Cert
  readonly leafCriticalAki: Cert
  readonly intNoSki: Cert
  readonly leafUnderIntNoSki: Cert
  readonly rootNoSki: Cert
  readonly leafUnderRootNoSki: Cert
  readonly leafWithNc: Cert
  readonly intNcNonCritical: Cert
  readonly leafUnderNcNonCritical: Cert
  readonly intNcDns: Cert // critical, permitted DNS example.org
  readonly serverUnderNcDns: Cert
  readonly intNcLeadingDot: Cert // permitted DNS .example.org
  readonly serverUnderNcLeadingDot: Cert
  readonly leafBadEmail: Cert // SAN email "not-a-mailbox"
  readonly intNcEmail: Cert // critical, excluded email bad.example.org
  readonly leafBadEmailUnderNc: Cert // SAN email "alice@@example.org" under intNcEmail
  readonly leafOkUnderNcEmail: Cert
  readonly serialZero: Cert
  readonly serial21: Cert
  readonly serial20: Cert
  readonly serialNegative: Cert
  readonly intEmptySubject: Cert
  readonly leafUnderEmptySubject: Cert
  readonly leafEmptySubjectNonCriticalSan: Cert
  readonly leafEmptySubjectCriticalSan: Cert
  readonly intPcNonCritical: Cert
  readonly leafUnderPcNonCritical: Cert
  readonly intPcCritical: Cert
  readonly leafUnderPcCritical: Cert
  readonly rootUnknownCritical: Cert
  readonly leafUnderRootUnknownCritical: Cert
  readonly rootBcNonCritical: Cert
  readonly leafUnderRootBcNonCritical: Cert
  readonly leafKeyCertSign: Cert
  readonly leafBadAia: Cert
  readonly leafGoodAia: Cert
  readonly leafNoDigitalSignature: Cert // keyUsage keyEncipherment only
  readonly bigLeaf: Cert // > 16 KiB: 1,200 SAN dNSNames
  readonly bigRoot: Cert // > 16 KiB: 2,000 name constraints
  readonly intManyNc: Cert // 1,000 permitted dNSName constraints, < 16 KiB
  readonly serverManyNames: Cert // 100 SAN dNSNames under intManyNc: 100,000 comparisons
  readonly serverFewNames: Cert // 10 SAN dNSNames under intManyNc: 10,000 comparisons
}

const ALICE = "alice@example.org"
/** authorityKeyIdentifier { keyIdentifier [0] 20 octets }, for an issuer without a subjectKeyIdentifier. */
const RAW_AKI = `2.5.29.35 = DER:30:16:80:14:${Array(20).fill("5a").join(":")}`
/** A constraint list of `n` short DNS names `d0.e`, `d1.e`, … */
export const manyDns = (n: number, prefix = "permitted;DNS:"): string =>
  Array.from({ length: n }, (_, i) => `${prefix}d${i}.e`).join(", ")

export const makeRfc5280Pki = async (ws: OpensslWorkspace): Promise<Rfc5280Pki> => {
  const now = Date.now()
  const issue = ws.issue
  const leafExt = Ext.clientLeaf(ALICE)
  const leafUnder = (issuer: Cert, extensions = leafExt) => issue({ subject: `/CN=${ALICE}`, issuer, extensions })
  const caUnder = (subject: string, issuer: Cert, extensions = Ext.intermediate()) =>
    issue({ subject, issuer, extensions })

  /** `openssl x509 -req`: any serial (`-set_serial` takes a negative one), any subject (`/` = empty). */
  const x509 = async (o: {
    readonly subject: string
    readonly issuer: Cert
    readonly extensions: string
    readonly serial?: string
  }): Promise<Cert> => {
    const key: Key = await ws.key("ec-p256")
    const stem = `x509-${Math.random().toString(36).slice(2)}`
    const ext = await ws.file(`${stem}.ext`, o.extensions)
    await ws.openssl(["req", "-new", "-key", key.path, "-subj", o.subject, "-out", `${stem}.csr`])
    await ws.openssl([
      ...["x509", "-req", "-in", `${stem}.csr`, "-CA", o.issuer.path, "-CAkey", o.issuer.key.path],
      ...["-set_serial", o.serial ?? "4242", "-days", "30", "-sha256", "-extfile", ext, "-out", `${stem}.pem`]
    ])
    const pem = await readFile(`${ws.dir}/${stem}.pem`, "utf8")
    const b64 = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "")
    return {
      subject: o.subject,
      path: `${ws.dir}/${stem}.pem`,
      pem,
      der: new Uint8Array(Buffer.from(b64, "base64")),
      key
    }
  }

  const rootNoAkiExt = `${Ext.root()}authorityKeyIdentifier = none\n`
  const [root, expiredRoot, futureRoot, rootNoAki, rootNoSki, rootUnknownCritical, rootBcNonCritical, bigRoot] =
    await Promise.all([
      issue({ subject: "/CN=RFC 5280 Root", extensions: Ext.root() }),
      issue({
        subject: "/CN=Expired Root",
        extensions: Ext.root(),
        notBefore: new Date(now - 30 * DAY),
        notAfter: new Date(now - DAY)
      }),
      issue({
        subject: "/CN=Future Root",
        extensions: Ext.root(),
        notBefore: new Date(now + DAY),
        notAfter: new Date(now + 30 * DAY)
      }),
      issue({ subject: "/CN=Root Without AKI", extensions: rootNoAkiExt }),
      issue({
        subject: "/CN=Root Without SKI",
        extensions:
          "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = none\nauthorityKeyIdentifier = none\n"
      }),
      issue({
        subject: "/CN=Root With Unknown Critical",
        extensions: Ext.root("1.3.6.1.4.1.99999.1 = critical, ASN1:UTF8String:must-understand\n")
      }),
      issue({
        subject: "/CN=Root With Non-critical BC",
        extensions:
          "basicConstraints = CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n"
      }),
      issue({ subject: "/CN=Big Root", extensions: Ext.root(`nameConstraints = critical, ${manyDns(2000)}\n`) })
    ])

  const intExt = (extra: string) => Ext.intermediate({ extra })
  const [
    int,
    intNoAki,
    crossRootNoAki,
    intNoSki,
    intNcNonCritical,
    intNcDns,
    intNcLeadingDot,
    intNcEmail,
    intPcNonCritical,
    intPcCritical,
    intManyNc,
    intEmptySubject
  ] = await Promise.all([
    caUnder("/CN=RFC 5280 Int", root),
    caUnder("/CN=Int Without AKI", root, Ext.intermediate().replace("keyid:always", "none")),
    caUnder("/CN=Cross Root Without AKI", root, Ext.intermediate().replace("keyid:always", "none")),
    caUnder(
      "/CN=Int Without SKI",
      root,
      Ext.intermediate().replace("subjectKeyIdentifier = hash", "subjectKeyIdentifier = none")
    ),
    caUnder("/CN=Int NC Non-critical", root, intExt("nameConstraints = permitted;email:example.org\n")),
    caUnder("/CN=Int NC DNS", root, intExt("nameConstraints = critical, permitted;DNS:example.org\n")),
    caUnder("/CN=Int NC Leading Dot", root, intExt("nameConstraints = critical, permitted;DNS:.example.org\n")),
    caUnder("/CN=Int NC Email", root, intExt("nameConstraints = critical, excluded;email:bad.example.org\n")),
    caUnder("/CN=Int PC Non-critical", root, intExt("policyConstraints = requireExplicitPolicy:0\n")),
    caUnder("/CN=Int PC Critical", root, intExt("policyConstraints = critical, requireExplicitPolicy:0\n")),
    caUnder("/CN=Int Many NC", root, intExt(`nameConstraints = critical, ${manyDns(1000)}\n`)),
    x509({ subject: "/", issuer: root, extensions: Ext.intermediate() })
  ])

  const serverExt = (names: ReadonlyArray<string>) =>
    Ext.serverLeaf(names[0]!).replace(`DNS:${names[0]}`, names.map((n) => `DNS:${n}`).join(", "))
  const emptySubjectLeaf = (san: string) =>
    "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n" +
    `subjectAltName = ${san}email:${ALICE}\n`
  const [
    leaf,
    leafUnderExpiredRoot,
    leafUnderFutureRoot,
    leafNoAki,
    leafUnderIntNoAki,
    leafUnderRootNoAki,
    leafUnderCrossRootNoAki,
    leafCriticalAki,
    leafUnderIntNoSki,
    leafUnderRootNoSki,
    leafWithNc,
    leafUnderNcNonCritical,
    serverUnderNcDns,
    serverUnderNcLeadingDot,
    leafBadEmail,
    leafBadEmailUnderNc,
    leafOkUnderNcEmail,
    serialZero,
    serial21,
    serial20,
    serialNegative,
    leafUnderEmptySubject,
    leafEmptySubjectNonCriticalSan,
    leafEmptySubjectCriticalSan,
    leafUnderPcNonCritical,
    leafUnderPcCritical,
    leafUnderRootUnknownCritical,
    leafUnderRootBcNonCritical,
    leafKeyCertSign,
    leafBadAia,
    leafGoodAia,
    leafNoDigitalSignature,
    bigLeaf,
    serverManyNames,
    serverFewNames
  ] = await Promise.all([
    leafUnder(int),
    leafUnder(expiredRoot),
    leafUnder(futureRoot),
    leafUnder(int, leafExt.replace("keyid:always", "none")),
    leafUnder(intNoAki),
    leafUnder(rootNoAki),
    leafUnder(crossRootNoAki),
    leafUnder(
      int,
      leafExt.replace("authorityKeyIdentifier = keyid:always", "authorityKeyIdentifier = critical, keyid:always")
    ),
    // The issuer has no SKI for openssl to copy: an AKI keyIdentifier written as raw DER.
    leafUnder(intNoSki, leafExt.replace("authorityKeyIdentifier = keyid:always", RAW_AKI)),
    leafUnder(rootNoSki, leafExt.replace("authorityKeyIdentifier = keyid:always", RAW_AKI)),
    leafUnder(int, `${leafExt}nameConstraints = critical, permitted;email:example.org\n`),
    leafUnder(intNcNonCritical),
    issue({ subject: "/CN=www.example.org", issuer: intNcDns, extensions: Ext.serverLeaf("www.example.org") }),
    issue({ subject: "/CN=www.example.org", issuer: intNcLeadingDot, extensions: Ext.serverLeaf("www.example.org") }),
    leafUnder(int, leafExt.replace(`email:${ALICE}`, "email:not-a-mailbox")),
    leafUnder(intNcEmail, leafExt.replace(`email:${ALICE}`, "email:alice@@example.org")),
    leafUnder(intNcEmail),
    issue({ subject: `/CN=${ALICE}`, issuer: int, extensions: leafExt, serial: "00" }),
    issue({ subject: `/CN=${ALICE}`, issuer: int, extensions: leafExt, serial: `01${"00".repeat(20)}` }),
    issue({ subject: `/CN=${ALICE}`, issuer: int, extensions: leafExt, serial: `7f${"ab".repeat(19)}` }),
    x509({ subject: `/CN=${ALICE}`, issuer: int, extensions: leafExt, serial: "-5" }),
    x509({ subject: `/CN=${ALICE}`, issuer: intEmptySubject, extensions: leafExt }),
    x509({ subject: "/", issuer: int, extensions: emptySubjectLeaf("") }),
    x509({ subject: "/", issuer: int, extensions: emptySubjectLeaf("critical, ") }),
    leafUnder(intPcNonCritical),
    leafUnder(intPcCritical),
    leafUnder(rootUnknownCritical),
    leafUnder(rootBcNonCritical),
    leafUnder(
      int,
      leafExt.replace("keyUsage = critical, digitalSignature", "keyUsage = critical, digitalSignature, keyCertSign")
    ),
    leafUnder(int, `${leafExt}1.3.6.1.5.5.7.1.1 = DER:30:03:02:01:00\n`),
    leafUnder(
      int,
      `${leafExt}authorityInfoAccess = OCSP;URI:http://ocsp.example.org/, caIssuers;URI:http://ca.example.org/int.der\n`
    ),
    leafUnder(int, leafExt.replace("keyUsage = critical, digitalSignature", "keyUsage = critical, keyEncipherment")),
    issue({
      subject: "/CN=big.example.org",
      issuer: int,
      extensions: serverExt(Array.from({ length: 1200 }, (_, i) => `name${i}.example.org`))
    }),
    issue({
      subject: "/CN=d0.e",
      issuer: intManyNc,
      extensions: serverExt(Array.from({ length: 100 }, (_, i) => `d${i}.e`))
    }),
    issue({
      subject: "/CN=d0.e",
      issuer: intManyNc,
      extensions: serverExt(Array.from({ length: 10 }, (_, i) => `d${i}.e`))
    })
  ])
  return {
    root,
    int,
    leaf,
    expiredRoot,
    leafUnderExpiredRoot,
    futureRoot,
    leafUnderFutureRoot,
    leafNoAki,
    intNoAki,
    leafUnderIntNoAki,
    rootNoAki,
    leafUnderRootNoAki,
    crossRootNoAki,
    leafUnderCrossRootNoAki,
    leafCriticalAki,
    intNoSki,
    leafUnderIntNoSki,
    rootNoSki,
    leafUnderRootNoSki,
    leafWithNc,
    intNcNonCritical,
    leafUnderNcNonCritical,
    intNcDns,
    serverUnderNcDns,
    intNcLeadingDot,
    serverUnderNcLeadingDot,
    leafBadEmail,
    intNcEmail,
    leafBadEmailUnderNc,
    leafOkUnderNcEmail,
    serialZero,
    serial21,
    serial20,
    serialNegative,
    intEmptySubject,
    leafUnderEmptySubject,
    leafEmptySubjectNonCriticalSan,
    leafEmptySubjectCriticalSan,
    intPcNonCritical,
    leafUnderPcNonCritical,
    intPcCritical,
    leafUnderPcCritical,
    rootUnknownCritical,
    leafUnderRootUnknownCritical,
    rootBcNonCritical,
    leafUnderRootBcNonCritical,
    leafKeyCertSign,
    leafBadAia,
    leafGoodAia,
    leafNoDigitalSignature,
    bigLeaf,
    bigRoot,
    intManyNc,
    serverManyNames,
    serverFewNames
  }
}
