/**
 * The chains the CertVerifier tests use, made once per test file with the `openssl` CLI.
 * Independent branches are issued concurrently to keep set-up short.
 */
import { type Cert, Ext, type OpensslWorkspace } from "../support/openssl.js"

const DAY = 86400_000

export interface Pki {
  readonly ecRoot: Cert // P-256, self-signed
  readonly ecInt: Cert // P-384 key, issued by ecRoot
  readonly alice: Cert // P-256 client leaf (alice@example.org), issued by ecInt with sha384
  readonly aliceCnOnly: Cert // no SAN: handle from CN
  readonly server: Cert // serverAuth leaf, DNS irp.example.org
  readonly rsa4096Root: Cert
  readonly rsaPssInt: Cert // RSA-2048 key, signed by rsa4096Root with RSA-PSS / sha512
  readonly rsaPssLeaf: Cert // P-256 leaf signed by rsaPssInt with RSA-PSS / sha256
  readonly rsa2048Root: Cert
  readonly p256UnderRsa: Cert // P-256 intermediate under rsa2048Root
  readonly ed25519Leaf: Cert // Ed25519 leaf under p256UnderRsa
  readonly edRoot: Cert // Ed25519 root
  readonly edLeaf: Cert // P-256 leaf signed by edRoot
  readonly otherRoot: Cert // not trusted
  readonly otherInt: Cert
  readonly otherLeaf: Cert
  readonly impostorRoot: Cert // same name as ecRoot, other key: not trusted
  readonly impostorLeaf: Cert
  readonly expiredLeaf: Cert
  readonly futureLeaf: Cert
  readonly expiredInt: Cert
  readonly leafUnderExpiredInt: Cert
  readonly serverOnlyLeaf: Cert // EKU serverAuth, handle alice@example.org
  readonly anyEkuLeaf: Cert // EKU anyExtendedKeyUsage
  readonly noKuLeaf: Cert // no keyUsage, no EKU: allowed
  readonly kuEnciphermentLeaf: Cert // keyUsage keyEncipherment only
  readonly notCaInt: Cert // basicConstraints CA:FALSE
  readonly leafUnderNotCa: Cert
  readonly noBcInt: Cert // no basicConstraints at all
  readonly leafUnderNoBc: Cert
  readonly noCertSignInt: Cert
  readonly leafUnderNoCertSign: Cert
  readonly pathLen0: Cert // CA, pathlen:0, under ecRoot
  readonly belowPathLen0: Cert // CA under pathLen0
  readonly leafBelowPathLen0: Cert
  readonly selfIssued: Cert // same name as pathLen0, new key, signed by pathLen0
  readonly leafUnderSelfIssued: Cert
  readonly deep: ReadonlyArray<Cert> // ecRoot -> deep[0] -> deep[1] -> deep[2] -> deep[3]
  readonly leafUnderDeep3: Cert // 3 intermediates (deep[0..2])
  readonly leafUnderDeep4: Cert // 4 intermediates (deep[0..3])
  readonly deep2SelfIssued: Cert // self-issued copy of deep[2]
  readonly leafUnderDeep2SelfIssued: Cert // 3 non-self-issued intermediates + 1 self-issued
  readonly criticalLeaf: Cert // unknown critical extension
  readonly nonCriticalLeaf: Cert // the same extension, not critical
  readonly constrainedInt: Cert // permitted email/DNS example.org, excluded DNS bad.example.org
  readonly constrainedOk: Cert
  readonly constrainedBadEmail: Cert
  readonly constrainedBadCn: Cert // no SAN, CN bob@other.org
  readonly constrainedExcludedDns: Cert
  readonly dirConstrainedInt: Cert // permitted dirName O=Example
  readonly dirConstrainedOk: Cert
  readonly dirConstrainedBad: Cert
  readonly sha1Leaf: Cert // signed with sha1WithRSA by rsa2048Root
  readonly serialLeaf: Cert // serial 0x00abc12 -> "abc12"
  readonly shortLeaf: Cert // valid for 10 days, well inside ecInt
  readonly p521Root: Cert
  readonly p521Leaf: Cert // P-256 leaf signed by the P-521 root with sha512
  readonly rsa1024Root: Cert
  readonly rsa1024Leaf: Cert
  readonly pssKeyInt: Cert // id-RSASSA-PSS key (signs with PSS by construction), under rsa2048Root
  readonly leafUnderPssKey: Cert
}

export const makePki = async (ws: OpensslWorkspace): Promise<Pki> => {
  const now = Date.now()
  const issue = ws.issue
  const [ecRoot, rsa4096Root, rsa2048Root, edRoot, otherRoot, impostorRoot, p521Root, rsa1024Root] = await Promise.all([
    issue({ subject: "/O=Example/CN=Example Root", extensions: Ext.root(), days: 3650 }),
    issue({ subject: "/CN=RSA 4096 Root", key: "rsa-4096", extensions: Ext.root(), digest: "sha512" }),
    issue({ subject: "/CN=RSA 2048 Root", key: "rsa-2048", extensions: Ext.root() }),
    issue({ subject: "/CN=Ed25519 Root", key: "ed25519", extensions: Ext.root() }),
    issue({ subject: "/CN=Other Root", extensions: Ext.root() }),
    issue({ subject: "/O=Example/CN=Example Root", extensions: Ext.root() }),
    issue({ subject: "/CN=P-521 Root", key: "ec-p521", extensions: Ext.root(), digest: "sha512" }),
    issue({ subject: "/CN=RSA 1024 Root", key: "rsa-1024", extensions: Ext.root() })
  ])
  const leaf = (handle: string, issuer: Cert, extra: Partial<Parameters<typeof issue>[0]> = {}) =>
    issue({ subject: `/CN=${handle}`, issuer, extensions: Ext.clientLeaf(handle), ...extra })
  const ca = (subject: string, issuer: Cert, extra: Partial<Parameters<typeof issue>[0]> = {}) =>
    issue({ subject, issuer, extensions: Ext.intermediate(), ...extra })

  const [ecInt, rsaPssInt, p256UnderRsa, otherInt, notCaInt, noBcInt, noCertSignInt, pathLen0, deep0, expiredInt] =
    await Promise.all([
      ca("/O=Example/CN=Example Issuing CA", ecRoot, { key: "ec-p384" }),
      ca("/CN=RSA PSS Int", rsa4096Root, { key: "rsa-2048", pss: true, digest: "sha512" }),
      ca("/CN=P-256 under RSA", rsa2048Root),
      ca("/CN=Other Int", otherRoot),
      ca("/CN=Not a CA", ecRoot, {
        extensions: "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, keyCertSign\n"
      }),
      ca("/CN=No BC", ecRoot, { extensions: "keyUsage = critical, keyCertSign\n" }),
      ca("/CN=No CertSign", ecRoot, {
        extensions: "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature, cRLSign\n"
      }),
      ca("/CN=PathLen Zero", ecRoot, { extensions: Ext.intermediate({ pathLen: 0 }) }),
      ca("/CN=Deep 0", ecRoot),
      ca("/CN=Expired Int", ecRoot, { notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) })
    ])

  const constraints =
    "nameConstraints = critical, permitted;email:example.org, permitted;DNS:example.org, excluded;DNS:bad.example.org\n"
  const [deep1, belowPathLen0, selfIssued, constrainedInt, dirConstrainedInt, pssKeyInt] = await Promise.all([
    ca("/CN=Deep 1", deep0),
    ca("/CN=Below PathLen Zero", pathLen0),
    ca("/CN=PathLen Zero", pathLen0),
    ca("/CN=Constrained", ecRoot, { extensions: Ext.intermediate({ extra: constraints }) }),
    ca("/O=Example/CN=Dir Constrained", ecRoot, {
      extensions: Ext.intermediate({
        extra: "nameConstraints = critical, permitted;dirName:dir_sect\n[dir_sect]\nO = Example\n"
      })
    }),
    ca("/CN=PSS Key Int", rsa2048Root, { key: "rsa-pss-2048" })
  ])
  const deep2 = await ca("/CN=Deep 2", deep1)
  const [deep3, deep2SelfIssued] = await Promise.all([ca("/CN=Deep 3", deep2), ca("/CN=Deep 2", deep2)])

  const unknownExt = "1.3.6.1.4.1.99999.1 = critical, ASN1:UTF8String:must-understand\n"
  const [
    alice,
    aliceCnOnly,
    server,
    rsaPssLeaf,
    ed25519Leaf,
    edLeaf,
    otherLeaf,
    impostorLeaf,
    expiredLeaf,
    futureLeaf,
    leafUnderExpiredInt,
    serverOnlyLeaf,
    anyEkuLeaf,
    noKuLeaf,
    kuEnciphermentLeaf
  ] = await Promise.all([
    leaf("alice@example.org", ecInt, { digest: "sha384" }),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: "keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n"
    }),
    issue({ subject: "/CN=irp.example.org", issuer: ecInt, extensions: Ext.serverLeaf("irp.example.org") }),
    leaf("pss@example.org", rsaPssInt, { pss: true }),
    leaf("ed@example.org", p256UnderRsa, { key: "ed25519" }),
    leaf("edroot@example.org", edRoot),
    leaf("mallory@example.org", otherInt),
    leaf("alice@example.org", impostorRoot),
    leaf("alice@example.org", ecInt, { notBefore: new Date(now - 30 * DAY), notAfter: new Date(now - DAY) }),
    leaf("alice@example.org", ecInt, { notBefore: new Date(now + DAY), notAfter: new Date(now + 30 * DAY) }),
    leaf("alice@example.org", expiredInt),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: Ext.clientLeaf("alice@example.org").replace(
        "extendedKeyUsage = clientAuth",
        "extendedKeyUsage = serverAuth"
      )
    }),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: Ext.clientLeaf("alice@example.org").replace(
        "extendedKeyUsage = clientAuth",
        "extendedKeyUsage = anyExtendedKeyUsage"
      )
    }),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: "subjectAltName = email:alice@example.org\n"
    }),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: "keyUsage = critical, keyEncipherment\nsubjectAltName = email:alice@example.org\n"
    })
  ])
  const [
    leafUnderNotCa,
    leafUnderNoBc,
    leafUnderNoCertSign,
    leafBelowPathLen0,
    leafUnderSelfIssued,
    leafUnderDeep3,
    leafUnderDeep4,
    leafUnderDeep2SelfIssued,
    criticalLeaf,
    nonCriticalLeaf,
    constrainedOk,
    constrainedBadEmail,
    constrainedBadCn,
    constrainedExcludedDns,
    dirConstrainedOk,
    dirConstrainedBad,
    sha1Leaf,
    serialLeaf,
    shortLeaf,
    p521Leaf,
    rsa1024Leaf,
    leafUnderPssKey
  ] = await Promise.all([
    leaf("alice@example.org", notCaInt),
    leaf("alice@example.org", noBcInt),
    leaf("alice@example.org", noCertSignInt),
    leaf("alice@example.org", belowPathLen0),
    leaf("alice@example.org", selfIssued),
    leaf("alice@example.org", deep2),
    leaf("alice@example.org", deep3),
    leaf("alice@example.org", deep2SelfIssued),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: Ext.clientLeaf("alice@example.org", unknownExt)
    }),
    issue({
      subject: "/CN=alice@example.org",
      issuer: ecInt,
      extensions: Ext.clientLeaf("alice@example.org", unknownExt.replace("critical, ", ""))
    }),
    leaf("alice@example.org", constrainedInt),
    leaf("bob@other.org", constrainedInt),
    issue({
      subject: "/CN=bob@other.org",
      issuer: constrainedInt,
      extensions: "keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n"
    }),
    issue({
      subject: "/CN=www.bad.example.org",
      issuer: constrainedInt,
      extensions: Ext.serverLeaf("www.bad.example.org")
    }),
    issue({
      subject: "/O=Example/CN=alice@example.org",
      issuer: dirConstrainedInt,
      extensions: Ext.clientLeaf("alice@example.org")
    }),
    issue({
      subject: "/O=Other/CN=alice@example.org",
      issuer: dirConstrainedInt,
      extensions: Ext.clientLeaf("alice@example.org")
    }),
    leaf("alice@example.org", rsa2048Root, { digest: "sha1" }),
    leaf("alice@example.org", ecInt, { serial: "000abc12" }),
    leaf("alice@example.org", ecInt, { days: 10 }),
    leaf("p521@example.org", p521Root, { digest: "sha512" }),
    leaf("alice@example.org", rsa1024Root),
    leaf("psskey@example.org", pssKeyInt)
  ])
  return {
    ecRoot,
    ecInt,
    alice,
    aliceCnOnly,
    server,
    rsa4096Root,
    rsaPssInt,
    rsaPssLeaf,
    rsa2048Root,
    p256UnderRsa,
    ed25519Leaf,
    edRoot,
    edLeaf,
    otherRoot,
    otherInt,
    otherLeaf,
    impostorRoot,
    impostorLeaf,
    expiredLeaf,
    futureLeaf,
    expiredInt,
    leafUnderExpiredInt,
    serverOnlyLeaf,
    anyEkuLeaf,
    noKuLeaf,
    kuEnciphermentLeaf,
    notCaInt,
    leafUnderNotCa,
    noBcInt,
    leafUnderNoBc,
    noCertSignInt,
    leafUnderNoCertSign,
    pathLen0,
    belowPathLen0,
    leafBelowPathLen0,
    selfIssued,
    leafUnderSelfIssued,
    deep: [deep0, deep1, deep2, deep3],
    leafUnderDeep3,
    leafUnderDeep4,
    deep2SelfIssued,
    leafUnderDeep2SelfIssued,
    criticalLeaf,
    nonCriticalLeaf,
    constrainedInt,
    constrainedOk,
    constrainedBadEmail,
    constrainedBadCn,
    constrainedExcludedDns,
    dirConstrainedInt,
    dirConstrainedOk,
    dirConstrainedBad,
    sha1Leaf,
    serialLeaf,
    shortLeaf,
    p521Root,
    p521Leaf,
    rsa1024Root,
    rsa1024Leaf,
    pssKeyInt,
    leafUnderPssKey
  }
}
