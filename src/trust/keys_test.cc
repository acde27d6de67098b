#include "trust/keys.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>

#include "transport/registry/base64.h"
#include "util/error_for_tests.h"

namespace gocrate {
namespace {

// Made with `openssl ecparam -name prime256v1 -genkey -noout`.
constexpr std::string_view kSec1Pem = R"(-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIFpXFxEul3DdaFfFtv/r5TUuviF/CruNPeutXdnWoTPtoAoGCCqGSM49
AwEHoUQDQgAE4e8oYWTw08V+OYKmQz3CUaOJsc+CQekoQLkyp1u/qK4cslyeOOnl
hvsWaqHeukv1JloHDgqwcs1wUC6ZZUMDDg==
-----END EC PRIVATE KEY-----
)";
// The same key through `openssl pkcs8 -topk8 -nocrypt`.
constexpr std::string_view kPkcs8Pem = R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWlcXES6XcN1oV8W2
/+vlNS6+IX8Ku409661d2dahM+2hRANCAATh7yhhZPDTxX45gqZDPcJRo4mxz4JB
6ShAuTKnW7+orhyyXJ446eWG+xZqod66S/UmWgcOCrByzXBQLpllQwMO
-----END PRIVATE KEY-----
)";
// `openssl ec -pubout`.
constexpr std::string_view kPublicPem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4e8oYWTw08V+OYKmQz3CUaOJsc+C
QekoQLkyp1u/qK4cslyeOOnlhvsWaqHeukv1JloHDgqwcs1wUC6ZZUMDDg==
-----END PUBLIC KEY-----
)";
// `openssl ec -pubout -outform DER | sha256sum`.
constexpr std::string_view kFingerprint =
    "sha256:cf6d894a927034880c1edad2b0d5d47c67eab3480bb75290d6968f9ea5b17442";
// `printf '%s' "$kMessage" | openssl dgst -sha256 -sign ec.pem | base64`.
constexpr std::string_view kMessage = "signed by the openssl command line";
constexpr std::string_view kCliSignature =
    "MEUCIEIYIoY/e3dszfW/BTZSQTRdvM9bfjicrY80ZW65m9AjAiEAuDb/oSwEP/PsSwWKPUQxrxw8oSFsuFPZzThBXRJ7EuQ=";

// cosign's own Ed25519 test key (pkg/signature/keys_test.go), encrypted by
// cosign with the empty passphrase and scrypt N=65536.
constexpr std::string_view kCosignEd25519Key = R"(-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----
eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjo2NTUzNiwiciI6
OCwicCI6MX0sInNhbHQiOiJxYVVSY1ppbTN3RE9ZMVlselFGaFdVWHBnMU5tZlAv
YndiM2ZpWE54ck5BPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94
Iiwibm9uY2UiOiJMRjNVN3crNXgzWmRvMlNGUkFicE1nY1N5Y2sxN3R1LyJ9LCJj
aXBoZXJ0ZXh0IjoiY2lUQTYrODVWRDdsTlpwRTVLdmpMdjJrTXNZdmtvOHNHV0tq
QTRYZDY2WFRaTUw3UG5xczQ2NloycDRyWGJUdXBlcStwSXlnSXhvS29UVmFHbG9N
RXc9PSJ9
-----END ENCRYPTED SIGSTORE PRIVATE KEY-----
)";

std::function<std::string()> passphrase(std::string value) {
  return [value] { return value; };
}

std::function<std::string()> no_passphrase() {
  return []() -> std::string {
    ADD_FAILURE() << "asked for a passphrase";
    return "";
  };
}

std::string pem_block(std::string_view type, std::string_view body) {
  std::string encoded = base64_encode(body);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (size_t i = 0; i < encoded.size(); i += 64) out += encoded.substr(i, 64) + "\n";
  return out + "-----END " + std::string(type) + "-----\n";
}

std::string rsa_pem(bool pkcs8) {
  EVP_PKEY* rsa = EVP_RSA_gen(1024);
  EXPECT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  if (pkcs8)
    PEM_write_bio_PrivateKey(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  else
    PEM_write_bio_PrivateKey_traditional(bio, rsa, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  return out;
}

TEST(Keys, GeneratedKeySignsAndVerifies) {
  PrivateKey key = PrivateKey::generate();
  PublicKey pub = key.public_key();
  std::string signature = key.sign("payload");
  EXPECT_TRUE(pub.verify("payload", signature));
  EXPECT_FALSE(pub.verify("payloaD", signature));
  std::string tampered = signature;
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_FALSE(pub.verify("payload", tampered));
  EXPECT_FALSE(pub.verify("payload", ""));
  EXPECT_FALSE(pub.verify("payload", "not DER at all"));
  EXPECT_FALSE(PrivateKey::generate().public_key().verify("payload", signature));
}

TEST(Keys, EncryptedPemRoundTrips) {
  PrivateKey key = PrivateKey::generate();
  std::string pem = key.encrypted_pem("correct horse");
  EXPECT_TRUE(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
  EXPECT_TRUE(pem.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
  EXPECT_NE(pem, key.encrypted_pem("correct horse")) << "salt and nonce must be fresh";

  PrivateKey loaded = PrivateKey::from_pem(pem, "k.key", passphrase("correct horse"));
  EXPECT_EQ(loaded.public_key().fingerprint(), key.public_key().fingerprint());
  EXPECT_TRUE(key.public_key().verify("data", loaded.sign("data")));
}

TEST(Keys, EncryptedPemBodyIsTheSecureSystemsLibEnvelope) {
  std::string pem = PrivateKey::generate().encrypted_pem("");
  size_t begin = pem.find('\n') + 1;
  size_t end = pem.find("-----END");
  std::string body;
  for (char c : pem.substr(begin, end - begin))
    if (c != '\n') body += c;
  std::string json_text = *base64_decode(body);
  EXPECT_TRUE(json_text.starts_with(R"({"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":")"))
      << json_text;
  auto envelope = nlohmann::json::parse(json_text);
  EXPECT_EQ(base64_decode(envelope["kdf"]["salt"].get<std::string>())->size(), 32u);
  EXPECT_EQ(envelope["cipher"]["name"], "nacl/secretbox");
  EXPECT_EQ(base64_decode(envelope["cipher"]["nonce"].get<std::string>())->size(), 24u);
  EXPECT_TRUE(envelope["ciphertext"].is_string());
}

TEST(Keys, EmptyPassphraseIsAPassphrase) {
  PrivateKey key = PrivateKey::generate();
  std::string pem = key.encrypted_pem("");
  EXPECT_NO_THROW(PrivateKey::from_pem(pem, "k.key", passphrase("")));
  EXPECT_EQ(error_of([&] { PrivateKey::from_pem(pem, "k.key", passphrase("x")); }),
            "decrypt k.key: wrong passphrase");
}

TEST(Keys, WrongPassphraseIsOneLine) {
  std::string pem = PrivateKey::generate().encrypted_pem("right");
  EXPECT_EQ(error_of([&] { PrivateKey::from_pem(pem, "/keys/cosign.key", passphrase("wrong")); }),
            "decrypt /keys/cosign.key: wrong passphrase");
}

TEST(Keys, ReadsTheCosignPemTypeToo) {
  PrivateKey key = PrivateKey::generate();
  std::string pem = key.encrypted_pem("p");
  const std::string sigstore = "SIGSTORE", cosign = "COSIGN";
  for (size_t at; (at = pem.find(sigstore)) != std::string::npos;) pem.replace(at, sigstore.size(), cosign);
  EXPECT_EQ(PrivateKey::from_pem(pem, "k", passphrase("p")).public_key().fingerprint(),
            key.public_key().fingerprint());
}

TEST(Keys, DecryptsAKeyCosignEncrypted) {
  // The passphrase opens the box and yields cosign's PKCS#8 key: an Ed25519
  // one, which gocrate refuses by name.
  EXPECT_EQ(error_of([] { PrivateKey::from_pem(kCosignEd25519Key, "ed.key", passphrase("")); }),
            "ed.key: an Ed25519 key; gocrate signs with ECDSA P-256 keys");
  EXPECT_EQ(error_of([] { PrivateKey::from_pem(kCosignEd25519Key, "ed.key", passphrase("x")); }),
            "decrypt ed.key: wrong passphrase");
}

TEST(Keys, DecryptsGoSecureSystemsLibTestVectors) {
  // encrypted_test.go's vectors (plaintext "reallyimportant", passphrase
  // "supersecret") for the three scrypt strengths. The plaintext is no key,
  // so a correct decryption shows as a PKCS#8 parse error.
  const char* vectors[] = {
      R"({"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"WO3mVvyTwJ9vwT5/Tk5OW5WPIBUofMjcpEfrLnfY4uA="},"cipher":{"name":"nacl/secretbox","nonce":"tCy7HcTFr4uxv4Nrg/DWmncuZ148U1MX"},"ciphertext":"08n43p5G5yviPEZpO7tPPF4aZQkWiWjkv4taFdhDBA0tamKH4nw="})",
      R"({"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"FhzPOt9/bJG4PTq6lQ6ecG6GzaOuOy/ynG5+yRiFlNs="},"cipher":{"name":"nacl/secretbox","nonce":"aw1ng1jHaDz/tQ7V2gR9O2+IGQ8xJEuE"},"ciphertext":"HycvuLZL4sYH0BrYTh4E/H20VtAW6u5zL5Pr+IBjYLYnCPzDkq8="})",
      R"({"kdf":{"name":"scrypt","params":{"N":131072,"r":8,"p":1},"salt":"m38E3kouJTtiheLQN22NQ8DTito5hrjpUIskqcd375k="},"cipher":{"name":"nacl/secretbox","nonce":"Y6PM13yA+o44pE/W1ZBwczeGnTV/m9Zc"},"ciphertext":"6H8sqj1K6B6yDjtH5AQ6lbFigg/C2yDDJc4rYJ79w9aVPImFIPI="})",
  };
  for (const char* vector : vectors) {
    std::string pem = pem_block("ENCRYPTED SIGSTORE PRIVATE KEY", vector);
    std::string error = error_of([&] { PrivateKey::from_pem(pem, "v", passphrase("supersecret")); });
    EXPECT_TRUE(error.starts_with("v: not a valid PKCS#8 private key")) << vector << "\n" << error;
    EXPECT_EQ(error_of([&] { PrivateKey::from_pem(pem, "v", passphrase("supersecreT")); }),
              "decrypt v: wrong passphrase");
  }
  std::string unsupported = pem_block(
      "ENCRYPTED SIGSTORE PRIVATE KEY",
      R"({"kdf":{"name":"scrypt","params":{"N":99,"r":99,"p":99},"salt":"cZFcQJdwPhPyhU1R4qkl0qVOIjZd4V/7LYYAavq166k="},"cipher":{"name":"nacl/secretbox","nonce":"7vhRS7j0hEPBWV05skAdgLj81AkGeE7U"},"ciphertext":"6WYU/YSXVbYzl/NzaeAzmjLyfFhOOjLc0d8/GFV0aBFdJvyCcXc="})");
  EXPECT_EQ(error_of([&] { PrivateKey::from_pem(unsupported, "v", passphrase("supersecret")); }),
            "v: unsupported scrypt parameters N=99 r=99 p=99");
}

TEST(Keys, TamperedCiphertextIsRefused) {
  std::string pem = PrivateKey::generate().encrypted_pem("p");
  size_t begin = pem.find('\n') + 1;
  size_t end = pem.find("-----END");
  std::string body;
  for (char c : pem.substr(begin, end - begin))
    if (c != '\n') body += c;
  auto envelope = nlohmann::ordered_json::parse(*base64_decode(body));
  std::string sealed = *base64_decode(envelope["ciphertext"].get<std::string>());
  sealed[20] ^= 0x40;
  envelope["ciphertext"] = base64_encode(sealed);
  std::string tampered = pem_block("ENCRYPTED SIGSTORE PRIVATE KEY", envelope.dump());
  EXPECT_EQ(error_of([&] { PrivateKey::from_pem(tampered, "k", passphrase("p")); }),
            "decrypt k: wrong passphrase");
}

TEST(Keys, PlainPemKeysLoadWithoutAskingAPassphrase) {
  PrivateKey sec1 = PrivateKey::from_pem(kSec1Pem, "ec.pem", no_passphrase());
  PrivateKey pkcs8 = PrivateKey::from_pem(kPkcs8Pem, "pk8.pem", no_passphrase());
  EXPECT_EQ(sec1.public_key().fingerprint(), kFingerprint);
  EXPECT_EQ(pkcs8.public_key().fingerprint(), kFingerprint);
  EXPECT_EQ(sec1.public_key().pem(), kPublicPem);
  // Leading text before the block is skipped, as Go's pem.Decode does.
  EXPECT_NO_THROW(PrivateKey::from_pem("comment\n" + std::string(kSec1Pem), "ec.pem", no_passphrase()));
}

TEST(Keys, SignatureFromTheOpensslCommandLineVerifies) {
  PublicKey pub = PublicKey::from_pem(kPublicPem, "ec.pub");
  EXPECT_EQ(pub.fingerprint(), kFingerprint);
  std::string signature = *base64_decode(kCliSignature);
  EXPECT_TRUE(pub.verify(kMessage, signature));
  EXPECT_FALSE(pub.verify(std::string(kMessage) + ".", signature));
  // And the other way round: what we sign with the fixture key, the same
  // public key accepts.
  PrivateKey key = PrivateKey::from_pem(kSec1Pem, "ec.pem", no_passphrase());
  EXPECT_TRUE(pub.verify(kMessage, key.sign(kMessage)));
}

TEST(Keys, PublicPemRoundTrips) {
  PublicKey pub = PrivateKey::generate().public_key();
  std::string pem = pub.pem();
  EXPECT_TRUE(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_EQ(PublicKey::from_pem(pem, "k.pub").fingerprint(), pub.fingerprint());
  EXPECT_EQ(pub.fingerprint().size(), 7u + 64u);
}

TEST(Keys, RsaKeysAreRefused) {
  EXPECT_EQ(error_of([] { PrivateKey::from_pem(rsa_pem(true), "rsa.key", no_passphrase()); }),
            "rsa.key: an RSA key; gocrate signs with ECDSA P-256 keys");
  EXPECT_EQ(error_of([] { PrivateKey::from_pem(rsa_pem(false), "rsa.key", no_passphrase()); }),
            "rsa.key: an RSA key; gocrate signs with ECDSA P-256 keys");
}

TEST(Keys, OtherCurvesAreRefused) {
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  ASSERT_NE(p384, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, p384);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(size));
  BIO_free(bio);
  EVP_PKEY_free(p384);
  EXPECT_EQ(error_of([&] { PublicKey::from_pem(pem, "p384.pub"); }),
            "p384.pub: an EC secp384r1 key; gocrate signs with ECDSA P-256 keys");
}

TEST(Keys, MalformedFilesAreNamed) {
  EXPECT_EQ(error_of([] { PrivateKey::from_pem("hello", "x.key", no_passphrase()); }),
            "x.key: not a PEM file (no \"-----BEGIN\" line)");
  EXPECT_EQ(error_of([] { PublicKey::from_pem(kSec1Pem, "x.pub"); }),
            "x.pub: a private key where a public key (\"PUBLIC KEY\" PEM) is wanted");
  EXPECT_EQ(error_of([] { PrivateKey::from_pem(kPublicPem, "x.key", no_passphrase()); }),
            "x.key: a \"PUBLIC KEY\" PEM block, not a private key");
  EXPECT_EQ(error_of([] {
              PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "x.key",
                                   no_passphrase());
            }).substr(0, 37),
            "x.key: not a valid PKCS#8 private key");
}

class KeyPassphrase : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"GOCRATE_PASSWORD", "COSIGN_PASSWORD"}) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
  }
  void TearDown() override {
    for (auto& [name, value] : saved_) {
      if (value)
        setenv(name.c_str(), value->c_str(), 1);
      else
        unsetenv(name.c_str());
    }
  }
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(KeyPassphrase, KeyPassphraseComesFromGocrateThenCosignVariable) {
  setenv("COSIGN_PASSWORD", "from cosign", 1);
  EXPECT_EQ(read_passphrase("Passphrase: ", true), "from cosign");
  setenv("GOCRATE_PASSWORD", "", 1);
  EXPECT_EQ(read_passphrase("Passphrase: ", true), "");
  setenv("GOCRATE_PASSWORD", "from gocrate", 1);
  EXPECT_EQ(read_passphrase("Passphrase: ", false), "from gocrate");
}

TEST_F(KeyPassphrase, WithoutVariableOrTerminalTheErrorSaysWhatToSet) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    setsid();  // no controlling terminal: /dev/tty cannot be opened
    std::string message = error_of([] { read_passphrase("Passphrase: ", false); });
    ssize_t written = write(fds[1], message.data(), message.size());
    _exit(written == static_cast<ssize_t>(message.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::string message;
  char buffer[256];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;)
    message.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(message, "no passphrase: set GOCRATE_PASSWORD or run on a terminal");
}

}  // namespace
}  // namespace gocrate
