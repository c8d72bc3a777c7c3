/**
 * Object identifiers the certificate profile uses (RFC 5280, RFC 5480, RFC 5758, RFC 8410, RFC 2985). Pure.
 */

export const Oid = {
  // Attribute types (RFC 5280 appendix A)
  commonName: "2.5.4.3",
  organizationName: "2.5.4.10",
  // Certificate / CRL extensions (RFC 5280 section 4.2, 5.2)
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlNumber: "2.5.29.20",
  crlReason: "2.5.29.21",
  nameConstraints: "2.5.29.30",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  // Extended key usages (RFC 5280 section 4.2.1.12)
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  // PKCS#9 extensionRequest (RFC 2985 section 5.4.2), the CSR attribute carrying requested extensions
  extensionRequest: "1.2.840.113549.1.9.14",
  // Keys (RFC 5480, RFC 8410, RFC 8017)
  ecPublicKey: "1.2.840.10045.2.1",
  secp256r1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  ed25519: "1.3.101.112",
  rsaEncryption: "1.2.840.113549.1.1.1",
  // Signatures (RFC 5758 section 3.2)
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  ecdsaWithSha384: "1.2.840.10045.4.3.3",
  ecdsaWithSha512: "1.2.840.10045.4.3.4"
} as const
