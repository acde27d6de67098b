#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace gocrate {

class PublicKey;

// An ECDSA P-256 private key (OpenSSL EVP_PKEY underneath). Keys on disk are
// in cosign's format: the "ENCRYPTED SIGSTORE PRIVATE KEY" PEM (also read:
// "ENCRYPTED COSIGN PRIVATE KEY"), whose body is the JSON envelope of
// go-securesystemslib's `encrypted` package: scrypt (N 32768, r 8, p 1,
// 32-byte salt) derives the key of a NaCl secretbox (24-byte nonce) that
// seals the PKCS#8 DER of the key. Plain PEM keys ("PRIVATE KEY",
// "EC PRIVATE KEY") are read as well.
class PrivateKey {
 public:
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  static PrivateKey generate();
  // Reads any of the PEM forms above. `passphrase` is asked only for an
  // encrypted key. Errors name `what` (the file): not PEM, not an EC P-256
  // key, wrong passphrase ("decrypt <what>: wrong passphrase").
  static PrivateKey from_pem(std::string_view pem, std::string_view what,
                             const std::function<std::string()>& passphrase);
  static PrivateKey load(const std::string& path, const std::function<std::string()>& passphrase);

  // cosign's encrypted PEM, with a fresh salt and nonce.
  std::string encrypted_pem(std::string_view passphrase) const;
  PublicKey public_key() const;
  // ASN.1 DER ECDSA signature over SHA-256(data), as cosign makes them.
  std::string sign(std::string_view data) const;

 private:
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// An ECDSA P-256 public key, PKIX ("PUBLIC KEY") PEM on disk, as cosign's
// .pub files and containers-policy.json's keyPath/keyData hold them.
class PublicKey {
 public:
  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  static PublicKey from_pem(std::string_view pem, std::string_view what);
  static PublicKey load(const std::string& path);

  std::string pem() const;
  // "sha256:<hex>" of the DER SubjectPublicKeyInfo: names the key in output.
  std::string fingerprint() const;
  // Checks a DER ECDSA signature over SHA-256(data). Never throws for a
  // malformed signature: that is simply false.
  bool verify(std::string_view data, std::string_view der_signature) const;

 private:
  struct Impl;
  friend class PrivateKey;
  explicit PublicKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The passphrase of a key: $GOCRATE_PASSWORD (else $COSIGN_PASSWORD, so
// cosign users' scripts keep working), else a prompt on the controlling
// terminal (asked twice with `confirm`). Without either, fails with advice
// to set GOCRATE_PASSWORD.
std::string read_passphrase(std::string_view prompt, bool confirm);

}  // namespace gocrate
